"""S3 Object Lock with boto3: a bucket created with object lock (versioning on for good),
its default retention, lock headers on PUT and their echo on HEAD, retention and legal
hold by version id (both checksum modes boto3 offers, since AWS wants a checksum on these
requests), GOVERNANCE bypass, COMPLIANCE only extended, DeleteObjects refusing locked
versions, and a retention that expires."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest

from s3util import raises_s3
from test_awscli import AwsCli


def utc_in(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


def remove_all(c, bucket: str):
    """Best effort: every version the bypass can remove, then the bucket."""
    try:
        for p in c.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in p.get("Versions", []) + p.get("DeleteMarkers", []):
                try:
                    c.put_object_legal_hold(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"],
                                            LegalHold={"Status": "OFF"})
                except Exception:
                    pass
                try:
                    c.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"],
                                    BypassGovernanceRetention=True)
                except Exception:
                    pass
        c.delete_bucket(Bucket=bucket)
    except Exception:
        pass


@pytest.fixture
def lock_bucket(server):
    c = server.client()
    name = f"lock-{uuid.uuid4().hex[:12]}"
    c.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    remove_all(c, name)


def test_lock_bucket_default_retention_and_headers(server, lock_bucket):
    c = server.client()
    b = lock_bucket
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    raises_s3("InvalidBucketState", 409, c.put_bucket_versioning, Bucket=b,
              VersioningConfiguration={"Status": "Suspended"})
    cfg = c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert cfg == {"ObjectLockEnabled": "Enabled"}

    c.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    cfg = c.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert cfg["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}

    v1 = c.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    h = c.head_object(Bucket=b, Key="k")
    assert h["ObjectLockMode"] == "GOVERNANCE"
    left = (h["ObjectLockRetainUntilDate"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert abs(left - 86_400) < 120
    v2 = c.put_object(Bucket=b, Key="k", Body=b"two", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=utc_in(3600), ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert v1 != v2
    g = c.get_object(Bucket=b, Key="k")
    assert g["ObjectLockMode"] == "COMPLIANCE" and g["ObjectLockLegalHoldStatus"] == "ON"
    assert g["Body"].read() == b"two"

    raises_s3("AccessDenied", 403, c.delete_object, Bucket=b, Key="k", VersionId=v1)
    raises_s3("AccessDenied", 403, c.delete_object, Bucket=b, Key="k", VersionId=v2,
              BypassGovernanceRetention=True)
    # A plain delete only hides the versions behind a delete marker.
    d = c.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True
    c.delete_object(Bucket=b, Key="k", VersionId=d["VersionId"])
    # Root bypasses GOVERNANCE.
    c.delete_object(Bucket=b, Key="k", VersionId=v1, BypassGovernanceRetention=True)
    # v2 stays (COMPLIANCE, legal hold): release the hold so cleanup keeps the rest tidy.
    c.put_object_legal_hold(Bucket=b, Key="k", VersionId=v2, LegalHold={"Status": "OFF"})


@pytest.mark.parametrize("checksum", ["when_required", "when_supported"])
def test_retention_and_legal_hold_calls(server, lock_bucket, checksum):
    c = server.client(checksum=checksum)
    b = lock_bucket
    v = c.put_object(Bucket=b, Key="r", Body=b"x")["VersionId"]
    raises_s3("NoSuchObjectLockConfiguration", 404, c.get_object_retention, Bucket=b, Key="r", VersionId=v)
    # Never put on this version: no configuration (as S3 answers), not OFF.
    raises_s3("NoSuchObjectLockConfiguration", 404, c.get_object_legal_hold, Bucket=b, Key="r", VersionId=v)
    # Put with the object, OFF is an answer.
    o = c.put_object(Bucket=b, Key="off", Body=b"x", ObjectLockLegalHoldStatus="OFF")["VersionId"]
    assert c.get_object_legal_hold(Bucket=b, Key="off", VersionId=o)["LegalHold"]["Status"] == "OFF"

    c.put_object_retention(Bucket=b, Key="r", VersionId=v,
                           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(3600)})
    r = c.get_object_retention(Bucket=b, Key="r", VersionId=v)["Retention"]
    assert r["Mode"] == "GOVERNANCE"
    # Shortening GOVERNANCE needs the bypass.
    raises_s3("AccessDenied", 403, c.put_object_retention, Bucket=b, Key="r", VersionId=v,
              Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(60)})
    c.put_object_retention(Bucket=b, Key="r", VersionId=v, BypassGovernanceRetention=True,
                           Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utc_in(60)})
    # Turned into COMPLIANCE, it can only be extended.
    c.put_object_retention(Bucket=b, Key="r", VersionId=v,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(120)})
    raises_s3("AccessDenied", 403, c.put_object_retention, Bucket=b, Key="r", VersionId=v,
              BypassGovernanceRetention=True,
              Retention={"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(90)})
    c.put_object_retention(Bucket=b, Key="r", VersionId=v,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": utc_in(180)})

    w = c.put_object(Bucket=b, Key="h", Body=b"y")["VersionId"]
    c.put_object_legal_hold(Bucket=b, Key="h", VersionId=w, LegalHold={"Status": "ON"})
    assert c.get_object_legal_hold(Bucket=b, Key="h", VersionId=w)["LegalHold"]["Status"] == "ON"
    raises_s3("AccessDenied", 403, c.delete_object, Bucket=b, Key="h", VersionId=w,
              BypassGovernanceRetention=True)
    c.put_object_legal_hold(Bucket=b, Key="h", VersionId=w, LegalHold={"Status": "OFF"})
    c.delete_object(Bucket=b, Key="h", VersionId=w)


def test_delete_objects_and_expiry(server, lock_bucket):
    c = server.client()
    b = lock_bucket
    locked = c.put_object(Bucket=b, Key="locked", Body=b"l", ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=utc_in(4))["VersionId"]
    free = c.put_object(Bucket=b, Key="free", Body=b"f")["VersionId"]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "locked", "VersionId": locked}, {"Key": "free", "VersionId": free}]})
    assert [d["Key"] for d in r.get("Deleted", [])] == ["free"]
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in r.get("Errors", [])] == [
        ("locked", locked, "AccessDenied")]
    time.sleep(5)
    c.delete_object(Bucket=b, Key="locked", VersionId=locked)
    assert c.list_object_versions(Bucket=b).get("Versions", []) == []


def test_refused_on_a_bucket_without_object_lock(server, bucket):
    c = server.client()
    raises_s3("ObjectLockConfigurationNotFoundError", 404, c.get_object_lock_configuration, Bucket=bucket)
    raises_s3("InvalidBucketState", 409, c.put_object_lock_configuration, Bucket=bucket,
              ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    raises_s3("InvalidRequest", 400, c.put_object, Bucket=bucket, Key="k", Body=b"x",
              ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=utc_in(60))


def test_aws_cli_lock_configuration_retention_and_hold(server, lock_bucket, tmp_path):
    """The AWS CLI v2 (which adds a CRC32 checksum to these requests) on a lock bucket:
    default retention, the retention a PUT gets from it, a legal hold that even the
    GOVERNANCE bypass does not pass, and the version removed once the hold is off."""
    cli = AwsCli("v2", server, tmp_path)
    b = lock_bucket
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    cli.run("s3api", "put-object-lock-configuration", "--bucket", b,
            "--object-lock-configuration", json.dumps(config))
    got = cli.json("s3api", "get-object-lock-configuration", "--bucket", b)["ObjectLockConfiguration"]
    assert got == config, got
    src = tmp_path / "x"
    src.write_bytes(b"locked")
    v = cli.json("s3api", "put-object", "--bucket", b, "--key", "k", "--body", str(src))["VersionId"]
    r = cli.json("s3api", "get-object-retention", "--bucket", b, "--key", "k", "--version-id", v)["Retention"]
    assert r["Mode"] == "GOVERNANCE", r
    p = cli.run("s3api", "delete-object", "--bucket", b, "--key", "k", "--version-id", v, check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr
    cli.run("s3api", "put-object-legal-hold", "--bucket", b, "--key", "k", "--version-id", v,
            "--legal-hold", "Status=ON")
    hold = cli.json("s3api", "get-object-legal-hold", "--bucket", b, "--key", "k", "--version-id", v)
    assert hold["LegalHold"]["Status"] == "ON"
    p = cli.run("s3api", "delete-object", "--bucket", b, "--key", "k", "--version-id", v,
                "--bypass-governance-retention", check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr, "a legal hold is not bypassed"
    cli.run("s3api", "put-object-legal-hold", "--bucket", b, "--key", "k", "--version-id", v,
            "--legal-hold", "Status=OFF")
    cli.run("s3api", "delete-object", "--bucket", b, "--key", "k", "--version-id", v,
            "--bypass-governance-retention")
    p = cli.run("s3api", "head-object", "--bucket", b, "--key", "k", "--version-id", v, check=False)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr
