/**
 * GitHub's hosted runners run steps as an unprivileged user with passwordless sudo: main and
 * post then run again as root through `sudo -n --preserve-env=...`, main's inputs on stdin.
 * Here the job's user is nobody and `sudo` is a stand-in on PATH that records how it was called
 * and runs the command as uid 0 of a new user namespace (with only the preserved variables, as
 * sudo does). The root copy cannot open a TUN device there, so the step fails: with the root
 * copy's exit code and one ::error:: line; post (through the stand-in again) removes everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SECRET = 'elevation test psk 0c1d';
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (to run the steps as nobody)';
  const r = spawnSync('setpriv', [...NOBODY, 'unshare', '-r', 'true'], { timeout: 10000 });
  if (r.status !== 0) return 'setpriv/unshare missing or user namespaces not allowed';
  return undefined;
}

/** The sudo stand-in (a Node script): logs argv and environment, then `unshare -r` the command. */
const FAKE_SUDO = `
import { appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_SUDO_LOG, JSON.stringify({ args, env: process.env }) + '\\n');
if (args[0] !== '-n' || !args[1].startsWith('--preserve-env=')) process.exit(1);
const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
for (const k of args[1].slice('--preserve-env='.length).split(',')) {
  if (process.env[k] !== undefined) env[k] = process.env[k];
}
const r = spawnSync('unshare', ['-r', ...args.slice(2)], { env, stdio: 'inherit' });
process.exit(r.status ?? 1);
`;

function records(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of readFileSync(path, 'utf8').matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

test(
  'not root: main and post run again as root through sudo -n, the inputs on stdin',
  { skip: skipReason() },
  () => {
    const base = mkdtempSync(join(tmpdir(), 'vpn-elevate-'));
    try {
      chmodSync(base, 0o777);
      const bin = join(base, 'bin');
      const temp = join(base, 'temp');
      for (const d of [bin, temp]) {
        spawnSync('mkdir', [d]);
        chmodSync(d, 0o777);
      }
      writeFileSync(join(bin, 'sudo'), `#!${process.execPath}\n${FAKE_SUDO}`);
      chmodSync(join(bin, 'sudo'), 0o755);
      const files: Record<string, string> = {};
      for (const f of ['output', 'state', 'env', 'path', 'sudo.log']) {
        files[f] = join(base, f);
        writeFileSync(files[f], '');
        chmodSync(files[f], 0o666);
      }
      const runnerEnv = {
        PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
        RUNNER_TEMP: temp,
        GITHUB_OUTPUT: files['output']!,
        GITHUB_STATE: files['state']!,
        GITHUB_ENV: files['env']!,
        GITHUB_PATH: files['path']!,
        FAKE_SUDO_LOG: files['sudo.log']!,
      };
      const main = spawnSync(
        'setpriv',
        [...NOBODY, process.execPath, join(ROOT, 'action/dist/main.mjs')],
        {
          encoding: 'utf8',
          timeout: 60000,
          env: {
            ...runnerEnv,
            INPUT_GATEWAY: '192.0.2.1',
            INPUT_PSK: SECRET,
            INPUT_MODE: 'tun',
            INPUT_TIMEOUT: '3',
          },
        },
      );
      const out = `${main.stdout}${main.stderr}`;
      assert.match(main.stdout, /not root: running the step as root with sudo -n/);
      // The root copy failed (no TUN device in a user namespace): its code, one reason.
      assert.equal(main.status, 8, out);
      assert.match(
        main.stdout,
        /^::error::vpn connect failed \(exit 8\): cannot create a TUN device/m,
      );
      assert.equal(main.stdout.split('\n').filter((l) => l.startsWith('::error::')).length, 1, out);
      assert.deepEqual(
        out.split('\n').filter((l) => l.includes(SECRET) && !l.startsWith('::add-mask::')),
        [],
      );
      // sudo was called with -n and a list of variables, never with a secret or an input.
      const calls = readFileSync(files['sudo.log']!, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { args: string[]; env: Record<string, string> });
      assert.equal(calls.length, 1);
      const [call] = calls;
      assert.equal(call!.args[0], '-n');
      assert.match(call!.args[1]!, /^--preserve-env=GITHUB_OUTPUT,GITHUB_STATE,/);
      assert.ok(!call!.args[1]!.includes('INPUT_'));
      assert.ok(!JSON.stringify(call).includes(SECRET), 'no secret in sudo argv or environment');
      assert.ok(!Object.keys(call!.env).some((k) => k.startsWith('INPUT_')));
      // The root copy saved its state for post; the private folder is in RUNNER_TEMP.
      const state = records(files['state']!);
      assert.ok(state['dir']?.startsWith(`${temp}/ikev2-vpn-`), JSON.stringify(state));
      assert.equal(readdirSync(temp).length, 1);

      const postEnv: Record<string, string> = { ...runnerEnv };
      for (const [k, v] of Object.entries(state)) postEnv[`STATE_${k}`] = v;
      const post = spawnSync(
        'setpriv',
        [...NOBODY, process.execPath, join(ROOT, 'action/dist/post.mjs')],
        { encoding: 'utf8', timeout: 60000, env: postEnv },
      );
      assert.equal(post.status, 0, `${post.stdout}${post.stderr}`);
      assert.deepEqual(readdirSync(temp), [], 'post removed the private folder');
      const postCall = readFileSync(files['sudo.log']!, 'utf8').trim().split('\n')[1] ?? '';
      assert.match(postCall, /STATE_dir,STATE_name,STATE_mode,STATE_pid/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);
