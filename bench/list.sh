#!/usr/bin/env bash
# Listing benchmark (issue 13): fills one 8-drive server with flat prefixes and a Synapse-like
# two-level fan-out, then lists every prefix to the end with each server binary given, over
# the same drives, one after the other, and writes bench/results/<date>-listing.md (+ JSONL).
# Optionally the same for a four-server loopback cluster (2 drives each, one 8-drive set),
# with every page sent to the next server.
#
# Usage: bench/list.sh [--sizes 10000,100000] [--fanout 30000] [--keep-tmp] [--drives DIR]
#                     [--once LABEL] [--clone] [--cluster-sizes 100000] [--no-single]
#   --drives DIR  reuse the drives kept by an earlier run (--keep-tmp) instead of filling
#   --once LABEL  list with that binary once (cold) instead of cold and warm (a slow build)
#   --clone       fill by PUTting the first key of each prefix, then copying its on-disk
#                 directory to the others with the servers stopped (cairn-bench-list clone):
#                 minutes for a million keys instead of an hour of fsync'd PUTs
#   --cluster-sizes N[,M]  also fill and list flat prefixes of these sizes on a 4-server
#                 cluster on 127.0.0.1-4 (first binary of CAIRN_BINS only; 0: none)
#   --no-single   skip the single server (cluster only)
#   --versions N  make every key have N versions (versioning on; N PUTs of each key, or of
#                 the template that --clone copies) and list each flat prefix with
#                 ListObjectVersions too
# Environment: CAIRN_BINS="before=/path/a after=/path/b" (label=binary pairs, listed in this
# order; default: after=target/release/cairn), CAIRN_BENCH_PORT (default 9410),
# CAIRN_BENCH_TMP (directory for the drives, default $TMPDIR or /tmp; a million keys take
# about 16 KiB per key on ext4, 2 KiB with `mkfs.ext4 -O inline_data -I 1024`, see
# bench/README.md), CAIRN_LIST_CACHE_SIZE (passed to the servers).
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
CLONE=0
CLUSTER_SIZES=0
SINGLE=1
VERSIONS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES="$2"; shift ;;
        --fanout) FANOUT="$2"; shift ;;
        --keep-tmp) KEEP_TMP=1 ;;
        --drives) REUSE="$2"; shift ;;
        --once) ONCE="$2"; shift ;;
        --clone) CLONE=1 ;;
        --cluster-sizes) CLUSTER_SIZES="$2"; shift ;;
        --no-single) SINGLE=0 ;;
        --versions) VERSIONS="$2"; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "list.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BINS="${CAIRN_BINS:-after=$ROOT/target/release/cairn}"
LIST="${CAIRN_BENCH_LIST:-$ROOT/target/release/cairn-bench-list}"
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
SERVER_PIDS=()
log() { echo "list.sh: $*" >&2; }

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${SERVER_PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}
cleanup() {
    stop_servers
    if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DRIVES=()
for i in 1 2 3 4 5 6 7 8; do mkdir -p "$TMP/drive$i"; DRIVES+=("$TMP/drive$i"); done
CLUSTER_EPS=()
CLUSTER_DRIVES=()
for n in 1 2 3 4; do
    for d in 1 2; do
        CLUSTER_EPS+=("http://127.0.0.$n:$PORT$TMP/cluster/n$n/d$d")
        CLUSTER_DRIVES+=("$TMP/cluster/n$n/d$d")
    done
done
MODE=single

wait_ready() { # url
    for _ in $(seq 1 300); do
        for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ]; then
            return 0
        fi
        sleep 0.2
    done
    log "servers did not start; log:"; tail -n 30 "$TMP"/server*.log >&2
    exit 1
}

start_servers() { # binary
    if [ "$MODE" = single ]; then
        "$1" server --address "127.0.0.1:$PORT" "${DRIVES[@]}" >> "$TMP/server.log" 2>&1 &
        SERVER_PIDS=($!)
        wait_ready "http://127.0.0.1:$PORT/minio/health/live"
    else
        mkdir -p "${CLUSTER_DRIVES[@]}"
        for n in 1 2 3 4; do
            "$1" server --address "127.0.0.$n:$PORT" "${CLUSTER_EPS[@]}" >> "$TMP/server-$n.log" 2>&1 &
            SERVER_PIDS+=($!)
        done
        wait_ready "http://127.0.0.1:$PORT/minio/health/cluster"
    fi
}

endpoints() {
    if [ "$MODE" = single ]; then
        echo "http://127.0.0.1:$PORT"
    else
        echo "http://127.0.0.1:$PORT,http://127.0.0.2:$PORT,http://127.0.0.3:$PORT,http://127.0.0.4:$PORT"
    fi
}
bench() { "$LIST" --endpoint "$(endpoints)" "$@"; }
mode_drives() {
    if [ "$MODE" = single ]; then (IFS=,; echo "${DRIVES[*]}"); else (IFS=,; echo "${CLUSTER_DRIVES[*]}"); fi
}

