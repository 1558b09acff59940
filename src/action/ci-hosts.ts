/**
 * The CI service's own endpoints (issue 13: "never routes the runner's own traffic to the gateway
 * or the CI service into the tunnel"): the hosts of the URLs the runner gives a job (its server,
 * API, artifact/results, cache and OIDC token services). Their current addresses become
 * `vpn connect --exclude` host routes, so a full tunnel leaves the runner's new connections to
 * them (log and artifact uploads, cache, tokens) on their usual path. Best effort: a name that
 * does not resolve is reported and skipped; CDN addresses can change during a long job.
 */
import { isIP } from 'node:net';

/** Environment variables the GitHub runner sets to its service URLs. */
export const CI_URL_VARS = [
  'GITHUB_SERVER_URL',
  'GITHUB_API_URL',
  'GITHUB_GRAPHQL_URL',
  'ACTIONS_RUNTIME_URL',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_CACHE_URL',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
] as const;

/** At most this many excluded addresses (the client takes 32 `--exclude`s). */
export const MAX_CI_EXCLUDES = 24;

/** The distinct host names (or literal addresses) of the CI service URLs in `env`. */
export function ciHosts(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const v of CI_URL_VARS) {
    const raw = env[v];
    if (raw === undefined || raw === '' || raw.length > 2048) continue;
    let host: string;
    try {
      host = new URL(raw).hostname;
    } catch {
      continue;
    }
    host = host.replace(/^\[(.*)\]$/, '$1');
    if (host === '' || host === 'localhost' || host.length > 253) continue;
    out.add(host.toLowerCase());
  }
  return [...out];
}

/**
 * `--exclude` flags for the CI service's addresses: each host resolved with `resolve` (all
 * addresses), loopback and duplicates dropped, at most MAX_CI_EXCLUDES. `note` hears what was
 * skipped.
 */
export async function ciExcludeFlags(
  env: NodeJS.ProcessEnv,
  resolve: (host: string) => Promise<string[]>,
  note: (message: string) => void,
): Promise<string[]> {
  const addrs = new Set<string>();
  for (const host of ciHosts(env)) {
    let list: string[];
    let timer: NodeJS.Timeout | undefined;
    try {
      // A resolver that does not answer must not hold the step: 3 s per name.
      list =
        isIP(host) !== 0
          ? [host]
          : await Promise.race([
              resolve(host),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error('no answer in 3 s')), 3000);
              }),
            ]);
    } catch (e) {
      note(`CI service host ${host} does not resolve (${(e as Error).message}); not excluded`);
      continue;
    } finally {
      clearTimeout(timer);
    }
    for (const a of list) {
      if (isIP(a) === 0 || a.startsWith('127.') || a === '::1') continue;
      addrs.add(a);
    }
  }
  const all = [...addrs];
  if (all.length > MAX_CI_EXCLUDES)
    note(`${all.length} CI service addresses; only the first ${MAX_CI_EXCLUDES} are excluded`);
  return all
    .slice(0, MAX_CI_EXCLUDES)
    .flatMap((a) => ['--exclude', `${a}/${isIP(a) === 6 ? 128 : 32}`]);
}
