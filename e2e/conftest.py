"""Fixtures that run real `cairn` server processes (or point at an external S3 endpoint).

Server contract (storage-node/src/main.rs):
    $CAIRN_BIN server --address 127.0.0.1:PORT [--certs-dir DIR] DRIVE1 ... DRIVE8
    env CAIRN_ROOT_USER / CAIRN_ROOT_PASSWORD = root access key / secret key, region us-east-1.
    --certs-dir DIR holds public.crt + private.key (PEM) and switches the port to HTTPS.
    Ready when GET /minio/health/live answers 200.

External mode: E2E_ENDPOINT (+ E2E_ACCESS_KEY, E2E_SECRET_KEY, optional E2E_REGION) makes the
`server` fixture use that endpoint; E2E_TLS_ENDPOINT (+ E2E_CA_FILE) does the same for
`tls_server`. Tests marked `needs_process` (kill -9, restart, drive access) skip there.
"""

from __future__ import annotations

import atexit
import datetime as dt
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import s3util

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REGION = os.environ.get("E2E_REGION", "us-east-1")
N_DRIVES = 8
READY_TIMEOUT = 30.0

EXTERNAL = bool(os.environ.get("E2E_ENDPOINT"))
EXTERNAL_REASON = "needs the cairn process and its drives; E2E_ENDPOINT points at an external server"

# Keep the caller's ~/.aws out of every SDK call made in this process.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
for _v in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
           "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION", "AWS_ENDPOINT_URL",
           "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_v, None)
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/e2e-aws-config"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/e2e-aws-credentials"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,.localhost"


def cairn_bin() -> Path:
    env = os.environ.get("CAIRN_BIN")
    if env:
        return Path(env)
    rel = REPO / "target" / "release" / "cairn"
    return rel if rel.exists() else REPO / "target" / "debug" / "cairn"


_SESSION_BIN: Path | None = None


def session_binary() -> Path:
    """A private copy of the cairn binary, made once per session, so a `cargo build` that
    replaces target/*/cairn mid-run cannot change (or break) the servers under test."""
    global _SESSION_BIN
    if _SESSION_BIN is None:
        import shutil
        import tempfile
        d = Path(tempfile.mkdtemp(prefix="cairn-e2e-bin-"))
        _SESSION_BIN = d / "cairn"
        shutil.copy2(cairn_bin(), _SESSION_BIN)
        atexit.register(shutil.rmtree, d, True)
    return _SESSION_BIN


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Certificates: a per-session CA and a server certificate for 127.0.0.1 / localhost.


@dataclass
class Certs:
    dir: Path          # the --certs-dir: public.crt + private.key
    ca_file: Path      # trust anchor for clients


