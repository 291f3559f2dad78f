#!/usr/bin/env bash
# A/B cost of a bucket feature, measured: one 8-drive server with two buckets, a plain one
# and one with the feature on, and cairn-bench-load PUT and GET cells against each,
# alternating plain/feature rounds so that both see the same machine. Reports throughput
# and the server process's CPU time per request (from /proc): a busy machine disturbs the
# CPU figure far less than throughput, so its ratio is the cost of the feature.
#
# Usage: bench/ab.sh VARIANT [--duration D] [--count N] [--rounds N] [--concurrency C]
#   VARIANT          sse: SSE-S3 default encryption, 64 MiB objects (writes <date>-sse.md;
#                    also runs cairn-bench-crypto, the cipher candidates side by side);
#                    versioning: versioning Enabled, 4 KiB (inline) and 1 MiB objects
#                    (writes <date>-versioning.md)
#   --duration D     time per GET cell (default 8s)
#   --count N        PUTs per PUT cell (default 12 for sse, 400 for versioning; a count,
#                    not a time: deleted data stays in the drives' trash for 5 minutes, so
#                    timed PUT cells of large objects would fill a small disk)
#   --rounds N       plain/feature pairs per operation and size (default 5)
#   --concurrency C  requests in flight (default 4)
#   --put-keys K     PUTs cycle over K keys per worker, so they overwrite (default: every
#                    PUT writes a new key); the results file is named <date>-<variant>-overwrite.md
# Needs: cargo (builds the release binaries), python3 with boto3 (.e2e-venv from
# e2e/setup.sh, or the system's) to configure the buckets.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VARIANT="${1:-}"
case "$VARIANT" in
    sse) SIZES=(64MiB); COUNT=12; LABEL="SSE-S3" ;;
    versioning) SIZES=(4KiB 1MiB); COUNT=400; LABEL="versioned" ;;
    -h|--help|"") sed -n '2,22p' "$0"; [ -n "$VARIANT" ]; exit $? ;;
    *) echo "bench/ab.sh: unknown variant $VARIANT (sse, versioning)" >&2; exit 2 ;;
esac
shift
DURATION=8s
ROUNDS=5
CONC=4
PUT_KEYS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --concurrency) CONC="$2"; shift 2 ;;
        --put-keys) PUT_KEYS="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "bench/ab.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
log() { echo "[$VARIANT] $*" >&2; }

PORT="${CAIRN_BENCH_PORT:-9460}"
RESULTS="$ROOT/bench/results"
STAMP="$(date -u +%Y-%m-%d-%H%M%S)"
OUT="$RESULTS/$STAMP-$VARIANT${PUT_KEYS:+-overwrite}.md"
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

echo "# $LABEL vs plain buckets ($STAMP)" > "$OUT"
if [ "$VARIANT" = sse ]; then
    {
        echo
        echo "## Cipher (cairn-bench-crypto, one core)"
        echo
    } >> "$OUT"
    log "cipher benchmark"
    "$BIN/cairn-bench-crypto" >> "$OUT"
fi

DRIVES=()
for i in $(seq 1 8); do mkdir -p "$TMP/d$i"; DRIVES+=("$TMP/d$i"); done
# The heal scanner is off: its cycles are not part of any request's cost, and they would
# land in whichever cell happens to run (a cycle over the objects earlier cells left took
# 17 s of this machine's CPU), which made single rounds differ by 2x.
CAIRN_SCANNER=off "$BIN/cairn" server --address "127.0.0.1:$PORT" "${DRIVES[@]}" > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/minio/health/ready" >/dev/null && break
    sleep 0.2
done
"$PY" - "$PORT" "$VARIANT" <<'EOF'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id=os.environ["CAIRN_ROOT_USER"], aws_secret_access_key=os.environ["CAIRN_ROOT_PASSWORD"])
for b in ("bench-plain", "bench-feature"):
    s3.create_bucket(Bucket=b)
