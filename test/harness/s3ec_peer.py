"""Drives the official AWS S3 Encryption Client for Python (amazon-s3-encryption-client-python, import
name s3_encryption) for s3crypt's interoperability tests: it writes and reads S3EC objects on an S3
server (MinIO) with the client's KMS keyring against a KMS server (moto).

Run with the interpreter of the venv that scripts/install-servers.sh s3ec creates; the TypeScript
wrappers in s3ec-peer.ts do. Commands:

  put       encrypts a file or stdin and stores it (V3 by default, V2 on request, optionally through
            the client's multipart path), then prints the stored object's raw metadata as JSON
  get       reads and decrypts an object to a file or stdout
  metadata  prints an object's raw user metadata, stored length and ETag as JSON, without decrypting
  versions  prints the installed client's version and its dependencies' as JSON

Endpoints and credentials come from options or the environment (S3EC_PEER_S3_ENDPOINT,
S3EC_PEER_S3_ACCESS_KEY_ID, S3EC_PEER_S3_SECRET_ACCESS_KEY, S3EC_PEER_KMS_ENDPOINT,
S3EC_PEER_REGION). On failure the last line on stderr is a JSON object {"error", "message"} naming
the Python exception, and the exit status is 1 (2 for usage errors).
"""

import argparse
import importlib.metadata
import json
import os
import sys

import boto3
from botocore.config import Config
from s3_encryption import S3EncryptionClient, S3EncryptionClientConfig
from s3_encryption.materials.kms_keyring import KmsKeyring
from s3_encryption.materials.materials import AlgorithmSuite, CommitmentPolicy

# The two suites the 4.0 client can write: V3 (key committing, its default) and V2 (AES-GCM without
# commitment, only under the FORBID_ENCRYPT_ALLOW_DECRYPT policy). CBC (V1) is decrypt-only.
FORMATS = {
    "v3": (AlgorithmSuite.ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY, CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT),
    "v2": (AlgorithmSuite.ALG_AES_256_GCM_IV12_TAG16_NO_KDF, CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT),
}
POLICIES = {policy.name: policy for policy in CommitmentPolicy}
MIB = 1024 * 1024


def env_default(name, fallback=None):
    return os.environ.get(name) or fallback


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="s3ec_peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--s3-endpoint", default=env_default("S3EC_PEER_S3_ENDPOINT"))
    parser.add_argument("--s3-access-key-id", default=env_default("S3EC_PEER_S3_ACCESS_KEY_ID"))
    parser.add_argument("--s3-secret-access-key", default=env_default("S3EC_PEER_S3_SECRET_ACCESS_KEY"))
    parser.add_argument("--kms-endpoint", default=env_default("S3EC_PEER_KMS_ENDPOINT"))
    parser.add_argument("--region", default=env_default("S3EC_PEER_REGION", "us-east-1"))
    commands = parser.add_subparsers(dest="command", required=True)

    def object_command(name, help_text):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--bucket", required=True)
        command.add_argument("--key", required=True)
        return command

    def crypto_options(command):
        command.add_argument("--kms-key-id", required=True, help="KMS key id or ARN for the KMS keyring")
        command.add_argument("--context", default=None, help="encryption context as a JSON object of strings")

    put = object_command("put", "encrypt and store an object")
    crypto_options(put)
    put.add_argument("--file", default=None, help="plaintext file (default: stdin)")
    put.add_argument("--format", choices=sorted(FORMATS), default="v3")
    put.add_argument("--multipart", action="store_true", help="upload through the client's multipart path")
    put.add_argument("--part-size", type=int, default=8 * MIB, help="multipart part size in bytes (at least 5 MiB)")
    put.add_argument("--metadata", default=None, help="extra user metadata as a JSON object of strings")

    get = object_command("get", "read and decrypt an object")
    crypto_options(get)
    get.add_argument("--out", default=None, help="plaintext file (default: stdout)")
    get.add_argument("--commitment-policy", choices=sorted(POLICIES), default=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT.name)
    get.add_argument("--legacy-unauthenticated", action="store_true", help="allow CBC (V1) content")
    get.add_argument("--legacy-wrapping", action="store_true", help="allow the legacy 'kms' wrapping")
    get.add_argument("--delayed-authentication", action="store_true", help="stream plaintext before the tag is checked")
    get.add_argument("--instruction-suffix", default=None, help="instruction file suffix (default .instruction)")

    object_command("metadata", "print an object's raw user metadata as JSON")
    commands.add_parser("versions", help="print the installed versions as JSON")
    return parser.parse_args(argv)


