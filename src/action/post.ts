/**
 * The GitHub Action's post step (action.yml `runs.post`, `post-if: always()`; bundled to
 * action/dist/post.mjs): disconnects the tunnel main started (DELETE sent, routes, addresses and
 * DNS restored by the client), ends any process of ours still running, replays what a dead
 * tunnel left (the client's journal), and removes the private directory with every file the
 * action wrote. Runs after a failed or cancelled main too, and does nothing the second time.
 */
import * as core from '@actions/core';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELEVATED, logLine, runElevated, runVpn, runtimeDirOf } from './common.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** PIDs of processes whose environment names our runtime directory: the tunnel we started. */
export function ourProcesses(runDir: string): number[] {
  const mark = Buffer.from(`\0VPN_RUNTIME_DIR=${runDir}\0`);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = Buffer.concat([
        Buffer.from([0]),
        readFileSync(`/proc/${e}/environ`),
        Buffer.from([0]),
      ]);
      if (env.includes(mark)) out.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (the client then restores the host), SIGKILL after 10 s; by PID. */
async function endProcesses(pids: number[]): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(100);
  for (const p of pids.filter(alive)) {
    core.warning(`ikev2-vpn: process ${p} ignored SIGTERM; killing it`);
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export async function post(): Promise<void> {
  const dir = core.getState('dir');
  const name = core.getState('name');
  const mode = core.getState('mode');
  if (dir === '') {
    core.info('ikev2-vpn: nothing to clean up');
    return;
  }
  // The state comes from a file of the runner's; remove nothing but a directory main made.
  if (
    !isAbsolute(dir) ||
    !/^ikev2-vpn-[A-Za-z0-9]{6}$/.test(basename(dir)) ||
    dir.includes('/../')
  ) {
    core.setFailed(
      `ikev2-vpn: refusing to clean up ${JSON.stringify(dir)}: not a directory of ours`,
    );
    return;
  }
  if (!existsSync(dir)) {
    core.info('ikev2-vpn: already cleaned up');
    return;
  }
  if (process.env[ELEVATED] !== '1' && mode !== 'proxy' && process.getuid?.() !== 0) {
    // main ran as root through sudo (modes tun, exec): so does its cleanup.
    const r = await runElevated(
      fileURLToPath(import.meta.url),
      ['STATE_dir', 'STATE_name', 'STATE_mode', 'STATE_pid'],
      undefined,
    );
    if (!r.started || r.code !== 0) {
      core.setFailed(
        `ikev2-vpn: cleanup as root failed (exit ${r.code}); ${r.stderr.trim().slice(0, 200)}`,
      );
      process.exitCode = r.started ? r.code : 8;
    }
    return;
  }
  let failure: string | undefined;
  let code = 0;
  const disconnect = async (): Promise<void> => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name) || mode === 'exec') return;
    const r = await runVpn(['disconnect', '--name', name, '--json'], dir, 60000);
    for (const l of `${r.stdout}${r.stderr}`.split('\n'))
      if (l.trim() !== '') core.info(logLine(l));
    // 11: no tunnel of that name and nothing left behind (main failed before it was up).
    if (r.code !== 0 && r.code !== 11) {
      failure = `vpn disconnect failed (exit ${r.code})`;
      code = r.code;
    } else {
      failure = undefined;
      code = 0;
    }
  };
  await disconnect();
  const left = ourProcesses(runtimeDirOf(dir));
  if (left.length > 0) {
    core.info(`ikev2-vpn: ending processes still running: ${left.join(' ')}`);
    await endProcesses(left);
    // A process killed half-way may have left host changes: replay its journal.
    await disconnect();
  }
  rmSync(dir, { recursive: true, force: true });
  if (failure !== undefined) {
    core.setFailed(failure);
    process.exitCode = code;
  } else core.info('ikev2-vpn: disconnected and cleaned up');
}

await post();