if sys.argv[2] == "sse":
    s3.put_bucket_encryption(Bucket="bench-feature", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket="bench-feature", Key="probe", Body=b"x")
    assert s3.head_object(Bucket="bench-feature", Key="probe")["ServerSideEncryption"] == "AES256"
else:
    s3.put_bucket_versioning(Bucket="bench-feature", VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket="bench-feature", Key="probe", Body=b"x")["VersionId"]
    assert v and v != "null", v
EOF

# One cell: prints "MiB/s ops/s server_cpu_ms_per_op" for op of size on bucket.
cell() {
    local op="$1" size="$2" bucket="$3" amount
    if [ "$op" = put ]; then amount=(--count "$COUNT" ${PUT_KEYS:+--put-keys "$PUT_KEYS"}); else amount=(--duration "$DURATION" --get-keys 2); fi
    "$BIN/cairn-bench-load" --endpoint "http://127.0.0.1:$PORT" --access-key "$CAIRN_ROOT_USER" \
        --secret-key "$CAIRN_ROOT_PASSWORD" --bucket "$bucket" --op "$op" --size "$size" \
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
nan = float("nan")
print(f'{c["mib_per_s"]:.1f} {c.get("ops_per_s") or nan:.1f} {c.get("server_cpu_ms_per_op") or nan:.2f}' if c else "nan nan nan")
EOF
}

median() { printf '%s\n' "$@" | grep -v n/a | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

{
    echo
    echo "## $LABEL PUT and GET (cairn-bench-load: $COUNT PUTs or $DURATION of GETs per cell, concurrency $CONC, 8 drives, loopback)"
    echo
    echo "Plain and $LABEL rounds alternate; ratio = $LABEL / plain of the same round. Server CPU is"
    echo "the server process's CPU time per request (from /proc), which a busy machine disturbs far"
    echo "less than throughput: its ratio is the cost of the feature; the median row is the one to"
    if [ -n "$PUT_KEYS" ]; then
        echo "quote. PUTs cycle over $PUT_KEYS keys per worker: all but the first PUT of a key overwrite"
        echo "it (a versioned key gains a version each time). The heal scanner is off (CAIRN_SCANNER=off)."
    else
        echo "quote. PUT keys are all new. The heal scanner is off (CAIRN_SCANNER=off)."
    fi
    echo
    echo "| op | size | round | plain ops/s | $LABEL ops/s | ratio | server CPU ms/op plain | $LABEL | ratio |"
    echo "|---|---|---|---|---|---|---|---|---|"
} >> "$OUT"
for op in put get; do
    for size in "${SIZES[@]}"; do
        ratios=() cpu_ratios=()
        for r in $(seq 1 "$ROUNDS"); do
            log "$op $size round $r"
            # Which bucket goes first alternates, so a drift of the machine's load within a
            # round does not always favour the same side.
            if [ $((r % 2)) -eq 1 ]; then
                read -r _ plain plain_cpu < <(cell "$op" "$size" bench-plain)
                read -r _ feat feat_cpu < <(cell "$op" "$size" bench-feature)
            else
                read -r _ feat feat_cpu < <(cell "$op" "$size" bench-feature)
                read -r _ plain plain_cpu < <(cell "$op" "$size" bench-plain)
            fi
            ratios+=("$(ratio "$feat" "$plain")")
            cpu_ratios+=("$(ratio "$feat_cpu" "$plain_cpu")")
            echo "| $op | $size | $r | $plain | $feat | ${ratios[-1]} | $plain_cpu | $feat_cpu | ${cpu_ratios[-1]} |" >> "$OUT"
        done
        echo "| $op | $size | **median** | | | **$(median "${ratios[@]}")** | | | **$(median "${cpu_ratios[@]}")** |" >> "$OUT"
    done
done
echo >> "$OUT"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT"
log "wrote $OUT"
cat "$OUT"
