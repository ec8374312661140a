// The client's reader against objects from a writer built only from docs/FORMAT.md
// (test/harness/independent-writer.ts): spec and code checked against each other. Then forgery with
// a public key: someone holding only a reader's RSA public key builds a whole object from scratch.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { KeyPolicy } from '../src/client/key-policy.js';
import type { DecryptRequest, Keyring } from '../src/keyrings/keyring.js';
import { MultiKeyring } from '../src/keyrings/multi.js';
import { RawAesKeyring } from '../src/keyrings/raw-aes.js';
import { RsaKeyring } from '../src/keyrings/raw-rsa.js';
import {
  junkEdk,
  rawAesEdk,
  rsaOaepEdk,
  signerIdIndependently,
  writeIndependently,
  type EdkMaker,
  type IndependentObject,
  type IndependentPart,
} from '../../../test/harness/independent-writer.js';
import { BUCKET, KEY, getInMemory, pattern, type ReadOptions } from './helpers.js';
import { rejectionCode } from '../../../test/harness/rejection-code.js';

const SEGMENT = 4096;
const AES_KEY_NAME = 'unit-test-key';
const AES_MASTER_KEY = Buffer.alloc(32, 7);
const aesReader = () => new RawAesKeyring({ keyName: AES_KEY_NAME, masterKey: AES_MASTER_KEY });

const p384 = () => generateKeyPairSync('ec', { namedCurve: 'P-384' });
const writerSigner = p384();


interface WriteCase {
  readonly version: 1 | 2;
  readonly signingKey?: KeyObject;
  readonly callerContext?: Record<string, string>;
  readonly parts: readonly IndependentPart[];
  readonly edks?: readonly EdkMaker[];
}

function write(c: WriteCase): IndependentObject {
  return writeIndependently({ bucket: BUCKET, key: KEY, segmentSize: SEGMENT, edks: c.edks ?? [rawAesEdk(AES_KEY_NAME, AES_MASTER_KEY)], ...c });
}

const single = (plaintext: Buffer): IndependentPart[] => [{ partNumber: 1, plaintext }];
const gappedParts: IndependentPart[] = [
  { partNumber: 2, plaintext: pattern(SEGMENT * 2 + 5, 2) },
  { partNumber: 7, plaintext: Buffer.alloc(0) },
  { partNumber: 8, plaintext: pattern(1, 8) },
  { partNumber: 9999, plaintext: pattern(SEGMENT, 9) },
];
const layouts: [string, IndependentPart[]][] = [
  ['0 bytes', single(Buffer.alloc(0))],
  ['1 byte', single(pattern(1))],
  ['exactly one segment', single(pattern(SEGMENT))],
  ['several segments', single(pattern(SEGMENT * 3 + 17))],
  ['multipart with gaps in the part numbers, an empty part and part 9999', gappedParts],
];
const joined = (parts: readonly IndependentPart[]) => Buffer.concat(parts.map((p) => p.plaintext));

const flavours: [string, Omit<WriteCase, 'parts'>, ReadOptions][] = [
  ['v1', { version: 1 }, {}],
  ['v2 suite 1', { version: 2 }, {}],
  ['v2 suite 1 with a caller context', { version: 2, callerContext: { tenant: 'acme', 'é': 'ü' } }, { callerContext: { tenant: 'acme', 'é': 'ü' } }],
  ['v2 suite 2 (signed, pinned)', { version: 2, signingKey: writerSigner.privateKey }, { policy: { verificationKeys: [writerSigner.publicKey] } }],
];

