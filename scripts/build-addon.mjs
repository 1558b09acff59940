#!/usr/bin/env node
// Builds the addons at install time with the node-gyp that npm bundles: tun (native/tun.c) and the
// optional ESP fast path esp (native/esp.c, with the threaded data plane native/dataplane.c). Uses
// the machine's Node headers when present (no download). A failed build does not fail the
// install: `vpn connect` then explains that the TUN addon is missing; without esp.node, ESP runs
// on the JavaScript path (no data plane threads).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const args = ['rebuild'];
const nodedir =
  process.env.npm_config_nodedir ||
  (existsSync('/usr/include/node/node_api.h')
    ? '/usr'
    : existsSync('/usr/local/include/node/node_api.h')
      ? '/usr/local'
      : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
// make stops at the first failing target: if that was esp, build tun alone (it must not depend
// on the optional one).
const tunBuilt =
  r.status === 0 ||
  existsSync('build/Release/tun.node') ||
  (existsSync('build/Makefile') &&
    spawnSync('node-gyp', ['build', 'tun'], { stdio: 'inherit', shell: false }).status === 0);
if (r.status !== 0 && tunBuilt) {
  console.warn(
    'ikev2-vpn: building the ESP fast-path addon (native/esp.c, native/dataplane.c) failed; ESP uses the JavaScript path.',
  );
} else if (r.status !== 0) {
  console.warn(
    'ikev2-vpn: building the TUN addon failed; `vpn connect` will not be able to open a TUN device.',
  );
  console.warn(
    'ikev2-vpn: install make, g++ and python3, then run `npm rebuild ikev2-vpn` (or `npm run build:addon`).',
  );
}
