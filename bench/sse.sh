#!/usr/bin/env bash
# The cost of server-side encryption, measured: cairn-bench-crypto (cipher GB/s per core,
# the candidates side by side), then one 8-drive server with a KMS key and two buckets, one
# plain and one with default encryption (SSE-S3, AES256), and cairn-bench-load PUT and GET of
# 64 MiB against each, alternating plain/encrypted rounds so that both see the same machine.
# Writes bench/results/<date>-sse.md with the ratios encrypted/plain.
#
# Usage: bench/sse.sh [--duration D] [--count N] [--rounds N] [--concurrency C]
#   --duration D     time per GET cell (default 8s)
#   --count N        PUTs per PUT cell (default 12; a count, not a time: deleted data
#                    stays in the drives' trash for 5 minutes, so timed 64 MiB PUT cells
#                    would fill a small disk)
#   --rounds N       plain/encrypted pairs per operation (default 3)
#   --concurrency C  requests in flight (default 4)
# Needs: cargo (builds the release binaries), python3 with boto3 (.e2e-venv from
# e2e/setup.sh, or the system's) to set the bucket's default encryption.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION=8s
COUNT=12
ROUNDS=3
CONC=4
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --concurrency) CONC="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "bench/sse.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
log() { echo "[sse] $*" >&2; }

PORT="${CAIRN_BENCH_PORT:-9460}"
RESULTS="$ROOT/bench/results"
STAMP="$(date -u +%Y-%m-%d-%H%M%S)"
OUT="$RESULTS/$STAMP-sse.md"
mkdir -p "$RESULTS"
export CAIRN_ROOT_USER=benchadmin
export CAIRN_ROOT_PASSWORD="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export CAIRN_KMS_SECRET_KEY="bench-key:$(head -c 32 /dev/urandom | base64)"
PY="$ROOT/.e2e-venv/bin/python"
[ -x "$PY" ] || PY=python3

log "building release binaries"
(cd "$ROOT" && cargo build --release -q -p cairn -p cairn-bench --bin cairn --bin cairn-bench-load --bin cairn-bench-crypto)
BIN="$ROOT/target/release"

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
    echo "# Server-side encryption cost ($STAMP)"
    echo
    echo "## Cipher (cairn-bench-crypto, one core)"
    echo
} > "$OUT"
log "cipher benchmark"
"$BIN/cairn-bench-crypto" >> "$OUT"

DRIVES=()
for i in $(seq 1 8); do mkdir -p "$TMP/d$i"; DRIVES+=("$TMP/d$i"); done
"$BIN/cairn" server --address "127.0.0.1:$PORT" "${DRIVES[@]}" > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/minio/health/ready" >/dev/null && break
    sleep 0.2
done
"$PY" - "$PORT" <<'EOF'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id=os.environ["CAIRN_ROOT_USER"], aws_secret_access_key=os.environ["CAIRN_ROOT_PASSWORD"])
for b in ("bench-plain", "bench-sse"):
    s3.create_bucket(Bucket=b)
s3.put_bucket_encryption(Bucket="bench-sse", ServerSideEncryptionConfiguration={
    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
s3.put_object(Bucket="bench-sse", Key="probe", Body=b"x")
assert s3.head_object(Bucket="bench-sse", Key="probe")["ServerSideEncryption"] == "AES256"
EOF

# One cell: prints "MiB/s server_cpu_ms_per_op" for op on bucket.
cell() {
    local op="$1" bucket="$2" amount
    if [ "$op" = put ]; then amount=(--count "$COUNT"); else amount=(--duration "$DURATION" --get-keys 2); fi
    "$BIN/cairn-bench-load" --endpoint "http://127.0.0.1:$PORT" --access-key "$CAIRN_ROOT_USER" \
        --secret-key "$CAIRN_ROOT_PASSWORD" --bucket "$bucket" --op "$op" --size 64MiB \
        --concurrency "$CONC" "${amount[@]}" --server-pid "$SERVER_PID" \
        --json "$TMP/cell.json" > "$TMP/cell.md" 2>> "$TMP/load.log"
    "$PY" - "$TMP/cell.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if "mib_per_s" in o:
            return o
        for v in o.values():
            r = find(v)
            if r: return r
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r: return r
c = find(d)
print(f'{c["mib_per_s"]:.1f} {c.get("server_cpu_ms_per_op") or float("nan"):.1f}' if c else "nan nan")
EOF
}

{
    echo
    echo "## SSE-S3 PUT and GET of 64 MiB (cairn-bench-load: $COUNT PUTs or $DURATION of GETs per cell, concurrency $CONC, 8 drives, loopback)"
    echo
    echo "Plain and encrypted rounds alternate; ratio = encrypted / plain MiB/s of the same round."
    echo "Server CPU is the server process's CPU time per 64 MiB request (from /proc), which a"
    echo "busy machine disturbs far less than throughput: its ratio is the cost of encryption."
    echo
    echo "| op | round | plain MiB/s | SSE-S3 MiB/s | ratio | server CPU ms/op plain | SSE-S3 | ratio |"
    echo "|---|---|---|---|---|---|---|---|"
} >> "$OUT"
for op in put get; do
    for r in $(seq 1 "$ROUNDS"); do
        log "$op round $r"
        read -r plain plain_cpu < <(cell "$op" bench-plain)
        read -r enc enc_cpu < <(cell "$op" bench-sse)
        ratio=$(awk -v a="$enc" -v b="$plain" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        cpu_ratio=$(awk -v a="$enc_cpu" -v b="$plain_cpu" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        echo "| $op | $r | $plain | $enc | $ratio | $plain_cpu | $enc_cpu | $cpu_ratio |" >> "$OUT"
    done
done
echo >> "$OUT"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT"
log "wrote $OUT"
cat "$OUT"
