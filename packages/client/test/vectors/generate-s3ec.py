#!/usr/bin/env python3
# Writes s3ec-derivation.json, s3ec-wrapping.json and s3ec-objects.json: known-answer vectors for the
# AWS S3 Encryption Client (S3EC) format, computed independently of s3crypt with the Python
# `cryptography` package (OpenSSL), by following the S3EC specification
# (awslabs/aws-encryption-sdk-specification, s3-encryption/) and the byte layouts of the official
# Java client (RsaKeyring pseudo data key, AesKeyring AAD). s3crypt's TypeScript implementation is
# then checked against them (packages/client/test/s3ec-*.test.ts): two implementations, one answer.
#
# Run once: `python3 packages/client/test/vectors/generate-s3ec.py` (cryptography >= 42). RSA-OAEP
# is randomised, so a rerun writes different (equally valid) wrapped keys; never regenerate once
# released — later releases must read these files as they are.
import base64
import hashlib
import json
import os
import pathlib

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

HERE = pathlib.Path(__file__).parent
SUITE_ID = bytes([0x00, 0x73])  # ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY
FIXED_IV = bytes([0x01] * 12)


def det(label: str, length: int) -> bytes:
    """Deterministic test bytes: SHA-512 chain over a label (no secrets, reproducible)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha512(f"s3crypt s3ec vectors|{label}|{counter}".encode()).digest()
        counter += 1
    return out[:length]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=salt, info=info).derive(ikm)


def derive(data_key: bytes, message_id: bytes):
    return hkdf(data_key, message_id, SUITE_ID + b"DERIVEKEY", 32), hkdf(data_key, message_id, SUITE_ID + b"COMMITKEY", 28)


def pattern(size: int, seed: int) -> bytes:
    return bytes((i * 31 + seed) & 0xFF for i in range(size))


# ---- V3 key derivation ---------------------------------------------------------------------------
# The first two are the known-answer tests the official Go client publishes
# (aws/amazon-s3-encryption-client-go, v4/internal/key_derivation_test.go); the others are computed here.
derivation = [
    {
        "description": "published by the Go client (v4/internal/key_derivation_test.go) #1",
        "dataKey": "80d90dc4cc7e77d8a6332efa44eba56230a7fe7b89af37d1e501ab2e07c0a163",
        "messageId": "b8ea76bed24c7b85382a148cb9dcd1cfdfb765f55ded4dfa6e0c4c79",
        "derivedKey": "6dd14f546cc006e639126e83f5d4d1b118576bb5df97f38c6fb3a1db87bbc338",
        "commitment": "f89818bc0a346d3a3426b68e9509b6b2ae5fe1f904aa329fb73625db",
    },
    {
        "description": "published by the Go client (v4/internal/key_derivation_test.go) #2",
        "dataKey": "501afb8227d22e75e68010414b8abdaf3064c081e8e922dafef4992036394d60",
        "messageId": "61a00b4981a5aacfd136c55cb726e32d2a547dc7600a7d4675c69127",
        "derivedKey": "e14786a714748d1d2c3a4a6816dec56ddf1881bbeabb4f39420ffb9f63700b2f",
        "commitment": "5c1e73e47f6fe3a70d6d094283aceaa76d2975feb829212d88f0afc1",
    },
]
for entry in derivation:
    derived, commitment = derive(bytes.fromhex(entry["dataKey"]), bytes.fromhex(entry["messageId"]))
    assert derived.hex() == entry["derivedKey"] and commitment.hex() == entry["commitment"], "HKDF disagrees with the Go client's vectors"
for n in range(3):
    data_key = det(f"derive-key-{n}", 32)
    message_id = det(f"derive-message-id-{n}", 28)
    derived, commitment = derive(data_key, message_id)
    derivation.append({"description": f"computed with Python cryptography #{n + 1}", "dataKey": data_key.hex(), "messageId": message_id.hex(), "derivedKey": derived.hex(), "commitment": commitment.hex()})

# ---- Key wrapping --------------------------------------------------------------------------------
kek = det("aes-kek", 32)
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
rsa_public = rsa_key.public_key()
OAEP_SHA1 = rsa_padding.OAEP(mgf=rsa_padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
# Java's "RSA/ECB/OAEPWithSHA-256AndMGF1Padding" with SunJCE defaults: SHA-256 digest, MGF1 over SHA-1.
OAEP_SHA256_MGF1_SHA1 = rsa_padding.OAEP(mgf=rsa_padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA256(), label=None)


def aes_gcm_wrap(data_key: bytes, aad: bytes, label: str) -> bytes:
    iv = det(f"wrap-iv-{label}", 12)
    return iv + AESGCM(kek).encrypt(iv, data_key, aad)


def rsa_oaep_sha1_wrap(data_key: bytes, cek_alg: bytes) -> bytes:
    return rsa_public.encrypt(bytes([len(data_key)]) + data_key + cek_alg, OAEP_SHA1)


def aes_ecb_pkcs5(data_key: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data_key) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.ECB()).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


wrap_key = det("wrapped-data-key", 32)
wrapping = {
    "aesKek": kek.hex(),
    "rsaPrivateKeyPem": rsa_pem,
    "dataKey": wrap_key.hex(),
    "vectors": [
        {"description": "AES/GCM wrap for V3 (AAD = UTF-8 \"115\")", "wrapAlgorithm": "AES/GCM", "cekAlgorithm": "115", "wrapped": b64(aes_gcm_wrap(wrap_key, b"115", "v3"))},
        {"description": "AES/GCM wrap for V2 (AAD = UTF-8 \"AES/GCM/NoPadding\")", "wrapAlgorithm": "AES/GCM", "cekAlgorithm": "AES/GCM/NoPadding", "wrapped": b64(aes_gcm_wrap(wrap_key, b"AES/GCM/NoPadding", "v2"))},
        {"description": "AESWrap (RFC 3394), legacy", "wrapAlgorithm": "AESWrap", "cekAlgorithm": "AES/CBC/PKCS5Padding", "wrapped": b64(aes_key_wrap(kek, wrap_key))},
        {"description": "AES/ECB/PKCS5Padding (V1 objects without x-amz-wrap-alg), legacy", "wrapAlgorithm": "AES", "cekAlgorithm": "AES/CBC/PKCS5Padding", "wrapped": b64(aes_ecb_pkcs5(wrap_key))},
        {"description": "RSA-OAEP-SHA1 for V3: OAEP(SHA-1, MGF1-SHA-1) of 0x20 || key || \"115\"", "wrapAlgorithm": "RSA-OAEP-SHA1", "cekAlgorithm": "115", "wrapped": b64(rsa_oaep_sha1_wrap(wrap_key, b"115"))},
        {"description": "RSA-OAEP-SHA1 for V2: OAEP(SHA-1, MGF1-SHA-1) of 0x20 || key || \"AES/GCM/NoPadding\"", "wrapAlgorithm": "RSA-OAEP-SHA1", "cekAlgorithm": "AES/GCM/NoPadding", "wrapped": b64(rsa_oaep_sha1_wrap(wrap_key, b"AES/GCM/NoPadding"))},
        {"description": "RSA/ECB/OAEPWithSHA-256AndMGF1Padding, legacy: OAEP(SHA-256, MGF1-SHA-1) of the bare key (Java SunJCE defaults)", "wrapAlgorithm": "RSA/ECB/OAEPWithSHA-256AndMGF1Padding", "cekAlgorithm": "AES/CBC/PKCS5Padding", "wrapped": b64(rsa_public.encrypt(wrap_key, OAEP_SHA256_MGF1_SHA1))},
    ],
}

# ---- Whole objects: metadata (and instruction files) + stored body -------------------------------


def v3_object(label: str, plaintext: bytes):
    data_key = det(f"object-key-{label}", 32)
    message_id = det(f"object-message-id-{label}", 28)
    derived, commitment = derive(data_key, message_id)
    body = AESGCM(derived).encrypt(FIXED_IV, plaintext, SUITE_ID)
    return data_key, message_id, commitment, body


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


objects = []

for size in (0, 1, 15, 16, 17, 1000):
    plaintext = pattern(size, size)
    data_key, message_id, commitment, body = v3_object(f"v3-aes-{size}", plaintext)
    metadata = {
        "x-amz-c": "115",
        "x-amz-3": b64(aes_gcm_wrap(data_key, b"115", f"v3-aes-{size}")),
        "x-amz-w": "02",
        "x-amz-d": b64(commitment),
        "x-amz-i": b64(message_id),
    }
    if size == 1000:
        metadata["x-amz-m"] = compact({"purpose": "vectors", "owner": "s3crypt"})
    objects.append({"description": f"V3, AES/GCM wrap in metadata, {size} bytes", "dataKey": data_key.hex(), "metadata": metadata, "body": b64(body), "plaintext": b64(plaintext)})

plaintext = pattern(300, 7)
data_key, message_id, commitment, body = v3_object("v3-rsa-instr", plaintext)
wrapped = b64(rsa_oaep_sha1_wrap(data_key, b"115"))
mat_desc = {"purpose": "vectors"}
for layout, text in (
    ("compact JSON (Java-style), wrapped key first", compact({"x-amz-3": wrapped, "x-amz-w": "22", "x-amz-m": compact(mat_desc)})),
    ("spaced JSON (Python json.dumps), another key order", json.dumps({"x-amz-m": json.dumps(mat_desc), "x-amz-w": "22", "x-amz-3": wrapped})),
    ("indented JSON, material description as a nested object", json.dumps({"x-amz-w": "22", "x-amz-m": mat_desc, "x-amz-3": wrapped}, indent=2)),
):
    objects.append({
        "description": f"V3, RSA-OAEP-SHA1 wrap in an instruction file, {layout}",
        "dataKey": data_key.hex(),
        "metadata": {"x-amz-c": "115", "x-amz-d": b64(commitment), "x-amz-i": b64(message_id)},
        "instructionFile": text,
        "body": b64(body),
        "plaintext": b64(plaintext),
    })

plaintext = pattern(100, 9)
data_key, message_id, commitment, body = v3_object("v3-kms", plaintext)
objects.append({
    "description": "V3, kms+context (KMS blob is a placeholder: only parsing and the key mapping are checked)",
    "dataKey": data_key.hex(),
    "metadata": {
        "x-amz-c": "115",
        "x-amz-3": b64(det("kms-blob", 184)),
        "x-amz-w": "12",
        "x-amz-t": json.dumps({"tenant": "acme", "aws:x-amz-cek-alg": "115"}),
        "x-amz-d": b64(commitment),
        "x-amz-i": b64(message_id),
    },
    "body": b64(body),
    "plaintext": b64(plaintext),
})

for size in (0, 17, 1000):
    plaintext = pattern(size, 3)
    data_key = det(f"v2-gcm-key-{size}", 32)
    iv = det(f"v2-gcm-iv-{size}", 12)
    body = AESGCM(data_key).encrypt(iv, plaintext, None)
    objects.append({
        "description": f"V2, AES/GCM/NoPadding content, AES/GCM wrap, {size} bytes",
        "dataKey": data_key.hex(),
        "metadata": {
            "x-amz-key-v2": b64(aes_gcm_wrap(data_key, b"AES/GCM/NoPadding", f"v2-{size}")),
            "x-amz-iv": b64(iv),
            "x-amz-matdesc": "{}",
            "x-amz-wrap-alg": "AES/GCM",
            "x-amz-cek-alg": "AES/GCM/NoPadding",
            "x-amz-tag-len": "128",
            "x-amz-unencrypted-content-length": str(size),
        },
        "body": b64(body),
        "plaintext": b64(plaintext),
    })

plaintext = pattern(64, 5)
data_key = det("v2-rsa-key", 32)
iv = det("v2-rsa-iv", 12)
objects.append({
    "description": "V2, AES/GCM/NoPadding content, RSA-OAEP-SHA1 wrap, everything in an instruction file",
    "dataKey": data_key.hex(),
    "metadata": {},
    "instructionFile": json.dumps({
        "x-amz-key-v2": b64(rsa_oaep_sha1_wrap(data_key, b"AES/GCM/NoPadding")),
        "x-amz-iv": b64(iv),
        "x-amz-matdesc": "{}",
        "x-amz-wrap-alg": "RSA-OAEP-SHA1",
        "x-amz-cek-alg": "AES/GCM/NoPadding",
        "x-amz-tag-len": "128",
    }),
    "body": b64(AESGCM(data_key).encrypt(iv, plaintext, None)),
    "plaintext": b64(plaintext),
})


def cbc(data_key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(data_key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


for size in (0, 16, 33):
    plaintext = pattern(size, 11)
    data_key = det(f"v2-cbc-key-{size}", 32)
    iv = det(f"v2-cbc-iv-{size}", 16)
    objects.append({
        "description": f"V2, AES/CBC/PKCS5Padding content (legacy), AESWrap (legacy), {size} bytes",
        "dataKey": data_key.hex(),
        "metadata": {
            "x-amz-key-v2": b64(aes_key_wrap(kek, data_key)),
            "x-amz-iv": b64(iv),
            "x-amz-matdesc": "{}",
            "x-amz-wrap-alg": "AESWrap",
            "x-amz-cek-alg": "AES/CBC/PKCS5Padding",
            "x-amz-unencrypted-content-length": str(size),
        },
        "body": b64(cbc(data_key, iv, plaintext)),
        "plaintext": b64(plaintext),
    })

plaintext = pattern(40, 13)
data_key = det("v1-key", 32)
iv = det("v1-iv", 16)
objects.append({
    "description": "V1, AES/CBC/PKCS5Padding content, AES/ECB/PKCS5Padding wrap (inferred: no x-amz-wrap-alg, wrapped key <= 48 bytes)",
    "dataKey": data_key.hex(),
    "metadata": {"x-amz-key": b64(aes_ecb_pkcs5(data_key)), "x-amz-iv": b64(iv), "x-amz-matdesc": "{}", "x-amz-unencrypted-content-length": "40"},
    "body": b64(cbc(data_key, iv, plaintext)),
    "plaintext": b64(plaintext),
})

plaintext = pattern(48, 17)
data_key = det("v2-rsa-legacy-key", 32)
iv = det("v2-rsa-legacy-iv", 16)
objects.append({
    "description": "V2, AES/CBC/PKCS5Padding content (legacy), RSA/ECB/OAEPWithSHA-256AndMGF1Padding wrap (legacy)",
    "dataKey": data_key.hex(),
    "metadata": {
        "x-amz-key-v2": b64(rsa_public.encrypt(data_key, OAEP_SHA256_MGF1_SHA1)),
        "x-amz-iv": b64(iv),
        "x-amz-matdesc": compact({"kek": "legacy-rsa"}),
        "x-amz-wrap-alg": "RSA/ECB/OAEPWithSHA-256AndMGF1Padding",
        "x-amz-cek-alg": "AES/CBC/PKCS5Padding",
    },
    "body": b64(cbc(data_key, iv, plaintext)),
    "plaintext": b64(plaintext),
})

NOTE = (
    "Computed by generate-s3ec.py with Python cryptography (OpenSSL), independently of s3crypt, following "
    "awslabs/aws-encryption-sdk-specification s3-encryption/ and the official Java client's byte layouts. "
    "Do not regenerate: later releases must read these as they are."
)
for name, content in (
    ("s3ec-derivation.json", {"description": "S3EC V3 (suite 115) HKDF-SHA512 key derivation and key commitment. " + NOTE, "vectors": derivation}),
    ("s3ec-wrapping.json", {"description": "S3EC data key wrappings (AES/GCM, RSA-OAEP-SHA1, legacy AESWrap, AES, RSA-OAEP-SHA256). " + NOTE, **wrapping}),
    ("s3ec-objects.json", {"description": "Whole S3EC objects: user metadata (names without x-amz-meta-), optional instruction file body, stored body, plaintext; raw keys from s3ec-wrapping.json. " + NOTE, "vectors": objects}),
):
    target = HERE / name
    if target.exists() and not os.environ.get("S3EC_VECTORS_OVERWRITE"):
        raise SystemExit(f"{name} exists: released vectors are never regenerated")
    target.write_text(json.dumps(content, indent=1) + "\n")
    print("wrote", target)
