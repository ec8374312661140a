// @google-cloud/kms can log every request and response it handles, including Encrypt's `plaintext`
// (the data key being wrapped) and Decrypt's answer (the unwrapped data key), when the environment
// variable GOOGLE_SDK_NODE_LOGGING names its logger, `kms` (google-logging-utils: a comma-separated
// list of names with `*` wildcards, case-insensitive; `all`, `true` or `*` for everything). The keyring
// refuses to send or receive a data key then: a key that cannot be wrapped means nothing is uploaded.
import { KmsError } from '@s3crypt/client';

const LOGGING_VARIABLE = 'GOOGLE_SDK_NODE_LOGGING';
const KMS_LOGGER = 'kms';

/** Whether `setting` (GOOGLE_SDK_NODE_LOGGING's value) turns on @google-cloud/kms's request logging. */
export function kmsRequestLoggingEnabled(setting: string | undefined): boolean {
  if (!setting) return false;
  const filters = setting === 'all' || setting === 'true' ? ['*'] : setting.split(',');
  return filters.some((filter) => new RegExp(`^${filter.replace(/[|\\{}()[\]^$+?.]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(KMS_LOGGER));
}

/** Throws unless the Cloud KMS client library's request logging is off. */
export function refuseWhileRequestsAreLogged(keyName: string, operation: 'encrypt' | 'decrypt'): void {
  if (!kmsRequestLoggingEnabled(process.env[LOGGING_VARIABLE])) return;
  throw new KmsError(
    'ERR_KMS_FAILED',
    keyName,
    `refusing to ${operation} a data key with Cloud KMS key ${keyName}: ${LOGGING_VARIABLE} turns on @google-cloud/kms request logging, which would write data keys to the log`,
  );
}
