// @ts-check
import tseslint from 'typescript-eslint';

/** Modules the pure protocol core must never touch: sockets, files, processes, terminal, CLI. */
const IO_MODULES = [
  'node:dgram',
  'dgram',
  'node:net',
  'net',
  'node:fs',
  'fs',
  'node:fs/promises',
  'fs/promises',
  'node:child_process',
  'child_process',
  'node:readline',
  'readline',
  'node:tty',
  'tty',
  'node:timers',
  'timers',
  'node:timers/promises',
  'node:worker_threads',
  'node:os',
  'os',
  'ora',
  'commander',
];

/** Globals that mean time, scheduling, process state or terminal output. */
const IO_GLOBALS = [
  { name: 'setTimeout', message: 'The core is sans-I/O: return a setTimer output instead.' },
  { name: 'setInterval', message: 'The core is sans-I/O: return a setTimer output instead.' },
  { name: 'setImmediate', message: 'The core is sans-I/O.' },
  { name: 'process', message: 'The core must not read process state; inject it.' },
  { name: 'console', message: 'The core must not print; return an event or use the Logger.' },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'action/dist/**',
      'dist-*/**',
      'node_modules/**',
      'build/**',
      'scripts/**',
      'bin/**',
      'test/**/*.mjs',
      'eslint.config.js',
    ],
  },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/prefer-literal-enum-member': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-console': 'error',
    },
  },
  {
    // The protocol core: pure, synchronous, no I/O (see README "Design").
    files: [
      'src/core/**/*.ts',
      'src/crypto/**/*.ts',
      'src/ike/**/*.ts',
      'src/esp/**/*.ts',
      'src/eap/**/*.ts',
      'src/pki/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'The protocol core does no I/O.' })),
          patterns: [
            {
              group: ['**/net/*', '**/tun/*', '**/client/*', '**/cli/*', '**/config/load*'],
              message: 'The core may not import I/O layers.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...IO_GLOBALS],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time is injected (Clock).' },
        { object: 'Math', property: 'random', message: 'Randomness is injected (Random).' },
      ],
    },
  },
  {
    files: ['src/esp/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'The protocol core does no I/O.' })),
          patterns: [
            {
              group: ['**/ike/*', '**/net/*', '**/tun/*', '**/client/*', '**/cli/*'],
              message: 'ESP knows nothing of IKE or I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layering: src/pki is a plain X.509 library below IKE (issue 12): it may import only
    // src/core and src/crypto (and itself).
    files: ['src/pki/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_MODULES.map((name) => ({ name, message: 'The protocol core does no I/O.' })),
          patterns: [
            {
              // Files sit directly in src/pki: a parent import must go to core/ or crypto/.
              regex: '^\\.\\./(?!core/|crypto/)',
              message: 'src/pki is plain X.509 below IKE: it imports only src/core and src/crypto.',
            },
          ],
        },
      ],
    },
  },
  {
    // Layering: src/net carries datagrams and knows only src/core.
    files: ['src/net/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!core/)',
              message: 'src/net imports only src/core.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      'no-console': 'off',
    },
  },
);
