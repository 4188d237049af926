// Lint: the recommended JS and TypeScript rules, plus the house rules that protect dom0.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Never build shell strings: every process gets an argv array.
      'no-restricted-syntax': ['error',
        { selector: "Property[key.name='shell'][value.value=true]", message: 'No shell: pass argv arrays.' },
        { selector: "CallExpression[callee.name='execaCommand']", message: 'No command strings: pass argv arrays.' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'execa', importNames: ['execaCommand', 'execaCommandSync', '$'], message: 'argv arrays only' }] }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
