#!/usr/bin/env bash
# Builds Cairn and its benchmarks in release mode, runs the Reed-Solomon/hash micro-benchmark,
# starts a throw-away Cairn server on 8 fresh directories, runs the S3 load matrix against it,
# stops the server and writes everything to bench/results/<date>.md (+ JSON beside it).
#
# Usage: bench/run.sh [--quick] [--no-build] [--no-rs] [--no-load] [--no-cluster] [--port N]
#                     [--duration 10s] [--keep-tmp]
#   --quick      RS cells 0.05 s × 1, load cells 2 s: a smoke test of the whole pipeline
#   --no-build   use the binaries already in target/release
#   --no-rs      skip the micro-benchmark
#   --no-load    skip the server and the load matrix
#   --no-cluster skip the 4-server loopback cluster (same matrix, reported as a ratio of the
#                single-process figures of the same run)
#   --port N     server port (default 9400, or $CAIRN_BENCH_PORT)
#   --duration D time per load cell (default 10s, or $CAIRN_BENCH_DURATION)
#   --keep-tmp   keep the server's directories and log for inspection
# Environment: CAIRN_BIN (server binary, default target/release/cairn), CAIRN_ROOT_USER and
# CAIRN_ROOT_PASSWORD (generated if unset), CAIRN_BENCH_LOAD_ARGS (extra cairn-bench-load
# arguments, e.g. "--matrix-sizes 4KiB,1MiB").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PORT="${CAIRN_BENCH_PORT:-9400}"
DURATION="${CAIRN_BENCH_DURATION:-10s}"
QUICK=0 BUILD=1 RUN_RS=1 RUN_LOAD=1 RUN_CLUSTER=1 KEEP_TMP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; DURATION=2s ;;
        --no-build) BUILD=0 ;;
        --no-rs) RUN_RS=0 ;;
        --no-load) RUN_LOAD=0 ;;
        --no-cluster) RUN_CLUSTER=0 ;;
        --port) PORT="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --keep-tmp) KEEP_TMP=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

# A server binary given by the caller is used as is; otherwise the workspace's is (re)built.
USER_BIN="${CAIRN_BIN:-}"
CAIRN_BIN="${CAIRN_BIN:-$ROOT/target/release/cairn}"
BENCH_RS="$ROOT/target/release/cairn-bench-rs"
BENCH_LOAD="$ROOT/target/release/cairn-bench-load"
export CAIRN_ROOT_USER="${CAIRN_ROOT_USER:-benchadmin}"
export CAIRN_ROOT_PASSWORD="${CAIRN_ROOT_PASSWORD:-bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}"

STAMP="$(date -u +%Y-%m-%d-%H%M%S)"
RESULTS="$HERE/results"
OUT="$RESULTS/$STAMP.md"
mkdir -p "$RESULTS"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")"
SERVER_PID=""
CLUSTER_PIDS=()

log() { echo "run.sh: $*" >&2; }
# Last lines of the server log without terminal colour codes, for the report.
server_log_tail() { tail -n "$1" "$TMP/server.log" | sed 's/\x1b\[[0-9;]*m//g'; }

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        log "stopping server (pid $SERVER_PID)"
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

