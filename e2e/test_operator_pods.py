"""Pod-level end-to-end test of the operator's output: `cairn-operator render` turns the
Matrix example into Kubernetes objects; this test runs the pods its StatefulSet describes as
real `cairn` processes, each in its own network namespace (own address on a private bridge,
a hosts file resolving the pod and Service DNS names, as cluster DNS would) and its own mount
namespace (every volume of the pod spec mounted at its mountPath: the configuration Secret,
the TLS Secret as a projected volume, emptyDir, and one directory per volumeClaimTemplate),
with exactly the rendered command, arguments and environment. A fifth namespace plays an
application pod (Synapse, CloudNativePG): boto3 there reaches the tenant through the S3
Service name over HTTPS, trusting only the CA the operator published."""

from __future__ import annotations

import base64
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import EXTERNAL, REPO, session_binary
from netcluster import netns_available

pytestmark = [pytest.mark.needs_process, pytest.mark.cluster]

EXAMPLE = REPO / "manifests" / "examples" / "matrix"
NAMESPACE = "matrix"
DOMAIN = "cluster.local"


def operator_bin() -> Path:
    env = os.environ.get("CAIRN_OPERATOR_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    b = target / "debug" / "cairn-operator"
    if not b.exists():
        subprocess.run(["cargo", "build", "-q", "-p", "cairn-operator", "--locked"], cwd=REPO, check=True)
    return b


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def secret_data(obj: dict) -> dict[str, bytes]:
    out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return out


class Pods:
    """The pods of one StatefulSet, started from its rendered spec."""

    def __init__(self, root: Path, objects: list[dict], binary: Path):
        self.root = root
        self.objects = objects
        self.sts = next(o for o in objects if o["kind"] == "StatefulSet")
        self.replicas = self.sts["spec"]["replicas"]
        self.name = self.sts["metadata"]["name"]
        self.service = self.sts["spec"]["serviceName"]
        self.secrets = {o["metadata"]["name"]: secret_data(o) for o in objects if o["kind"] == "Secret"}
        self.configmaps = {o["metadata"]["name"]: {k: v.encode() for k, v in (o.get("data") or {}).items()}
                           for o in objects if o["kind"] == "ConfigMap"}
        tag = f"{os.getpid() % 1000:03d}{random.randrange(100):02d}"
        self.tag = tag
        self.net = f"10.78.{random.randrange(1, 250)}"
        self.bridge = f"pbr{tag}"
        self.procs: dict[int, subprocess.Popen] = {}
        self.made_dirs: list[Path] = []
        # The image's PATH: the binary lives outside /tmp, which the pod mounts over.
        self.bindir = Path(f"/run/cairn-e2e-pods-{tag}")
        self.bindir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, self.bindir / "cairn")
        self.up = False

    # -- names --------------------------------------------------------------------------------
    def pod(self, i: int) -> str:
        return f"{self.name}-{i}"

    def fqdn(self, i: int) -> str:
        return f"{self.pod(i)}.{self.service}.{NAMESPACE}.svc.{DOMAIN}"

    def ns(self, i: int) -> str:
        return f"pns{self.tag}-{i}"

    def addr(self, i: int) -> str:
        return f"{self.net}.{i + 1}"

    CLIENT = 200

    def hosts(self) -> str:
        lines = ["127.0.0.1 localhost"]
        for i in range(self.replicas):
            lines.append(f"{self.addr(i)} {self.fqdn(i)} {self.pod(i)}.{self.service}.{NAMESPACE}.svc {self.pod(i)}")
        # the S3 Service, as kube-proxy would route it (to pod 0)
        for svc in (o for o in self.objects if o["kind"] == "Service" and o["metadata"]["name"] != self.service):
            n = svc["metadata"]["name"]
            lines.append(f"{self.addr(0)} {n}.{NAMESPACE}.svc.{DOMAIN} {n}.{NAMESPACE}.svc {n}.{NAMESPACE}")
        return "\n".join(lines) + "\n"

    # -- network ------------------------------------------------------------------------------
    def setup(self):
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self.up = True
        run("ip", "link", "set", self.bridge, "up")
        run("ip", "addr", "add", f"{self.net}.254/24", "dev", self.bridge)
        for i in list(range(self.replicas)) + [self.CLIENT]:
            ns, vh, vn = self.ns(i), f"pvh{self.tag}{i}", f"pvn{self.tag}{i}"
            addr = self.addr(i) if i != self.CLIENT else f"{self.net}.{self.CLIENT}"
            run("ip", "netns", "add", ns)
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(self.hosts())
            run("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
            run("ip", "link", "set", vn, "netns", ns)
            run("ip", "link", "set", vh, "master", self.bridge)
            run("ip", "link", "set", vh, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{addr}/24", "dev", vn)
            run("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def teardown(self):
        for i in list(self.procs):
            self.kill9(i)
        if self.up:
            for i in list(range(self.replicas)) + [self.CLIENT]:
                run("ip", "netns", "del", self.ns(i), check=False)
                run("ip", "link", "del", f"pvh{self.tag}{i}", check=False)
                shutil.rmtree(Path("/etc/netns") / self.ns(i), ignore_errors=True)
            run("ip", "link", "del", self.bridge, check=False)
            self.up = False
        for d in reversed(self.made_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        shutil.rmtree(self.bindir, ignore_errors=True)

    # -- volumes ------------------------------------------------------------------------------
    def _write_items(self, dest: Path, data: dict[str, bytes], items: list[dict] | None):
        for key, value in data.items():
            if items is not None:
                paths = [it["path"] for it in items if it["key"] == key]
            else:
                paths = [key]
            for p in paths:
                f = dest / p
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(value)
                f.chmod(0o440)

    def volume_dirs(self, i: int) -> dict[str, Path]:
        """Materializes every volume of pod i as a directory, by volume name."""
        spec = self.sts["spec"]["template"]["spec"]
        base = self.root / self.pod(i)
        out = {}
        for claim in self.sts["spec"].get("volumeClaimTemplates", []):
            d = base / "pvc" / claim["metadata"]["name"]
            d.mkdir(parents=True, exist_ok=True)
            out[claim["metadata"]["name"]] = d
        for v in spec.get("volumes", []):
            d = base / "vol" / v["name"]
            d.mkdir(parents=True, exist_ok=True)
            if "secret" in v:
                self._write_items(d, self.secrets[v["secret"]["secretName"]], v["secret"].get("items"))
            elif "configMap" in v:
                self._write_items(d, self.configmaps[v["configMap"]["name"]], v["configMap"].get("items"))
            elif "projected" in v:
                for src in v["projected"]["sources"]:
                    if "secret" in src:
                        self._write_items(d, self.secrets[src["secret"]["name"]], src["secret"].get("items"))
                    elif "configMap" in src:
                        self._write_items(d, self.configmaps[src["configMap"]["name"]], src["configMap"].get("items"))
                    else:
                        raise AssertionError(f"projected source not emulated: {src}")
            elif "emptyDir" in v:
                pass
            else:
                raise AssertionError(f"volume type not emulated: {v}")
            out[v["name"]] = d
        return out

    # -- processes ----------------------------------------------------------------------------
    def log(self, i: int) -> Path:
        return self.root / f"{self.pod(i)}.log"

    def start(self, i: int):
        c = self.sts["spec"]["template"]["spec"]["containers"][0]
        vols = self.volume_dirs(i)
        mounts = []
        for m in c.get("volumeMounts", []):
            target = Path(m["mountPath"])
            missing = [d for d in [target, *target.parents] if not d.exists()]
            for d in reversed(missing):
                d.mkdir()
                self.made_dirs.append(d)
            mounts.append(f"mount --bind {shlex.quote(str(vols[m['name']]))} {shlex.quote(str(target))}")
        env = {"PATH": f"{self.bindir}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "NO_COLOR": "1",
               "RUST_LOG": "info"}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "secretKeyRef" in (e.get("valueFrom") or {}):
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = self.secrets[ref["name"]][ref["key"]].decode()
            else:
                raise AssertionError(f"env source not emulated: {e}")
        argv = c["command"] + c.get("args", [])
        script = " && ".join(mounts + ["exec " + " ".join(shlex.quote(a) for a in argv)])
        with open(self.log(i), "ab") as log:
            log.write(f"\n===== e2e: start {self.pod(i)}: {script}\n".encode())
            log.flush()
            self.procs[i] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(i), "unshare", "-m", "--propagation", "private", "sh", "-c", script],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def kill9(self, i: int):
        p = self.procs.pop(i, None)
        if p and p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait(timeout=30)

    def tail(self, i: int) -> str:
        try:
            return f"--- {self.pod(i)} ---\n" + self.log(i).read_bytes()[-6000:].decode(errors="replace")
        except OSError as e:
            return str(e)

    # -- the application pod ------------------------------------------------------------------
    def client(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs Python `script` (boto3 available) in the application namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns(self.CLIENT), sys.executable, "-c", script],
                              capture_output=True, text=True, timeout=timeout)


CLIENT_PRELUDE = """
import boto3, json, sys, ssl, urllib.request
from botocore.config import Config
ENDPOINT, CA, USER, PASSWORD = {endpoint!r}, {ca!r}, {user!r}, {password!r}
def s3(endpoint=ENDPOINT):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=USER, aws_secret_access_key=PASSWORD,
                        region_name="us-east-1", verify=CA,
                        config=Config(s3={{"addressing_style": "path"}}, retries={{"total_max_attempts": 1}},
                                      connect_timeout=5, read_timeout=30))
def status(url):
    ctx = ssl.create_default_context(cafile=CA)
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return repr(e)
"""


@pytest.fixture(scope="module")
def pods(tmp_path_factory):
    if EXTERNAL:
        pytest.skip("needs its own cairn processes")
    why = netns_available()
    if why:
        pytest.fail(f"the pod-level test needs network namespaces: {why}", pytrace=False)
    out = subprocess.run([str(operator_bin()), "render", "-f", str(EXAMPLE), "-o", "json"],
                         capture_output=True, text=True, check=True)
    rendered = json.loads(out.stdout)
    objects = rendered["items"] if isinstance(rendered, dict) and "items" in rendered else rendered
    # the example's own Secrets (configuration, users) sit beside the rendered ones
    for doc in yaml.safe_load_all((EXAMPLE / "secrets.yaml").read_text()):
        if doc:
            objects.append(doc)
    p = Pods(tmp_path_factory.mktemp("pods"), objects, session_binary())
    try:
        p.setup()
        for i in range(p.replicas):
            p.start(i)
        yield p
    finally:
        p.teardown()


def _config(p: Pods) -> tuple[str, str]:
    env = p.secrets["matrix-minio-env"]["config.env"].decode()
    vals = dict(line.removeprefix("export ").split("=", 1) for line in env.splitlines() if "=" in line)
    return vals["MINIO_ROOT_USER"].strip('"'), vals["MINIO_ROOT_PASSWORD"].strip('"')


def test_rendered_pods_form_a_tls_cluster_that_applications_use(pods):
    p = pods
    user, password = _config(p)
    ca = p.root / "client-ca.crt"
    ca.write_bytes(p.configmaps["matrix-minio-ca"]["ca.crt"])
    probe = p.sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    s3_service = next(o for o in p.objects if o["kind"] == "Service" and o["metadata"]["name"] == "minio")
    port = next(pt["port"] for pt in s3_service["spec"]["ports"] if pt["port"] == 9000)
    endpoint = f"https://minio.{NAMESPACE}.svc.{DOMAIN}:{port}"
    prelude = CLIENT_PRELUDE.format(endpoint=endpoint, ca=str(ca), user=user, password=password)
    scheme = probe["scheme"].lower()

    # readiness through the rendered probe, on every pod, by its DNS name
    deadline = time.monotonic() + 90
    pending = set(range(p.replicas))
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            assert p.procs[i].poll() is None, f"pod {i} exited:\n{p.tail(i)}"
        r = p.client(prelude + "".join(
            f"print({i}, status('{scheme}://{p.fqdn(i)}:9000{probe['path']}'))\n" for i in sorted(pending)))
        for line in r.stdout.splitlines():
            i, code = line.split(" ", 1)
            if code == "200":
                pending.discard(int(i))
        time.sleep(1)
    assert not pending, f"pods {sorted(pending)} not ready:\n" + "\n".join(p.tail(i) for i in pending) + r.stderr

    # provisioning's buckets, objects through the Service and through each pod
    buckets = ["synapse-media", "synapse-media-li", "postgresql-backups"]
    pod_urls = [f"https://{p.fqdn(i)}:9000" for i in range(p.replicas)]
    script = prelude + f"""
c = s3()
for b in {buckets!r}:
    c.create_bucket(Bucket=b)
c.put_object(Bucket="synapse-media", Key="local_content/ab/cd/file", Body=b"x" * 300000)
for i, url in enumerate({pod_urls!r}):
    pod = s3(url)
    body = pod.get_object(Bucket="synapse-media", Key="local_content/ab/cd/file")["Body"].read()
    assert body == b"x" * 300000, i
    pod.put_object(Bucket="postgresql-backups", Key=f"wal/{{i}}", Body=bytes([i]) * 70000)
names = sorted(b["Name"] for b in c.list_buckets()["Buckets"])
keys = sorted(o["Key"] for o in c.list_objects_v2(Bucket="postgresql-backups")["Contents"])
print(json.dumps({{"buckets": names, "keys": keys}}))
"""
    r = p.client(script)
    assert r.returncode == 0, r.stderr + "\n".join(p.tail(i) for i in range(p.replicas))
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["buckets"] == sorted(buckets)
    assert seen["keys"] == [f"wal/{i}" for i in range(p.replicas)]

    # one pod down (what the PodDisruptionBudget allows): reads and writes go on, and the
    # others say that taking one more down would cost write quorum
    pdb = next(o for o in p.objects if o["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == p.replicas - 1
    p.kill9(p.replicas - 1)
    script = prelude + f"""
c = s3()
c.put_object(Bucket="synapse-media", Key="while-one-down", Body=b"y" * 200000)
assert c.get_object(Bucket="synapse-media", Key="local_content/ab/cd/file")["Body"].read() == b"x" * 300000
print(status("https://{p.fqdn(0)}:9000/minio/health/cluster"),
      status("https://{p.fqdn(0)}:9000/minio/health/cluster?maintenance=true"))
"""
    deadline = time.monotonic() + 30
    while True:
        r = p.client(script)
        if r.returncode == 0 and r.stdout.split() == ["200", "412"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", "412"], r.stdout

    # the pod comes back: it serves what was written while it was down, and the cluster can
    # afford a disruption again
    back = p.replicas - 1
    p.start(back)
    script = prelude + f"""
c = s3({pod_urls[back]!r})
assert c.get_object(Bucket="synapse-media", Key="while-one-down")["Body"].read() == b"y" * 200000
print(status("https://{p.fqdn(back)}:9000/minio/health/cluster?maintenance=true"))
"""
    deadline = time.monotonic() + 60
    while True:
        assert p.procs[back].poll() is None, p.tail(back)
        r = p.client(script)
        if r.returncode == 0 and r.stdout.split() == ["200"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0 and r.stdout.split() == ["200"], r.stdout + r.stderr + p.tail(back)