# fill BINARY PREFIX COUNT LAYOUT: PUTs the keys, or with --clone PUTs the first one and
# copies it to the rest with the servers stopped. Leaves the servers stopped.
fill() {
    local bin="$1" prefix="$2" count="$3" layout="$4"
    start_servers "$bin"
    if [ "$CLONE" = 1 ]; then
        bench fill --prefix "$prefix" --count 1 --layout "$layout" --versions "$VERSIONS" 2>&1 | tee -a "$FILL_LOG" >&2
        stop_servers
        local template
        template="$("$LIST" key --prefix "$prefix" --layout "$layout" --index 0)"
        log "df before cloning $count keys: $(df -h --output=avail "$TMP" | tail -1)"
        bench clone --drives "$(mode_drives)" --template "$template" --prefix "$prefix" \
            --layout "$layout" --from 1 --count "$((count - 1))" 2>&1 | tee -a "$FILL_LOG" >&2
        log "df after: $(df -h --output=avail "$TMP" | tail -1)"
    else
        bench fill --prefix "$prefix" --count "$count" --layout "$layout" --versions "$VERSIONS" 2>&1 | tee -a "$FILL_LOG" >&2
        stop_servers
    fi
}

IFS=, read -r -a SIZE_LIST <<< "$SIZES"
IFS=, read -r -a CLUSTER_LIST <<< "$CLUSTER_SIZES"
[ "$SINGLE" = 1 ] || SIZE_LIST=()
[ "$SINGLE" = 1 ] || FANOUT=0
FIRST_BIN="${BINS##* }"; FIRST_BIN="${FIRST_BIN#*=}"
FILL_LOG="$TMP/fill.log"
if [ -z "$REUSE" ]; then
    log "filling with $FIRST_BIN: flat ${SIZES}, fan-out $FANOUT, cluster ${CLUSTER_SIZES} (empty objects)"
    MODE=single
    for n in "${SIZE_LIST[@]}"; do fill "$FIRST_BIN" "flat$n/" "$n" flat; done
    [ "$FANOUT" = 0 ] || fill "$FIRST_BIN" "local_content/" "$FANOUT" fanout
    MODE=cluster
    for n in "${CLUSTER_LIST[@]}"; do [ "$n" = 0 ] || fill "$FIRST_BIN" "flat$n/" "$n" flat; done
fi

{
    echo "# Listing benchmark, $STAMP (UTC)"
    echo
    echo "* commit: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- storage-node/src/drive storage-node/src/objects/list.rs || echo ' (listing code with uncommitted changes)')"
    echo "* single: one \`cairn server\` over 8 directories (EC 4+4); cluster: four servers on 127.0.0.1-4 with 2 directories each (one set of 8, EC 4+4), pages sent to the four in turn; drives on $(df --output=fstype "$TMP" | tail -1) ($(df --output=source "$TMP" | tail -1)); loopback; 2 vCPUs shared with other work; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "* keys: empty objects; flat prefixes \`flatN/k0000000\`...; fan-out \`local_content/ab/cd/m<hex>\` (Synapse's media layout, 65,536 leaves)$([ "$CLONE" = 1 ] && echo '; filled by PUTting the first key of each prefix and copying its on-disk directory to the others (servers stopped)')$([ "$VERSIONS" = 1 ] || echo "; $VERSIONS versions of every key (versioning on); the (versions) rows are ListObjectVersions, every version an entry")"
    echo "* each server binary is started on the same drives in turn; every prefix is listed to the end in pages of 1,000 (ListObjectsV2, continuation tokens), twice: the first listing after start-up (cold) and a second one (warm); peak RSS is the largest server's"
    echo "* fill: $(grep -o '\(filled\|cloned\).*' "$FILL_LOG" | paste -sd ';' | sed 's/;/; /g')"
    echo
    echo "| server | prefix | entries | pages | seconds | entries/s | page p50 ms | p99 ms | max ms | first / last tenth ms | peak RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$OUT"

list_pass() { # LABEL PASS PREFIX [DELIMITER [--versions]]: one row of the table
    (IFS=,; echo "${SERVER_PIDS[*]}") > "$TMP/pids"
    bench list --prefix "$3" ${4:+--delimiter "$4"} ${5:-} --label "$1 $2" --server-pid "$(cat "$TMP/pids")" --json "$JSON" >> "$OUT"
}

for pair in $BINS; do
    label="${pair%%=*}"; bin="${pair#*=}"
    passes="cold warm"
    [ "$label" = "$ONCE" ] && passes="cold"
    if [ "$SINGLE" = 1 ]; then
        MODE=single
        log "listing with $label ($bin), single server"
        start_servers "$bin"
        for pass in $passes; do
            for n in "${SIZE_LIST[@]}"; do
                list_pass "$label" "$pass" "flat$n/"
                [ "$VERSIONS" = 1 ] || list_pass "$label" "$pass" "flat$n/" "" --versions
            done
            if [ "$FANOUT" != 0 ]; then
                list_pass "$label" "$pass" "local_content/"
                list_pass "$label" "$pass" "local_content/" /
            fi
        done
        stop_servers
    fi
    if [ "$CLUSTER_SIZES" != 0 ] && [ "$bin" = "$FIRST_BIN" ]; then
        MODE=cluster
        log "listing with $label ($bin), 4-server cluster"
        start_servers "$bin"
        for pass in $passes; do
            for n in "${CLUSTER_LIST[@]}"; do list_pass "$label cluster" "$pass" "flat$n/"; done
        done
        stop_servers
    fi
done
log "wrote $OUT"
cat "$OUT"