def make_certs(root: Path) -> Certs:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cairn e2e test CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    d = root / "certs"
    d.mkdir(parents=True, exist_ok=True)
    (d / "public.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "private.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    os.chmod(d / "private.key", 0o600)
    ca_file = root / "ca.crt"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Certs(dir=d, ca_file=ca_file)


# ---------------------------------------------------------------------------------------------
# A cairn server process


_ALL_PROCS: list["CairnProcess"] = []


@atexit.register
def _kill_leftovers():
    for p in _ALL_PROCS:
        p.kill9()


# Seconds in a lifecycle day of the servers the suite starts (see test_lifecycle.py).
LIFECYCLE_DAY_SECONDS = "2"

# The built-in KMS key of the TLS server under test (base64 of 32 fixed bytes: a test key).
E2E_KMS_KEY = "e2e-key:ZTJlLXRlc3Qta2V5LTMyLWJ5dGVzLWxvbmctLS0tLS0="


class CairnProcess:
    def __init__(self, workdir: Path, certs: Certs | None, access_key: str, secret_key: str, name: str):
        self.name = name
        self.workdir = workdir
        self.certs = certs
        self.access_key = access_key
        self.secret_key = secret_key
        self.drives = [workdir / f"drive{i}" for i in range(1, N_DRIVES + 1)]
        for d in self.drives:
            d.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "server.log"
        self.port = free_port()
        # Each server's web console on its own port, so that servers never contend for :9090.
        self.console_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        _ALL_PROCS.append(self)

    @property
    def scheme(self) -> str:
        return "https" if self.certs else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def console_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.console_port}"

    def argv(self) -> list[str]:
        args = [str(session_binary()), "server", "--address", f"127.0.0.1:{self.port}",
                "--console-address", f"127.0.0.1:{self.console_port}"]
        if self.certs:
            args += ["--certs-dir", str(self.certs.dir)]
        return args + [str(d) for d in self.drives]

    def start(self):
        binary = cairn_bin()
        if not binary.exists():
            pytest.fail(f"cairn binary not found at {binary}: build it (cargo build --release -p cairn), "
                        f"set CAIRN_BIN, or set E2E_ENDPOINT to test an external server", pytrace=False)
        # nothing from the caller's CAIRN_*/MINIO_* settings leaks into the server under test
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MINIO_"))}
        env.update({
            "CAIRN_ROOT_USER": self.access_key,
            "CAIRN_ROOT_PASSWORD": self.secret_key,
            "RUST_BACKTRACE": "1",
            "NO_COLOR": "1",            # plain log file
            # Virtual-host-style addressing (bucket.localhost) for the test that uses it;
            # harmless if the server does not read these.
            "CAIRN_DOMAIN": "localhost",
            "MINIO_DOMAIN": "localhost",
            # A lifecycle "day" of 2 s, so test_lifecycle.py sees rules act; only buckets
            # with a lifecycle configuration are touched by it.
            "CAIRN_LIFECYCLE_DAY_SECONDS": LIFECYCLE_DAY_SECONDS,
        })
        if self.certs:
            # The TLS server encrypts (SSE-S3/KMS need a KMS key, SSE-C needs TLS); the plain
            # HTTP server has no KMS key, so it shows the refusals.
            env["MINIO_KMS_SECRET_KEY"] = E2E_KMS_KEY
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== e2e: start #{self.starts}: {' '.join(self.argv())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=self.workdir, start_new_session=True)
        self.wait_ready()

    def wait_ready(self):
        url = f"{self.endpoint}/minio/health/live"
        ctx = ssl.create_default_context(cafile=str(self.certs.ca_file)) if self.certs else None
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"cairn exited with code {self.proc.returncode} before becoming ready")
            try:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
            except (OSError, ssl.SSLError) as e:
                last = repr(e)
            time.sleep(0.1)
        self._fail(f"cairn not ready after {READY_TIMEOUT:.0f}s at {url} (last: {last})")

    def _fail(self, msg: str):
        self.kill9()
        pytest.fail(f"{msg}\ncommand: {' '.join(self.argv())}\n--- server log {self.log_path} ---\n{self.log_tail()}",
                    pytrace=False)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        with open(self.log_path, "ab") as log:
            how = "killed with SIGKILL by the suite" if self.proc.returncode == -signal.SIGKILL \
                else f"exited by itself, code {self.proc.returncode}"
            log.write(f"\n===== e2e: process {self.proc.pid} {how}\n".encode())
        self.proc = None

    def restart(self):
        """kill -9 (if running) and start again on the same port and drives."""
        self.kill9()
        self.start()

    def log_tail(self, max_bytes: int = 16 * 1024) -> str:
        try:
            b = self.log_path.read_bytes()
        except OSError as e:
            return f"<no log: {e}>"
        if len(b) > max_bytes:
            b = b"...[truncated]...\n" + b[-max_bytes:]
        return b.decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# What a test gets: an S3 target


