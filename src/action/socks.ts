/**
 * The proxy-mode check of the action's `ping` hosts: one SOCKS5 CONNECT through the client's
 * proxy (RFC 1928), the host name sent as a name (ATYP 3) so the tunnel's DNS resolves it.
 */
import { connect as netConnect } from 'node:net';

/**
 * One SOCKS5 CONNECT (RFC 1928 §3, §4: no authentication, then CONNECT) to host:port through
 * `proxy`; true when the proxy answers "succeeded" (REP 0) within `ms`.
 */
export function socksConnect(proxy: string, target: string, ms: number): Promise<boolean> {
  const [phost, pport] = [
    proxy.slice(0, proxy.lastIndexOf(':')),
    proxy.slice(proxy.lastIndexOf(':') + 1),
  ];
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  return new Promise((resolve) => {
    const s = netConnect({ host: phost.replace(/^\[|\]$/g, ''), port: Number(pport) });
    let got = Buffer.alloc(0);
    let stage = 0;
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    s.on('error', () => done(false));
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
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
            Buffer.from([port >> 8, port & 0xff]),
          ]),
        );
      }
      if (stage === 1 && got.length >= 2) done(got[0] === 5 && got[1] === 0);
    });
  });
}
