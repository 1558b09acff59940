/**
 * The GitHub Action without GitHub (issue 13, "it must show" 1): action/dist/main.mjs and
 * post.mjs, the committed bundles GitHub runs, started as the runner starts them (INPUT_*
 * variables, GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV / GITHUB_PATH files, RUNNER_TEMP; post
 * gets STATE_* from the state file) inside the client namespace of the strongSwan test bed.
 * While they run, every process's /proc/<pid>/cmdline and environ is sampled for the secret.
 */
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Bed, GW, LAN_HOST, ROOT, skipReason, sleep, tcpTransfer, waitExit } from './support.js';

const skip = skipReason();
/** The test bed's PSK (scripts/testbed/lib.sh): the secret no log line or process may show. */
const PSK = 'interop test psk: not a secret';
const WRONG_PSK = 'a wrong psk, also secret 7f3a';
const MAIN = join(ROOT, 'action/dist/main.mjs');
const POST = join(ROOT, 'action/dist/post.mjs');

interface Runner {
  base: string;
  temp: string;
  files: { output: string; state: string; env: string; path: string };
}

/** A fresh set of runner files, as the runner makes them for a job. */
function runnerFiles(): Runner {
  const base = mkdtempSync(join(tmpdir(), 'vpn-action-'));
  const temp = join(base, 'runner-temp');
  mkdirSync(temp);
  const files = {
    output: join(base, 'output'),
    state: join(base, 'state'),
    env: join(base, 'env'),
    path: join(base, 'path'),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  return { base, temp, files };
}

/** The `name<<DELIM\nvalue\nDELIM` records of a GITHUB_OUTPUT / GITHUB_STATE file. */
function records(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of readFileSync(path, 'utf8').matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

/** Every file and folder under `dir`, relative. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) out.push(...listTree(join(dir, e.name)).map((x) => `${e.name}/${x}`));
  }
  return out.sort();
}

/**
 * Samples every process's cmdline and environ for `secrets` while a step runs. The step's own
 * environ is exempt until its first output line: the runner itself puts the inputs there, and
 * main wipes them (scrubOwnEnviron) before it prints anything.
 */
class Sampler {
  readonly hits: string[] = [];
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  exempt: number | undefined;

  private readonly secrets: string[];
  constructor(secrets: string[]) {
    this.secrets = secrets;
  }

  start(): void {
    const needles = this.secrets.map((s) => Buffer.from(s));
    const scan = (): void => {
      this.samples++;
      for (const pid of readdirSync('/proc')) {
        if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) continue;
        for (const what of ['cmdline', 'environ']) {
          if (what === 'environ' && Number(pid) === this.exempt) continue;
          let data: Buffer;
          try {
            data = readFileSync(`/proc/${pid}/${what}`);
          } catch {
            continue;
          }
          for (const n of needles) {
            if (data.includes(n)) {
              let cmd = '';
              try {
                cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
              } catch {
                // gone
              }
              this.hits.push(`${what} of ${pid} (${cmd.slice(0, 120)})`);
            }
          }
        }
      }
    };
    this.timer = setInterval(scan, 30);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Runs one step (main or post) in the client namespace the way the runner does. */
function step(
  bed: Bed,
  script: string,
  env: Record<string, string>,
  sampler?: Sampler,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = bed.track(
    spawn('ip', ['netns', 'exec', bed.cli, process.execPath, script], {
      // What the runner passes: its own environment plus the step's variables. No VPN_PSK etc.
      env: {
        PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: process.env['HOME'] ?? '/root',
        GITHUB_ACTIONS: 'true',
        CI: 'true',
        VPN_DNS_BACKEND: 'file',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  if (sampler) sampler.exempt = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    // The first line comes after main scrubbed its environ: from now on it is checked too.
    if (sampler) sampler.exempt = undefined;
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function inputs(r: Runner, values: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    RUNNER_TEMP: r.temp,
    GITHUB_OUTPUT: r.files.output,
    GITHUB_STATE: r.files.state,
    GITHUB_ENV: r.files.env,
    GITHUB_PATH: r.files.path,
  };
  // The runner's naming: INPUT_ + the input's name in upper case, dashes kept.
  for (const [k, v] of Object.entries(values)) env[`INPUT_${k.toUpperCase()}`] = v;
  return env;
}

/** post's environment: STATE_* from the state file main wrote, as the runner passes them. */
function postEnv(r: Runner): Record<string, string> {
  const env: Record<string, string> = { RUNNER_TEMP: r.temp };
  for (const [k, v] of Object.entries(records(r.files.state))) env[`STATE_${k}`] = v;
  return env;
}

/** Log lines that show `secret`, apart from the ::add-mask:: lines that register it. */
function leaks(out: string, secret: string): string[] {
  return out.split('\n').filter((l) => l.includes(secret) && !l.startsWith('::add-mask::'));
}

describe('interop: the GitHub Action (main + post) against strongSwan', { skip }, () => {
  const bed = new Bed('act');
  let baseline = '';
  const runners: Runner[] = [];

  before(() => {
    bed.up();
    baseline = bed.snapshot();
  });
  after(() => {
    bed.down();
    for (const r of runners) rmSync(r.base, { recursive: true, force: true });
  });
  afterEach(() => bed.stopAll());

  const common = {
    gateway: GW,
    id: 'client@test',
    'remote-id': 'gw.test',
    timeout: '20',
  };

  test('main brings the tunnel up (ping, checksummed TCP), sets outputs, leaks no secret; post restores everything', async () => {
    const r = runnerFiles();
    runners.push(r);
    const sampler = new Sampler([PSK]);
    sampler.start();
    // The sampler sees a secret in a process's environment (a canary), so silence means none.
    const canary = bed.track(
      spawn('ip', ['netns', 'exec', bed.cli, 'sleep', '1'], {
        env: { ...process.env, CANARY: PSK },
        stdio: 'ignore',
      }),
    );
    assert.equal(await waitExit(canary), 0);
    assert.ok(
      sampler.hits.some((h) => h.startsWith('environ of')),
      'the canary was seen',
    );
    sampler.hits.length = 0;
    let main: Awaited<ReturnType<typeof step>>;
    let post: Awaited<ReturnType<typeof step>>;
    let privateDir = '';
    try {
      main = await step(
        bed,
        MAIN,
        inputs(r, { ...common, psk: PSK, ping: LAN_HOST, 'remote-networks': '203.0.113.0/25' }),
        sampler,
      );
      assert.equal(main.code, 0, `${main.stdout}${main.stderr}`);
      // Outputs, as the runner reads them from GITHUB_OUTPUT.
      const out = records(r.files.output);
      const vip = out['virtual-ip'] ?? '';
      const last = Number(vip.split('.')[3]);
      assert.ok(vip.startsWith('203.0.113.') && last >= 128 && last < 192, vip);
      assert.equal(out['dns'], '203.0.113.53');
      assert.equal(out['routes'], '203.0.113.0/25');
      const status = JSON.parse(out['status-json'] ?? '{}') as {
        state?: string;
        summary?: { virtualIp4?: string };
      };
      assert.equal(status.state, 'up');
      assert.equal(status.summary?.virtualIp4, vip);
      // The tunnel carries traffic for the next steps of the job.
      assert.equal(bed.exec(['ping', '-c1', '-W3', LAN_HOST]).code, 0);
      const x = await tcpTransfer(bed, 2 * 1024 * 1024, 5301);
      assert.equal(x.received, x.sent, x.output);
      // The secret only in a private folder: 0700, the PSK file 0600.
      const state = records(r.files.state);
      privateDir = state['dir'] ?? '';
      assert.ok(privateDir.startsWith(`${r.temp}/ikev2-vpn-`), privateDir);
      assert.equal(statSync(privateDir).mode & 0o777, 0o700);
      assert.equal(statSync(join(privateDir, 'psk')).mode & 0o777, 0o600);
      // The later steps get `vpn` on their PATH, bound to this tunnel.
      const bin = readFileSync(r.files.path, 'utf8').trim();
      assert.equal(bin, join(privateDir, 'bin'));
      const st = bed.exec(['sh', join(bin, 'vpn'), 'status']);
      assert.equal(st.code, 0, st.err);

      post = await step(bed, POST, postEnv(r), sampler);
      assert.equal(post.code, 0, `${post.stdout}${post.stderr}`);
    } finally {
      sampler.stop();
    }
    assert.deepEqual(sampler.hits, [], 'no process showed the PSK in its cmdline or environ');
    assert.ok(sampler.samples > 10, `sampled ${sampler.samples} times`);
    assert.deepEqual(leaks(`${main.stdout}${main.stderr}${post.stdout}${post.stderr}`, PSK), []);
    assert.ok(main.stdout.includes(`::add-mask::${PSK}`), 'the PSK is registered as a secret');
    assert.equal(bed.snapshot(), baseline, 'routes, addresses, rules and resolv.conf as before');
    assert.deepEqual(listTree(r.temp), [], 'nothing left in RUNNER_TEMP');
    // Post again (a re-run): nothing to do, no error.
    const again = await step(bed, POST, postEnv(r));
    assert.equal(again.code, 0, again.stdout);
  });

  test('a wrong PSK fails main with exit code 4 and one ::error:: line; post still cleans up', async () => {
    const r = runnerFiles();
    runners.push(r);
    const main = await step(bed, MAIN, inputs(r, { ...common, psk: WRONG_PSK, ping: LAN_HOST }));
    assert.equal(main.code, 4, `${main.stdout}${main.stderr}`);
    const errors = main.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    assert.equal(errors.length, 1, main.stdout);
    assert.match(errors[0]!, /AUTHENTICATION_FAILED/);
    assert.deepEqual(leaks(`${main.stdout}${main.stderr}`, WRONG_PSK), []);
    const post = await step(bed, POST, postEnv(r));
    assert.equal(post.code, 0, `${post.stdout}${post.stderr}`);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(listTree(r.temp), []);
  });

  test('a ping host that never answers fails main (exit 3) with the tunnel up; post takes it down', async () => {
    const r = runnerFiles();
    runners.push(r);
    // 203.0.113.99: inside the tunnel's network, but no such host.
    const main = await step(
      bed,
      MAIN,
      inputs(r, { ...common, psk: PSK, ping: '203.0.113.99', timeout: '3' }),
    );
    assert.equal(main.code, 3, `${main.stdout}${main.stderr}`);
    assert.match(main.stdout, /^::error::ping: no answer from 203\.0\.113\.99/m);
    assert.notEqual(bed.snapshot(), baseline, 'the tunnel was left up for post');
    const post = await step(bed, POST, postEnv(r));
    assert.equal(post.code, 0, `${post.stdout}${post.stderr}`);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(listTree(r.temp), []);
  });

  test('mode exec: main checks the tunnel with one vpn exec; vpn-exec runs commands through it; post cleans up', async () => {
    const r = runnerFiles();
    runners.push(r);
    const main = await step(
      bed,
      MAIN,
      inputs(r, { ...common, psk: PSK, mode: 'exec', ping: LAN_HOST }),
    );
    assert.equal(main.code, 0, `${main.stdout}${main.stderr}`);
    assert.match(main.stdout, /203\.0\.113\.10 answers through the tunnel/);
    assert.equal(bed.snapshot(), baseline, 'mode exec leaves the client namespace alone');
    const bin = readFileSync(r.files.path, 'utf8').trim();
    // A later step: its command runs where the tunnel is the only network; its status comes back.
    const ok = bed.exec(
      ['sh', join(bin, 'vpn-exec'), 'ping', '-c1', '-W3', LAN_HOST],
      bed.cli,
      60000,
    );
    assert.equal(ok.code, 0, ok.err);
    const fail = bed.exec(['sh', join(bin, 'vpn-exec'), 'sh', '-c', 'exit 7'], bed.cli, 60000);
    assert.equal(fail.code, 7, fail.err);
    assert.deepEqual(leaks(`${ok.out}${ok.err}${main.stdout}${main.stderr}`, PSK), []);
    const post = await step(bed, POST, postEnv(r));
    assert.equal(post.code, 0, `${post.stdout}${post.stderr}`);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(listTree(r.temp), []);
  });

  test('main cancelled while connecting (SIGTERM, as the runner cancels): post ends the tunnel and restores', async () => {
    const r = runnerFiles();
    runners.push(r);
    const env = inputs(r, { ...common, psk: PSK });
    const child = bed.track(
      spawn('ip', ['netns', 'exec', bed.cli, process.execPath, MAIN], {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', VPN_DNS_BACKEND: 'file', ...env },
        stdio: 'ignore',
      }),
    );
    // Killed once the detached tunnel process exists (its log file), before main saw it up.
    const started = (): boolean => {
      const dir = records(r.files.state)['dir'];
      try {
        return dir !== undefined && readdirSync(join(dir, 'run')).some((f) => f.endsWith('.log'));
      } catch {
        return false;
      }
    };
    // Bounded (30 s), polled: the bound is for a machine under load, not a wait.
    const until = Date.now() + 30000;
    while (!started() && Date.now() < until) await sleep(20);
    assert.ok(started(), 'the tunnel process was started');
    child.kill('SIGTERM');
    await waitExit(child);
    const post = await step(bed, POST, postEnv(r));
    assert.equal(post.code, 0, `${post.stdout}${post.stderr}`);
    assert.equal(bed.snapshot(), baseline);
    assert.deepEqual(listTree(r.temp), []);
    // No process of that run is left (the detached tunnel process included).
    const dir = records(r.files.state)['dir'] ?? '';
    const left = readdirSync('/proc').filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'latin1').includes(`VPN_RUNTIME_DIR=${dir}/run`);
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, []);
  });

  test('bad inputs fail main with exit 2 before anything is written; post has nothing to do', async () => {
    const r = runnerFiles();
    runners.push(r);
    const main = await step(bed, MAIN, inputs(r, { ...common, psk: PSK, args: '--psk-file /x' }));
    assert.equal(main.code, 2, main.stdout);
    assert.match(main.stdout, /^::error::input args: --psk-file is set by the action/m);
    const post = await step(bed, POST, postEnv(r));
    assert.equal(post.code, 0);
    assert.deepEqual(listTree(r.temp), []);
    assert.equal(bed.snapshot(), baseline);
  });
});
