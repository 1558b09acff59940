import { createRequire as __ikev2CreateRequire } from 'node:module';
const require = __ikev2CreateRequire(import.meta.url);
import {
  ELEVATED,
  getState,
  info,
  logLine,
  runElevated,
  runVpn,
  runtimeDirOf,
  setFailed,
  warning
} from "./chunks/chunk-CLXWE24C.mjs";
import "./chunks/chunk-LYMGZ2IG.mjs";

// src/action/post.ts
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function ourProcesses(runDir) {
  const mark = Buffer.from(`\0VPN_RUNTIME_DIR=${runDir}\0`);
  const out = [];
  for (const e of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = Buffer.concat([
        Buffer.from([0]),
        readFileSync(`/proc/${e}/environ`),
        Buffer.from([0])
      ]);
      if (env.includes(mark)) out.push(Number(e));
    } catch {
    }
  }
  return out;
}
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
async function endProcesses(pids) {
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch {
    }
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(100);
  for (const p of pids.filter(alive)) {
    warning(`ikev2-vpn: process ${p} ignored SIGTERM; killing it`);
    try {
      process.kill(p, "SIGKILL");
    } catch {
    }
  }
}
async function post() {
  const dir = getState("dir");
  const name = getState("name");
  const mode = getState("mode");
  if (dir === "") {
    info("ikev2-vpn: nothing to clean up");
    return;
  }
  if (!isAbsolute(dir) || !/^ikev2-vpn-[A-Za-z0-9]{6}$/.test(basename(dir)) || dir.includes("/../")) {
    setFailed(
      `ikev2-vpn: refusing to clean up ${JSON.stringify(dir)}: not a directory of ours`
    );
    return;
  }
  if (!existsSync(dir)) {
    info("ikev2-vpn: already cleaned up");
    return;
  }
  if (process.env[ELEVATED] !== "1" && mode !== "proxy" && process.getuid?.() !== 0) {
    const r = await runElevated(
      fileURLToPath(import.meta.url),
      ["STATE_dir", "STATE_name", "STATE_mode", "STATE_pid"],
      void 0
    );
    if (!r.started || r.code !== 0) {
      setFailed(
        `ikev2-vpn: cleanup as root failed (exit ${r.code}); ${r.stderr.trim().slice(0, 200)}`
      );
      process.exitCode = r.started ? r.code : 8;
    }
    return;
  }
  let failure;
  let code = 0;
  const disconnect = async () => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name) || mode === "exec") return;
    const r = await runVpn(["disconnect", "--name", name, "--json"], dir, 6e4);
    for (const l of `${r.stdout}${r.stderr}`.split("\n"))
      if (l.trim() !== "") info(logLine(l));
    if (r.code !== 0 && r.code !== 11) {
      failure = `vpn disconnect failed (exit ${r.code})`;
      code = r.code;
    } else {
      failure = void 0;
      code = 0;
    }
  };
  await disconnect();
  const left = ourProcesses(runtimeDirOf(dir));
  if (left.length > 0) {
    info(`ikev2-vpn: ending processes still running: ${left.join(" ")}`);
    await endProcesses(left);
    await disconnect();
  }
  rmSync(dir, { recursive: true, force: true });
  if (failure !== void 0) {
    setFailed(failure);
    process.exitCode = code;
  } else info("ikev2-vpn: disconnected and cleaned up");
}
await post();
export {
  ourProcesses,
  post
};
