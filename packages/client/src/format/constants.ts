/** Format constants. Changing any of these is a new format version (docs/FORMAT.md). */
export const FORMAT_VERSION_1 = 1;
export const FORMAT_VERSION_2 = 2;
/** The version new objects are written in. */
export const CURRENT_FORMAT_VERSION = FORMAT_VERSION_2;
/** v1 suite 1 and v2 suite 1: AES-256-GCM segments, HKDF-SHA256 key derivation, HKDF key commitment (v2: + header MAC). */
export const SUITE_AES256GCM_HKDF_SHA256_COMMIT = 1;
/** v2 suite 2: suite 1 plus an ECDSA P-384 / SHA-384 signature over the header and the trailer. */
export const SUITE_AES256GCM_HKDF_SHA256_COMMIT_ECDSA_P384 = 2;

export const HEADER_TAG_LENGTH = 32;
export const SIGNER_ID_LENGTH = 32;
/** ECDSA P-384 signature in IEEE P1363 form (r ‖ s). */
export const SIGNATURE_LENGTH = 96;

export const KEY_LENGTH = 32;
export const MESSAGE_ID_LENGTH = 32;
export const COMMITMENT_LENGTH = 32;
export const SALT_LENGTH = 16;
export const TAG_LENGTH = 16;
export const NONCE_LENGTH = 12;

/** v2's default, chosen from measurements (docs/PERFORMANCE.md). v1 wrote 64 KiB segments. */
export const DEFAULT_SEGMENT_SIZE = 256 * 1024;
export const MIN_SEGMENT_SIZE = 4 * 1024;
export const MAX_SEGMENT_SIZE = 8 * 1024 * 1024;

/** S3 allows part numbers 1..10000; the last one is kept for the trailer. */
export const MAX_PART_NUMBER = 10_000;
export const MAX_DATA_PART_NUMBER = MAX_PART_NUMBER - 1;
/** S3's largest part, and its largest single PUT. */
export const MAX_PART_LENGTH = 5 * 1024 ** 3;

/** Part kinds, bound into each part key so a trailer can never be read as data or the reverse. */
export const PART_KIND_DATA = 0x01;
export const PART_KIND_TRAILER = 0x02;

/** User-metadata key holding the envelope (stored by S3 as `x-amz-meta-s3crypt-envelope`). */
export const ENVELOPE_METADATA_KEY = 's3crypt-envelope';
/** S3 caps user-defined metadata at 2 KiB, counting `x-amz-meta-` prefixes, keys and values. */
export const USER_METADATA_LIMIT = 2048;
/** S3's minimum size of every part but the last. */
export const MIN_PART_LENGTH = 5 * 1024 * 1024;