stop_cluster() {
    local pid
    for pid in "${CLUSTER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${CLUSTER_PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}

cleanup() {
    stop_server
    stop_cluster
    if [ "$KEEP_TMP" = 1 ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BUILD" = 1 ]; then
    log "building cairn-bench (release)"
    (cd "$ROOT" && cargo build --release -p cairn-bench)
    if [ "$RUN_LOAD" = 1 ] && [ -z "$USER_BIN" ]; then
        log "building the cairn server (release)"
        if ! (cd "$ROOT" && cargo build --release -p cairn --bin cairn); then
            log "the server does not build; the load matrix will be skipped"
        fi
    fi
fi

{
    echo "# Cairn benchmark, $STAMP (UTC)"
    echo
    echo "* commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "* CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') × $(nproc); $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "* load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores; see CPU share columns)"
    echo "* reference figures for this machine kind: /work/shared/MACHINE.md"
    echo
} > "$OUT"

STATUS=0
if [ "$RUN_RS" = 1 ]; then
    log "Reed-Solomon and hash micro-benchmark (a few minutes)"
    RS_ARGS=(--json "$RESULTS/$STAMP-rs.json")
    [ "$QUICK" = 1 ] && RS_ARGS+=(--quick)
    RS_RC=0
    "$BENCH_RS" "${RS_ARGS[@]}" > "$TMP/rs.md" || RS_RC=$?
    if [ "$RS_RC" = 0 ]; then
        # Demote the tool's own headings one level under this report's title.
        sed 's/^## /### /; s/^# /## /' "$TMP/rs.md" >> "$OUT"
    else
        STATUS=1
        echo "## cairn-bench-rs failed (exit $RS_RC)" >> "$OUT"
    fi
    echo >> "$OUT"
fi

if [ "$RUN_LOAD" = 1 ]; then
    if [ ! -x "$CAIRN_BIN" ]; then
        log "no server binary at $CAIRN_BIN; skipping the load matrix"
        echo "## S3 load matrix: skipped (no server binary at $CAIRN_BIN)" >> "$OUT"
        STATUS=1
    else
        DRIVES=()
        for i in 1 2 3 4 5 6 7 8; do
            mkdir -p "$TMP/drive$i"
            DRIVES+=("$TMP/drive$i")
        done
        log "starting $CAIRN_BIN on 127.0.0.1:$PORT over 8 directories in $TMP"
        "$CAIRN_BIN" server --address "127.0.0.1:$PORT" "${DRIVES[@]}" > "$TMP/server.log" 2>&1 &
        SERVER_PID=$!
        READY=0
        for _ in $(seq 1 300); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/minio/health/live" || true)"
            if [ "$code" = 200 ]; then
                READY=1
                break
            fi
            sleep 0.2
        done
        if [ "$READY" != 1 ]; then
            log "server exited or did not become ready within 60 s; last lines of its log:"
            server_log_tail 30 >&2
            {
                echo "## S3 load matrix: server did not become ready"
                echo
                echo '```'
                server_log_tail 30
                echo '```'
            } >> "$OUT"
            STATUS=1
        else
            log "server ready (pid $SERVER_PID); running the load matrix, $DURATION per cell"
            LOAD_RC=0
            # shellcheck disable=SC2086 # CAIRN_BENCH_LOAD_ARGS is split on purpose
            "$BENCH_LOAD" --endpoint "http://127.0.0.1:$PORT" --bucket bench \
                --matrix --duration "$DURATION" --server-pid "$SERVER_PID" \
                --json "$RESULTS/$STAMP-load.json" ${CAIRN_BENCH_LOAD_ARGS:-} \
                > "$TMP/load.md" 2> >(tee "$TMP/load.err" >&2) || LOAD_RC=$?
            {
                echo "## S3 load matrix (cairn-bench-load, $DURATION per cell, 8 drives in one temp dir, loopback)"
                echo
                cat "$TMP/load.md"
                echo
                if [ "$LOAD_RC" != 0 ]; then
                    echo "cairn-bench-load exited with $LOAD_RC (1: some requests failed; 2: the run could not start)."
                    echo "Last lines of its stderr:"
                    echo
                    echo '```'
                    grep -v '^\s*\[' "$TMP/load.err" | tail -n 8
                    echo '```'
                    echo
                    echo "Last lines of the server log:"
                    echo
                    echo '```'
                    server_log_tail 20
                    echo '```'
                fi
            } >> "$OUT"
            [ "$LOAD_RC" = 0 ] || STATUS=1
        fi
        stop_server
    fi
fi

# --- the same matrix against a 4-server loopback cluster ---------------------------------------
# Four cairn processes on 127.0.0.1-4 (two drives each, one pool, EC:4), all on the same two
# cores as the single server above; the load goes to server 1, which fans out over the peer RPC.
if [ "$RUN_LOAD" = 1 ] && [ "$RUN_CLUSTER" = 1 ] && [ -x "$CAIRN_BIN" ] && [ -f "$RESULTS/$STAMP-load.json" ]; then
    EPS=()
    for n in 1 2 3 4; do
        for d in 1 2; do
            mkdir -p "$TMP/cluster/n$n/d$d"
            EPS+=("http://127.0.0.$n:$PORT$TMP/cluster/n$n/d$d")
        done
    done
    log "starting a 4-server cluster on 127.0.0.1-4:$PORT"
    for n in 1 2 3 4; do
        "$CAIRN_BIN" server --address "127.0.0.$n:$PORT" "${EPS[@]}" > "$TMP/cluster-$n.log" 2>&1 &
        CLUSTER_PIDS+=($!)
    done
    READY=0
    for _ in $(seq 1 300); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/minio/health/cluster" || true)"
        if [ "$code" = 200 ]; then READY=1; break; fi
        sleep 0.2
    done
    if [ "$READY" != 1 ]; then
        log "the cluster did not become ready within 60 s"
        { echo "## Cluster: did not become ready"; echo; echo '```'; tail -n 20 "$TMP/cluster-1.log"; echo '```'; } >> "$OUT"
        STATUS=1
    else
        log "cluster ready; running the load matrix against server 1"
        CLUSTER_RC=0
        # shellcheck disable=SC2086
        "$BENCH_LOAD" --endpoint "http://127.0.0.1:$PORT" --bucket bench \
            --matrix --duration "$DURATION" --server-pid "${CLUSTER_PIDS[0]}" \
            --json "$RESULTS/$STAMP-cluster-load.json" ${CAIRN_BENCH_LOAD_ARGS:-} \
            > "$TMP/cluster-load.md" 2> >(tee "$TMP/cluster-load.err" >&2) || CLUSTER_RC=$?
        {
            echo "## Cluster: 4 servers x 2 drives on loopback vs. one server with 8 drives"
            echo
            echo "Same matrix, same machine, same run. Server CPU and RSS columns are server 1's only."
            echo
            cat "$TMP/cluster-load.md"
            echo
            echo "### Cluster throughput as a share of the single-process figure"
            echo
            python3 - "$RESULTS/$STAMP-load.json" "$RESULTS/$STAMP-cluster-load.json" <<'PY'
import json, sys
single = {(c["op"], c["size_label"], c["concurrency"]): c for c in json.load(open(sys.argv[1]))["cells"]}
cluster = json.load(open(sys.argv[2]))["cells"]
print("| op | size | concurrency | single MiB/s | cluster MiB/s | single ops/s | cluster ops/s | cluster ÷ single |")
print("|----|-----:|------------:|-------------:|--------------:|-------------:|--------------:|-----------------:|")
for c in cluster:
    s = single.get((c["op"], c["size_label"], c["concurrency"]))
    if not s:
        continue
    ratio = c["ops_per_s"] / s["ops_per_s"] if s["ops_per_s"] else 0.0
    print(f"| {c['op']} | {c['size_label']} | {c['concurrency']} | {s['mib_per_s']:.1f} | {c['mib_per_s']:.1f} "
          f"| {s['ops_per_s']:.0f} | {c['ops_per_s']:.0f} | {ratio * 100:.0f} % |")
PY
            echo
            [ "$CLUSTER_RC" = 0 ] || echo "cairn-bench-load exited with $CLUSTER_RC against the cluster."
        } >> "$OUT"
        [ "$CLUSTER_RC" = 0 ] || STATUS=1
    fi
    stop_cluster
fi

log "results: $OUT"
cat "$OUT"
exit "$STATUS"
