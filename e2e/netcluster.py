"""A distributed cairn deployment on one machine: every server runs as a real process in its
own network namespace (its own address on a private bridge) and its own mount namespace
(its drives mounted at the same path as on every other server, as in a pod), started with
the same endpoint list in ellipsis form, exactly as the operator starts pods:

    cairn server --address 10.77.K.I:9000 http://10.77.K.{1...4}:9000/srv/cairn-e2e/export{0...1}

The suite (in the root namespace) reaches every server through the bridge. A partition
takes one server's link down: it can reach no peer and no client outside its namespace.
Needs root (`ip netns`, `unshare -m`); everything is removed at the end."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

MOUNT = "/srv/cairn-e2e"
PORT = 9000
READY_TIMEOUT = 60.0
# A lifecycle day on the cluster's servers, in seconds (as conftest.py's single servers).
LIFECYCLE_DAY_SECONDS = "2"


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def netns_available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root for ip netns"
    for tool in ("ip", "unshare"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            return f"{tool} is not installed"
    return None


class NetCluster:
    def __init__(self, workdir: Path, binary: Path, access_key: str, secret_key: str,
                 servers: int = 4, drives: int = 2):
        self.workdir = workdir
        self.binary = binary
        self.access_key = access_key
        self.secret_key = secret_key
        self.n = servers
        self.drives_per_server = drives
        tag = f"{os.getpid() % 10000:04d}{random.randrange(100):02d}"
        self.tag = tag
        self.net = f"10.77.{random.randrange(1, 250)}"
        self.bridge = f"cbr{tag}"
        self.procs: dict[int, subprocess.Popen] = {}
        self.pools: list[str] = [self.pool_arg(MOUNT + "/export{0...%d}" % (drives - 1))]
        self.starts = {i: 0 for i in range(1, servers + 1)}
        self._up = False

    # -- topology -----------------------------------------------------------------------------

    def ns(self, i: int) -> str:
        return f"cns{self.tag}-{i}"

    def veth(self, i: int) -> str:
        return f"cvh{self.tag}{i}"

    def addr(self, i: int) -> str:
        return f"{self.net}.{i}"

    def endpoint(self, i: int) -> str:
        return f"http://{self.addr(i)}:{PORT}"

    def pool_arg(self, path: str, servers: int | None = None) -> str:
        """`http://10.77.K.{1...N}:9000<path>`: one pool over servers 1..N."""
        return "http://%s.{1...%d}:%d%s" % (self.net, servers or self.n, PORT, path)

    def server_dir(self, i: int) -> Path:
        """What server i sees at MOUNT."""
        return self.workdir / f"server{i}"

    def drive_dirs(self, i: int, pool_path: str = "") -> list[Path]:
        base = self.server_dir(i) / pool_path
        return [base / f"export{d}" for d in range(self.drives_per_server)]

    def all_drives(self) -> list[Path]:
        return [d for i in range(1, self.n + 1) for d in self.drive_dirs(i)]

    def setup(self):
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        self._up = True
        _run("ip", "link", "set", self.bridge, "up")
        _run("ip", "addr", "add", f"{self.net}.254/24", "dev", self.bridge)
        Path(MOUNT).mkdir(parents=True, exist_ok=True)
        for i in range(1, self.n + 1):
            ns, vh, vn = self.ns(i), self.veth(i), f"cvn{self.tag}{i}"
            _run("ip", "netns", "add", ns)
            _run("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
            _run("ip", "link", "set", vn, "netns", ns)
            _run("ip", "link", "set", vh, "master", self.bridge)
            _run("ip", "link", "set", vh, "up")
            _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.addr(i)}/24", "dev", vn)
            _run("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
            _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            for d in self.drive_dirs(i):
                d.mkdir(parents=True, exist_ok=True)

    def teardown(self):
        for i in list(self.procs):
            self.kill9(i)
        if not self._up:
            return
        for i in range(1, self.n + 1):
            _run("ip", "netns", "del", self.ns(i), check=False)
            _run("ip", "link", "del", self.veth(i), check=False)
        _run("ip", "link", "del", self.bridge, check=False)
        self._up = False

    # -- processes ----------------------------------------------------------------------------

    def log_path(self, i: int) -> Path:
        return self.workdir / f"server{i}.log"

    def argv(self, i: int) -> list[str]:
        script = (f'mount --bind "{self.server_dir(i)}" {MOUNT} && exec "{self.binary}" server '
                  f'--address {self.addr(i)}:{PORT} ' + " ".join(f"'{p}'" for p in self.pools))
        return ["ip", "netns", "exec", self.ns(i), "unshare", "-m", "--propagation", "private",
                "sh", "-c", script]

    def start(self, i: int, wait: bool = False):
        assert i not in self.procs or self.procs[i].poll() is not None, f"server {i} already runs"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MINIO_"))}
        env.update({"CAIRN_ROOT_USER": self.access_key, "CAIRN_ROOT_PASSWORD": self.secret_key,
                    "RUST_BACKTRACE": "1", "NO_COLOR": "1", "RUST_LOG": "info",
                    # a brisk scanner so that tests see healing within their time limits
                    "CAIRN_SCANNER_INTERVAL": "5s",
                    # the testing aid of lifecycle: a day of LIFECYCLE_DAY_SECONDS, passes every
                    # second (only buckets with lifecycle rules are affected)
                    "CAIRN_LIFECYCLE_DAY_SECONDS": LIFECYCLE_DAY_SECONDS})
        self.starts[i] += 1
        with open(self.log_path(i), "ab") as log:
            log.write(f"\n===== e2e: start #{self.starts[i]}: {' '.join(self.argv(i))}\n".encode())
            log.flush()
            self.procs[i] = subprocess.Popen(self.argv(i), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        if wait:
            self.wait_ready([i])

    def start_all(self):
        for i in range(1, self.n + 1):
            self.start(i)
        self.wait_ready(range(1, self.n + 1))

    def alive(self, i: int) -> bool:
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def kill9(self, i: int):
        p = self.procs.pop(i, None)
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)
        with open(self.log_path(i), "ab") as log:
            log.write(f"\n===== e2e: server {i} killed with SIGKILL\n".encode())

    def restart(self, i: int, wait: bool = True):
        self.kill9(i)
        self.start(i, wait=wait)

    def status(self, i: int, path: str, timeout: float = 3.0) -> int | None:
        try:
            with urllib.request.urlopen(self.endpoint(i) + path, timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def wait_ready(self, servers, timeout: float = READY_TIMEOUT):
        """Until every given server serves S3 (its start-up handshake is done)."""
        deadline = time.monotonic() + timeout
        pending = set(servers)
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                if not self.alive(i):
                    raise AssertionError(f"server {i} exited:\n{self.log_tail(i)}")
                if self.status(i, "/minio/health/ready") == 200:
                    pending.discard(i)
            time.sleep(0.2)
        if pending:
            raise AssertionError(f"servers {sorted(pending)} not ready after {timeout}s:\n"
                                 + "\n".join(self.log_tail(i) for i in sorted(pending)))

    def wait_cluster_health(self, i: int, want: int = 200, timeout: float = 30.0, path="/minio/health/cluster"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(i, path)
            if last == want:
                return
            time.sleep(0.2)
        raise AssertionError(f"server {i} {path} is {last}, expected {want} within {timeout}s")

    def log_tail(self, i: int, max_bytes: int = 12000) -> str:
        try:
            b = self.log_path(i).read_bytes()
        except OSError as e:
            return f"<no log: {e}>"
        return f"--- server {i} log ---\n" + b[-max_bytes:].decode(errors="replace")

    # -- network ------------------------------------------------------------------------------

    def partition(self, i: int):
        """Cut server i off from its peers and from every client outside its namespace."""
        _run("ip", "link", "set", self.veth(i), "down")

    def heal_partition(self, i: int):
        _run("ip", "link", "set", self.veth(i), "up")

    def exec_in(self, i: int, argv: list[str], env: dict | None = None, timeout: float = 60):
        """Runs a client inside server i's namespace (it sees only server i when cut off)."""
        return subprocess.run(["ip", "netns", "exec", self.ns(i)] + argv, capture_output=True, text=True,
                              env=env, timeout=timeout)

    # -- clients ------------------------------------------------------------------------------

    def client(self, i: int, attempts: int = 1, read_timeout: float = 30, connect_timeout: float = 3):
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint(i), aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"},
                          retries={"mode": "standard", "total_max_attempts": attempts},
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          max_pool_connections=16))

    # -- what is on the drives ----------------------------------------------------------------

    def copies(self, bucket: str, key: str) -> int:
        """Drives (of the first pool) holding the object's metadata file."""
        return sum(1 for d in self.all_drives() if (d / bucket / key / "~meta").is_file())
