"""The pod-level tenant: a Tenant rendered by `cairn-operator render`, its pods run as real
`cairn` processes in network namespaces (e2e/pods.py), and the application pod's view of it
(`App`: boto3 and any other client run in the application namespace, by the Service's DNS
name, trusting only the tenant CA). Shared by test_operator_pods.py and the Matrix stack's
tests (test_matrix_stack.py), which run their tools against one shared Matrix tenant."""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from conftest import EXTERNAL, REPO, session_binary
from netcluster import netns_available
from pods import PodCluster, secret_data

MATRIX = REPO / "manifests" / "examples" / "matrix"
FIXTURES = REPO / "operator" / "tests" / "fixtures"


def operator_bin() -> Path:
    env = os.environ.get("CAIRN_OPERATOR_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    subprocess.run(["cargo", "build", "-q", "-p", "cairn-operator", "--locked"], cwd=REPO, check=True)
    return target / "debug" / "cairn-operator"


def operator_view(c: PodCluster, path: Path, ca: str | None, provision: bool) -> dict:
    """The operator's own tenant client and provisioning code (operator/tests/provision_pods.rs)
    run in the application namespace against the pods: what the controller would see."""
    out = subprocess.run(["cargo", "test", "-q", "-p", "cairn-operator", "--locked", "--test", "provision_pods",
                          "--no-run", "--message-format=json"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    exe = next(m["executable"] for m in map(json.loads, out.stdout.splitlines())
               if m.get("reason") == "compiler-artifact" and m.get("executable")
               and m["target"]["name"] == "provision_pods")
    env = dict(os.environ, CAIRN_E2E_INPUT=str(path), CAIRN_E2E_PROVISION="1" if provision else "0")
    if ca:
        env["CAIRN_E2E_CA_FILE"] = ca
    r = subprocess.run(["ip", "netns", "exec", c.ns(c.CLIENT), exe, "--ignored", "--exact", "against_running_pods",
                        "--nocapture", "--test-threads=1"], capture_output=True, text=True, env=env, timeout=120)
    line = next((x for x in r.stdout.splitlines() if "E2E-RESULT " in x), None)
    assert r.returncode == 0 and line, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(line.split("E2E-RESULT ", 1)[1])


def _docs(path: Path) -> list[dict]:
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]


def render(path: Path) -> list[dict]:
    """What `cairn-operator render -f path -o json` prints, plus the input's own Secrets and
    ConfigMaps (the configuration Secret is the user's, not rendered)."""
    out = subprocess.run([str(operator_bin()), "render", "-f", str(path), "-o", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, f"render failed ({out.returncode}):\n{out.stderr}"
    rendered = json.loads(out.stdout)
    objects = rendered["items"] if isinstance(rendered, dict) and "items" in rendered else rendered
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for d in _docs(path):
        if d.get("kind") in ("Secret", "ConfigMap") and (d["kind"], d["metadata"]["name"]) not in names:
            objects.append(d)
    return objects


@contextmanager
def pod_network(tmp_path: Path, objects: list[dict]):
    """The pods' namespaces, Service proxy and application namespace; no pod started."""
    if EXTERNAL:
        pytest.skip("needs its own cairn processes")
    why = netns_available()
    if why:
        pytest.fail(f"the pod-level test needs network namespaces: {why}", pytrace=False)
    c = PodCluster(tmp_path, objects, session_binary())
    try:
        c.setup()
        yield c
    finally:
        c.teardown()


@contextmanager
def running(tmp_path: Path, objects: list[dict], ready_timeout: float = 90):
    """Every pod started and ready."""
    with pod_network(tmp_path, objects) as c:
        for p in c.pods:
            c.start(p.name)
        c.wait_ready(timeout=ready_timeout)
        yield c


def tenant(objects: list[dict]) -> tuple[str, str, str, str | None]:
    """(S3 Service name, root user, root password, CA file content or None) of the rendered tenant."""
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    env_file = next(e["value"] for e in c["env"] if e["name"] == "CAIRN_CONFIG_ENV_FILE")
    mount = next(m for m in c["volumeMounts"] if env_file.startswith(m["mountPath"] + "/"))
    vol = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    config = secret_data(next(o for o in objects if o["kind"] == "Secret"
                              and o["metadata"]["name"] == vol["secret"]["secretName"]))["config.env"]
    vals = {}
    for line in config.decode().splitlines():
        if "=" in line:
            k, v = line.strip().removeprefix("export ").split("=", 1)
            vals[k.strip()] = v.strip().strip('"')
    user = vals.get("CAIRN_ROOT_USER") or vals["MINIO_ROOT_USER"]
    password = vals.get("CAIRN_ROOT_PASSWORD") or vals["MINIO_ROOT_PASSWORD"]
    inst = sts["metadata"]["labels"]["app.kubernetes.io/instance"]
    svc = next(o["metadata"]["name"] for o in objects if o["kind"] == "Service"
               and o["spec"].get("clusterIP") != "None" and not o["metadata"]["name"].endswith("-console"))
    ca = next((configmap["data"]["ca.crt"] for configmap in objects if configmap["kind"] == "ConfigMap"
               and configmap["metadata"]["name"] == f"{inst}-ca"), None)
    return svc, user, password, ca


CLIENT_PRELUDE = """
import boto3, json, sys, ssl, urllib.request
from botocore.config import Config
ENDPOINT, CA, USER, PASSWORD = {endpoint!r}, {ca!r}, {user!r}, {password!r}
def s3(endpoint=ENDPOINT):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=USER, aws_secret_access_key=PASSWORD,
                        region_name="us-east-1", verify=CA if CA else None,
                        config=Config(s3={{"addressing_style": "path"}}, retries={{"total_max_attempts": 1}},
                                      connect_timeout=5, read_timeout=30))
def status(url):
    ctx = ssl.create_default_context(cafile=CA) if CA else None
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return repr(e)
"""


class App:
    """The application pod's view of the tenant."""

    def __init__(self, c: PodCluster, objects: list[dict]):
        self.c = c
        svc, self.user, self.password, ca = tenant(objects)
        self.scheme = c.statefulsets[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["scheme"].lower()
        self.ca = None
        if self.scheme == "https":
            assert ca, "TLS tenant without a published CA ConfigMap"
            self.ca = str(c.root / "client-ca.crt")
            Path(self.ca).write_text(ca)
        ports = [pt["port"] for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == svc
                 for pt in o["spec"]["ports"]]
        host = f"{svc}.{c.namespace}.svc.{c.domain}"
        # what applications are told to use: the scheme's own port (443/80), through the Service
        default = {"https": 443, "http": 80}[self.scheme]
        assert default in ports and 9000 in ports, ports
        self.endpoint = f"{self.scheme}://{host}"
        self.endpoint_9000 = f"{self.scheme}://{host}:9000"

    def url(self, name: str) -> str:
        p = self.c.pod(name)
        return f"{self.scheme}://{p.fqdn}:{p.port('s3')}"

    def run(self, body: str, timeout: float = 120) -> subprocess.CompletedProcess:
        prelude = CLIENT_PRELUDE.format(endpoint=self.endpoint, ca=self.ca, user=self.user, password=self.password)
        return self.c.client(prelude + body, timeout=timeout)

    def as_user(self, access_key: str, secret_key: str, body: str, timeout: float = 120) -> str:
        """Runs `body` with `s3()` signing as this user instead of the root user."""
        prelude = CLIENT_PRELUDE.format(endpoint=self.endpoint, ca=self.ca, user=access_key, password=secret_key)
        r = self.c.client(prelude + body, timeout=timeout)
        assert r.returncode == 0, r.stderr[-4000:] + "\n" + self.c.tails()
        return r.stdout

    def ok(self, body: str, timeout: float = 120) -> str:
        r = self.run(body, timeout)
        assert r.returncode == 0, r.stderr[-4000:] + "\n" + self.c.tails()
        return r.stdout

    def until(self, body: str, want: str, timeout: float) -> str:
        """Runs `body` until it succeeds and prints `want` (stripped), within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.run(body)
            if r.returncode == 0 and r.stdout.strip() == want:
                return r.stdout
            if time.monotonic() > deadline:
                raise AssertionError(f"wanted {want!r} within {timeout}s, got {r.stdout!r}\n{r.stderr[-3000:]}")
            time.sleep(0.5)


def proc_status(c: PodCluster, name: str) -> dict[str, str]:
    pid = c.procs[name].pid
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines)}


class MatrixTenant:
    """The Matrix example's pods (4 x 2, TLS), provisioned once by the operator's reconcile
    step, as every application test sees them: run a program in the application namespace,
    read an application user's keys from its Secret."""

    def __init__(self, root: Path, c: PodCluster, objects: list[dict], first_view: dict):
        self.root, self.c, self.objects, self.first_view = root, c, objects, first_view
        self.app = App(c, objects)

    def keys(self, secret_name: str) -> tuple[str, str]:
        data = secret_data(next(o for o in self.objects if o["kind"] == "Secret"
                                and o["metadata"]["name"] == secret_name))
        return data["CONSOLE_ACCESS_KEY"].decode(), data["CONSOLE_SECRET_KEY"].decode()

    def run(self, argv: list[str], env: dict | None = None, timeout: float = 300, cwd: Path | None = None,
            check: bool = True, user: str | None = None) -> subprocess.CompletedProcess:
        """Runs `argv` in the application namespace (as `user` when given), without the
        machine's global CA-bundle settings (the tenant CA is passed explicitly)."""
        base = {k: v for k, v in os.environ.items()
                if k not in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
                and not k.startswith(("AWS_", "CAIRN_", "MINIO_"))}
        base.update(env or {})
        prefix = ["ip", "netns", "exec", self.c.ns(self.c.CLIENT)]
        if user:
            prefix += ["runuser", "-u", user, "--"]
        r = subprocess.run(prefix + argv, env=base, capture_output=True, text=True, timeout=timeout, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv[:4])} ... failed (rc {r.returncode})\nstdout:\n{r.stdout[-4000:]}\n"
                                 f"stderr:\n{r.stderr[-4000:]}\n" + self.c.tails())
        return r


# Testing aids the servers read (storage-node/src/heal/mod.rs): the first scanner cycle a
# second after start and then every 5 s, so that the data usage the dashboard shows covers
# the buckets the operator creates after start-up within the tests' time.
TEST_AIDS = {"CAIRN_SCANNER_START_DELAY": "1s", "CAIRN_SCANNER_CYCLE": "5s"}


def with_test_aids(objects: list[dict]) -> list[dict]:
    """`objects` with TEST_AIDS in every StatefulSet's server container, as a user would set
    them through the Tenant's `env`."""
    for o in objects:
        if o["kind"] == "StatefulSet":
            for c in o["spec"]["template"]["spec"]["containers"]:
                c.setdefault("env", []).extend({"name": k, "value": v} for k, v in TEST_AIDS.items())
    return objects


@contextmanager
def matrix_tenant(root: Path):
    objects = with_test_aids(render(MATRIX))
    with running(root, objects) as c:
        app = App(c, objects)
        view = operator_view(c, MATRIX, app.ca, provision=True)
        yield MatrixTenant(root, c, objects, view)
