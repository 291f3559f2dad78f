"""Abuse: one real `cairn` process under hostile clients, all at once:

  - 1,000 idle connections (no byte sent), held together;
  - slow headers (one byte every 300 ms, never finishing the head);
  - slow and stalled request bodies (presigned PUTs that dribble, or stop half way);
  - garbage bytes (random, and after an HTTP/2 preface);
  - half-closed sockets (complete or partial request, then SHUT_WR);
  - oversized headers (one 1 MiB header; 10,000 small headers);
  - a client that stops reading a large GET.

Meanwhile a fresh-connection health probe (GET /minio/health/live) runs every 200 ms and
must always answer 200 within 1 s, and the server's resident memory (VmRSS) must stay under
300 MiB. At the end the server still serves, every hostile socket was closed by the server
(timeouts are set short for the test), and the bucket holds exactly the objects it held
before (same keys, sizes, ETags and bytes): no half-written object appears.
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

import conftest
from s3util import MiB, data, unique_name

pytestmark = [pytest.mark.needs_process, pytest.mark.timeout(120)]

IDLE_CONNECTIONS = 1000
RSS_LIMIT = 300 * MiB
PROBE_EVERY = 0.2
PROBE_DEADLINE = 1.0
# Short limits, so that the server's timeouts act within the test.
LIMITS = {
    "CAIRN_READ_HEADER_TIMEOUT": "3s",
    "CAIRN_IDLE_TIMEOUT": "3s",
    "CAIRN_CONN_READ_DEADLINE": "3s",
    "CAIRN_CONN_WRITE_DEADLINE": "3s",
    "CAIRN_TLS_HANDSHAKE_TIMEOUT": "3s",
}
# How long the test waits for the server to close a socket it should close.
CLOSE_WAIT = 20.0


class LimitedProcess(conftest.CairnProcess):
    """The suite's server process, with the short limits above in its environment."""

    def argv(self) -> list[str]:
        return ["env", *(f"{k}={v}" for k, v in LIMITS.items()), *super().argv()]


@pytest.fixture
def target(tmp_path_factory):
    if conftest.EXTERNAL:
        pytest.skip(conftest.EXTERNAL_REASON)
    wd = tmp_path_factory.mktemp("abuse")
    p = LimitedProcess(wd, None, conftest.ROOT_USER, conftest.ROOT_PASSWORD, "cairn-abuse")
    p.start()
    try:
        yield conftest.S3Target(p.endpoint, conftest.ROOT_USER, conftest.ROOT_PASSWORD, process=p, label="abuse")
    finally:
        p.kill9()


def raise_nofile(need: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} < {need}: cannot open the idle connections", pytrace=False)
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Watch:
    """Health probes and RSS samples, taken by a background thread."""
    host: str
    port: int
    pid: int
    stop: threading.Event = field(default_factory=threading.Event)
    probes: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    max_rss: int = 0

    def probe(self):
        started = time.monotonic()
        try:
            with socket.create_connection((self.host, self.port), timeout=PROBE_DEADLINE) as s:
                s.settimeout(PROBE_DEADLINE)
                s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: cairn\r\nConnection: close\r\n\r\n")
                head = b""
                while b"\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            took = time.monotonic() - started
            self.slowest = max(self.slowest, took)
            if not head.startswith(b"HTTP/1.1 200"):
                self.failures.append(f"answer {head[:40]!r}")
            elif took > PROBE_DEADLINE:
                self.failures.append(f"answered after {took:.2f}s")
        except OSError as e:
            self.failures.append(f"{type(e).__name__}: {e} after {time.monotonic() - started:.2f}s")
        self.probes += 1

    def run(self):
        while not self.stop.is_set():
            self.probe()
            self.max_rss = max(self.max_rss, rss_bytes(self.pid))
            self.stop.wait(PROBE_EVERY)


