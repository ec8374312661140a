// In-memory state of the multipart uploads this client started: the data key (needed for every part
// and for the trailer) and, for each part number, every attempt that S3 acknowledged.
import { MultipartStateError } from '../errors.js';
import type { Envelope } from '../format/envelope.js';
import type { KeySchedule } from '../format/keys.js';
import type { EncryptionContext } from '../keyrings/keyring.js';
import type { TrailerEntry } from '../format/trailer.js';
import type { FinalPart } from './final-part.js';
import type { ChecksumValues } from './plaintext-checksums.js';
import { quoteUntrusted } from '../untrusted-text.js';
import { objectName } from './context.js';
import type { CustomerKeyHandling } from './request-options.js';
import type { S3ecUploadState } from './s3ec-multipart.js';

export interface PartAttempt extends TrailerEntry {
  readonly eTag: string;
  /**
   * Ciphertext of a part too small to be anything but the last one, held back (at most 5 MiB) and
   * uploaded together with the trailer on completion; `eTag` is then a local placeholder.
   */
  readonly held?: Buffer;
  /** The plaintext checksums the UploadPart output reported (a CompleteMultipartUpload part must match them). */
  readonly plaintextChecksums: ChecksumValues;
  /** The checksums S3 computed over the stored ciphertext part (sent with CompleteMultipartUpload). */
  readonly storedChecksums: ChecksumValues;
}

export interface UploadState {
  readonly bucket: string;
  readonly key: string;
  readonly dataKey: Uint8Array;
  /** The data key's schedule under the upload's message id: every part key and the trailer key come from it. */
  readonly keys: KeySchedule;
  /** The envelope stored at CreateMultipartUpload: its parameters key every part. */
  readonly params: Envelope;
  readonly context: EncryptionContext;
  /** Part attempts by part number; a retried part has several, Complete picks one by ETag. */
  readonly attempts: Map<number, PartAttempt[]>;
  /**
   * The fingerprint (wrapped key id) of the customer key the upload was created under client-side:
   * every UploadPart must present that key. Absent for an upload under the client's keyring.
   */
  readonly customerKeyId?: string;
  /** Whether the upload's SSE-C fields go to the store (fixed at Create, followed by every part). */
  readonly customerKeys: CustomerKeyHandling;
  /** Request fields the trailer part must repeat (checksum algorithm, store-side SSE-C headers). */
  readonly partDefaults: Record<string, unknown>;
  /** UploadParts being sent (and recorded), which a held last part waits for before going out. */
  readonly inFlight: Set<Promise<unknown>>;
  /**
   * Ciphertext buffers of parts the store has acknowledged, reused for the next parts of the same
   * size: a 16 MiB allocation per part is mostly garbage-collector work. At most a few, dropped
   * with the upload.
   */
  readonly spareCiphertext: Buffer[];
  /** The final part sent early with a held last part, for the attempts most likely completed with. */
  finalPart?: FinalPart;
}

function unknownUpload(uploadId: string, bucket: string, key: string): MultipartStateError {
  return new MultipartStateError(
    'ERR_UNKNOWN_UPLOAD',
    `multipart upload ${quoteUntrusted(uploadId)} for ${objectName(bucket, key)} was not created by this EncryptingS3Client; its parts cannot be encrypted`,
  );
}

export class MultipartUploads {
  readonly #uploads = new Map<string, UploadState>();
  /** Uploads in the AWS S3 Encryption Client's format (s3ec-multipart.ts). */
  readonly #s3ecUploads = new Map<string, S3ecUploadState>();

  add(uploadId: string, state: UploadState): void {
    this.#uploads.set(uploadId, state);
  }

  addS3ec(uploadId: string, state: S3ecUploadState): void {
    this.#s3ecUploads.set(uploadId, state);
  }

  get(uploadId: string, bucket: string, key: string): UploadState {
    const state = this.#uploads.get(uploadId);
    if (!state || state.bucket !== bucket || state.key !== key) throw unknownUpload(uploadId, bucket, key);
    return state;
  }

  /** The S3EC upload `uploadId` names, if it is one (for another object: ERR_UNKNOWN_UPLOAD). */
  s3ec(uploadId: string, bucket: string, key: string): S3ecUploadState | undefined {
    const state = this.#s3ecUploads.get(uploadId);
    if (state && (state.bucket !== bucket || state.key !== key)) throw unknownUpload(uploadId, bucket, key);
    return state;
  }

  /** How an upload this client created handles SSE-C fields, if it knows the upload. */
  customerKeysOf(uploadId: unknown): CustomerKeyHandling | undefined {
    if (typeof uploadId !== 'string') return undefined;
    return (this.#uploads.get(uploadId) ?? this.#s3ecUploads.get(uploadId))?.customerKeys;
  }

  /** Forgets an upload and zeroes its data key (S3EC: its content key, and ends its cipher). */
  end(uploadId: string): void {
    const state = this.#uploads.get(uploadId);
    if (state) {
      state.dataKey.fill(0);
      this.#uploads.delete(uploadId);
    }
    const s3ec = this.#s3ecUploads.get(uploadId);
    if (s3ec) {
      s3ec.contentKey.fill(0);
      if (!s3ec.tag) {
        try {
          s3ec.cipher.final(); // releases the cipher's copy of the key
        } catch {
          // already finished
        }
      }
      this.#s3ecUploads.delete(uploadId);
    }
  }

  endAll(): void {
    for (const uploadId of [...this.#uploads.keys(), ...this.#s3ecUploads.keys()]) this.end(uploadId);
  }
}