@dataclass
class S3Target:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = REGION
    ca_file: str | None = None      # trust anchor for HTTPS (the session CA)
    process: CairnProcess | None = None
    label: str = "cairn"

    @property
    def tls(self) -> bool:
        return self.endpoint.startswith("https:")

    @property
    def drives(self) -> list[Path]:
        self.require_process()
        return self.process.drives

    def require_process(self):
        if self.process is None:
            pytest.skip(EXTERNAL_REASON)

    def kill9(self):
        self.require_process()
        self.process.kill9()

    def restart(self):
        self.require_process()
        self.process.restart()

    def client(self, checksum: str = "when_supported", addressing: str = "path", access_key: str | None = None,
               secret_key: str | None = None, endpoint: str | None = None, attempts: int = 1, **cfg):
        """A boto3 S3 client. checksum="when_required" mimics Synapse's s3_storage_provider;
        the default mimics barman-cloud and s3_media_upload (CRC32 on every PUT)."""
        settings = dict(
            region_name=self.region,
            s3={"addressing_style": addressing},
            retries={"mode": "standard", "total_max_attempts": attempts},
            request_checksum_calculation=checksum,
            response_checksum_validation=checksum,
            connect_timeout=10,
            read_timeout=120,
            max_pool_connections=32,
        )
        settings.update(cfg)
        config = Config(**settings)
        kwargs = {}
        if self.tls:
            kwargs["verify"] = self.ca_file
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=config,
            **kwargs,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_file) if self.tls else None

    def urlopen(self, req, timeout: float = 60):
        return urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context())


ROOT_USER = "e2e-root-user"
ROOT_PASSWORD = "e2e-root-password-0123456789"


class ServerFactory:
    """Starts dedicated cairn processes (for tests that kill or restart their server)."""

    def __init__(self, tmp_path_factory, certs: Certs):
        self.tmp_path_factory = tmp_path_factory
        self.certs = certs
        self.procs: list[CairnProcess] = []

    def __call__(self, tls: bool = False, name: str = "cairn") -> S3Target:
        if EXTERNAL:
            pytest.skip(EXTERNAL_REASON)
        wd = self.tmp_path_factory.mktemp(name)
        p = CairnProcess(wd, self.certs if tls else None, ROOT_USER, ROOT_PASSWORD, name)
        self.procs.append(p)
        p.start()
        return S3Target(p.endpoint, ROOT_USER, ROOT_PASSWORD, ca_file=str(self.certs.ca_file), process=p, label=name)

    def close(self):
        for p in self.procs:
            p.kill9()


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    if EXTERNAL and os.environ.get("E2E_CA_FILE"):
        ca = Path(os.environ["E2E_CA_FILE"])
        return Certs(dir=ca.parent, ca_file=ca)
    return make_certs(tmp_path_factory.mktemp("tls"))


def _external_target(endpoint: str, certs: Certs) -> S3Target:
    return S3Target(endpoint, os.environ.get("E2E_ACCESS_KEY", "testkey"), os.environ.get("E2E_SECRET_KEY", "testsecret"),
                    ca_file=str(certs.ca_file), label="external")


@pytest.fixture(scope="session")
def server(tmp_path_factory, certs) -> S3Target:
    """A cairn server over HTTP with 8 drives (EC:4), shared by the session."""
    if EXTERNAL:
        yield _external_target(os.environ["E2E_ENDPOINT"], certs)
        return
    f = ServerFactory(tmp_path_factory, certs)
    try:
        yield f(tls=False, name="cairn-http")
    finally:
        f.close()


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory, certs) -> S3Target:
    """A cairn server over HTTPS (self-made CA in .ca_file), shared by the session."""
    if EXTERNAL:
        ep = os.environ.get("E2E_TLS_ENDPOINT") or (os.environ["E2E_ENDPOINT"]
                                                    if os.environ["E2E_ENDPOINT"].startswith("https:") else None)
        if not ep:
            pytest.skip("external mode without E2E_TLS_ENDPOINT: no HTTPS endpoint to test")
        yield _external_target(ep, certs)
        return
    f = ServerFactory(tmp_path_factory, certs)
    try:
        yield f(tls=True, name="cairn-https")
    finally:
        f.close()


