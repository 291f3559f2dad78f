#!/usr/bin/env bash
# Interleaved A/B of the server's resident memory (and throughput) per phase of a workload,
# for several server builds or settings, in one run: the machine is shared and noisy, so
# every variant runs in every round, one after the other, on a fresh 8-drive server, and
# the report compares averages of the same run.
#
# Usage: bench/memory-ab.sh [--rounds 2] [--duration 15s] [--phases SPEC] [--port N]
#                           [--target 300MiB] VARIANT...
#   VARIANT   NAME=BINARY[,VAR=VALUE...]: a server binary and environment settings for it
#             (a value may hold commas),
#             e.g. glibc=/tmp/cairn-glibc  arena2=/tmp/cairn-glibc,MALLOC_ARENA_MAX=2
#             jemalloc=target/release/cairn. The first variant is the baseline of the ratios.
#   --phases  cairn-bench-load phase lists; ';' separates lists that each get a fresh server
#             (default: the PUTs alone, then GETs followed by the same PUTs:
#             put:64MiB:32;get:64MiB:32,put:64MiB:32)
# Writes bench/results/<date>-memory.md and one JSON per (round, variant, list) beside it.
# Environment: BENCH_LOAD (default target/release/cairn-bench-load), CAIRN_ROOT_USER and
# CAIRN_ROOT_PASSWORD (generated if unset).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
ROUNDS=2 DURATION=15s PORT="${CAIRN_BENCH_PORT:-9410}" TARGET=300MiB
PHASES="put:64MiB:32;get:64MiB:32,put:64MiB:32"
VARIANTS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift ;;
        --duration) DURATION="$2"; shift ;;
        --phases) PHASES="$2"; shift ;;
        --port) PORT="$2"; shift ;;
        --target) TARGET="$2"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *=*) VARIANTS+=("$1") ;;
        *) echo "memory-ab.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "${#VARIANTS[@]}" -ge 1 ] || { echo "memory-ab.sh: give at least one NAME=BINARY" >&2; exit 2; }
BENCH_LOAD="${BENCH_LOAD:-$ROOT/target/release/cairn-bench-load}"
export CAIRN_ROOT_USER="${CAIRN_ROOT_USER:-benchadmin}"
export CAIRN_ROOT_PASSWORD="${CAIRN_ROOT_PASSWORD:-bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}"

STAMP="$(date -u +%Y-%m-%d-%H%M%S)"
RESULTS="$HERE/results"
OUT="$RESULTS/$STAMP-memory.md"
mkdir -p "$RESULTS"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/cairn-memab.XXXXXX")"
SERVER_PID=""

log() { echo "memory-ab.sh: $*" >&2; }

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# One (round, variant, list): fresh drives, server with the variant's environment, the phases.
run_one() {
    local round="$1" spec="$2" seq="$3" phases="$4"
    local name="${spec%%=*}" rest="${spec#*=}"
    local bin="${rest%%,*}" envs=() piece
    if [ "$rest" != "$bin" ]; then
        # A comma starts a new VAR=VALUE only when a variable name follows it, so values may
        # hold commas (_RJEM_MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0).
        local pieces=()
        IFS=',' read -r -a pieces <<< "${rest#*,}"
        for piece in "${pieces[@]}"; do
            if [[ "$piece" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || [ "${#envs[@]}" = 0 ]; then
                envs+=("$piece")
            else
                envs[-1]="${envs[-1]},$piece"
            fi
        done
    fi
    [ -x "$bin" ] || { log "no executable $bin for variant $name"; return 2; }
    rm -rf "$TMP/drives"
    local drives=()
    for i in 1 2 3 4 5 6 7 8; do
        mkdir -p "$TMP/drives/d$i"
        drives+=("$TMP/drives/d$i")
    done
    log "round $round, $name, $phases: $bin ${envs[*]:-}"
    env "${envs[@]}" "$bin" server --address "127.0.0.1:$PORT" "${drives[@]}" \
        > "$TMP/server-$round-$name-s$seq.log" 2>&1 &
    SERVER_PID=$!
    local ready=0
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/minio/health/live" || true)" = 200 ]; then
            ready=1
            break
        fi
        sleep 0.2
    done
    if [ "$ready" != 1 ]; then
        log "server of $name did not become ready"
        tail -n 20 "$TMP/server-$round-$name-s$seq.log" >&2
        stop_server
        return 1
    fi
    local rc=0
    local tag="r$round-$name-s$seq"
    "$BENCH_LOAD" --endpoint "http://127.0.0.1:$PORT" --bucket memab --phases "$phases" \
        --duration "$DURATION" --server-pid "$SERVER_PID" --rss-target "$TARGET" \
        --json "$RESULTS/$STAMP-memory-$tag.json" \
        > "$TMP/load-$tag.md" 2> "$TMP/load-$tag.err" || rc=$?
    stop_server
    [ "$rc" = 0 ] || { log "cairn-bench-load exited $rc for $tag"; tail -n 5 "$TMP/load-$tag.err" >&2; }
    return 0
}

{
    echo "# Server memory per phase, interleaved A/B, $STAMP (UTC)"
    echo
    echo "* commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "* CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') × $(nproc); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "* phases: $PHASES, $DURATION each; $ROUNDS round(s); variants in this order each round: ${VARIANTS[*]}"
    echo "* peak RSS = the server's VmHWM over the phase (reset through /proc/PID/clear_refs at its start); target $TARGET"
    echo
} > "$OUT"

IFS=';' read -r -a LISTS <<< "$PHASES"
for round in $(seq 1 "$ROUNDS"); do
    for v in "${VARIANTS[@]}"; do
        for k in "${!LISTS[@]}"; do
            run_one "$round" "$v" "$((k + 1))" "${LISTS[$k]}" || log "round $round, ${v%%=*}: no result"
        done
    done
done

for round in $(seq 1 "$ROUNDS"); do
    for v in "${VARIANTS[@]}"; do
        name="${v%%=*}"
        for k in "${!LISTS[@]}"; do
            tag="r$round-$name-s$((k + 1))"
            [ -f "$TMP/load-$tag.md" ] || continue
            { echo "## Round $round, $name, fresh server: ${LISTS[$k]}"; echo; cat "$TMP/load-$tag.md"; echo; } >> "$OUT"
        done
    done
done

python3 - "$RESULTS" "$STAMP" "$ROUNDS" "${#LISTS[@]}" "${VARIANTS[@]}" >> "$OUT" <<'PY'
import json, os, sys
results, stamp, rounds, lists = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = [v.split("=", 1)[0] for v in sys.argv[5:]]
def peak(c):
    return c["server_hwm_mib"] if c.get("server_hwm_reset") else c.get("server_peak_rss_mib")
# data[name] = one list per round of the cells of every list, in order, each cell tagged
# with its list number (a phase is "list.position").
data = {}
target = 300.0
for n in names:
    for r in range(1, rounds + 1):
        cells = []
        for k in range(1, lists + 1):
            p = os.path.join(results, f"{stamp}-memory-r{r}-{n}-s{k}.json")
            if os.path.exists(p):
                doc = json.load(open(p))
                for j, c in enumerate(doc["cells"]):
                    c["phase"] = f"{k}.{j + 1}"
                    cells.append(c)
                target = doc.get("rss_target_mib", 300.0)
        if cells:
            data.setdefault(n, []).append(cells)
if not data:
    print("No variant produced results.")
    sys.exit(0)
base = names[0]
phases = max(len(c) for runs in data.values() for c in runs)
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
print("## Summary: mean of the rounds, ratio against the first variant of the same run")
print()
print("Phase k.j = list k (each list on a fresh server), its j-th phase.")
print()
print("| variant | phase | peak RSS MiB per round | mean peak | ÷ target | ÷ baseline peak | MiB/s per round | mean MiB/s | ÷ baseline MiB/s | RSS after MiB (mean) |")
print("|---|---|---|---:|---:|---:|---|---:|---:|---:|")
stats = {}
for n in names:
    for i in range(phases):
        cells = [runs[i] for runs in data.get(n, []) if i < len(runs)]
        if not cells:
            continue
        pk = [peak(c) for c in cells if peak(c) is not None]
        mb = [c["mib_per_s"] for c in cells]
        after = [c["server_rss_after_mib"] for c in cells if c.get("server_rss_after_mib") is not None]
        stats[(n, i)] = (mean(pk), mean(mb))
        label = f"{cells[0]['phase']}: {cells[0]['op']} {cells[0]['size_label']} x{cells[0]['concurrency']}"
        bp, bm = stats.get((base, i), (float("nan"), float("nan")))
        print(f"| {n} | {label} | {' / '.join(f'{x:.0f}' for x in pk)} | {mean(pk):.0f} | {mean(pk) / target:.2f} "
              f"| {mean(pk) / bp:.2f} | {' / '.join(f'{x:.0f}' for x in mb)} | {mean(mb):.0f} | {mean(mb) / bm:.2f} | {mean(after):.0f} |")
print()
errs = [(n, r + 1, c["op"], c["errors"]) for n, runs in data.items() for r, cs in enumerate(runs) for c in cs if c["errors"]]
print("Request errors: " + (", ".join(f"{n} round {r} {op}: {e}" for n, r, op, e in errs) if errs else "none") + ".")
PY

log "results: $OUT"
cat "$OUT"