describe('the client reads what a writer built from docs/FORMAT.md alone writes', () => {
  for (const [flavour, options, read] of flavours) {
    describe(flavour, () => {
      for (const [layout, parts] of layouts) {
        it(`${layout}: decrypts to the written plaintext with the identity FORMAT.md §9.7 gives`, async () => {
          const stored = write({ ...options, parts });
          let objectId: string | undefined;
          const plaintext = await getInMemory(aesReader(), stored, undefined, KEY, { ...read, onObjectId: (id) => (objectId = id) });
          expect(plaintext.equals(joined(parts))).toBe(true);
          expect(objectId).toBe(stored.objectId);
        });
      }
    });
  }

  it('serves plaintext ranges that cross part and segment boundaries of an independently written multipart object', async () => {
    const stored = write({ version: 2, signingKey: writerSigner.privateKey, parts: gappedParts });
    const whole = joined(gappedParts);
    const read = { policy: { verificationKeys: [writerSigner.publicKey] } };
    for (const [start, end] of [[0, 1], [SEGMENT - 3, SEGMENT + 3], [SEGMENT * 2, SEGMENT * 2 + 7], [SEGMENT * 2 + 4, whole.length]] as const) {
      expect((await getInMemory(aesReader(), stored, { start, end }, KEY, read)).equals(whole.subarray(start, end))).toBe(true);
    }
  });

  it('refuses an independently written object moved to another key (the context binds it)', async () => {
    expect(await rejectionCode(getInMemory(aesReader(), write({ version: 2, parts: single(pattern(10)) }), undefined, 'elsewhere'))).toBe('ERR_KEY_UNWRAP_FAILED');
  });

  it('refuses an independently written signed object whose signature covers other content', async () => {
    const stored = write({ version: 2, signingKey: writerSigner.privateKey, parts: single(pattern(10)) });
    const body = Buffer.from(stored.body);
    body[body.length - 4 - 96 + 5]! ^= 1;
    expect(await rejectionCode(getInMemory(aesReader(), { ...stored, body }, undefined, KEY, { policy: { verificationKeys: [writerSigner.publicKey] } }))).toBe('ERR_SIGNATURE_INVALID');
  });
});

