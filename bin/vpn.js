#!/usr/bin/env node
// Entry point of the `vpn` command: the compiled CLI lives in dist/.
import { main } from '../dist/src/cli/main.js';

process.exit(await main(process.argv));
