/**
 * The CI service's hosts stay outside a full tunnel (issue 13): the action turns the runner's
 * service URLs into `vpn connect --exclude` host routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ciExcludeFlags, ciHosts, MAX_CI_EXCLUDES } from '../../src/action/ci-hosts.js';

test('ciHosts: the distinct hosts of the runner service URLs; junk and loopback ignored', () => {
  assert.deepEqual(
    ciHosts({
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_GRAPHQL_URL: 'https://api.github.com/graphql',
      ACTIONS_RESULTS_URL: 'https://results-receiver.actions.githubusercontent.com/',
      ACTIONS_RUNTIME_URL: 'not a url',
      ACTIONS_CACHE_URL: 'http://localhost:1234/',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://[2001:db8::1]/token',
      UNRELATED_URL: 'https://example.com',
    }),
    [
      'github.com',
      'api.github.com',
      'results-receiver.actions.githubusercontent.com',
      '2001:db8::1',
    ],
  );
});

test('ciExcludeFlags: every address of every host, as host routes; failures noted, not fatal', async () => {
  const notes: string[] = [];
  const dns: Record<string, string[]> = {
    'github.com': ['140.82.121.4'],
    'api.github.com': ['140.82.121.6', '127.0.0.1', '140.82.121.4'],
  };
  const flags = await ciExcludeFlags(
    {
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: 'https://api.github.com',
      ACTIONS_RESULTS_URL: 'https://nowhere.invalid/',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://[2001:db8::1]/t',
    },
    (h) => (dns[h] ? Promise.resolve(dns[h]) : Promise.reject(new Error('ENOTFOUND'))),
    (m) => notes.push(m),
  );
  assert.deepEqual(flags, [
    '--exclude',
    '140.82.121.4/32',
    '--exclude',
    '140.82.121.6/32',
    '--exclude',
    '2001:db8::1/128',
  ]);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /nowhere\.invalid does not resolve/);
});

test('ciExcludeFlags: a resolver that never answers costs 3 s, and the list is capped', async () => {
  const notes: string[] = [];
  const t0 = Date.now();
  const none = await ciExcludeFlags(
    { GITHUB_SERVER_URL: 'https://github.com' },
    () => new Promise<string[]>(() => {}),
    (m) => notes.push(m),
  );
  assert.deepEqual(none, []);
  assert.ok(Date.now() - t0 < 10000);
  assert.match(notes[0]!, /no answer in 3 s/);
  const many = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`);
  const capped = await ciExcludeFlags(
    { GITHUB_SERVER_URL: 'https://github.com' },
    () => Promise.resolve(many),
    () => {},
  );
  assert.equal(capped.length, 2 * MAX_CI_EXCLUDES);
});