describe('forgery with an RSA public key', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const RSA_KEY_NAME = 'archive-2026';
  /** The victim reader: holds the private key. The public key goes in as PEM: RsaKeyring passes a public KeyObject to createPublicKey, which Node refuses. */
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rsaReader = () => new RsaKeyring({ keyName: RSA_KEY_NAME, publicKey: publicPem, privateKey: rsa.privateKey });
  const multiReader = () => new MultiKeyring({ generator: aesReader(), children: [rsaReader()] });
  /** What the attacker holds: the public key, and a signing key of their own. */
  const attacker = { rsaPublicKey: rsa.publicKey, signer: p384() };
  const message = Buffer.from('pay 1,000,000 to mallory');

  function forge(options: { version?: 1 | 2; signingKey?: KeyObject; signerId?: Uint8Array; decoys?: EdkMaker[] } = {}): IndependentObject {
    return writeIndependently({
      bucket: BUCKET,
      key: KEY,
      segmentSize: SEGMENT,
      version: options.version ?? 2,
      parts: single(message),
      edks: [...(options.decoys ?? []), rsaOaepEdk(RSA_KEY_NAME, attacker.rsaPublicKey)],
      ...(options.signingKey ? { signingKey: options.signingKey } : {}),
      ...(options.signerId ? { signerId: options.signerId } : {}),
    });
  }

  /** The RSA EDKs a spied RsaKeyring was asked to unwrap. */
  const rsaEdksOffered = (unwrap: { mock: { calls: [DecryptRequest][] } }) => unwrap.mock.calls.flatMap(([request]) => request.encryptedDataKeys.filter((edk) => edk.providerId === 'raw-rsa'));
  const read = (keyring: Keyring, stored: IndependentObject, policy?: KeyPolicy) => getInMemory(keyring, stored, undefined, KEY, policy ? { policy } : {});
  const readers: [string, () => Keyring][] = [
    ['RsaKeyring holding the private key', rsaReader],
    ['MultiKeyring of a RawAesKeyring and that RsaKeyring', multiReader],
  ];

  for (const version of [2, 1] as const) {
    for (const [name, reader] of readers) {
      describe(`v${version} forgery, read through a ${name}`, () => {
        it('is refused with ERR_UNSIGNED_OBJECT under the default policy, before the private key is used', async () => {
          const rsaKeyring = rsaReader();
          const keyring = reader === rsaReader ? rsaKeyring : new MultiKeyring({ generator: aesReader(), children: [rsaKeyring] });
          const unwrap = vi.spyOn(rsaKeyring, 'onDecrypt');
          expect(await rejectionCode(read(keyring, forge({ version })))).toBe('ERR_UNSIGNED_OBJECT');
          expect(rsaEdksOffered(unwrap)).toEqual([]);
        });

        it('is refused with ERR_UNSIGNED_OBJECT when a junk raw-aes EDK under a key the reader does not trust comes first', async () => {
          expect(await rejectionCode(read(reader(), forge({ version, decoys: [junkEdk('raw-aes', 'someone-else', randomBytes(60))] })))).toBe('ERR_UNSIGNED_OBJECT');
        });

        it('is accepted only with the explicit opt-in acceptUnsignedPublicKeyWrapping (the forged content is then returned)', async () => {
          expect((await read(reader(), forge({ version }), { acceptUnsignedPublicKeyWrapping: true })).equals(message)).toBe(true);
        });

        it('is refused with ERR_UNSIGNED_OBJECT when verification keys are pinned and it is unsigned', async () => {
          expect(await rejectionCode(read(reader(), forge({ version }), { verificationKeys: [writerSigner.publicKey] }))).toBe('ERR_UNSIGNED_OBJECT');
        });
      });
    }
  }

  describe('junk raw-aes EDK under the key the reader trusts, first', () => {
    const decoys = () => [junkEdk('raw-aes', AES_KEY_NAME, randomBytes(60))];

    it('through the RsaKeyring (which does not trust raw-aes): ERR_UNSIGNED_OBJECT', async () => {
      expect(await rejectionCode(read(rsaReader(), forge({ decoys: decoys() })))).toBe('ERR_UNSIGNED_OBJECT');
    });

    // The raw-aes decoy is a trusted, non-public KEK, so the policy lets it through and drops the
    // RSA EDK; the decoy then fails to unwrap, and the refusal names the real reason (the decoy's failure is its cause).
    it('through the MultiKeyring: refused as unsigned despite the decoy, and the RSA private key is never used', async () => {
      const rsaKeyring = rsaReader();
      const unwrap = vi.spyOn(rsaKeyring, 'onDecrypt');
      const keyring = new MultiKeyring({ generator: aesReader(), children: [rsaKeyring] });
      expect(await rejectionCode(read(keyring, forge({ decoys: decoys() })))).toBe('ERR_UNSIGNED_OBJECT');
      expect(rsaEdksOffered(unwrap)).toEqual([]);
    });
  });

  describe('v2 with a pinned writer key (verificationKeys)', () => {
    const pinned: KeyPolicy = { verificationKeys: [writerSigner.publicKey] };

    for (const [name, reader] of readers) {
      it(`${name}: signed by the attacker's own P-384 key → ERR_SIGNATURE_INVALID`, async () => {
        expect(await rejectionCode(read(reader(), forge({ signingKey: attacker.signer.privateKey }), pinned))).toBe('ERR_SIGNATURE_INVALID');
      });

      it(`${name}: signed by the attacker but naming the pinned writer as signer → ERR_SIGNATURE_INVALID`, async () => {
        const stored = forge({ signingKey: attacker.signer.privateKey, signerId: signerIdIndependently(writerSigner.publicKey) });
        expect(await rejectionCode(read(reader(), stored, pinned))).toBe('ERR_SIGNATURE_INVALID');
      });

      it(`${name}: a genuine writer signing with the pinned key is accepted`, async () => {
        const genuine = writeIndependently({
          bucket: BUCKET,
          key: KEY,
          segmentSize: SEGMENT,
          version: 2,
          parts: single(pattern(5000)),
          edks: [rsaOaepEdk(RSA_KEY_NAME, rsa.publicKey)],
          signingKey: writerSigner.privateKey,
        });
        expect((await read(reader(), genuine, pinned)).equals(pattern(5000))).toBe(true);
      });
    }
  });
});
