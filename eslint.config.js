// Lint config: typescript-eslint's type-checked rules (recommendedTypeChecked)
// on the TypeScript sources, tests and benchmarks, typed through the project's
// tsconfig.json (projectService); plain recommended rules on the few .js files.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docker/**', 'test-artifacts/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // tap tracks the promise of t.test() itself (a subtest runs to its end before the parent ends).
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafePromises: [
            { from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' },
          ],
        },
      ],
      // Off: 231 of its 240 findings are `!` after an index or a lookup, which tsconfig (no
      // noUncheckedIndexedAccess) already types as defined; the `!` states the invariant for the reader.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Off: `async` without `await` is used on purpose so that a throw becomes a rejection
      // (Store.load/save, tap callbacks, port methods that may await later); the rule calls each one a bug.
      '@typescript-eslint/require-await': 'off',
      // An AbortSignal's reason and a caught value are passed on as they came (typed unknown).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Tests and benches read parsed JSON and untyped library fields (typed any) and then assert on them:
    // the assertion is the check, so the no-unsafe-* family is noise there. Sources keep it.
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Not in tsconfig.json (launcher, configs, the GUI's browser script): no type information.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
