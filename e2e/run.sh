#!/usr/bin/env bash
# Runs the end-to-end suite: installs the clients (setup.sh), then `pytest e2e -q` with the
# suite's venv. Extra arguments go to pytest (e.g. `e2e/run.sh -k rclone -x`).
#
# Targets:
#   default            starts real `cairn` processes: $CAIRN_BIN, else target/release/cairn,
#                      else target/debug/cairn
#   E2E_ENDPOINT=URL   runs the client tests against an already running S3 endpoint
#                      (with E2E_ACCESS_KEY / E2E_SECRET_KEY); optional E2E_TLS_ENDPOINT and
#                      E2E_CA_FILE for the HTTPS tests. Tests that need the server's own
#                      process or drives (kill -9, restart) skip with a reason.
# Exit code: pytest's; "no tests collected" (5) is a failure too.
set -uo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$E2E_DIR")"

"$E2E_DIR/setup.sh" || exit $?

cd "$REPO" || exit 1
# `e2e/run.sh e2e/test_rclone.py::test_x` runs just that; otherwise the whole suite.
targets=(e2e)
for a in "$@"; do
    case "$a" in -*) ;; *) if [ -e "${a%%::*}" ]; then targets=(); break; fi ;; esac
done
# --durations: the slowest tests in every run, for keeping CI under its time budget.
"$REPO/.e2e-venv/bin/python" -m pytest "${targets[@]}" -q --durations=15 "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "e2e/run.sh: pytest collected no tests; treating that as a failure" >&2
fi
exit "$rc"
