// RSA-OAEP decoding with SHA-256 as the OAEP hash and MGF1 over SHA-1 (RFC 8017 §7.1.2), the pairing
// Java's SunJCE uses for "RSA/ECB/OAEPWithSHA-256AndMGF1Padding" and the legacy S3EC wrapping wrote.
// node:crypto ties MGF1's hash to the OAEP hash, so the padding is removed here from a raw RSA
// decryption. Every check runs over every byte and all failures are one error (no padding oracle).
import { constants, createHash, privateDecrypt, timingSafeEqual, type KeyObject } from 'node:crypto';

const H_LEN = 32;
const LABEL_HASH = createHash('sha256').digest();

function mgf1Sha1(seed: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * 20 < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash('sha1').update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xorInto(target: Buffer, mask: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] as number) ^ (mask[i] as number);
}

/**
 * The message of an OAEP(SHA-256, MGF1-SHA-1, empty label) ciphertext under `privateKey`; throws one
 * `Error('OAEP decoding failed')` for every kind of mismatch. The caller zeroes the result.
 * @internal
 */
export function oaepSha256Mgf1Sha1Decrypt(privateKey: KeyObject, ciphertext: Uint8Array): Buffer {
  const k = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (ciphertext.length !== k || k < 2 * H_LEN + 2) throw new Error('OAEP decoding failed');
  const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
  try {
    const seed = Buffer.from(em.subarray(1, 1 + H_LEN));
    const db = Buffer.from(em.subarray(1 + H_LEN));
    xorInto(seed, mgf1Sha1(db, H_LEN));
    xorInto(db, mgf1Sha1(seed, db.length));
    seed.fill(0);
    let bad = (em[0] as number) | (timingSafeEqual(db.subarray(0, H_LEN), LABEL_HASH) ? 0 : 1);
    // Find the 0x01 after the zero padding without branching on secret bytes.
    let separator = 0;
    let seenOne = 0;
    for (let i = H_LEN; i < db.length; i++) {
      const byte = db[i] as number;
      const isOne = Number(byte === 1);
      const isZero = Number(byte === 0);
      const first = isOne & (seenOne ^ 1);
      separator = first * i + (1 - first) * separator;
      bad |= (seenOne ^ 1) & (isZero ^ 1) & (isOne ^ 1);
      seenOne |= isOne;
    }
    bad |= seenOne ^ 1;
    const message = Buffer.from(db.subarray(separator + 1));
    db.fill(0);
    if (bad !== 0) {
      message.fill(0);
      throw new Error('OAEP decoding failed');
    }
    return message;
  } finally {
    em.fill(0);
  }
}
