#!/usr/bin/env bash
# A shell ETL step with the s3crypt CLI: stream an encrypted CSV out of the bucket, transform it with
# ordinary Unix tools, stream the result back in encrypted — plaintext only ever in the pipe, never
# on disk — and act on the CLI's documented exit codes.
#
# Run: S3CRYPT_KEY=file:master.key AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000 \
#        bash examples/etl-shell.sh s3://bucket/raw/orders.csv s3://bucket/curated/paid-orders.csv
# (credentials from the usual AWS variables; `s3crypt` on the PATH: npm install -g @s3crypt/cli,
# or in this repository node_modules/.bin after its setup)
set -uo pipefail

source_object=$1
target_object=$2

# Keep paid orders, drop the e-mail column (3rd), turn cents (4th) into an amount.
transform() {
  awk -F, -v OFS=, 'NR == 1 { print "id,customer,amount"; next } $5 == "paid" { printf "%s,%s,%.2f\n", $1, $2, $4 / 100 }'
}

# The pipeline writes to a staging object first: if the read fails midway, `put -` still sees an
# ordinary end of input and would store a truncated result. Only a run in which every stage
# succeeded is published (an S3-to-S3 copy, which authenticates the staged object). Expire the
# bucket's _staging/ prefix with a lifecycle rule.
bucket=${target_object#s3://}
bucket=${bucket%%/*}
staging="s3://$bucket/_staging/$$-${target_object##*/}"
s3crypt --quiet cat "$source_object" | transform | s3crypt --quiet put - "$staging"
statuses=("${PIPESTATUS[@]}")
read_status=${statuses[0]}
write_status=${statuses[2]}

case $read_status in
  0) ;;
  3) echo "etl: $source_object does not exist; nothing to do" >&2; exit 0 ;;
  4) echo "etl: $source_object failed authentication (tampered or corrupt): quarantine it, do not retry" >&2; exit 4 ;;
  5) echo "etl: no usable key for $source_object (wrong key, or the KMS refused or is down): retry later" >&2; exit 5 ;;
  *) echo "etl: reading $source_object failed (exit $read_status)" >&2; exit "$read_status" ;;
esac
if [[ $write_status -ne 0 ]]; then
  echo "etl: writing $staging failed (exit $write_status)" >&2
  exit "$write_status"
fi
s3crypt --quiet cp --force "$staging" "$target_object" || exit
echo "etl: $source_object -> $target_object"
