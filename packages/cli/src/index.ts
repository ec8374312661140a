export { main, INTERRUPTED } from './main.js';
export { ExitCode, CliError, exitCodeOf } from './exit-codes.js';
export { parseKeySpec, keyFileKeyName, KEY_SPEC_PROVIDERS } from './key-spec.js';
export type { KeySpec, KeySpecProvider } from './key-spec.js';
export type { Output } from './session.js';
