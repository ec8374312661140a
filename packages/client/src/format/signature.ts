// The signed suite (v2 suite 2): ECDSA P-384 / SHA-384 over the header fields that fix the content
// and the trailer, in IEEE P1363 form (docs/FORMAT.md §9.6). Readers pick a pinned verification key
// by the signer id the envelope records.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { SIGNATURE_LENGTH } from './constants.js';

const SIGNATURE_LABEL = Buffer.from('s3crypt/v2 signature', 'ascii');

/** SHA-256 of a public key's DER SubjectPublicKeyInfo: how an envelope names its signer. */
export function signerIdOf(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

/** Throws a TypeError unless `key` is an ECDSA P-384 key of the wanted type. */
export function checkP384Key(key: unknown, type: 'private' | 'public', what: string): asserts key is KeyObject {
  const ok =
    typeof key === 'object' &&
    key !== null &&
    (key as KeyObject).type === type &&
    (key as KeyObject).asymmetricKeyType === 'ec' &&
    (key as KeyObject).asymmetricKeyDetails?.namedCurve === 'secp384r1';
  if (!ok) throw new TypeError(`${what} must be an ECDSA P-384 ${type} KeyObject (crypto.createP384 / createPrivateKey / createPublicKey)`);
}

export function signedMessage(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat([SIGNATURE_LABEL, ...parts]);
}

export function signMessage(signingKey: KeyObject, message: Uint8Array): Buffer {
  const signature = sign('sha384', message, { key: signingKey, dsaEncoding: 'ieee-p1363' });
  if (signature.length !== SIGNATURE_LENGTH) throw new TypeError('the signing key did not produce a P-384 signature');
  return signature;
}

export function signatureValid(verificationKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  return signature.length === SIGNATURE_LENGTH && verify('sha384', message, { key: verificationKey, dsaEncoding: 'ieee-p1363' }, signature);
}
