#!/usr/bin/env node
// Entry point of the `vpn` command: the compiled CLI lives in dist/.
import { main } from '../dist/src/cli/main.js';
import { exitAfterFlush, ignoreClosedPipes } from '../dist/src/cli/flush.js';

ignoreClosedPipes();
// Never process.exit() with output still pending: a pipe reader would lose it.
exitAfterFlush(await main(process.argv));