def connect(host: str, port: int, rcvbuf: int | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((host, port))
    return s


def closed_by_server(s: socket.socket, deadline: float) -> tuple[bool, bytes]:
    """Reads until EOF (or reset) before `deadline` (monotonic); (closed, bytes read)."""
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, bytes(got)
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(got)
        except socket.timeout:
            return False, bytes(got)
        if not chunk:
            return True, bytes(got)
        got += chunk


def snapshot(client, bucket: str) -> dict[str, tuple[int, str, str]]:
    """key -> (size, ETag, sha256 of the bytes)."""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            out[o["Key"]] = (o["Size"], o["ETag"], hashlib.sha256(body).hexdigest())
    return out


def run_all(threads: list[threading.Thread]):
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "an abuse thread hung"


def test_hostile_clients_neither_stall_nor_exhaust_nor_change_the_server(target):
    raise_nofile(IDLE_CONNECTIONS + 1024)
    url = urlsplit(target.endpoint)
    host, port = url.hostname, url.port
    pid = target.process.proc.pid
    s3 = target.client()
    bucket = unique_name("abuse")
    s3.create_bucket(Bucket=bucket)
    sizes = [0, 1, 4096, 300_000, MiB + 7, 8 * MiB]
    for i, n in enumerate(sizes):
        s3.put_object(Bucket=bucket, Key=f"seed/{i}", Body=data(n, f"abuse-{i}"))
    before = snapshot(s3, bucket)
    assert len(before) == len(sizes)

    watch = Watch(host, port, pid)
    watcher = threading.Thread(target=watch.run, daemon=True)
    watcher.start()
    problems: list[str] = []
    lock = threading.Lock()

    def problem(msg: str):
        with lock:
            problems.append(msg)

    def idle_connections():
        socks = []
        for _ in range(IDLE_CONNECTIONS):
            socks.append(connect(host, port))
        deadline = time.monotonic() + CLOSE_WAIT
        still_open = 0
        for s in socks:
            closed, _ = closed_by_server(s, deadline)
            still_open += not closed
            s.close()
        if still_open:
            problem(f"{still_open} of {IDLE_CONNECTIONS} idle connections were never closed by the server")

    def slow_headers(n: int = 20):
        socks = [connect(host, port) for _ in range(n)]
        for s in socks:
            s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: cairn\r\n")
        deadline = time.monotonic() + CLOSE_WAIT
        open_socks = list(socks)
        while open_socks and time.monotonic() < deadline:
            for s in list(open_socks):
                try:
                    s.sendall(b"x")
                except OSError:
                    open_socks.remove(s)
            time.sleep(0.3)
        for s in socks:
            s.close()
        if open_socks:
            problem(f"{len(open_socks)} slow-header clients were never disconnected")

    def presigned_put(key: str, length: int) -> bytes:
        u = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key},
                                               ExpiresIn=600))
        return (f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()

    def stalled_bodies(n: int = 10):
        socks = []
        for i in range(n):
            s = connect(host, port)
            s.sendall(presigned_put(f"stalled/{i}", MiB) + b"a" * (MiB // 2))
            socks.append(s)
        deadline = time.monotonic() + CLOSE_WAIT
        for i, s in enumerate(socks):
            closed, got = closed_by_server(s, deadline)
            s.close()
            if not closed:
                problem(f"stalled body {i}: connection never closed (got {got[:60]!r})")
            elif got.startswith(b"HTTP/1.1 2"):
                problem(f"stalled body {i}: a half-sent PUT was acknowledged: {got[:60]!r}")

    def dribbling_bodies(n: int = 10, seconds: float = 6.0):
        socks = []
        for i in range(n):
            s = connect(host, port)
            s.sendall(presigned_put(f"dribble/{i}", MiB))
            socks.append(s)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for s in socks:
                try:
                    s.sendall(b"b" * 16)
                except OSError:
                    pass
            time.sleep(0.5)
        for s in socks:
            s.close()  # never completed: must not become objects

    def garbage(n: int = 50):
        for i in range(n):
            s = connect(host, port)
            payload = os.urandom(4096)
            if i % 2:
                payload = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + payload
            try:
                s.sendall(payload)
                closed, _ = closed_by_server(s, time.monotonic() + CLOSE_WAIT)
                if not closed:
                    problem(f"garbage {i}: connection never closed")
            except OSError:
                pass  # reset while we wrote: closed, as it should be
            finally:
                s.close()

    def half_closed():
        # A complete request, then no more writes: the answer still comes, then EOF.
        s = connect(host, port)
        s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: cairn\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        closed, got = closed_by_server(s, time.monotonic() + CLOSE_WAIT)
        s.close()
        if not closed or not got.startswith(b"HTTP/1.1 200"):
            problem(f"half-closed complete request: closed={closed} answer={got[:40]!r}")
        # Half a request, then SHUT_WR: the server closes.
        for i in range(20):
            s = connect(host, port)
            s.sendall(b"GET /minio/health/live HTTP/1.1\r\nHost: ca")
            s.shutdown(socket.SHUT_WR)
            closed, _ = closed_by_server(s, time.monotonic() + CLOSE_WAIT)
            s.close()
            if not closed:
                problem(f"half-closed partial request {i}: connection never closed")

    def oversized_headers():
        for name, head in [
            ("one 1 MiB header", b"X-Big: " + b"a" * MiB + b"\r\n"),
            ("10,000 headers", b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))),
        ]:
            s = connect(host, port)
            try:
                s.sendall(b"GET /" + bucket.encode() + b"/seed/0 HTTP/1.1\r\nHost: cairn\r\n" + head + b"\r\n")
            except OSError:
                s.close()
                continue  # the server closed while we wrote: refused
            closed, got = closed_by_server(s, time.monotonic() + CLOSE_WAIT)
            s.close()
            if not closed:
                problem(f"{name}: connection never closed")
            elif got and not got.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")):
                problem(f"{name}: answered {got[:40]!r}")

    def stalled_reader():
        key = "seed/5"
        size = sizes[5]
        u = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600))
        s = connect(host, port, rcvbuf=64 * 1024)
        s.sendall(f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        time.sleep(8)  # read nothing for longer than the send deadline
        closed, got = closed_by_server(s, time.monotonic() + CLOSE_WAIT)
        s.close()
        if not closed:
            problem("stalled reader: connection never closed")
        elif len(got) >= size:
            problem(f"stalled reader: the whole {size}-byte body was sent to a client that stopped reading")

    started = time.monotonic()
    run_all([threading.Thread(target=f) for f in (idle_connections, slow_headers, stalled_bodies, dribbling_bodies,
                                                   garbage, half_closed, oversized_headers, stalled_reader)])
    took = time.monotonic() - started
    watch.stop.set()
    watcher.join(timeout=10)

    assert not problems, "\n".join(problems)
    assert watch.probes >= 5, f"only {watch.probes} health probes ran in {took:.1f}s"
    assert not watch.failures, (f"{len(watch.failures)} of {watch.probes} health probes failed "
                                f"(slowest {watch.slowest:.2f}s): {watch.failures[:5]}")
    assert watch.max_rss < RSS_LIMIT, f"server RSS reached {watch.max_rss / MiB:.0f} MiB"
    assert target.process.alive(), "the server died"
    after = snapshot(s3, bucket)
    assert after == before, f"objects changed: before {sorted(before)}, after {sorted(after)}"
