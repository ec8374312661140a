// How branch keys are named: their ids, the S3 keys of their versions, and the key ids of the
// encrypted data keys they wrap. Every name is parsed back strictly, so a name the store or an
// envelope invents never reaches a request or a message unchecked.

/** Letters, digits, `.`, `_`, `-`; no `/` or `:`, which separate the parts of the names below. */
const BRANCH_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The highest version number: versions are stored under `MAX_VERSION - version`, ten digits. */
export const MAX_VERSION = 2_147_483_647;

export function isBranchKeyId(value: unknown): value is string {
  return typeof value === 'string' && BRANCH_KEY_ID.test(value);
}

export function assertBranchKeyId(value: unknown, where: string): asserts value is string {
  if (!isBranchKeyId(value)) throw new TypeError(`${where}: branchKeyId must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
}

/** The listing prefix of one branch key's versions. */
export function versionsPrefix(prefix: string, branchKeyId: string): string {
  return `${prefix}${branchKeyId}/`;
}

/**
 * The S3 key of one version: `<prefix><id>/<MAX_VERSION - version, 10 digits>-v<version>`. The
 * inverted number makes the newest version sort first, so one short listing finds it.
 */
export function versionKey(prefix: string, branchKeyId: string, version: number): string {
  return `${versionsPrefix(prefix, branchKeyId)}${String(MAX_VERSION - version).padStart(10, '0')}-v${version}`;
}

/** The version an S3 key names, if it is exactly {@link versionKey} for `branchKeyId`. */
export function parseVersionKey(prefix: string, branchKeyId: string, key: string): number | undefined {
  const head = versionsPrefix(prefix, branchKeyId);
  if (!key.startsWith(head)) return undefined;
  const match = /^(\d{10})-v([1-9]\d{0,9})$/.exec(key.slice(head.length));
  if (!match) return undefined;
  const version = Number(match[2]);
  return version <= MAX_VERSION && Number(match[1]) === MAX_VERSION - version ? version : undefined;
}

/** The `keyId` of an encrypted data key wrapped under a branch key version: `<id>:v<version>`. */
export function edkKeyId(branchKeyId: string, version: number): string {
  return `${branchKeyId}:v${version}`;
}

/** The prefix every {@link edkKeyId} of `branchKeyId` starts with (ids cannot contain `:`). */
export function edkKeyIdPrefix(branchKeyId: string): string {
  return `${branchKeyId}:v`;
}

/** The version an encrypted data key's `keyId` names, if it is exactly {@link edkKeyId} for `branchKeyId`. */
export function parseEdkKeyId(branchKeyId: string, keyId: string): number | undefined {
  const head = edkKeyIdPrefix(branchKeyId);
  if (!keyId.startsWith(head)) return undefined;
  const digits = keyId.slice(head.length);
  if (!/^[1-9]\d{0,9}$/.test(digits)) return undefined;
  const version = Number(digits);
  return version <= MAX_VERSION ? version : undefined;
}
