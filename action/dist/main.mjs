import { createRequire as __ikev2CreateRequire } from 'node:module';
const require = __ikev2CreateRequire(import.meta.url);
import {
  ELEVATED,
  actionRoot,
  addPath,
  childEnv,
  info,
  inputVar,
  logLine,
  makePrivateDir,
  runElevated,
  runVpn,
  runtimeDirOf,
  saveState,
  scrubOwnEnviron,
  setFailed,
  setOutput,
  setSecret,
  shQuote,
  vpnBundle,
  writePrivateFile
} from "./chunks/chunk-CLXWE24C.mjs";
import "./chunks/chunk-LYMGZ2IG.mjs";

// src/action/main.ts
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, chmodSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { lookup } from "node:dns/promises";
import { isIP as isIP3 } from "node:net";
import { join } from "node:path";

// src/action/socks.ts
import { connect as netConnect } from "node:net";
function socksConnect(proxy, target, ms) {
  const [phost, pport] = [
    proxy.slice(0, proxy.lastIndexOf(":")),
    proxy.slice(proxy.lastIndexOf(":") + 1)
  ];
  const i = target.lastIndexOf(":");
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  return new Promise((resolve) => {
    const s = netConnect({ host: phost.replace(/^\[|\]$/g, ""), port: Number(pport) });
    let got = Buffer.alloc(0);
    let stage = 0;
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    s.on("error", () => done(false));
    s.on("connect", () => s.write(Buffer.from([5, 1, 0])));
    s.on("data", (d) => {
      got = Buffer.concat([got, d]).subarray(0, 512);
      if (stage === 0 && got.length >= 2) {
        if (got[0] !== 5 || got[1] !== 0) return done(false);
        got = got.subarray(2);
        stage = 1;
        const name = Buffer.from(host);
        s.write(
          Buffer.concat([
            Buffer.from([5, 1, 0, 3, name.length]),
            name,
            Buffer.from([port >> 8, port & 255])
          ])
        );
      }
      if (stage === 1 && got.length >= 2) done(got[0] === 5 && got[1] === 0);
    });
  });
}

// src/action/ci-hosts.ts
import { isIP } from "node:net";
var CI_URL_VARS = [
  "GITHUB_SERVER_URL",
  "GITHUB_API_URL",
  "GITHUB_GRAPHQL_URL",
  "ACTIONS_RUNTIME_URL",
  "ACTIONS_RESULTS_URL",
  "ACTIONS_CACHE_URL",
  "ACTIONS_ID_TOKEN_REQUEST_URL"
];
var MAX_CI_EXCLUDES = 24;
function ciHosts(env) {
  const out = /* @__PURE__ */ new Set();
  for (const v of CI_URL_VARS) {
    const raw = env[v];
    if (raw === void 0 || raw === "" || raw.length > 2048) continue;
    let host;
    try {
      host = new URL(raw).hostname;
    } catch {
      continue;
    }
    host = host.replace(/^\[(.*)\]$/, "$1");
    if (host === "" || host === "localhost" || host.length > 253) continue;
    out.add(host.toLowerCase());
  }
  return [...out];
}
async function ciExcludeFlags(env, resolve, note) {
  const addrs = /* @__PURE__ */ new Set();
  for (const host of ciHosts(env)) {
    let list2;
    let timer;
    try {
      list2 = isIP(host) !== 0 ? [host] : await Promise.race([
        resolve(host),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer in 3 s")), 3e3);
        })
      ]);
    } catch (e) {
      note(`CI service host ${host} does not resolve (${e.message}); not excluded`);
      continue;
    } finally {
      clearTimeout(timer);
    }
    for (const a of list2) {
      if (isIP(a) === 0 || a.startsWith("127.") || a === "::1") continue;
      addrs.add(a);
    }
  }
  const all = [...addrs];
  if (all.length > MAX_CI_EXCLUDES)
    note(`${all.length} CI service addresses; only the first ${MAX_CI_EXCLUDES} are excluded`);
  return all.slice(0, MAX_CI_EXCLUDES).flatMap((a) => ["--exclude", `${a}/${isIP(a) === 6 ? 128 : 32}`]);
}

