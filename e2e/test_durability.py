"""Durability order, proven with a syscall trace: the server runs under `strace -f`, boto3
does a small (inline) PutObject, a large PutObject, a multipart upload and a DeleteObject,
and the trace must show, for every drive and every operation, before the response reaches
the client socket:

  - data file fsync'd before the rename that publishes it (metadata temp file -> ~meta,
    staging directory -> ~d.<uuid>, staged part file -> multipart part),
  - the publishing rename (or the unlink of ~meta for a delete) before an fsync of the
    directory that holds the new name,
  - every directory the operation created before an fsync of its parent,
  - and that directory fsync before the first byte of the HTTP response.

The request a response answers is found on the same socket: the read that carries its
request line, then the first `HTTP/1.1 ` write after it. strace is installed by setup.sh
(Debian package `strace`)."""

from __future__ import annotations

import os
import re
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import conftest
from conftest import ROOT_PASSWORD, ROOT_USER, CairnProcess, S3Target
from s3util import MiB, data

pytestmark = pytest.mark.needs_process

SYSCALLS = ("fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat,"
            "read,recvfrom,write,writev,sendto,sendmsg")


class TracedCairn(CairnProcess):
    """A cairn server process started under strace (as the process group leader, so the
    whole group is killed at the end, not just strace)."""

    def __init__(self, workdir: Path, trace: Path):
        super().__init__(workdir, None, ROOT_USER, ROOT_PASSWORD, "cairn-strace")
        self.trace = trace

    def argv(self) -> list[str]:
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail("strace is not installed: e2e/setup.sh installs it (Debian package strace)",
                        pytrace=False)
        return [strace, "-f", "-tt", "-yy", "-s", "256", "-o", str(self.trace), "-e", f"trace={SYSCALLS}",
                *super().argv()]

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().kill9()


# ---------------------------------------------------------------------------------------------
# The trace as events


LINE = re.compile(r"^(\d+)\s+\d\d:\d\d:\d\d\.\d+\s+(.*)$")
START = re.compile(r"^(\w+)\((.*) <unfinished \.\.\.>$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
FULL = re.compile(r"^(\w+)\((.*)$")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)")


