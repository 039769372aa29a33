// ESLint over src, test and bench: typescript-eslint's type-checked recommended set (the whole
// tree lints in ~15 s on two cores, well within budget). Formatting is Prettier's job
// (.prettierrc.json); neither recommended set has layout rules, so the two do not overlap.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Built output, dependencies, test and coverage output, and inputs that are data, not code.
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tap/', 'demo/', 'test/fixtures/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `const { secret: _dropped, ...rest } = o` is how the code leaves a key out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Control characters are matched on purpose: names, fields and diagnostics refuse or escape them.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap queues subtests itself: `t.test(...)` is not awaited, by design.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] },
      ],
      // Subtests are written `async (t) => ...` whether or not they await yet; tap accepts both.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The few plain JavaScript files (this config, the launchers; bin/mirror-policyd has no
    // extension, so it is named): no type information.
    files: ['**/*.js', 'bin/mirror-policyd'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
);