def require(args, *names):
    missing = [name for name in names if not getattr(args, name)]
    if missing:
        raise UsageError("missing " + ", ".join("--" + name.replace("_", "-") for name in missing))


class UsageError(Exception):
    pass


def string_map(text, option):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{option} is not JSON: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UsageError(f"{option} must be a JSON object of strings")
    return value


def s3_client(args):
    require(args, "s3_endpoint", "s3_access_key_id", "s3_secret_access_key")
    return boto3.client(
        "s3",
        endpoint_url=args.s3_endpoint,
        region_name=args.region,
        aws_access_key_id=args.s3_access_key_id,
        aws_secret_access_key=args.s3_secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def kms_client(args):
    require(args, "kms_endpoint")
    # moto accepts any credentials; fixed ones keep the S3 secret away from the KMS server.
    return boto3.client(
        "kms",
        endpoint_url=args.kms_endpoint,
        region_name=args.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def encryption_client(args, algorithm, policy, **config):
    keyring = KmsKeyring(kms_client(args), args.kms_key_id, enable_legacy_wrapping_algorithms=config.pop("legacy_wrapping", False))
    settings = S3EncryptionClientConfig(keyring=keyring, encryption_algorithm=algorithm, commitment_policy=policy, **config)
    return S3EncryptionClient(s3_client(args), settings)


def stored_metadata(s3, bucket, key):
    head = s3.head_object(Bucket=bucket, Key=key)
    return {"metadata": head.get("Metadata", {}), "contentLength": head["ContentLength"], "eTag": head["ETag"]}


def put(args):
    algorithm, policy = FORMATS[args.format]
    client = encryption_client(args, algorithm, policy)
    context = string_map(args.context, "--context")
    extra = {}
    if context is not None:
        extra["EncryptionContext"] = context
    user_metadata = string_map(args.metadata, "--metadata")
    if user_metadata is not None:
        extra["Metadata"] = user_metadata
    source = open(args.file, "rb") if args.file else sys.stdin.buffer
    try:
        if args.multipart:
            client.upload_fileobj(source, args.bucket, args.key, multipart_chunksize=args.part_size, **extra)
        else:
            client.put_object(Bucket=args.bucket, Key=args.key, Body=source.read(), **extra)
    finally:
        if args.file:
            source.close()
    print(json.dumps(stored_metadata(client.wrapped_s3_client, args.bucket, args.key)))


def get(args):
    # The content algorithm only matters for writing; any suite the policy allows will do.
    policy = POLICIES[args.commitment_policy]
    algorithm = FORMATS["v2" if policy == CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT else "v3"][0]
    client = encryption_client(
        args,
        algorithm,
        policy,
        legacy_wrapping=args.legacy_wrapping,
        enable_legacy_unauthenticated_modes=args.legacy_unauthenticated,
        enable_delayed_authentication=args.delayed_authentication,
    )
    request = {"Bucket": args.bucket, "Key": args.key}
    context = string_map(args.context, "--context")
    if context is not None:
        request["EncryptionContext"] = context
    if args.instruction_suffix is not None:
        request["InstructionFileSuffix"] = args.instruction_suffix
    body = client.get_object(**request)["Body"]
    target = open(args.out, "wb") if args.out else sys.stdout.buffer
    try:
        for chunk in iter(lambda: body.read(MIB), b""):
            target.write(chunk)
    finally:
        if args.out:
            target.close()
        else:
            target.flush()


def metadata(args):
    print(json.dumps(stored_metadata(s3_client(args), args.bucket, args.key)))


def versions(_args):
    names = ["amazon-s3-encryption-client-python", "boto3", "botocore", "cryptography"]
    found = {name: importlib.metadata.version(name) for name in names}
    found["python"] = sys.version.split()[0]
    print(json.dumps(found))


def main(argv):
    args = parse_args(argv)
    try:
        {"put": put, "get": get, "metadata": metadata, "versions": versions}[args.command](args)
    except UsageError as error:
        print(json.dumps({"error": "UsageError", "message": str(error)}), file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the caller branches on the reported type
        print(json.dumps({"error": type(error).__name__, "message": str(error)}), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
