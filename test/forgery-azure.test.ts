// Forgery with an Azure Key Vault RSA public key: someone who can read the vault key's public half
// (keys/get, or wherever it was published) builds a whole object from scratch — their own data key,
// content and envelope — with test/harness/independent-writer.ts. The reader's AzureKeyVaultKeyring
// (RSA-OAEP-256) drives the real @azure/keyvault-keys CryptographyClient against the protocol-level
// fake test/harness/fake-azure-key-vault.ts (no Key Vault emulator is installable here), so a read
// that the key policy lets through really is unwrapped by the "vault".
import { createHmac, createPublicKey, generateKeyPairSync, hkdfSync, publicEncrypt, constants, type KeyObject } from 'node:crypto';
import { Agent } from 'node:https';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { KeyClient, type CryptographyClientOptions } from '@azure/keyvault-keys';
import type { KeyPolicy } from '@s3crypt/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureKeyVaultKeyring } from '../packages/kms-azure/src/index.js';
import { getInMemory, BUCKET, KEY } from '../packages/client/test/helpers.js';
import { startFakeAzureKeyVault, type FakeAzureKeyVault } from './harness/fake-azure-key-vault.js';
import { serializeContextIndependently, writeIndependently, type EdkMaker, type IndependentObject } from './harness/independent-writer.js';
import { rejectionCode } from './harness/rejection-code.js';

/** The fake accepts any bearer token; this never contacts an identity provider. */
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const KEY_NAME = 'forgery-kek';
const PROVIDER_ID = 'azure-key-vault';
const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/**
 * The Azure keyring's EDK for `versionedKeyId`, as packages/kms-azure/README.md ("How the encryption
 * context is bound") lays it out, made with nothing but the RSA public key:
 * 0x01 ‖ u16 len ‖ RSA-OAEP-256(publicKey, DEK) ‖ HMAC-SHA256(HKDF(DEK), u32len ‖ providerId ‖ u32len ‖ keyId ‖ u32len ‖ context).
 */
function azureRsaEdk(versionedKeyId: string, publicKey: KeyObject): EdkMaker {
  return (dataKey, context) => {
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dataKey);
    const macKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 's3crypt azure-key-vault context binding v1', 32));
    const hmac = createHmac('sha256', macKey);
    for (const field of [Buffer.from(PROVIDER_ID), Buffer.from(versionedKeyId), serializeContextIndependently(context)]) hmac.update(u32(field.length)).update(field);
    macKey.fill(0);
    const length = Buffer.from([wrapped.length >> 8, wrapped.length & 0xff]);
    return { providerId: PROVIDER_ID, keyId: versionedKeyId, ciphertext: Buffer.concat([Buffer.from([1]), length, wrapped, hmac.digest()]) };
  };
}


let vault: FakeAzureKeyVault;
let agent: Agent;
let clientOptions: CryptographyClientOptions;
/** The vault's versioned key id, as envelopes record it. */
let versionedKeyId: string;
/** What the attacker fetched from the vault: the key's public half. */
let attackerPublicKey: KeyObject;

beforeAll(async () => {
  vault = await startFakeAzureKeyVault();
  agent = new Agent({ ca: vault.ca, keepAlive: true });
  clientOptions = { serviceVersion: '7.6', disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 1, retryDelayInMs: 50, maxRetryDelayInMs: 100 } };
  const keys = new KeyClient(vault.vaultUrl, credential, clientOptions);
  const created = await keys.createKey(KEY_NAME, 'RSA', { keySize: 2048 });
  versionedKeyId = created.id!;
  const published = await keys.getKey(KEY_NAME);
  const b64url = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('base64url');
  attackerPublicKey = createPublicKey({ key: { kty: 'RSA', n: b64url(published.key?.n), e: b64url(published.key?.e) }, format: 'jwk' });
});

afterAll(async () => {
  agent?.destroy();
  await vault?.stop();
});

const message = Buffer.from('pay 1,000,000 to mallory');
const writerSigner = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const attackerSigner = generateKeyPairSync('ec', { namedCurve: 'P-384' });

