"""Crash consistency: kill -9 the server while several threads stream PUTs (plus overwrites,
deletes and multipart uploads), restart it on the same drives, then:
  - every acknowledged write reads back byte-identical (or was superseded by a later write
    that was in flight at the kill);
  - every acknowledged delete stays deleted (same proviso);
  - no half-visible objects: every listed key GETs successfully with the listed size/ETag.
The kill point depends on timing; the invariants checked do not."""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from s3util import MiB, body_of, unique_name

N_THREADS = 4
KILL_AFTER_ACKS = 120
MAX_OPS_PER_THREAD = 2000
SIZES = [0, 1, 1000, 64 * 1024, 200_000, MiB + 1, 2 * MiB + MiB // 2]


@dataclass
class Op:
    kind: str                 # "put" | "delete" | "multipart"
    digest: str | None        # sha256 of the content after this op (None = absent)
    size: int = 0
    acked: bool = False
    error: str | None = None


@dataclass
class Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    cond: threading.Condition = None
    ops: dict[str, list[Op]] = field(default_factory=dict)
    acks: int = 0
    errors_before_kill: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.cond = threading.Condition(self.lock)


def _content(tid: int, seq: int, size: int) -> bytes:
    return random.Random(f"crash-{tid}-{seq}").randbytes(size)


def _worker(srv, bucket: str, tid: int, log: Log, killed: threading.Event):
    c = srv.client(attempts=1, connect_timeout=5, read_timeout=60)
    rnd = random.Random(f"plan-{tid}")
    mine: list[str] = []          # my keys with an acknowledged PUT
    for seq in range(MAX_OPS_PER_THREAD):
        r = rnd.random()
        if tid % 100 == 0 and seq % 6 == 5:
            kind, key = "multipart", f"t{tid}/mp-{seq:05d}"
        elif r < 0.15 and mine:
            kind, key = "put", rnd.choice(mine)                      # overwrite
        elif r < 0.25 and mine:
            kind, key = "delete", mine.pop(rnd.randrange(len(mine)))
        else:
            kind, key = "put", f"t{tid}/obj-{seq:05d}"
        if kind == "multipart":
            parts = [_content(tid, seq, 5 * MiB), _content(tid, seq + 100000, 100_000)]
            body = b"".join(parts)
        elif kind == "put":
            body = _content(tid, seq, SIZES[(seq + tid) % len(SIZES)])
        else:
            body = None
        op = Op(kind, hashlib.sha256(body).hexdigest() if body is not None else None, len(body or b""))
        with log.lock:
            log.ops.setdefault(key, []).append(op)
        try:
            if kind == "put":
                c.put_object(Bucket=bucket, Key=key, Body=body)
            elif kind == "delete":
                c.delete_object(Bucket=bucket, Key=key)
            else:
                uid = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
                etags = [c.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=p)["ETag"]
                         for i, p in enumerate(parts, 1)]
                c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
                    "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
        except Exception as e:  # noqa: BLE001 - any failure ends this thread's stream
            op.error = repr(e)[:300]
            if not killed.is_set():
                with log.lock:
                    log.errors_before_kill.append(f"{kind} {key}: {op.error}")
            with log.cond:
                log.cond.notify_all()
            return
        with log.cond:
            op.acked = True
            log.acks += 1
            log.cond.notify_all()
        if kind in ("put", "multipart") and key not in mine:
            mine.append(key)
        if killed.is_set():
            return


def _acceptable(ops: list[Op]) -> set[str | None]:
    """States the key may be in after the crash: the state after the last acknowledged op,
    or after any op attempted later (in flight at the kill)."""
    last = max((i for i, o in enumerate(ops) if o.acked), default=-1)
    states = {ops[last].digest} if last >= 0 else {None}
    states |= {o.digest for o in ops[last + 1:]}
    return states


def _verify(c, bucket: str, log: Log, context: str) -> dict[str, str | None]:
    """Check the invariants; return the observed state of every key written so far."""
    problems, observed = [], {}
    for key, ops in sorted(log.ops.items()):
        ok = _acceptable(ops)
        try:
            got = hashlib.sha256(body_of(c.get_object(Bucket=bucket, Key=key))).hexdigest()
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchKey":
                problems.append(f"{key}: GET failed: {e.response['Error']} (ops: {[o.kind for o in ops]})")
                continue
            got = None
        observed[key] = got
        if got not in ok:
            hist = [(o.kind, o.size, "acked" if o.acked else "in-flight") for o in ops]
            state = "absent" if got is None else "content matches no write"
            problems.append(f"{key}: {state} after restart; history {hist}")

    listed = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o
    for key, o in sorted(listed.items()):
        if key not in log.ops:
            problems.append(f"{key}: listed but never written")
            continue
        try:
            r = c.get_object(Bucket=bucket, Key=key)
            b = body_of(r)
            if len(b) != o["Size"] or r["ETag"] != o["ETag"]:
                problems.append(f"{key}: listed size/ETag {o['Size']}/{o['ETag']} but GET gives {len(b)}/{r['ETag']}")
        except ClientError as e:
            problems.append(f"{key}: listed but GET fails: {e.response['Error']}")
    for key, got in observed.items():
        if got is not None and key not in listed:
            problems.append(f"{key}: readable but not listed")

    assert not problems, f"{len(problems)} consistency problems {context}:\n" + "\n".join(problems[:40])
    return observed


@pytest.mark.needs_process
def test_kill9_during_concurrent_puts(server_factory):
    srv = server_factory(name="cairn-crash")
    bucket = unique_name("crash")
    srv.client().create_bucket(Bucket=bucket)
    log = Log()

    for rnd in range(2):            # crash, restart, verify -- twice, the second time on top of the first
        killed = threading.Event()
        with log.lock:
            log.acks = 0
        threads = [threading.Thread(target=_worker, args=(srv, bucket, rnd * 100 + t, log, killed), daemon=True)
                   for t in range(N_THREADS)]
        for t in threads:
            t.start()
        with log.cond:
            reached = log.cond.wait_for(lambda: log.acks >= KILL_AFTER_ACKS or log.errors_before_kill
                                        or not any(t.is_alive() for t in threads), timeout=180)
        assert not log.errors_before_kill, f"requests failed before the kill: {log.errors_before_kill[:5]}"
        assert reached and log.acks >= KILL_AFTER_ACKS, f"only {log.acks} acknowledged writes before the time limit"

        killed.set()
        srv.kill9()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a client thread hung after the server was killed"
        assert not log.errors_before_kill, f"requests failed before the kill: {log.errors_before_kill[:5]}"
        with log.lock:
            in_flight = [(k, o.kind) for k, ops in log.ops.items() for o in ops if not o.acked]
            acked = log.acks

        print(f"crash round {rnd + 1}: {acked} acked ops, {len(log.ops)} keys, in flight at the kill: {in_flight}")
        srv.process.start()           # same port, same drives
        c = srv.client(attempts=1)
        assert bucket in [b["Name"] for b in c.list_buckets()["Buckets"]], "the bucket is gone after restart"
        observed = _verify(c, bucket, log, f"after kill -9 #{rnd + 1} ({acked} acked ops in this round; "
                                          f"in flight at the kill: {in_flight})")
        # what we saw is now the acknowledged state of each key
        with log.lock:
            for key, got in observed.items():
                log.ops[key] = [Op("observed", got, acked=True)]

    # the restarted server takes new writes and deletes normally
    c.put_object(Bucket=bucket, Key="after-restart", Body=b"alive")
    assert body_of(c.get_object(Bucket=bucket, Key="after-restart")) == b"alive"
    c.delete_object(Bucket=bucket, Key="after-restart")
