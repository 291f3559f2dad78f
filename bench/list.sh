#!/usr/bin/env bash
# Listing benchmark (issue 13): fills one 8-drive server with flat prefixes and a Synapse-like
# two-level fan-out, then lists every prefix to the end with each server binary given, over
# the same drives, one after the other, and writes bench/results/<date>-listing.md (+ JSONL).
#
# Usage: bench/list.sh [--sizes 10000,100000] [--fanout 30000] [--keep-tmp] [--drives DIR]
#                     [--once LABEL]
#   --drives DIR  reuse the 8 drives kept by an earlier run (--keep-tmp) instead of filling
#   --once LABEL  list with that binary once (cold) instead of cold and warm (a slow build)
# Environment: CAIRN_BINS="before=/path/a after=/path/b" (label=binary pairs, listed in this
# order; default: after=target/release/cairn), CAIRN_BENCH_PORT (default 9410),
# CAIRN_BENCH_TMP (directory for the drives, default $TMPDIR or /tmp).
# The binaries are used as they are: build them first (cargo build --release -p cairn
# --bin cairn; cargo build --release -p cairn-bench --bin cairn-bench-list).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PORT="${CAIRN_BENCH_PORT:-9410}"
SIZES="10000,100000"
FANOUT=30000
KEEP_TMP=0
REUSE=""
ONCE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES="$2"; shift ;;
        --fanout) FANOUT="$2"; shift ;;
        --keep-tmp) KEEP_TMP=1 ;;
        --drives) REUSE="$2"; shift ;;
        --once) ONCE="$2"; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "list.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BINS="${CAIRN_BINS:-after=$ROOT/target/release/cairn}"
LIST="$ROOT/target/release/cairn-bench-list"
export CAIRN_ROOT_USER="${CAIRN_ROOT_USER:-benchadmin}"
export CAIRN_ROOT_PASSWORD="${CAIRN_ROOT_PASSWORD:-bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}"
STAMP="$(date -u +%Y-%m-%d-%H%M%S)"
OUT="$HERE/results/$STAMP-listing.md"
JSON="$HERE/results/$STAMP-listing.jsonl"
if [ -n "$REUSE" ]; then
    TMP="$REUSE"
    KEEP_TMP=1
else
    TMP="$(mktemp -d "${CAIRN_BENCH_TMP:-${TMPDIR:-/tmp}}/cairn-list.XXXXXX")"
fi
SERVER_PID=""
log() { echo "list.sh: $*" >&2; }

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DRIVES=()
for i in 1 2 3 4 5 6 7 8; do mkdir -p "$TMP/drive$i"; DRIVES+=("$TMP/drive$i"); done

start_server() { # binary
    "$1" server --address "127.0.0.1:$PORT" "${DRIVES[@]}" >> "$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/minio/health/live" || true)" = 200 ]; then
            return 0
        fi
        sleep 0.2
    done
    log "server $1 did not start; log:"; tail -n 30 "$TMP/server.log" >&2
    exit 1
}

bench() { "$LIST" --endpoint "http://127.0.0.1:$PORT" "$@"; }

IFS=, read -r -a SIZE_LIST <<< "$SIZES"
FIRST_BIN="${BINS##* }"; FIRST_BIN="${FIRST_BIN#*=}"
FILL_LOG="$TMP/fill.log"
if [ -z "$REUSE" ]; then
    log "filling with $FIRST_BIN: flat ${SIZES}, fan-out $FANOUT (empty objects, 32 PUTs in flight)"
    start_server "$FIRST_BIN"
    for n in "${SIZE_LIST[@]}"; do
        bench fill --prefix "flat$n/" --count "$n" 2>&1 | tee -a "$FILL_LOG" >&2
    done
    bench fill --prefix "local_content/" --layout fanout --count "$FANOUT" 2>&1 | tee -a "$FILL_LOG" >&2
    stop_server
fi

{
    echo "# Listing benchmark, $STAMP (UTC)"
    echo
    echo "* commit: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- storage-node/src/drive storage-node/src/objects/list.rs || echo ' (listing code with uncommitted changes)')"
    echo "* one \`cairn server\` over 8 directories (EC 4+4) on one ext4 disk, loopback, 2 vCPUs shared with other work; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "* keys: empty objects; flat prefixes \`flatN/k0000000\`...; fan-out \`local_content/ab/cd/m<hex>\` (Synapse's media layout, 65,536 leaves)"
    echo "* each server binary is started on the same drives in turn; every prefix is listed to the end in pages of 1,000 (ListObjectsV2, continuation tokens), twice: the first listing after start-up (cold) and a second one (warm)"
    echo "* fill: $(grep -o 'filled.*' "$FILL_LOG" | paste -sd ';' | sed 's/;/; /g')"
    echo
    echo "| server | prefix | entries | pages | seconds | entries/s | page p50 ms | p99 ms | max ms | first / last tenth ms | peak RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT"

for pair in $BINS; do
    label="${pair%%=*}"; bin="${pair#*=}"
    log "listing with $label ($bin)"
    start_server "$bin"
    passes="cold warm"
    [ "$label" = "$ONCE" ] && passes="cold"
    for pass in $passes; do
        for n in "${SIZE_LIST[@]}"; do
            bench list --prefix "flat$n/" --label "$label $pass" --server-pid "$SERVER_PID" --json "$JSON" >> "$OUT"
        done
        bench list --prefix "local_content/" --label "$label $pass" --server-pid "$SERVER_PID" --json "$JSON" >> "$OUT"
        bench list --prefix "local_content/" --delimiter / --label "$label $pass" --server-pid "$SERVER_PID" --json "$JSON" >> "$OUT"
    done
    stop_server
done
log "wrote $OUT"
cat "$OUT"