// src/action/inputs.ts
import { isIP as isIP2 } from "node:net";
var INPUT_NAMES = [
  "gateway",
  "remote-id",
  "id",
  "psk",
  "eap-identity",
  "eap-password",
  "cert",
  "key",
  "p12",
  "p12-password",
  "ca",
  "remote-networks",
  "dns",
  "ike",
  "esp",
  "timeout",
  "retry",
  "args",
  "mode",
  "ping"
];
var SECRET_INPUTS = ["psk", "eap-password", "p12-password", "key", "p12"];
var InputError = class extends Error {
};
var MAX_INPUT = 64 * 1024;
var MAX_LIST = 64;
var RESERVED_FLAGS = /* @__PURE__ */ new Set([
  "--background",
  "--daemon-child",
  "--json",
  "--name",
  "--psk-file",
  "--eap-password-file",
  "--p12-password-file",
  "--profile"
]);
function printable(s) {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}
function isHost(s) {
  if (isIP2(s) !== 0) return true;
  if (s.length === 0 || s.length > 253) return false;
  return s.split(".").every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l) || l === "");
}
function isCidr(s) {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v = isIP2(m[1]);
  return v !== 0 && Number(m[2]) <= (v === 4 ? 32 : 128);
}
function list(s) {
  return s.split(/[\s,]+/).filter((x) => x !== "");
}
function splitArgs(s) {
  const out = [];
  let cur = "";
  let have = false;
  let quote;
  for (const ch of s) {
    if (quote !== void 0) {
      if (ch === quote) quote = void 0;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      have = true;
    } else if (/\s/.test(ch)) {
      if (have) out.push(cur);
      cur = "";
      have = false;
    } else {
      cur += ch;
      have = true;
    }
  }
  if (quote !== void 0) throw new InputError(`args: unterminated ${quote} quote`);
  if (have) out.push(cur);
  return out;
}
function fileInput(name, v, binary) {
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(v)) {
    return { kind: "text", data: new TextEncoder().encode(v.endsWith("\n") ? v : `${v}
`) };
  }
  if (binary && !v.includes("/") && /^[A-Za-z0-9+/=\s]{64,}$/.test(v)) {
    return { kind: "text", data: Buffer.from(v.replace(/\s+/g, ""), "base64") };
  }
  if (v.includes("\n") || v.includes("\0") || v.startsWith("-")) {
    throw new InputError(
      `${name}: neither ${binary ? "base64 text" : "PEM text"} nor a file path (${printable(v.split("\n")[0])})`
    );
  }
  return { kind: "path", path: v };
}
function word(name, v, max = 255) {
  if (v.length > max || /[\x00-\x1f\x7f]/.test(v) || v.startsWith("-")) {
    throw new InputError(`${name}: invalid value ${printable(v)}`);
  }
  return v;
}
function parseInputs(get) {
  const input = (name) => {
    const v = get(name);
    if (v.length > MAX_INPUT) throw new InputError(`${name}: longer than ${MAX_INPUT} bytes`);
    return v;
  };
  const gateway = input("gateway").trim();
  if (gateway === "") throw new InputError("gateway: required (host name or IP address)");
  if (!isHost(gateway))
    throw new InputError(`gateway: not a host name or IP ${printable(gateway)}`);
  const modeIn = input("mode").trim() || "tun";
  if (modeIn !== "tun" && modeIn !== "proxy" && modeIn !== "exec") {
    throw new InputError(`mode: ${printable(modeIn)} is not one of tun, proxy, exec`);
  }
  const mode = modeIn;
  const flags = [];
  for (const [inp, flag] of [
    ["id", "--id"],
    ["remote-id", "--remote-id"],
    ["eap-identity", "--eap-identity"]
  ]) {
    const v = input(inp).trim();
    if (v !== "") flags.push(flag, word(inp, v));
  }
  for (const [inp, flag] of [
    ["ike", "--ike"],
    ["esp", "--esp"]
  ]) {
    const v = input(inp).trim();
    if (v === "") continue;
    if (!/^[A-Za-z0-9][A-Za-z0-9,-]{0,511}$/.test(v)) {
      throw new InputError(`${inp}: not a proposal list ${printable(v)}`);
    }
    flags.push(flag, v);
  }
  const nets = list(input("remote-networks"));
  if (nets.length > MAX_LIST) throw new InputError(`remote-networks: more than ${MAX_LIST}`);
  for (const n of nets) {
    if (!isCidr(n)) throw new InputError(`remote-networks: ${printable(n)} is not a CIDR`);
    flags.push("--remote-net", n);
  }
  const dns = input("dns").trim();
  if (dns !== "") {
    if (dns !== "auto" && dns !== "off") throw new InputError("dns: auto or off");
    flags.push("--dns", dns);
  }
  const timeoutIn = input("timeout").trim() || "30";
  if (!/^[0-9]{1,4}$/.test(timeoutIn) || Number(timeoutIn) < 1 || Number(timeoutIn) > 3600) {
    throw new InputError(`timeout: seconds from 1 to 3600, not ${printable(timeoutIn)}`);
  }
  const timeout = Number(timeoutIn);
  flags.push("--timeout", String(timeout));
  const retry = input("retry").trim();
  if (retry !== "") {
    if (!/^([0-9]{1,4}|forever)$/.test(retry)) {
      throw new InputError(`retry: a count or "forever", not ${printable(retry)}`);
    }
    flags.push("--retry", retry);
  }
  const extra = splitArgs(input("args"));
  let socks5 = "127.0.0.1:1080";
  for (let i = 0; i < extra.length; i++) {
    const a = extra[i];
    const flag = a.split("=")[0];
    if (RESERVED_FLAGS.has(flag)) {
      throw new InputError(`args: ${flag} is set by the action (use its inputs instead)`);
    }
    if (/[\x00-\x1f\x7f]/.test(a)) throw new InputError("args: control characters");
    if (flag === "--socks5")
      socks5 = a.includes("=") ? a.slice(a.indexOf("=") + 1) : extra[i + 1] ?? "";
  }
  if (mode !== "proxy" && extra.some((a) => a.split("=")[0] === "--socks5")) {
    throw new InputError("args: --socks5 needs mode: proxy");
  }
  flags.push(...extra);
  if (mode === "proxy" && !extra.some((a) => a.split("=")[0] === "--socks5")) {
    flags.push("--socks5", socks5);
  }
  if (mode === "proxy" && !/^(127\.[0-9.]+|\[::1\]|localhost):[0-9]{1,5}$/.test(socks5)) {
    throw new InputError(`args: --socks5 ${printable(socks5)} must be a loopback address:port`);
  }
  const ping = list(input("ping"));
  if (ping.length > MAX_LIST) throw new InputError(`ping: more than ${MAX_LIST} hosts`);
  for (const h of ping) {
    if (mode === "proxy") {
      const m = /^(.+):([0-9]{1,5})$/.exec(h);
      if (!m || !isHost(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        throw new InputError(`ping: ${printable(h)}: in mode proxy, give host:port (a TCP check)`);
      }
    } else if (!isHost(h)) {
      throw new InputError(`ping: ${printable(h)} is not a host name or IP address`);
    }
  }
  const cfg = { gateway, mode, flags, ping, timeout, socks5 };
  const psk = input("psk");
  if (psk !== "") cfg.psk = psk;
  const eapPassword = input("eap-password");
  if (eapPassword !== "") cfg.eapPassword = eapPassword;
  const p12Password = input("p12-password");
  if (p12Password !== "") cfg.p12Password = p12Password;
  const cert = input("cert").trim();
  if (cert !== "") cfg.cert = fileInput("cert", cert, false);
  const key = input("key").trim();
  if (key !== "") cfg.key = fileInput("key", key, false);
  const p12 = input("p12").trim();
  if (p12 !== "") cfg.p12 = fileInput("p12", p12, true);
  const ca = input("ca").trim();
  if (ca !== "") cfg.ca = fileInput("ca", ca, false);
  if (cfg.p12 && (cfg.cert || cfg.key)) throw new InputError("p12: give either p12 or cert + key");
  if (cfg.eapPassword !== void 0 && !input("eap-identity").trim()) {
    throw new InputError("eap-password: needs eap-identity");
  }
  if (cfg.psk === void 0 && cfg.eapPassword === void 0 && !cfg.p12 && !cfg.cert) {
    throw new InputError(
      "no credentials: set psk, eap-identity + eap-password, cert + key, or p12"
    );
  }
  return cfg;
}

// src/action/main.ts
var EXIT_USAGE = 2;
var EXIT_UNREACHABLE = 3;
var EXIT_PRIVILEGE = 8;
var StepError = class extends Error {
  code;
  constructor(message, code) {
    super(message);
    this.code = code;
  }
};
function oneLine(s) {
  const l = s.replace(/\s*\n\s*/g, "; ").trim();
  return l.length > 400 ? `${l.slice(0, 400)}...` : l;
}
function fileFlag(dir, name, f) {
  return f.kind === "path" ? f.path : writePrivateFile(dir, name, f.data);
}
function credentialFlags(cfg, dir) {
  const out = [];
  if (cfg.psk !== void 0) out.push("--psk-file", writePrivateFile(dir, "psk", cfg.psk));
  if (cfg.eapPassword !== void 0) {
    out.push("--eap-password-file", writePrivateFile(dir, "eap-password", cfg.eapPassword));
  }
  if (cfg.p12Password !== void 0) {
    out.push("--p12-password-file", writePrivateFile(dir, "p12-password", cfg.p12Password));
  }
  if (cfg.cert) out.push("--cert", fileFlag(dir, "cert.pem", cfg.cert));
  if (cfg.key) out.push("--key", fileFlag(dir, "key.pem", cfg.key));
  if (cfg.p12) out.push("--p12", fileFlag(dir, "cred.p12", cfg.p12));
  if (cfg.ca) out.push("--ca", fileFlag(dir, "ca.pem", cfg.ca));
  return out;
}
function writeWrappers(cfg, dir, flags) {
  const bin = join(dir, "bin");
  mkdirSync(bin, { mode: 493 });
  const node = shQuote(process.execPath);
  const vpn = shQuote(vpnBundle());
  const head = "#!/bin/sh\n" + (cfg.mode === "proxy" ? "" : '[ "$(id -u)" = 0 ] || exec sudo -n "$0" "$@"\n') + `VPN_RUNTIME_DIR=${shQuote(runtimeDirOf(dir))}; export VPN_RUNTIME_DIR
`;
  writePrivateFile(bin, "vpn", `${head}exec ${node} ${vpn} "$@"
`);
  chmodSync(join(bin, "vpn"), 493);
  if (cfg.mode === "exec") {
    const args = ["exec", cfg.gateway, ...flags].map(shQuote).join(" ");
    writePrivateFile(bin, "vpn-exec", `${head}exec ${node} ${vpn} ${args} -- "$@"
`);
    chmodSync(join(bin, "vpn-exec"), 493);
  }
  addPath(bin);
}
function ensureAddon(root) {
  if (existsSync(join(root, "build", "Release", "tun.node"))) return;
  if (existsSync(join(root, "prebuilds"))) return;
  info("ikev2-vpn: no prebuilt TUN addon here; building it (npm run build:addon)");
  const r = spawnSync("npm", ["run", "build:addon"], {
    cwd: root,
    env: childEnv({}),
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 3e5
  });
  if (r.status !== 0 || !existsSync(join(root, "build", "Release", "tun.node"))) {
    throw new StepError(
      "the TUN addon is not available and could not be built (install make and g++, or use mode: proxy)",
      EXIT_PRIVILEGE
    );
  }
}
function str(v) {
  return typeof v === "string" ? v : JSON.stringify(v) ?? "";
}
async function connect(cfg, dir, name, flags) {
  let up;
  let error;
  const r = await runVpn(
    ["connect", cfg.gateway, "--background", "--json", "--name", name, ...flags],
    dir,
    (cfg.timeout + 30) * 1e3,
    (line) => {
      let ev;
      try {
        ev = JSON.parse(line);
      } catch {
        if (line.trim() !== "") info(logLine(line));
        return;
      }
      if (ev["event"] === "up" && typeof ev["summary"] === "object" && ev["summary"] !== null) {
        up = { summary: ev["summary"] };
        if (typeof ev["pid"] === "number") up.pid = ev["pid"];
        info(logLine(`up: ${JSON.stringify(ev["summary"])}`));
      } else if (ev["event"] === "error" || typeof ev["error"] === "string") {
        error = { message: str(ev["error"] ?? ev["message"] ?? "failed") };
        if (typeof ev["exitCode"] === "number") error.code = ev["exitCode"];
      } else if (ev["event"] === "stage") {
        info(logLine(`${str(ev["stage"])}${ev["detail"] ? ` ${str(ev["detail"])}` : ""}`));
      } else if (ev["event"] === "warning" || ev["event"] === "info") {
        info(logLine(str(ev["message"])));
      }
    }
  );
  for (const l of r.stderr.split("\n")) if (l.trim() !== "") info(logLine(l));
  if (r.code === 0 && up) return up;
  if (r.timedOut) {
    throw new StepError(`no tunnel within ${cfg.timeout + 30} s`, EXIT_UNREACHABLE);
  }
  const err = error;
  throw new StepError(
    `vpn connect failed (exit ${r.code}): ${err?.message ?? (r.stderr.trim().split("\n").pop() || "no reason given")}`,
    r.code !== 0 ? r.code : err?.code ?? 1
  );
}
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function addressOf(host) {
  if (isIP3(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (e) {
    throw new StepError(`ping: cannot resolve ${host}: ${e.message}`, EXIT_UNREACHABLE);
  }
}
async function pingThroughTunnel(hosts, device, deadline) {
  for (const host of hosts) {
    const ip = await addressOf(host);
    const route = spawnSync("ip", ["-j", "route", "get", ip], { encoding: "utf8", timeout: 1e4 });
    let dev;
    try {
      dev = JSON.parse(route.stdout)[0]?.dev;
    } catch {
      dev = void 0;
    }
    if (dev !== device) {
      throw new StepError(
        `ping: ${host} (${ip}) is not routed through the tunnel (${device}) but via ${dev ?? "nothing"}; add it to remote-networks`,
        EXIT_USAGE
      );
    }
    for (; ; ) {
      const r = spawnSync("ping", [ip.includes(":") ? "-6" : "-4", "-n", "-c1", "-W1", ip], {
        encoding: "utf8",
        timeout: 5e3
      });
      if (r.status === 0) {
        info(`ikev2-vpn: ${host} answers through the tunnel`);
        break;
      }
      if (Date.now() > deadline) {
        throw new StepError(`ping: no answer from ${host} through the tunnel`, EXIT_UNREACHABLE);
      }
      await sleep(1e3);
    }
  }
}
async function checkThroughProxy(cfg, deadline) {
  for (const target of cfg.ping) {
    for (; ; ) {
      if (await socksConnect(cfg.socks5, target, 5e3)) {
        info(`ikev2-vpn: ${target} accepts a connection through the proxy`);
        break;
      }
      if (Date.now() > deadline) {
        throw new StepError(`ping: ${target} does not answer through the proxy`, EXIT_UNREACHABLE);
      }
      await sleep(1e3);
    }
  }
}
async function checkExec(cfg, dir, flags) {
  const script = 'n=$1; shift; for h in "$@"; do i=0; until ping -n -c1 -W1 "$h" >/dev/null 2>&1; do i=$((i+1)); if [ $i -ge $n ]; then echo "no answer from $h through the tunnel" >&2; exit 3; fi; sleep 1; done; echo "$h answers through the tunnel"; done';
  const r = await runVpn(
    [
      "exec",
      cfg.gateway,
      ...flags,
      "--",
      "sh",
      "-c",
      script,
      "sh",
      String(cfg.timeout),
      ...cfg.ping
    ],
    dir,
    (2 * cfg.timeout + 30) * 1e3
  );
  for (const l of `${r.stdout}${r.stderr}`.split("\n")) if (l.trim() !== "") info(logLine(l));
  if (r.code !== 0) {
    const last = r.stderr.trim().split("\n").pop() ?? "";
    throw new StepError(`vpn exec failed (exit ${r.code}): ${last || "no reason given"}`, r.code);
  }
}
var MAX_STDIN = 4 << 20;
function readInputs(elevated) {
  const values = /* @__PURE__ */ new Map();
  if (elevated) {
    const raw = readFileSync(0);
    if (raw.length > MAX_STDIN) throw new Error("inputs on stdin: too large");
    const obj = JSON.parse(raw.toString("utf8"));
    for (const n of INPUT_NAMES) {
      const v = obj[n];
      values.set(n, typeof v === "string" ? v : "");
    }
    return values;
  }
  for (const n of INPUT_NAMES) values.set(n, process.env[inputVar(n)] ?? "");
  scrubOwnEnviron(SECRET_INPUTS.map(inputVar));
  for (const n of SECRET_INPUTS) {
    const v = values.get(n).trim();
    if (v === "") continue;
    setSecret(v);
    if (v.includes("\n")) {
      for (const l of new Set(v.split("\n").map((x) => x.trim()))) {
        if (l.length >= 8 && !l.startsWith("-----")) setSecret(l);
      }
    }
  }
  return values;
}
function fail(e) {
  const code = e instanceof InputError ? EXIT_USAGE : e instanceof StepError ? e.code : 1;
  const what = e instanceof InputError ? `input ${e.message}` : e.message;
  setFailed(oneLine(what));
  process.exitCode = code;
}
async function run() {
  const elevated = process.env[ELEVATED] === "1";
  let values;
  let cfg;
  try {
    values = readInputs(elevated);
    cfg = parseInputs((n) => values.get(n) ?? "");
  } catch (e) {
    fail(e);
    return;
  }
  if (!elevated && cfg.mode !== "proxy" && process.getuid?.() !== 0) {
    info("ikev2-vpn: not root: running the step as root with sudo -n");
    const r = await runElevated(
      fileURLToPath(import.meta.url),
      [],
      JSON.stringify(Object.fromEntries(values))
    );
    if (!r.started || r.code === 1 && /sudo:/.test(r.stderr)) {
      fail(
        new StepError(
          `mode ${cfg.mode} needs root: run the job as root or with passwordless sudo, or use mode: proxy (${oneLine(r.stderr).slice(0, 120)})`,
          EXIT_PRIVILEGE
        )
      );
      return;
    }
    process.exitCode = r.code;
    return;
  }
  let dir;
  try {
    dir = makePrivateDir(process.env, elevated);
    saveState("dir", dir);
    saveState("mode", cfg.mode);
    const name = "default";
    saveState("name", name);
    mkdirSync(runtimeDirOf(dir), { mode: 448 });
    const flags = [...cfg.flags, ...credentialFlags(cfg, dir)];
    writeWrappers(cfg, dir, flags);
    const root = actionRoot();
    if (cfg.mode !== "proxy") ensureAddon(root);
    const deadline = () => Date.now() + cfg.timeout * 1e3;
    if (cfg.mode === "exec") {
      await checkExec(cfg, dir, flags);
      setOutput(
        "status-json",
        JSON.stringify({ mode: "exec", gateway: cfg.gateway, ok: true })
      );
      info("ikev2-vpn: ready: run commands through the tunnel with vpn-exec COMMAND...");
      return;
    }
    const exclude = cfg.mode === "tun" ? await ciExcludeFlags(
      process.env,
      async (h) => (await lookup(h, { all: true })).map((a) => a.address),
      (m) => info(`ikev2-vpn: ${m}`)
    ) : [];
    const up = await connect(cfg, dir, name, [...flags, ...exclude]);
    if (up.pid !== void 0) saveState("pid", String(up.pid));
    if (cfg.mode === "proxy") await checkThroughProxy(cfg, deadline());
    else if (cfg.ping.length > 0) {
      if (!up.summary.device) throw new StepError("the client reported no TUN device", 1);
      await pingThroughTunnel(cfg.ping, up.summary.device, deadline());
    }
    const s = up.summary;
    setOutput("virtual-ip", [s.virtualIp4, s.virtualIp6].filter((x) => x).join(","));
    setOutput("dns", (s.dns ?? []).join(","));
    setOutput("routes", (s.routes ?? []).join(","));
    if (cfg.mode === "proxy") setOutput("socks5", cfg.socks5);
    const st = await runVpn(["status", "--json", "--name", name], dir, 3e4);
    setOutput(
      "status-json",
      st.code === 0 ? st.stdout.trim() : JSON.stringify({ summary: s })
    );
    info(`ikev2-vpn: tunnel ${name} up (${s.virtualIp4 || s.virtualIp6 || "no virtual IP"})`);
  } catch (e) {
    fail(e);
  }
}
await run();
export {
  run
};
