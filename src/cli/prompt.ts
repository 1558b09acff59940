import { VpnError } from '../core/errors.js';

/**
 * A no-echo prompt for secrets in a terminal. Ctrl-C (the terminal is raw, so it arrives as a
 * character, not as SIGINT) or Ctrl-D on an empty line rejects with ERR_CANCELLED (exit 130).
 */
export function promptSecret(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Raw mode before the question: a key typed as soon as the question shows is read by us,
    // not by the terminal's line discipline (which would echo it, or turn Ctrl-C into SIGINT).
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || (ch === '\u0004' && value === ''))
          return done(new VpnError('ERR_CANCELLED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
