"""Runs the pods that rendered StatefulSets describe as real processes, as a kubelet would.

Given the objects `cairn-operator render -o json` prints (plus the user's own Secrets), every
replica of every StatefulSet becomes one process tree:

* its own network namespace with its own address on a private bridge, and a hosts file (what
  `ip netns exec` mounts over /etc/hosts) resolving every pod's DNS name
  `<pod>.<serviceName>.<ns>.svc.<domain>` and every Service's name to its cluster IP;
* Services with a selector (not headless) get a cluster IP in a namespace of their own where a
  proxy, as kube-proxy's userspace mode was, accepts on every Service port and forwards each
  connection to the next ready pod (round robin) on the resolved targetPort; a pod is an
  endpoint once its readiness probe passed and stops being one when it is killed;
* its own UTS namespace with the pod name as host name, and `HOSTNAME`, as in a pod;
* its own mount namespace in which every volume of the pod spec is mounted at its mountPath:
  Secret, ConfigMap and projected volumes as files (items, `defaultMode`/`mode`, owned by root
  and the pod's fsGroup with group read, as the kubelet writes them), `emptyDir` as an empty
  world-writable directory, and one fresh directory per volumeClaimTemplate (group fsGroup,
  setgid); `readOnly` mounts read-only; `readOnlyRootFilesystem` makes / read-only;
* the container's security context: `runAsUser`/`runAsGroup`, the fsGroup and
  `supplementalGroups` as supplementary groups, `allowPrivilegeEscalation: false` as
  no_new_privs, `capabilities.drop: [ALL]` as an empty bounding set; `runAsNonRoot` is
  checked as the kubelet does;
* exactly the rendered `command` + `args` (nothing substituted) and the rendered `env`
  (`value`, `secretKeyRef`, `configMapKeyRef`, `fieldRef`, `envFrom`) on top of the image's
  environment (`PATH`, `HOME=/` for a user without a passwd entry).

Probes are run as the kubelet runs them: from the host, to the pod's address, named ports
resolved through the container's ports, HTTPS without certificate verification.

Not emulated: seccomp, resource limits, scheduling, the image's file system (the host's is
used, read-only). Needs root (`ip netns`, `unshare`, `setpriv`). Everything is removed by
`teardown()`, which also runs at interpreter exit."""

from __future__ import annotations

import atexit
import base64
import fcntl
import json
import os
import random
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Mount points such as /export0 or /etc/cairn/certs must exist on the host's root file system.
# Runs of this module (other suites, other engineers) share them: every run holds a shared
# lock while its pods run and notes the directories it made; the last one out removes them
# all (an rmdir would otherwise detach them from another run's pods).
SHARED_LOCK = Path("/run/cairn-e2e-pods.lock")
SHARED_DIRS = Path("/run/cairn-e2e-pods.dirs")


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def secret_data(obj: dict) -> dict[str, bytes]:
    out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return out


def configmap_data(obj: dict) -> dict[str, bytes]:
    out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


@dataclass
class Pod:
    sts: dict
    ordinal: int
    index: int  # position in the cluster: address, namespace names
    namespace: str
    domain: str

    @property
    def name(self) -> str:
        return f"{self.sts['metadata']['name']}-{self.ordinal}"

    @property
    def service(self) -> str:
        return self.sts["spec"]["serviceName"]

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.service}.{self.namespace}.svc.{self.domain}"

    @property
    def spec(self) -> dict:
        return self.sts["spec"]["template"]["spec"]

    @property
    def container(self) -> dict:
        return self.spec["containers"][0]

    @property
    def labels(self) -> dict:
        return self.sts["spec"]["template"]["metadata"].get("labels", {})

    def port(self, port) -> int:
        """A container port by number or name."""
        if isinstance(port, int):
            return port
        if str(port).isdigit():
            return int(port)
        return next(p["containerPort"] for p in self.container.get("ports", []) if p.get("name") == port)


_live: list["PodCluster"] = []


@atexit.register
def _teardown_all():
    for c in list(_live):
        c.teardown()


