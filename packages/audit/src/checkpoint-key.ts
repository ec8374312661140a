// Signing and verifying checkpoints with the operator's key: Ed25519 (default) or ECDSA P-384.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { CheckpointAlgorithm } from './record.js';

/** A key as PEM text or a `KeyObject`. */
export type KeyInput = KeyObject | string;

export function privateKeyObject(key: KeyInput): KeyObject {
  const object = typeof key === 'string' ? createPrivateKey(key) : key;
  if (object.type !== 'private') throw new TypeError('the checkpoint signing key must be a private key');
  checkpointAlgorithm(object);
  return object;
}

export function publicKeyObject(key: KeyInput): KeyObject {
  const object = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  if (object.type !== 'public') throw new TypeError('the checkpoint verification key must be a public key');
  checkpointAlgorithm(object);
  return object;
}

export function checkpointAlgorithm(key: KeyObject): CheckpointAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  throw new TypeError('checkpoint keys are Ed25519 or ECDSA P-384');
}

/**
 * The fingerprint checkpoints name their key by: SHA-256 of the public key's SubjectPublicKeyInfo (DER), hex.
 *
 * @example
 * ```ts
 * const { publicKey } = generateKeyPairSync('ed25519');
 * checkpointKeyFingerprint(publicKey); // '3f9c…' (64 hex digits)
 * ```
 */
export function checkpointKeyFingerprint(key: KeyInput): string {
  const der = publicKeyObject(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

export function signCheckpoint(privateKey: KeyObject, bytes: Buffer): string {
  const signature =
    checkpointAlgorithm(privateKey) === 'Ed25519'
      ? sign(null, bytes, privateKey)
      : sign('sha384', bytes, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return signature.toString('base64url');
}

export function checkpointSignatureValid(publicKey: KeyObject, bytes: Buffer, signature: string): boolean {
  const raw = Buffer.from(signature, 'base64url');
  return checkpointAlgorithm(publicKey) === 'Ed25519'
    ? verify(null, bytes, publicKey, raw)
    : verify('sha384', bytes, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw);
}
