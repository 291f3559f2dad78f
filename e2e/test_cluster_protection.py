"""Object lock and lifecycle on the four-server cluster under faults (the session's
`cluster`, see test_cluster.py): a locked version stays locked and its retention can only
grow while a server is down and after it comes back, and the lifecycle worker acts once per
deployment (one server per bucket) and hands a bucket over when that server dies."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import session_binary
from netcluster import LIFECYCLE_DAY_SECONDS, NetCluster
from s3util import unique_name

pytestmark = [pytest.mark.needs_process, pytest.mark.cluster]

# Passes run every second; a one-day rule is due within two days after a write, plus the
# time a server needs to notice that a peer is gone.
PATIENCE = 10 * int(LIFECYCLE_DAY_SECONDS) + 60


def utc_in(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


def code(e: pytest.ExceptionInfo) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def wait_until(what: str, check, timeout: float = PATIENCE, state=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"not within {timeout:.0f}s: {what}" + (f"; state: {state()}" if state else ""))


def lifecycle_status(cluster: NetCluster, i: int) -> dict:
    """`cairn admin lifecycle status --json` against server i: its own worker's counters."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "MINIO_", "AWS_"))}
    env.update({"CAIRN_ROOT_USER": cluster.access_key, "CAIRN_ROOT_PASSWORD": cluster.secret_key})
    r = subprocess.run([str(session_binary()), "admin", "lifecycle", "status", "--json",
                        "--endpoint", cluster.endpoint(i)], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def every_drive(cluster: NetCluster) -> list:
    """The drives of every pool (test_cluster.py may have added a second pool, under a
    sub-directory of each server's mount)."""
    out = []
    for i in range(1, cluster.n + 1):
        root = cluster.server_dir(i)
        out += sorted(root.glob("export*")) + sorted(root.glob("*/export*"))
    return out


def metadata_copies(cluster: NetCluster, bucket: str, key: str) -> list[str]:
    """The write id of each metadata file of `key` on any drive of any pool (one pool
    holds the key: 8 files, one write id, once every copy is the same commit). The file
    is a short binary header, then JSON."""
    ids = []
    for d in every_drive(cluster):
        f = d / bucket / key / "~meta"
        if f.is_file():
            m = re.search(rb'"write_id":"([^"]+)"', f.read_bytes()[:4096])
            ids.append(m.group(1).decode() if m else "?")
    return ids


def healed(cluster: NetCluster, bucket: str, key: str) -> bool:
    ids = metadata_copies(cluster, bucket, key)
    return len(ids) == 8 and len(set(ids)) == 1


def keys_under(c, bucket: str, prefix: str) -> set[str]:
    out = set()
    for p in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out |= {o["Key"] for o in p.get("Contents", [])}
    return out


def test_locked_versions_stay_locked_while_a_server_is_down(cluster):
    bucket = unique_name("lock")
    c1 = cluster.client(1, attempts=2)
    c1.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    locked = c1.put_object(Bucket=bucket, Key="locked", Body=b"L" * 300_000, ObjectLockMode="COMPLIANCE",
                           ObjectLockRetainUntilDate=utc_in(3600))["VersionId"]
    held = c1.put_object(Bucket=bucket, Key="held", Body=b"H" * 1000, ObjectLockLegalHoldStatus="ON")["VersionId"]
    governed = c1.put_object(Bucket=bucket, Key="governed", Body=b"G", ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=utc_in(3600))["VersionId"]
    later = utc_in(7200).replace(microsecond=0)

    cluster.kill9(2)
    try:
        c3 = cluster.client(3, attempts=2)
        # Deletes and shortening are refused on 6 of 8 drives as on 8.
        for key, vid in (("locked", locked), ("held", held), ("governed", governed)):
            with pytest.raises(ClientError) as e:
                c3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
            assert code(e) == (403, "AccessDenied"), (key, e.value.response)
        with pytest.raises(ClientError) as e:
            c3.put_object_retention(Bucket=bucket, Key="locked", VersionId=locked,
                                    Retention={"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(60)})
        assert code(e) == (403, "AccessDenied")
        with pytest.raises(ClientError) as e:
            c3.delete_object(Bucket=bucket, Key="locked", VersionId=locked, BypassGovernanceRetention=True)
        assert code(e) == (403, "AccessDenied"), "COMPLIANCE is not bypassed"
        # What a quorum of the remaining drives may change: a longer retention, a released
        # hold, a GOVERNANCE version removed with the bypass, a delete marker on top.
        c3.put_object_retention(Bucket=bucket, Key="locked", VersionId=locked,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
        c3.put_object_legal_hold(Bucket=bucket, Key="held", VersionId=held, LegalHold={"Status": "OFF"})
        c3.delete_object(Bucket=bucket, Key="governed", VersionId=governed, BypassGovernanceRetention=True)
        marker = c3.delete_object(Bucket=bucket, Key="locked")
        assert marker["DeleteMarker"] is True
    finally:
        cluster.start(2)
        cluster.wait_ready([2])
    for i in range(1, 5):
        cluster.wait_cluster_health(i, 200)

    # Server 2 missed every change above; healing brings its drives the quorum's file (the
    # same write id on all 8), and every server answers with that state.
    wait_until("the changed keys healed onto server 2's drives",
               lambda: healed(cluster, bucket, "locked") and healed(cluster, bucket, "held"), 120,
               lambda: {k: metadata_copies(cluster, bucket, k) for k in ("locked", "held")})
    for i in range(1, 5):
        c = cluster.client(i, attempts=2)
        r = c.get_object_retention(Bucket=bucket, Key="locked", VersionId=locked)["Retention"]
        assert r["Mode"] == "COMPLIANCE" and r["RetainUntilDate"] == later, (i, r)
        with pytest.raises(ClientError) as e:
            c.delete_object(Bucket=bucket, Key="locked", VersionId=locked)
        assert code(e) == (403, "AccessDenied"), i
        assert c.get_object(Bucket=bucket, Key="locked", VersionId=locked)["Body"].read() == b"L" * 300_000
        assert c.get_object_legal_hold(Bucket=bucket, Key="held", VersionId=held)["LegalHold"]["Status"] == "OFF"
        with pytest.raises(ClientError) as e:
            c.head_object(Bucket=bucket, Key="governed", VersionId=governed)
        assert code(e)[0] == 404, i
        with pytest.raises(ClientError) as e:
            c.head_object(Bucket=bucket, Key="locked")
        assert code(e)[0] == 404 and e.value.response["ResponseMetadata"]["HTTPHeaders"].get(
            "x-amz-delete-marker") == "true", i
    # The released hold lets its version go now.
    cluster.client(2).delete_object(Bucket=bucket, Key="held", VersionId=held)


def test_lifecycle_acts_once_per_deployment_and_fails_over(cluster):
    bucket = unique_name("lc")
    c1 = cluster.client(1, attempts=2)
    c1.create_bucket(Bucket=bucket)
    c1.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    before = {i: lifecycle_status(cluster, i) for i in range(1, 5)}
    assert all(s["buckets_with_rules"] >= 1 for s in before.values()), before
    for n in range(20):
        c1.put_object(Bucket=bucket, Key=f"tmp/a{n}", Body=b"x" * 100)
        c1.put_object(Bucket=bucket, Key=f"keep/a{n}", Body=b"y" * 100)
    wait_until("tmp/a* expired", lambda: not keys_under(c1, bucket, "tmp/"))

    # Exactly one server removed them, each once: the counters of the four add up to 20
    # and only one of them moved.
    after = {i: lifecycle_status(cluster, i) for i in range(1, 5)}
    moved = {i: after[i]["objects_expired"] - before[i]["objects_expired"] for i in range(1, 5)}
    owners = [i for i, d in moved.items() if d > 0]
    assert sum(moved.values()) == 20 and len(owners) == 1, moved
    owner = owners[0]

    # Its server dies: another takes the bucket over and expires what comes next.
    cluster.kill9(owner)
    try:
        others = [i for i in range(1, 5) if i != owner]
        c = cluster.client(others[0], attempts=2)
        base = {i: lifecycle_status(cluster, i)["objects_expired"] for i in others}
        for n in range(10):
            c.put_object(Bucket=bucket, Key=f"tmp/b{n}", Body=b"z" * 100)
        wait_until("tmp/b* expired with the owner down", lambda: not keys_under(c, bucket, "tmp/"))
        moved = {i: lifecycle_status(cluster, i)["objects_expired"] - base[i] for i in others}
        assert sum(moved.values()) == 10 and len([i for i in others if moved[i]]) == 1, moved
    finally:
        cluster.start(owner)
        cluster.wait_ready([owner])
    for i in range(1, 5):
        cluster.wait_cluster_health(i, 200)
    # Nothing outside the rule was touched, on any server.
    for i in range(1, 5):
        c = cluster.client(i, attempts=2)
        assert keys_under(c, bucket, "keep/") == {f"keep/a{n}" for n in range(20)}, i
        assert not keys_under(c, bucket, "tmp/"), i
