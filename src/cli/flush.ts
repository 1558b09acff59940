/**
 * Ending the process without losing output. process.exit() ends it at once, even when stdout is a
 * pipe whose reader has not taken everything yet (`vpn status --json | jq` lost all past 64 KB):
 * wait until stdout and stderr have handed every pending write to the kernel first.
 */

function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  // Writes complete in order: the callback of an empty write runs once everything before it is out.
  return new Promise((resolve) => {
    try {
      stream.write('', () => resolve());
    } catch {
      resolve();
    }
  });
}

/** Resolves once stdout and stderr have nothing pending. */
export async function flushOutput(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
}

let exiting = false;

/** process.exit(code) after stdout and stderr are flushed. */
export function exitAfterFlush(code: number): void {
  process.exitCode = code;
  if (exiting) return;
  exiting = true;
  void flushOutput().then(() => process.exit(code));
}

/**
 * A reader that goes away (`vpn status --json | head -c1`) closes the pipe: EPIPE is not an error
 * of ours, and must not become an uncaught exception.
 */
export function ignoreClosedPipes(): void {
  for (const s of [process.stdout, process.stderr])
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
}