@pytest.fixture
def server_factory(tmp_path_factory, certs):
    """Call it (tls=False|True) to get a dedicated, freshly started cairn; killed at teardown."""
    f = ServerFactory(tmp_path_factory, certs)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture(params=["http", "https"])
def any_server(request) -> S3Target:
    """The HTTP and the HTTPS server, one after the other."""
    return request.getfixturevalue("server" if request.param == "http" else "tls_server")


def _bucket_fixture(target: S3Target):
    c = target.client()
    name = s3util.unique_name()
    c.create_bucket(Bucket=name)
    yield name
    try:
        s3util.empty_bucket(c, name)
    except Exception:
        pass


@pytest.fixture
def bucket(server):
    """A fresh, empty bucket on the HTTP server (emptied and removed afterwards, best effort)."""
    yield from _bucket_fixture(server)


@pytest.fixture
def tls_bucket(tls_server):
    yield from _bucket_fixture(tls_server)


@pytest.fixture
def s3(server):
    """A default boto3 client (CRC32 checksums on PUT, like barman-cloud)."""
    return server.client()


# ---------------------------------------------------------------------------------------------
# Hooks: skip process-bound tests in external mode; print server logs on failure.


def pytest_collection_modifyitems(config, items):
    if not EXTERNAL:
        return
    skip = pytest.mark.skip(reason=EXTERNAL_REASON)
    for item in items:
        if "needs_process" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    if EXTERNAL:
        return [f"e2e target: external S3 endpoint {os.environ['E2E_ENDPOINT']}"
                + (f", TLS {os.environ['E2E_TLS_ENDPOINT']}" if os.environ.get("E2E_TLS_ENDPOINT") else "")]
    b = cairn_bin()
    return [f"e2e target: cairn binary {b}" + ("" if b.exists() else " (MISSING)")]


def _procs_of(item) -> list[CairnProcess]:
    out = []
    for v in getattr(item, "funcargs", {}).values():
        if isinstance(v, S3Target) and v.process is not None:
            out.append(v.process)
        elif isinstance(v, ServerFactory):
            out.extend(v.procs)
    seen, uniq = set(), []
    for p in out:
        if id(p) not in seen:
            seen.add(id(p))
            uniq.append(p)
    return uniq


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("setup", "call"):
        for p in _procs_of(item):
            rep.sections.append((f"server log: {p.name} ({p.log_path})", p.log_tail()))
        cluster = getattr(item, "funcargs", {}).get("cluster")
        if cluster is not None and hasattr(cluster, "log_tail"):
            for i in range(1, cluster.n + 1):
                rep.sections.append((f"cluster server {i} log", cluster.log_tail(i, 6000)))


@pytest.fixture(scope="session")
def matrix_tenant(tmp_path_factory):
    """The Matrix example's pod-level tenant, started once per run and shared by every test
    that runs an application (Synapse, barman, rclone, ...) against it (e2e/podtenant.py)."""
    from podtenant import matrix_tenant as up
    with up(tmp_path_factory.mktemp("matrix-pods")) as t:
        yield t


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """Four servers x two drives, each in its own network namespace (netcluster.py): one
    for the session, shared by test_cluster.py and test_iam.py (starting one costs tens of
    seconds on a 2-core machine)."""
    from netcluster import NetCluster, netns_available

    if EXTERNAL:
        pytest.skip("needs its own cairn processes")
    why = netns_available()
    if why:
        pytest.fail(f"the cluster tests need network namespaces: {why}", pytrace=False)
    c = NetCluster(tmp_path_factory.mktemp("cluster"), session_binary(), ROOT_USER, ROOT_PASSWORD)
    try:
        c.setup()
        c.start_all()
        yield c
    finally:
        c.teardown()
