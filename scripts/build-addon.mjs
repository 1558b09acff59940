#!/usr/bin/env node
// Builds the TUN addon (native/tun.c) at install time with the node-gyp that npm bundles.
// Uses the machine's Node headers when present (no download). A failed build does not fail the
// install: `vpn connect` then explains that the addon is missing.
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
if (r.status !== 0) {
  console.warn(
    'ikev2-vpn: building the TUN addon failed; `vpn connect` will not be able to open a TUN device.',
  );
  console.warn(
    'ikev2-vpn: install make, g++ and python3, then run `npm rebuild ikev2-vpn` (or `npm run build:addon`).',
  );
}