class PodCluster:
    """Every pod of every StatefulSet in `objects`, plus one application namespace."""

    def __init__(self, root: Path, objects: list[dict], binary: Path, domain: str = "cluster.local"):
        self.root = root
        self.objects = objects
        self.domain = domain
        self.statefulsets = [o for o in objects if o["kind"] == "StatefulSet"]
        assert self.statefulsets, "no StatefulSet rendered"
        self.namespace = self.statefulsets[0]["metadata"].get("namespace", "default")
        self.pods: list[Pod] = []
        for sts in self.statefulsets:
            for ordinal in range(sts["spec"]["replicas"]):
                self.pods.append(Pod(sts, ordinal, len(self.pods), self.namespace, domain))
        assert len(self.pods) < 200
        self.secrets = {o["metadata"]["name"]: secret_data(o) for o in objects if o["kind"] == "Secret"}
        self.configmaps = {o["metadata"]["name"]: configmap_data(o) for o in objects if o["kind"] == "ConfigMap"}
        self.tag = f"{os.getpid() % 1000:03d}{random.randrange(100):02d}"
        self.net = f"10.78.{random.randrange(1, 250)}"
        self.bridge = f"pbr{self.tag}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.up = False
        self.ready: set[str] = set()  # pods whose readiness probe passed since they started
        self.proxy: subprocess.Popen | None = None
        self.lock = open(SHARED_LOCK, "a+")
        fcntl.flock(self.lock, fcntl.LOCK_SH)
        # The image's /usr/local/bin: outside /tmp, which the pods mount over.
        self.bindir = Path(f"/run/cairn-e2e-pods-{self.tag}")
        self.bindir.mkdir(parents=True, exist_ok=True)
        self.bindir.chmod(0o755)
        shutil.copy2(binary, self.bindir / "cairn")
        (self.bindir / "cairn").chmod(0o755)
        _live.append(self)

    # -- names and addresses ------------------------------------------------------------------
    CLIENT = 200
    SERVICES = 201  # the Services' namespace; cluster IPs from .210 on

    def pod(self, name: str) -> Pod:
        return next(p for p in self.pods if p.name == name)

    def ns(self, index: int) -> str:
        return f"pns{self.tag}-{index}"

    def addr(self, index: int) -> str:
        return f"{self.net}.{index + 1}"

    def selected(self, selector: dict) -> list[Pod]:
        return [p for p in self.pods if all(p.labels.get(k) == v for k, v in selector.items())]

    def services(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] == "Service"]

    def proxied(self) -> list[dict]:
        """Services that get a cluster IP and a proxy: a selector, not headless."""
        return [o for o in self.services()
                if o["spec"].get("clusterIP") != "None" and o["spec"].get("selector")]

    def cluster_ip(self, name: str) -> str:
        k = [o["metadata"]["name"] for o in self.proxied()].index(name)
        assert k < 40
        return f"{self.net}.{210 + k}"

    def hosts(self) -> str:
        lines = ["127.0.0.1 localhost"]
        for p in self.pods:
            short = f"{p.name}.{p.service}.{self.namespace}"
            lines.append(f"{self.addr(p.index)} {p.fqdn} {short}.svc {short} {p.name}")
        for svc in self.proxied():
            n = svc["metadata"]["name"]
            lines.append(f"{self.cluster_ip(n)} {n}.{self.namespace}.svc.{self.domain} "
                         f"{n}.{self.namespace}.svc {n}.{self.namespace} {n}")
        return "\n".join(lines) + "\n"

    def endpoints_file(self, name: str) -> Path:
        return self.root / "endpoints" / name

    def update_endpoints(self):
        """What the endpoints controller publishes: the ready pods each Service selects."""
        for svc in self.proxied():
            n = svc["metadata"]["name"]
            ready = [self.addr(p.index) for p in self.selected(svc["spec"]["selector"]) if p.name in self.ready]
            f = self.endpoints_file(n)
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(".tmp")
            tmp.write_text("".join(f"{a}\n" for a in ready))
            tmp.rename(f)

    def start_proxy(self, timeout: float = 20):
        listeners = []
        for svc in self.proxied():
            n = svc["metadata"]["name"]
            pods = self.selected(svc["spec"]["selector"])
            for pt in svc["spec"]["ports"]:
                targets = {pod.port(pt.get("targetPort", pt["port"])) for pod in pods}
                assert len(targets) == 1, f"Service {n} port {pt}: pods disagree on the target port {targets}"
                listeners.append({"ip": self.cluster_ip(n), "port": pt["port"], "target": targets.pop(),
                                  "endpoints": str(self.endpoints_file(n))})
        self.update_endpoints()
        cfg = self.root / "proxy.json"
        ready = self.root / "proxy.ready"
        cfg.write_text(json.dumps({"listeners": listeners, "ready": str(ready)}))
        log = open(self.root / "proxy.log", "ab")
        self.proxy = subprocess.Popen(["ip", "netns", "exec", self.ns(self.SERVICES), sys.executable, "-c", _PROXY,
                                       str(cfg)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while not ready.exists():
            assert self.proxy.poll() is None, (self.root / "proxy.log").read_text()
            assert time.monotonic() < deadline, "the Service proxy did not start"
            time.sleep(0.05)

    # -- network ------------------------------------------------------------------------------
    def setup(self):
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        self.up = True
        _run("ip", "link", "set", self.bridge, "up")
        _run("ip", "addr", "add", f"{self.net}.254/24", "dev", self.bridge)
        hosts = self.hosts()
        for idx in [p.index for p in self.pods] + [self.CLIENT, self.SERVICES]:
            ns, vh, vn = self.ns(idx), f"pvh{self.tag}{idx}", f"pvn{self.tag}{idx}"
            _run("ip", "netns", "add", ns)
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(hosts)
            _run("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
            _run("ip", "link", "set", vn, "netns", ns)
            _run("ip", "link", "set", vh, "master", self.bridge)
            _run("ip", "link", "set", vh, "up")
            _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.addr(idx)}/24", "dev", vn)
            _run("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
            _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        for svc in self.proxied():
            _run("ip", "netns", "exec", self.ns(self.SERVICES), "ip", "addr", "add",
                 f"{self.cluster_ip(svc['metadata']['name'])}/24", "dev", f"pvn{self.tag}{self.SERVICES}")
        self.start_proxy()

    def teardown(self):
        for name in list(self.procs):
            self.kill9(name)
        if self.proxy is not None:
            if self.proxy.poll() is None:
                os.killpg(self.proxy.pid, signal.SIGKILL)
            self.proxy.wait(timeout=30)
            self.proxy = None
        if self.up:
            for idx in [p.index for p in self.pods] + [self.CLIENT, self.SERVICES]:
                _run("ip", "netns", "del", self.ns(idx), check=False)
                _run("ip", "link", "del", f"pvh{self.tag}{idx}", check=False)
                shutil.rmtree(Path("/etc/netns") / self.ns(idx), ignore_errors=True)
            _run("ip", "link", "del", self.bridge, check=False)
            self.up = False
        shutil.rmtree(self.bindir, ignore_errors=True)
        if self.lock is not None:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another run's pods still use the mount points
            else:
                made = SHARED_DIRS.read_text().split("\n") if SHARED_DIRS.exists() else []
                for d in sorted({m for m in made if m}, key=len, reverse=True):
                    try:
                        Path(d).rmdir()
                    except OSError:
                        pass
                SHARED_DIRS.unlink(missing_ok=True)
            self.lock.close()
            self.lock = None
        if self in _live:
            _live.remove(self)

    # -- volumes ------------------------------------------------------------------------------
    def _fs_group(self, pod: Pod) -> int | None:
        return (pod.spec.get("securityContext") or {}).get("fsGroup")

    def _write_items(self, pod: Pod, dest: Path, data: dict[str, bytes], items: list[dict] | None,
                     default_mode: int | None, what: str):
        fs_group = self._fs_group(pod)
        if items is not None:
            missing = [it["key"] for it in items if it["key"] not in data]
            assert not missing, f"pod {pod.name}: {what} has no key(s) {missing}"
            chosen = [(it["key"], it["path"], it.get("mode")) for it in items]
        else:
            chosen = [(k, k, None) for k in data]
        for key, path, mode in chosen:
            f = dest / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data[key])
            m = mode if mode is not None else (default_mode if default_mode is not None else 0o644)
            if fs_group is not None:
                os.chown(f, 0, fs_group)
                m |= 0o440  # the kubelet's SetVolumeOwnership for read-only volumes
            f.chmod(m)

    def _secret(self, pod: Pod, name: str, optional: bool) -> dict[str, bytes]:
        if name not in self.secrets:
            assert optional, f"pod {pod.name} needs Secret {name}, which neither render nor the inputs have"
            return {}
        return self.secrets[name]

    def _configmap(self, pod: Pod, name: str, optional: bool) -> dict[str, bytes]:
        if name not in self.configmaps:
            assert optional, f"pod {pod.name} needs ConfigMap {name}, which neither render nor the inputs have"
            return {}
        return self.configmaps[name]

    def volume_dirs(self, pod: Pod) -> dict[str, Path]:
        """Materializes every volume of the pod as a directory, by volume name. Claims keep
        their content across restarts of the pod (they are its PersistentVolumes)."""
        base = self.root / pod.name
        fs_group = self._fs_group(pod)
        out = {}
        for claim in pod.sts["spec"].get("volumeClaimTemplates", []):
            d = base / "pvc" / claim["metadata"]["name"]
            if not d.exists():
                d.mkdir(parents=True)
                if fs_group is not None:
                    os.chown(d, 0, fs_group)
                    d.chmod(0o2775)
            out[claim["metadata"]["name"]] = d
        vol_base = base / f"vol-{time.monotonic_ns()}"
        for v in pod.spec.get("volumes", []):
            d = vol_base / v["name"]
            d.mkdir(parents=True)
            if "secret" in v:
                s = v["secret"]
                self._write_items(pod, d, self._secret(pod, s["secretName"], s.get("optional", False)),
                                  s.get("items"), s.get("defaultMode"), f"Secret {s['secretName']}")
            elif "configMap" in v:
                c = v["configMap"]
                self._write_items(pod, d, self._configmap(pod, c["name"], c.get("optional", False)),
                                  c.get("items"), c.get("defaultMode"), f"ConfigMap {c['name']}")
            elif "projected" in v:
                default_mode = v["projected"].get("defaultMode")
                for src in v["projected"]["sources"]:
                    if "secret" in src:
                        s = src["secret"]
                        self._write_items(pod, d, self._secret(pod, s["name"], s.get("optional", False)),
                                          s.get("items"), default_mode, f"Secret {s['name']}")
                    elif "configMap" in src:
                        c = src["configMap"]
                        self._write_items(pod, d, self._configmap(pod, c["name"], c.get("optional", False)),
                                          c.get("items"), default_mode, f"ConfigMap {c['name']}")
                    else:
                        raise AssertionError(f"projected source not emulated: {src}")
                for sub in [d, *[x for x in d.rglob("*") if x.is_dir()]]:
                    sub.chmod(0o755)
            elif "emptyDir" in v:
                d.chmod(0o777)
                if fs_group is not None:
                    os.chown(d, 0, fs_group)
                    d.chmod(0o2777)
            else:
                raise AssertionError(f"volume type not emulated: {v}")
            out[v["name"]] = d
        return out

    # -- the container ------------------------------------------------------------------------
    def env(self, pod: Pod) -> dict[str, str]:
        c = pod.container
        env = {"PATH": f"{self.bindir}:{IMAGE_PATH}", "HOSTNAME": pod.name, "HOME": "/"}
        for src in c.get("envFrom", []):
            prefix = src.get("prefix", "")
            if "secretRef" in src:
                data = self._secret(pod, src["secretRef"]["name"], src["secretRef"].get("optional", False))
            else:
                data = self._configmap(pod, src["configMapRef"]["name"], src["configMapRef"].get("optional", False))
            env.update({prefix + k: v.decode() for k, v in data.items()})
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            vf = e.get("valueFrom") or {}
            if "secretKeyRef" in vf:
                ref = vf["secretKeyRef"]
                data = self._secret(pod, ref["name"], ref.get("optional", False))
            elif "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                data = self._configmap(pod, ref["name"], ref.get("optional", False))
            elif "fieldRef" in vf:
                field = vf["fieldRef"]["fieldPath"]
                env[e["name"]] = {"metadata.name": pod.name, "metadata.namespace": self.namespace,
                                  "status.podIP": self.addr(pod.index), "spec.nodeName": "e2e-node",
                                  "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
                                  }[field]
                continue
            else:
                raise AssertionError(f"env source not emulated: {e}")
            if ref["key"] in data:
                env[e["name"]] = data[ref["key"]].decode()
            else:
                assert ref.get("optional", False), f"pod {pod.name}: env {e['name']}: no key {ref['key']} in {ref['name']}"
        return env

    def security(self, pod: Pod) -> tuple[list[str], bool]:
        """The setpriv options for the container's security context, and readOnlyRootFilesystem."""
        psc = pod.spec.get("securityContext") or {}
        csc = pod.container.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot", False))
        if uid is None:
            uid = 1000  # the image's USER (Dockerfile: USER 1000:1000)
            gid = 1000 if gid is None else gid
        if non_root:
            assert uid != 0, f"pod {pod.name}: runAsNonRoot with user 0: the kubelet would refuse it"
        gid = 0 if gid is None else gid
        groups = [gid]
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        groups += psc.get("supplementalGroups", [])
        opts = [f"--reuid={uid}", f"--regid={gid}", "--groups=" + ",".join(str(g) for g in dict.fromkeys(groups))]
        if csc.get("allowPrivilegeEscalation") is False:
            opts.append("--no-new-privs")
        drop = [c.upper() for c in (csc.get("capabilities") or {}).get("drop", [])]
        if "ALL" in drop:
            opts += ["--bounding-set=-all", "--inh-caps=-all"]
        return opts, bool(csc.get("readOnlyRootFilesystem"))

    def log(self, pod: Pod) -> Path:
        return self.root / f"{pod.name}.log"

    def start(self, name: str, args: list[str] | None = None):
        """Starts the pod's container; `args` replaces the rendered arguments (a pod created
        from an older revision of its StatefulSet)."""
        pod = self.pod(name)
        assert name not in self.procs or self.procs[name].poll() is not None, f"{name} already runs"
        c = pod.container
        vols = self.volume_dirs(pod)
        steps = []
        for m in c.get("volumeMounts", []):
            target = Path(m["mountPath"])
            missing = [d for d in [target, *target.parents] if not d.exists()]
            if missing:
                with open(SHARED_DIRS, "a") as f:
                    f.write("".join(f"{d}\n" for d in missing))
            for d in reversed(missing):
                d.mkdir(exist_ok=True)
            src = vols[m["name"]] / m.get("subPath", "")
            steps.append(f"mount --bind {shlex.quote(str(src))} {shlex.quote(str(target))}")
            if m.get("readOnly"):
                steps.append(f"mount -o remount,bind,ro {shlex.quote(str(target))}")
        setpriv, ro_root = self.security(pod)
        if ro_root:
            # per-mount flag of this mount namespace's copy of /; the host's / stays writable
            steps.append("mount -o remount,bind,ro /")
        steps.append(f"hostname {shlex.quote(pod.name)}")
        argv = ["setpriv", *setpriv, "--", *c["command"], *(c.get("args", []) if args is None else args)]
        steps.append("exec " + " ".join(shlex.quote(a) for a in argv))
        script = " && ".join(steps)
        with open(self.log(pod), "ab") as log:
            log.write(f"\n===== e2e: start {name}: {script}\n".encode())
            log.flush()
            self.procs[name] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(pod.index), "unshare", "--mount", "--uts", "--propagation",
                 "private", "sh", "-c", script],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env(pod),
                cwd=c.get("workingDir", "/"), start_new_session=True)

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def kill9(self, name: str):
        if name in self.ready:
            self.ready.discard(name)
            if self.proxy is not None:
                self.update_endpoints()
        p = self.procs.pop(name, None)
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)
        with open(self.log(self.pod(name)), "ab") as log:
            log.write(b"\n===== e2e: killed with SIGKILL\n")

    def tail(self, name: str, n: int = 6000) -> str:
        try:
            return f"--- {name} ---\n" + self.log(self.pod(name)).read_bytes()[-n:].decode(errors="replace")
        except OSError as e:
            return str(e)

    def tails(self, names=None) -> str:
        return "\n".join(self.tail(n) for n in (names if names is not None else [p.name for p in self.pods]))

    # -- probes, as the kubelet runs them -----------------------------------------------------
    def probe(self, name: str, kind: str = "readinessProbe") -> int | str:
        """The HTTP status of the pod's rendered probe (or the error)."""
        pod = self.pod(name)
        spec = pod.container[kind]
        get = spec["httpGet"]
        scheme = get.get("scheme", "HTTP").lower()
        url = f"{scheme}://{self.addr(pod.index)}:{pod.port(get['port'])}{get.get('path', '/')}"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the kubelet does not verify probe certificates
        req = urllib.request.Request(url, headers={h["name"]: h["value"] for h in get.get("httpHeaders", [])})
        try:
            with urllib.request.urlopen(req, timeout=spec.get("timeoutSeconds", 1),
                                        context=ctx if scheme == "https" else None) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError as e:
            return repr(e)

    def wait_ready(self, names=None, timeout: float = 90.0):
        """Until the rendered readiness probe succeeds on every named pod (2xx/3xx)."""
        pending = set(names if names is not None else [p.name for p in self.pods])
        deadline = time.monotonic() + timeout
        last = {}
        while pending and time.monotonic() < deadline:
            for n in sorted(pending):
                assert self.alive(n), f"pod {n} exited:\n{self.tail(n)}"
                last[n] = self.probe(n)
                if isinstance(last[n], int) and 200 <= last[n] < 400:
                    pending.discard(n)
                    self.ready.add(n)
                    self.update_endpoints()
            if pending:
                time.sleep(0.3)
        assert not pending, f"pods {sorted(pending)} not ready after {timeout}s ({last}):\n" + self.tails(sorted(pending))

    # -- the application pod ------------------------------------------------------------------
    def client(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs Python `script` (the suite's interpreter: boto3) in the application namespace."""
        return subprocess.run(["ip", "netns", "exec", self.ns(self.CLIENT), sys.executable, "-c", script],
                              capture_output=True, text=True, timeout=timeout)


# The Service proxy: one thread per listener, two per connection. Endpoints are re-read on
# every connection; each connection goes to the next one (round robin).
_PROXY = r"""
import json, socket, sys, threading
cfg = json.load(open(sys.argv[1]))

def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def connection(client, target):
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError as e:
        print(f"{target}: {e}", flush=True)
        client.close()
        return
    upstream.settimeout(None)
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()

def listener(spec, sock):
    turn = 0
    while True:
        client, _ = sock.accept()
        with open(spec["endpoints"]) as f:
            endpoints = [line.strip() for line in f if line.strip()]
        if not endpoints:
            print(f"{spec['ip']}:{spec['port']}: no ready endpoints", flush=True)
            client.close()
            continue
        target = (endpoints[turn % len(endpoints)], spec["target"])
        turn += 1
        threading.Thread(target=connection, args=(client, target), daemon=True).start()

threads = []
for spec in cfg["listeners"]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((spec["ip"], spec["port"]))
    sock.listen(128)
    threads.append(threading.Thread(target=listener, args=(spec, sock), daemon=True))
for t in threads:
    t.start()
open(cfg["ready"], "w").close()
for t in threads:
    t.join()
"""