@dataclass
class Event:
    call: str
    args: str           # everything after "call(", result included
    start: int          # index of the line where the call began
    end: int            # index of the line where it returned
    ok: bool = True

    def fd_path(self) -> str:
        """The path strace -y prints for the first argument (`13</a/b>`)."""
        m = re.match(r"\s*-?\d+<(.*?)>[,)]", self.args)
        return m.group(1) if m else ""

    def strings(self) -> list[str]:
        return [s.encode().decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', self.args)]


def parse_trace(path: Path) -> list[Event]:
    events: list[Event] = []
    pending: dict[tuple[str, str], tuple[int, str]] = {}
    for i, raw in enumerate(path.read_text(errors="replace").splitlines()):
        m = LINE.match(raw)
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        if (s := START.match(rest)):
            pending[(pid, s.group(1))] = (i, s.group(2))
            continue
        if (r := RESUMED.match(rest)):
            began = pending.pop((pid, r.group(1)), None)
            if began is None:
                continue
            args = began[1] + r.group(2)
            events.append(Event(r.group(1), args, began[0], i, _ok(args)))
            continue
        if (f := FULL.match(rest)):
            events.append(Event(f.group(1), f.group(2), i, i, _ok(f.group(2))))
    events.sort(key=lambda e: e.start)
    return events


def _ok(args: str) -> bool:
    m = RESULT.search(args)
    return bool(m) and m.group(1) not in ("?",) and not m.group(1).startswith("-")


# The final response, not an interim `100 Continue` (boto3 sends `Expect: 100-continue`).
FINAL_RESPONSE = re.compile(r'"HTTP/1\.1 [2-5]\d\d ')
FSYNCS = ("fsync", "fdatasync")
RENAMES = ("rename", "renameat", "renameat2")
UNLINKS = ("unlink", "unlinkat")
MKDIRS = ("mkdir", "mkdirat")
READS = ("read", "recvfrom")
WRITES = ("write", "writev", "sendto", "sendmsg")


def path_args(e: Event) -> list[str]:
    """The paths a rename/unlink/mkdir names, made absolute with the directory fd if any."""
    return [s for s in e.strings() if s.startswith("/")]


@dataclass
class Exchange:
    request: Event
    response: Event
    between: list[Event] = field(default_factory=list)


def exchange(events: list[Event], port: int, request_line: str) -> Exchange:
    """The read that carries `request_line` on a client socket of the server, the first
    HTTP response written to that socket afterwards, and every event between the two."""
    local = f"127.0.0.1:{port}->"
    req = next((e for e in events if e.call in READS and local in e.args and request_line in e.args), None)
    assert req is not None, f"no request {request_line!r} in the trace"
    sock = req.args.split(",", 1)[0]
    resp = next((e for e in events if e.call in WRITES and e.start > req.end and e.args.split(",", 1)[0] == sock
                 and FINAL_RESPONSE.search(e.args)), None)
    assert resp is not None, f"no response to {request_line!r} in the trace"
    between = [e for e in events if e.start > req.start and e.end < resp.start]
    return Exchange(req, resp, between)


def fsyncs_of(ex: Exchange, path: str) -> list[Event]:
    return [e for e in ex.between if e.call in FSYNCS and e.ok and e.fd_path() == path]


def assert_dir_synced_after(ex: Exchange, after: Event, directory: str, what: str):
    synced = [e for e in fsyncs_of(ex, directory) if e.start > after.end]
    assert synced, (f"{what}: no fsync of {directory} between it (trace line {after.end + 1}) and the "
                    f"response (line {ex.response.start + 1})")


def assert_published(ex: Exchange, renames: list[Event], what: str, data_synced):
    """Each rename: its data fsync'd before, the target directory fsync'd after, both
    before the response."""
    assert renames, f"{what}: no publishing rename before the response"
    for r in renames:
        src, dst = path_args(r)[:2]
        before = [e for e in ex.between if e.call in FSYNCS and e.ok and e.end < r.start and data_synced(e, src)]
        assert before, f"{what}: {src} -> {dst} (trace line {r.start + 1}) without an fsync of its data before"
        assert_dir_synced_after(ex, r, os.path.dirname(dst), f"{what}: rename to {dst}")


def assert_new_dirs_synced(ex: Exchange, drives: list[Path], what: str):
    for m in (e for e in ex.between if e.call in MKDIRS and e.ok):
        path = path_args(m)[0]
        if any(path.startswith(f"{d}/") for d in drives) and "/.cairn.sys/tmp/" not in path:
            assert_dir_synced_after(ex, m, os.path.dirname(path), f"{what}: mkdir {path}")


def renames_to(ex: Exchange, pattern: str) -> list[Event]:
    rx = re.compile(pattern)
    return [e for e in ex.between if e.call in RENAMES and e.ok and len(path_args(e)) >= 2
            and rx.search(path_args(e)[1])]


# ---------------------------------------------------------------------------------------------


def test_acknowledged_writes_and_deletes_are_fsynced_with_their_directories(tmp_path):
    if conftest.EXTERNAL:
        pytest.skip(conftest.EXTERNAL_REASON)
    trace = tmp_path / "cairn.strace"
    proc = TracedCairn(tmp_path / "srv", trace)
    try:
        proc.start()
        c = S3Target(proc.endpoint, ROOT_USER, ROOT_PASSWORD, process=proc).client(checksum="when_required")
        bucket = "durable"
        c.create_bucket(Bucket=bucket)
        small, large = data(4096, "small"), data(300 * 1024, "large")
        c.put_object(Bucket=bucket, Key="small/obj", Body=small)
        c.put_object(Bucket=bucket, Key="large/obj", Body=large)
        up = c.create_multipart_upload(Bucket=bucket, Key="multi/obj")["UploadId"]
        parts = [data(5 * MiB, "p1"), data(1000, "p2")]
        etags = [c.upload_part(Bucket=bucket, Key="multi/obj", UploadId=up, PartNumber=n + 1, Body=b)["ETag"]
                 for n, b in enumerate(parts)]
        c.complete_multipart_upload(Bucket=bucket, Key="multi/obj", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": n + 1, "ETag": t} for n, t in enumerate(etags)]})
        c.delete_object(Bucket=bucket, Key="small/obj")
        assert c.get_object(Bucket=bucket, Key="large/obj")["Body"].read() == large
        assert c.get_object(Bucket=bucket, Key="multi/obj")["Body"].read() == b"".join(parts)
    finally:
        proc.kill9()

    events = parse_trace(trace)
    drives = [Path(d) for d in proc.drives]
    n = len(drives)
    port = proc.port

    def same_file(e: Event, src: str) -> bool:
        return e.fd_path() == src

    # A small PutObject: inline, one metadata file per drive.
    ex = exchange(events, port, f"PUT /{bucket}/small/obj ")
    metas = renames_to(ex, r"/durable/small/obj/~meta$")
    assert len(metas) == n, f"small PUT: {len(metas)} metadata renames for {n} drives"
    assert_published(ex, metas, "small PUT metadata", same_file)
    assert_new_dirs_synced(ex, drives, "small PUT")

    # A large PutObject: shard files in a staging directory renamed to ~d.<uuid>.
    ex = exchange(events, port, f"PUT /{bucket}/large/obj ")
    dirs = renames_to(ex, r"/durable/large/obj/~d\.[0-9a-f-]{36}$")
    assert len(dirs) == n, f"large PUT: {len(dirs)} data directory renames for {n} drives"
    # The shard files and the staging directory's own entries are synced before the rename.
    assert_published(ex, dirs, "large PUT data (shard files)",
                     lambda e, src: e.call in FSYNCS and e.fd_path().startswith(src + "/"))
    assert_published(ex, dirs, "large PUT data (staging directory)", same_file)
    metas = renames_to(ex, r"/durable/large/obj/~meta$")
    assert len(metas) == n
    assert_published(ex, metas, "large PUT metadata", same_file)
    for m in metas:
        key_dir = os.path.dirname(path_args(m)[1])
        synced_dirs = [r for r in dirs if os.path.dirname(path_args(r)[1]) == key_dir]
        assert synced_dirs and all(
            any(f.start > r.end and f.end < m.start for f in fsyncs_of(ex, key_dir)) for r in synced_dirs), \
            f"large PUT: {key_dir}: the data directory's name is not durable before the metadata names it"
    assert_new_dirs_synced(ex, drives, "large PUT")

    # UploadPart: the part's shard file is fsync'd, renamed into the upload, directory synced.
    for number in (1, 2):
        ex = next(x for x in (exchange_nth(events, port, "PUT /durable/multi/obj?", k) for k in range(4))
                  if x is not None and f"partNumber={number}" in x.request.args)
        moved = renames_to(ex, r"/\.cairn\.sys/multipart/.*/part\.\d+\.[0-9a-f-]{36}$")
        assert len(moved) == n, f"UploadPart {number}: {len(moved)} part renames for {n} drives"
        assert_published(ex, moved, f"UploadPart {number}", same_file)
        assert_new_dirs_synced(ex, drives, f"UploadPart {number}")

    # CompleteMultipartUpload: the linked parts' staging directory becomes ~d.<uuid>.
    ex = exchange(events, port, f"POST /{bucket}/multi/obj?uploadId=")
    dirs = renames_to(ex, r"/durable/multi/obj/~d\.[0-9a-f-]{36}$")
    assert len(dirs) == n, f"complete: {len(dirs)} data directory renames for {n} drives"
    assert_published(ex, dirs, "complete data (staging directory)", same_file)
    metas = renames_to(ex, r"/durable/multi/obj/~meta$")
    assert len(metas) == n
    assert_published(ex, metas, "complete metadata", same_file)
    assert_new_dirs_synced(ex, drives, "complete")
    # The part files themselves were fsync'd when uploaded, before they were published.
    part_data = [e for e in events if e.call in FSYNCS and e.ok and e.fd_path().endswith("/data")
                 and "/.cairn.sys/tmp/" in e.fd_path()]
    assert len(part_data) >= 2 * n, "every part's shard file was fsync'd on every drive"

    # DeleteObject: ~meta unlinked, the key directory fsync'd, then the 204.
    ex = exchange(events, port, f"DELETE /{bucket}/small/obj ")
    unlinks = [e for e in ex.between if e.call in UNLINKS and e.ok
               and any(p.endswith("/durable/small/obj/~meta") for p in path_args(e))]
    assert len(unlinks) == n, f"delete: {len(unlinks)} metadata unlinks for {n} drives"
    for u in unlinks:
        path = next(p for p in path_args(u) if p.endswith("~meta"))
        assert_dir_synced_after(ex, u, os.path.dirname(path), "delete")


def exchange_nth(events: list[Event], port: int, request_line: str, nth: int) -> Exchange | None:
    """Like `exchange`, for the nth request (0-based) that carries `request_line`."""
    local = f"127.0.0.1:{port}->"
    reqs = [e for e in events if e.call in READS and local in e.args and request_line in e.args]
    if nth >= len(reqs):
        return None
    req = reqs[nth]
    sock = req.args.split(",", 1)[0]
    resp = next((e for e in events if e.call in WRITES and e.start > req.end and e.args.split(",", 1)[0] == sock
                 and FINAL_RESPONSE.search(e.args)), None)
    if resp is None:
        return None
    return Exchange(req, resp, [e for e in events if e.start > req.start and e.end < resp.start])
