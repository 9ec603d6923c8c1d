// Lint: typescript-eslint's recommended and type-checked rules (floating and misused promises
// among them) on every TypeScript file, with the project's own tsconfig. Run by `npm run lint`
// and `.ci/run`. Formatting is prettier's job (`.prettierrc.json`), not eslint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `void promise` says "not awaited, on purpose": the rule then accepts it.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `async` without `await` is how an implementation of a Promise-returning interface turns a
      // synchronous throw into a rejection: kept on purpose (the bus, stores, test handlers).
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // One job per function in the services and the shared package (the codebase issue's rule).
    files: ['shared/src/**/*.ts', 'services/*/src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    // Tests read JSON answers of the real server (typed `any` by the HTTP helpers) field by field;
    // every answer is checked against docs/openapi.json, so typing each read again adds only noise.
    // The promise rules and the rest stay on.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Fixtures hand out plain objects of closures (`{ store, objects, close }`): no `this` to lose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain JavaScript (the CLI's launcher, scripts): no type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', Buffer: 'readonly', fetch: 'readonly' },
    },
  },
);