function forge(options: { version?: 1 | 2; signingKey?: KeyObject } = {}): IndependentObject {
  return writeIndependently({
    bucket: BUCKET,
    key: KEY,
    segmentSize: 4096,
    version: options.version ?? 2,
    parts: [{ partNumber: 1, plaintext: message }],
    edks: [azureRsaEdk(versionedKeyId, attackerPublicKey)],
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
  });
}

const reader = () => new AzureKeyVaultKeyring({ keyId: `${vault.vaultUrl}/keys/${KEY_NAME}`, credential, clientOptions });
/** Until the keyring declares kekMatchers() itself, a reader must name its KEK, marked as a public key. */
const trustedPublicKek = (): KeyPolicy['trustedKeks'] => [{ providerId: PROVIDER_ID, keyId: `${vault.vaultUrl}/keys/${KEY_NAME}/`, match: 'prefix', publicKey: true }];
const read = (stored: IndependentObject, policy: KeyPolicy | undefined) => getInMemory(reader(), stored, undefined, KEY, policy ? { policy } : {});

/** Runs `body` and returns how many unwrapkey calls reached the vault meanwhile. */
async function vaultUnwrapsDuring(body: () => Promise<void>): Promise<number> {
  const before = vault.calls.unwrap;
  await body();
  return vault.calls.unwrap - before;
}

describe('forgery with an Azure Key Vault RSA public key (RSA-OAEP-256)', () => {
  for (const version of [2, 1] as const) {
    it(`v${version}: refused with ERR_UNSIGNED_OBJECT when the trusted KEK is marked publicKey, before any vault call`, async () => {
      const unwraps = await vaultUnwrapsDuring(async () => {
        expect(await rejectionCode(read(forge({ version }), { trustedKeks: trustedPublicKek() }))).toBe('ERR_UNSIGNED_OBJECT');
      });
      expect(unwraps).toBe(0);
    });

    it(`v${version}: accepted with the explicit opt-in acceptUnsignedPublicKeyWrapping — the vault really unwraps the forged key`, async () => {
      const unwraps = await vaultUnwrapsDuring(async () => {
        const plaintext = await read(forge({ version }), { trustedKeks: trustedPublicKek(), acceptUnsignedPublicKeyWrapping: true });
        expect(plaintext.equals(message)).toBe(true);
      });
      expect(unwraps).toBe(1);
    });

    it(`v${version}: refused with ERR_UNSIGNED_OBJECT when a writer key is pinned`, async () => {
      expect(await rejectionCode(read(forge({ version }), { trustedKeks: trustedPublicKek(), verificationKeys: [writerSigner.publicKey] }))).toBe('ERR_UNSIGNED_OBJECT');
    });
  }

  it("v2 signed by the attacker's own P-384 key, writer key pinned: ERR_SIGNATURE_INVALID", async () => {
    const policy = { trustedKeks: trustedPublicKek(), verificationKeys: [writerSigner.publicKey] };
    expect(await rejectionCode(read(forge({ signingKey: attackerSigner.privateKey }), policy))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('v2 from a genuine writer signing with the pinned key: accepted', async () => {
    const policy = { trustedKeks: trustedPublicKek(), verificationKeys: [writerSigner.publicKey] };
    expect((await read(forge({ signingKey: writerSigner.privateKey }), policy)).equals(message)).toBe(true);
  });


  it('default policy (the keyring declares its RSA KEK a public key): ERR_UNSIGNED_OBJECT', async () => {
    expect(await rejectionCode(read(forge(), undefined))).toBe('ERR_UNSIGNED_OBJECT');
  });

  it('a trustedKeks entry that omits publicKey is still refused: the keyring says its KEK is public', async () => {
    const trustedKeks = [{ providerId: PROVIDER_ID, keyId: `${vault.vaultUrl}/keys/${KEY_NAME}/`, match: 'prefix' as const }];
    expect(await rejectionCode(read(forge(), { trustedKeks }))).toBe('ERR_UNSIGNED_OBJECT');
  });
});
