#!/usr/bin/env bash
# metrics-audit-ab.sh: what the audit log and a Prometheus scraping the metrics cost a
# 4 KiB GET, as an A/B ratio measured in one run, with an A/A control.
#
# Three throw-away 8-drive servers from the same binary, same settings but:
#   on   (port 9331): audit webhook to a local sink (BATCH_SIZE=100, as
#        bench/results/2026-12-07-audit-cost.md) and its cluster metrics page scraped
#        every SCRAPE seconds, as a Prometheus would;
#   off  (port 9332): neither;
#   off2 (port 9333): neither (the A/A control: what two identical servers differ by here).
# The metrics counters themselves (requests, errors, TTFB, traffic) have no switch: every
# server keeps them, so their own cost is in all three.
#
# Each round runs one GET cell (cairn-bench-load, CONC requests in flight, DUR long)
# against each server, the order rotating every round so that no server always goes first.
# Prints a Markdown table per round and the mean and median ratios on/off and off2/off;
# keeps every cell's JSON in the work directory it names.
#
#   bench/metrics-audit-ab.sh                       # 6 rounds x 3 cells x 8 s
#   ROUNDS=10 DUR=10s bench/metrics-audit-ab.sh
#   CAIRN_BIN=target/release/cairn LOAD_BIN=target/release/cairn-bench-load bench/metrics-audit-ab.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-6}"
DUR="${DUR:-8s}"
CONC="${CONC:-16}"
SCRAPE="${SCRAPE:-5}"
BIN_SRC="${CAIRN_BIN:-$REPO/target/debug/cairn}"
LOAD="${LOAD_BIN:-$REPO/target/debug/cairn-bench-load}"
WORK="$(mktemp -d /tmp/cairn-mab.XXXXXX)"
# A private copy: a build of the shared target directory must not replace it mid-run.
cp "$BIN_SRC" "$WORK/cairn"
export CAIRN_ROOT_USER=benchroot CAIRN_ROOT_PASSWORD=benchpassword
export CAIRN_PROMETHEUS_AUTH_TYPE=public

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

python3 - <<'EOF' &
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); self.rfile.read(n)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", 9398), H).serve_forever()
EOF
pids+=($!)

declare -A PORT=([on]=9331 [off]=9332 [off2]=9333) PID=()
for side in on off off2; do
    mkdir -p "$WORK/$side"
    if [ "$side" = on ]; then
        CAIRN_AUDIT_WEBHOOK_ENABLE=on CAIRN_AUDIT_WEBHOOK_ENDPOINT=http://127.0.0.1:9398/ \
        CAIRN_AUDIT_WEBHOOK_BATCH_SIZE=100 \
            "$WORK/cairn" server --address "127.0.0.1:${PORT[$side]}" "$WORK/$side/d{1...8}" \
            > "$WORK/$side.log" 2>&1 &
    else
        "$WORK/cairn" server --address "127.0.0.1:${PORT[$side]}" "$WORK/$side/d{1...8}" \
            > "$WORK/$side.log" 2>&1 &
    fi
    PID[$side]=$!
    pids+=($!)
done
for side in on off off2; do
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:${PORT[$side]}/minio/health/live" >/dev/null && break
        sleep 0.2
    done
done
# The scraper of the `on` server, for the whole run.
( while sleep "$SCRAPE"; do
      curl -sf "http://127.0.0.1:${PORT[on]}/minio/v2/metrics/cluster" >/dev/null || true
  done ) &
pids+=($!)

echo "work directory: $WORK" >&2
echo "| round | load avg | on ops/s | off ops/s | off2 ops/s | on/off | off2/off | server CPU ms/GET on / off / off2 |"
echo "|---|---|---|---|---|---|---|---|"
orders=("on off off2" "off off2 on" "off2 on off")
for i in $(seq 1 "$ROUNDS"); do
    order="${orders[$(( (i - 1) % 3 ))]}"
    for side in $order; do
        "$LOAD" --endpoint "http://127.0.0.1:${PORT[$side]}" --op get --size 4KiB \
            --concurrency "$CONC" --duration "$DUR" --server-pid "${PID[$side]}" \
            --json "$WORK/$side-$i.json" > "$WORK/$side-$i.txt" 2>&1
    done
    python3 - "$WORK" "$i" "$(cut -d' ' -f1 /proc/loadavg)" <<'EOF'
import json, sys
work, i, load = sys.argv[1], sys.argv[2], sys.argv[3]
c = {s: json.load(open(f"{work}/{s}-{i}.json"))["cells"][0] for s in ("on", "off", "off2")}
ops = {s: c[s]["ops_per_s"] for s in c}
cpu = {s: c[s].get("server_cpu_ms_per_op") for s in c}
fmt = lambda v: "?" if v is None else f"{v:.3f}"
print(f"| {i} | {load} | {ops['on']:.0f} | {ops['off']:.0f} | {ops['off2']:.0f} | "
      f"{ops['on'] / ops['off']:.3f} | {ops['off2'] / ops['off']:.3f} | "
      f"{fmt(cpu['on'])} / {fmt(cpu['off'])} / {fmt(cpu['off2'])} |")
EOF
done
python3 - "$WORK" "$ROUNDS" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def ratio(a, b, key):
    out = []
    for i in range(1, rounds + 1):
        x = json.load(open(f"{work}/{a}-{i}.json"))["cells"][0].get(key)
        y = json.load(open(f"{work}/{b}-{i}.json"))["cells"][0].get(key)
        if x and y:
            out.append(x / y)
    return out
for name, key in (("ops/s", "ops_per_s"), ("server CPU per GET", "server_cpu_ms_per_op")):
    ab, aa = ratio("on", "off", key), ratio("off2", "off", key)
    if ab and aa:
        print(f"\n{name}: on/off mean {statistics.mean(ab):.3f} median {statistics.median(ab):.3f} "
              f"(range {min(ab):.3f}-{max(ab):.3f}); A/A off2/off mean {statistics.mean(aa):.3f} "
              f"median {statistics.median(aa):.3f} (range {min(aa):.3f}-{max(aa):.3f})")
EOF
# The `on` server did audit: entries offered and dropped by its webhook target.
echo
curl -sf "http://127.0.0.1:${PORT[on]}/minio/v2/metrics/cluster" \
    | grep -E '^minio_audit_(total|failed)_messages' || echo "no audit counters on the on server"
