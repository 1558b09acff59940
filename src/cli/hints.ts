/**
 * Advice added to an error for the person who typed the command: the library's messages say what
 * went wrong, this names the flags that can put it right.
 */
import { VpnError } from '../core/errors.js';
import { authKind } from './credentials.js';
import type { AuthFlags } from './credentials.js';

/**
 * The gateway answered AUTHENTICATION_FAILED (RFC 7296 §2.21.2): our secret or certificate, the
 * identity we claim (IDi, --id), or the identity we asked the gateway to be (IDr, --remote-id: a
 * gateway with no configuration for that identity refuses us with this same notify) is wrong.
 */
export function withHint(err: VpnError, flags: AuthFlags & { remoteId?: string }): VpnError {
  if (err.code !== 'ERR_IKE_AUTH_FAILED') return err;
  const at = err.message.indexOf('(AUTHENTICATION_FAILED)');
  if (at < 0) return err;
  const kind = authKind(flags);
  const what =
    kind === 'psk'
      ? 'the pre-shared key'
      : kind === 'cert'
        ? 'our certificate (--cert/--p12)'
        : 'the EAP identity and password';
  const remote =
    flags.remoteId !== undefined
      ? `--remote-id (we asked for "${flags.remoteId}"; the gateway refuses an identity that is not its own)`
      : '--remote-id (if the gateway expects to be addressed by an identity)';
  const head = err.message.slice(0, at + '(AUTHENTICATION_FAILED)'.length);
  const hinted = new VpnError(
    err.code,
    `${head}: check ${what}, --id (our identity) and ${remote}`,
    {
      cause: err,
    },
  );
  return hinted;
}
