// A protocol-level fake of Google Cloud KMS for integration tests. Google ships no KMS emulator and
// fake-cloud-kms could not be installed here, so this speaks the real gRPC API (the protos that ship
// inside @google-cloud/kms) and is driven by the real KeyManagementServiceClient. It models what the
// keyring relies on: symmetric CryptoKeys with versions, a primary version, version states
// (ENABLED / DISABLED / DESTROYED), AES-256-GCM Encrypt/Decrypt with additional authenticated data,
// a ciphertext that names its version (so Decrypt on the CryptoKey finds old versions), and the
// CRC32C integrity fields. It does not model IAM, locations, quotas, import jobs, asymmetric keys,
// MACs or long-running operations.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crc32c } from '@aws-crypto/crc32c';
import { freePort } from './process.js';

const require = createRequire(import.meta.url);

interface FakeVersion {
  name: string;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
  material: Buffer;
}

interface FakeCryptoKey {
  name: string;
  versions: FakeVersion[];
  primary: FakeVersion | undefined;
}

export interface FakeGcpKms {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly port: number;
  /** Counts of Encrypt/Decrypt calls, to assert what reached the server. */
  readonly calls: { encrypt: number; decrypt: number };
  stop(): Promise<void>;
}

type Call<T> = grpc.ServerUnaryCall<T, unknown>;
type Done = grpc.sendUnaryData<unknown>;
// proto-loader hands requests over as plain objects with camelCase fields.
type Req = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function startFakeGcpKms(): Promise<FakeGcpKms> {
  const kmsProtos = join(dirname(require.resolve('@google-cloud/kms')), '..', 'protos');
  const gaxProtos = join(dirname(createRequire(require.resolve('@google-cloud/kms')).resolve('google-gax')), '..', 'protos');
  const definition = protoLoader.loadSync(join(kmsProtos, 'google/cloud/kms/v1/service.proto'), {
    includeDirs: [kmsProtos, gaxProtos],
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const service = pkg.google.cloud.kms.v1.KeyManagementService.service as grpc.ServiceDefinition;

  const keyRings = new Set<string>();
  const keys = new Map<string, FakeCryptoKey>();
  const calls = { encrypt: 0, decrypt: 0 };

  const fail = (done: Done, code: grpc.status, details: string) => done({ code, details, name: 'Error', message: details });
  const versionMessage = (v: FakeVersion) => ({ name: v.name, state: v.state, algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' });
  const keyMessage = (k: FakeCryptoKey) => ({
    name: k.name,
    purpose: 'ENCRYPT_DECRYPT',
    primary: k.primary ? versionMessage(k.primary) : undefined,
  });
  const newVersion = (key: FakeCryptoKey): FakeVersion => {
    const version = { name: `${key.name}/cryptoKeyVersions/${key.versions.length + 1}`, state: 'ENABLED' as const, material: randomBytes(32) };
    key.versions.push(version);
    return version;
  };
  const findVersion = (name: string): FakeVersion | undefined => {
    const keyName = name.replace(/\/cryptoKeyVersions\/[^/]+$/, '');
    return keys.get(keyName)?.versions.find((v) => v.name === name);
  };
  const badCrc = (data: Buffer, field: Req | undefined) => field?.value !== undefined && Number(field.value) !== crc32c(data);
  const int64 = (data: Buffer) => ({ value: String(crc32c(data)) });

  const handlers: grpc.UntypedServiceImplementation = {
    CreateKeyRing(call: Call<Req>, done: Done) {
      const name = `${call.request.parent}/keyRings/${call.request.keyRingId}`;
      if (keyRings.has(name)) return fail(done, grpc.status.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
      keyRings.add(name);
      done(null, { name });
    },
    CreateCryptoKey(call: Call<Req>, done: Done) {
      const { parent, cryptoKeyId, skipInitialVersionCreation } = call.request;
      if (!keyRings.has(parent)) return fail(done, grpc.status.NOT_FOUND, `KeyRing ${parent} not found.`);
      const name = `${parent}/cryptoKeys/${cryptoKeyId}`;
      if (keys.has(name)) return fail(done, grpc.status.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
      const key: FakeCryptoKey = { name, versions: [], primary: undefined };
      if (!skipInitialVersionCreation) key.primary = newVersion(key);
      keys.set(name, key);
      done(null, keyMessage(key));
    },
    GetCryptoKey(call: Call<Req>, done: Done) {
      const key = keys.get(call.request.name);
      if (!key) return fail(done, grpc.status.NOT_FOUND, `CryptoKey ${call.request.name} not found.`);
      done(null, keyMessage(key));
    },
    CreateCryptoKeyVersion(call: Call<Req>, done: Done) {
      const key = keys.get(call.request.parent);
      if (!key) return fail(done, grpc.status.NOT_FOUND, `CryptoKey ${call.request.parent} not found.`);
      done(null, versionMessage(newVersion(key)));
    },
    UpdateCryptoKeyPrimaryVersion(call: Call<Req>, done: Done) {
      const key = keys.get(call.request.name);
      const version = key?.versions.find((v) => v.name.endsWith(`/cryptoKeyVersions/${call.request.cryptoKeyVersionId}`));
      if (!key || !version) return fail(done, grpc.status.NOT_FOUND, `CryptoKeyVersion not found.`);
      if (version.state !== 'ENABLED') return fail(done, grpc.status.FAILED_PRECONDITION, `${version.name} is not enabled.`);
      key.primary = version;
      done(null, keyMessage(key));
    },
    UpdateCryptoKeyVersion(call: Call<Req>, done: Done) {
      const update = call.request.cryptoKeyVersion ?? {};
      const version = findVersion(update.name ?? '');
      if (!version) return fail(done, grpc.status.NOT_FOUND, `CryptoKeyVersion ${update.name} not found.`);
      const paths: string[] = call.request.updateMask?.paths ?? [];
      if (!paths.includes('state') || !['ENABLED', 'DISABLED'].includes(update.state)) {
        return fail(done, grpc.status.INVALID_ARGUMENT, 'only the state field (ENABLED or DISABLED) can be updated');
      }
      if (version.state === 'DESTROYED') return fail(done, grpc.status.FAILED_PRECONDITION, `${version.name} is destroyed.`);
      version.state = update.state;
      done(null, versionMessage(version));
    },
    DestroyCryptoKeyVersion(call: Call<Req>, done: Done) {
      const version = findVersion(call.request.name);
      if (!version) return fail(done, grpc.status.NOT_FOUND, `CryptoKeyVersion ${call.request.name} not found.`);
      version.state = 'DESTROYED';
      version.material = Buffer.alloc(0);
      done(null, versionMessage(version));
    },
    Encrypt(call: Call<Req>, done: Done) {
      calls.encrypt++;
      const { name, plaintextCrc32c, additionalAuthenticatedDataCrc32c } = call.request;
      const plaintext: Buffer = call.request.plaintext ?? Buffer.alloc(0);
      const aad: Buffer = call.request.additionalAuthenticatedData ?? Buffer.alloc(0);
      const key = keys.get(name);
      if (!key) return fail(done, grpc.status.NOT_FOUND, `CryptoKey ${name} not found.`);
      if (badCrc(plaintext, plaintextCrc32c) || badCrc(aad, additionalAuthenticatedDataCrc32c)) {
        return fail(done, grpc.status.INVALID_ARGUMENT, 'The checksum in field plaintext_crc32c or additional_authenticated_data_crc32c did not match the data.');
      }
      const version = key.primary;
      if (!version) return fail(done, grpc.status.FAILED_PRECONDITION, `${name} has no primary version.`);
      if (version.state !== 'ENABLED') return fail(done, grpc.status.FAILED_PRECONDITION, `${version.name} is not enabled, current state is: ${version.state}.`);
      // Ciphertext: version number (4 bytes) ‖ IV (12) ‖ AES-256-GCM ciphertext ‖ tag (16).
      const versionNumber = Buffer.alloc(4);
      versionNumber.writeUInt32BE(key.versions.indexOf(version) + 1);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', version.material, iv);
      cipher.setAAD(Buffer.concat([Buffer.from(key.name), aad]));
      const ciphertext = Buffer.concat([versionNumber, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      done(null, {
        name: version.name,
        ciphertext,
        ciphertextCrc32c: int64(ciphertext),
        verifiedPlaintextCrc32c: plaintextCrc32c !== undefined,
        verifiedAdditionalAuthenticatedDataCrc32c: additionalAuthenticatedDataCrc32c !== undefined,
        protectionLevel: 'SOFTWARE',
      });
    },
    Decrypt(call: Call<Req>, done: Done) {
      calls.decrypt++;
      const { name, ciphertextCrc32c, additionalAuthenticatedDataCrc32c } = call.request;
      const ciphertext: Buffer = call.request.ciphertext ?? Buffer.alloc(0);
      const aad: Buffer = call.request.additionalAuthenticatedData ?? Buffer.alloc(0);
      const key = keys.get(name);
      if (!key) return fail(done, grpc.status.NOT_FOUND, `CryptoKey ${name} not found.`);
      if (badCrc(ciphertext, ciphertextCrc32c) || badCrc(aad, additionalAuthenticatedDataCrc32c)) {
        return fail(done, grpc.status.INVALID_ARGUMENT, 'The checksum in field ciphertext_crc32c or additional_authenticated_data_crc32c did not match the data.');
      }
      const version = ciphertext.length >= 32 ? key.versions[ciphertext.readUInt32BE(0) - 1] : undefined;
      if (!version) return fail(done, grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
      if (version.state !== 'ENABLED') return fail(done, grpc.status.FAILED_PRECONDITION, `${version.name} is not enabled, current state is: ${version.state}.`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', version.material, ciphertext.subarray(4, 16));
        decipher.setAAD(Buffer.concat([Buffer.from(key.name), aad]));
        decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
        const plaintext = Buffer.concat([decipher.update(ciphertext.subarray(16, ciphertext.length - 16)), decipher.final()]);
        done(null, { plaintext, plaintextCrc32c: int64(plaintext), usedPrimary: version === key.primary, protectionLevel: 'SOFTWARE' });
      } catch {
        fail(done, grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
      }
    },
  };

  const server = new grpc.Server();
  server.addService(service, handlers);
  const port = await freePort();
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return {
    address: `127.0.0.1:${port}`,
    port,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
