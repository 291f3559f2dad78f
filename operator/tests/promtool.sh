#!/usr/bin/env bash
# Installs promtool, which operator/tests/validate.sh checks and unit-tests the alert rules
# and the dashboard's queries with: the one from Debian's `prometheus` package (2.42), the
# way this project's machines get their tools (see shared CLIENTS.md). `apt-get download`
# fetches the package alone (no install scripts, no service, nothing else on the system)
# and only usr/bin/promtool is unpacked, into operator/.tools/prometheus/ (git-ignored),
# reused on later runs. A promtool already on PATH is used as it is; PROMTOOL=PATH chooses
# another. apt's package lists are refreshed once when they do not know the package yet.
#
# Usage: source operator/tests/promtool.sh   -> sets PROMTOOL
set -euo pipefail
_promtool_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_promtool_dir="${PROMTOOL_DIR:-$_promtool_repo/operator/.tools/prometheus}"
if [ -z "${PROMTOOL:-}" ]; then
    if command -v promtool >/dev/null; then
        PROMTOOL="$(command -v promtool)"
    elif [ -x "$_promtool_dir/promtool" ]; then
        PROMTOOL="$_promtool_dir/promtool"
    else
        command -v apt-get >/dev/null || { echo "promtool.sh: apt-get is needed to fetch Debian's prometheus package" >&2; exit 1; }
        _promtool_tmp="$(mktemp -d -t cairn-promtool.XXXXXX)"
        # apt's download user must be able to write there.
        chmod 755 "$_promtool_tmp"
        (
            cd "$_promtool_tmp"
            if ! timeout 300 apt-get download -q prometheus >/dev/null 2>&1; then
                timeout 300 apt-get update -q >/dev/null
                timeout 300 apt-get download -q prometheus >/dev/null
            fi
            dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
            mkdir -p "$_promtool_dir"
            mv usr/bin/promtool "$_promtool_dir/promtool"
        )
        rm -rf "$_promtool_tmp"
        PROMTOOL="$_promtool_dir/promtool"
    fi
fi
"$PROMTOOL" --version >/dev/null
export PROMTOOL
