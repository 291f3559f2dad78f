"""Bucket lifecycle with boto3 and the AWS CLI: `aws s3api put-bucket-lifecycle-configuration`
and its get/delete, AWS's validation errors, the `x-amz-expiration` header, and the
background worker acting on the rules. The servers the suite starts count a lifecycle day
as CAIRN_LIFECYCLE_DAY_SECONDS=2 (conftest.py), so a rule of one day acts within seconds;
an external server's day length is unknown, so the tests that wait for the worker skip."""

from __future__ import annotations

import json
import time

import pytest

from conftest import EXTERNAL, LIFECYCLE_DAY_SECONDS
from s3util import raises_s3
from test_awscli import AwsCli

# Passes run every second; a one-day rule is due within two days after a write.
PATIENCE = 10 * int(LIFECYCLE_DAY_SECONDS) + 10


def wait_until(what: str, check) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"not within {PATIENCE}s: {what}")


def exists(c, bucket: str, key: str) -> bool:
    try:
        c.head_object(Bucket=bucket, Key=key)
        return True
    except c.exceptions.ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise


def versions_of(c, bucket: str, prefix: str) -> list[tuple[str, str, bool, bool]]:
    r = c.list_object_versions(Bucket=bucket, Prefix=prefix)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
    return out + [(d["Key"], d["VersionId"], d["IsLatest"], True) for d in r.get("DeleteMarkers", [])]


def test_aws_cli_configuration_round_trip(server, bucket, tmp_path):
    cli = AwsCli("v1", server, tmp_path)
    rules = {
        "Rules": [
            {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
            {
                "ID": "old-versions",
                "Filter": {"And": {"Prefix": "db/", "Tags": [{"Key": "tier", "Value": "cold"}]}},
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
            },
            {
                "ID": "uploads",
                "Filter": {},
                "Status": "Disabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
            },
        ]
    }
    doc = tmp_path / "lifecycle.json"
    doc.write_text(json.dumps(rules))
    cli.run("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
            "--lifecycle-configuration", f"file://{doc}")
    got = cli.json("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert got["Rules"] == rules["Rules"]

    bad = {"Rules": [{"ID": "zero", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}}]}
    doc.write_text(json.dumps(bad))
    p = cli.run("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                "--lifecycle-configuration", f"file://{doc}", check=False)
    assert p.returncode != 0
    assert "InvalidArgument" in p.stderr and "'Days' for Expiration action must be a positive integer" in p.stderr

    cli.run("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    p = cli.run("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert p.returncode != 0 and "NoSuchLifecycleConfiguration" in p.stderr


def test_boto3_errors(server, bucket):
    c = server.client()
    put = c.put_bucket_lifecycle_configuration

    def rules(*r):
        return {"Rules": list(r)}

    raises_s3("InvalidRequest", 400, put, Bucket=bucket,
              LifecycleConfiguration=rules({"ID": "a", "Filter": {}, "Status": "Enabled"}))
    raises_s3("InvalidArgument", 400, put, Bucket=bucket, LifecycleConfiguration=rules(
        {"ID": "a", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "a", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 2}}))
    raises_s3("InvalidArgument", 400, put, Bucket=bucket, LifecycleConfiguration=rules(
        {"ID": "d", "Filter": {}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": -1}}))
    raises_s3("NotImplemented", 501, put, Bucket=bucket, LifecycleConfiguration=rules(
        {"ID": "t", "Filter": {}, "Status": "Enabled", "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}))
    raises_s3("NoSuchLifecycleConfiguration", 404, c.get_bucket_lifecycle_configuration, Bucket=bucket)


def test_expiration_header(server, bucket):
    c = server.client()
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "picture-deletion-rule", "Filter": {"Prefix": "pic/"}, "Status": "Enabled",
         "Expiration": {"Days": 100000}}]})
    r = c.put_object(Bucket=bucket, Key="pic/a.jpg", Body=b"jpeg")
    h = r["Expiration"]
    assert h.startswith('expiry-date="') and h.endswith('GMT", rule-id="picture-deletion-rule"'), h
    assert c.head_object(Bucket=bucket, Key="pic/a.jpg")["Expiration"] == h
    assert "Expiration" not in c.put_object(Bucket=bucket, Key="doc/a", Body=b"x")


@pytest.mark.skipif(EXTERNAL, reason="an external server's lifecycle day is unknown")
def test_worker_expires_by_prefix_and_tag(server, bucket):
    c = server.client()
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "tagged", "Filter": {"Tag": {"Key": "expire", "Value": "yes"}}, "Status": "Enabled",
         "Expiration": {"Days": 1}},
    ]})
    c.put_object(Bucket=bucket, Key="tmp/a", Body=b"a")
    c.put_object(Bucket=bucket, Key="keep/b", Body=b"b")
    c.put_object(Bucket=bucket, Key="t/c", Body=b"c", Tagging="expire=yes")
    c.put_object(Bucket=bucket, Key="t/d", Body=b"d", Tagging="expire=no")
    wait_until("tmp/a and t/c expire", lambda: not exists(c, bucket, "tmp/a") and not exists(c, bucket, "t/c"))
    time.sleep(2 * int(LIFECYCLE_DAY_SECONDS))
    assert exists(c, bucket, "keep/b") and exists(c, bucket, "t/d")


@pytest.mark.skipif(EXTERNAL, reason="an external server's lifecycle day is unknown")
def test_worker_on_a_versioned_bucket(server, bucket):
    c = server.client()
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "current", "Filter": {"Prefix": "cur/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "noncurrent", "Filter": {"Prefix": "nc/"}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
        {"ID": "markers", "Filter": {"Prefix": "dm/"}, "Status": "Enabled",
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]})
    v = c.put_object(Bucket=bucket, Key="cur/k", Body=b"one")["VersionId"]
    ids = [c.put_object(Bucket=bucket, Key="nc/k", Body=f"v{i}".encode())["VersionId"] for i in range(4)]
    c.delete_object(Bucket=bucket, Key="dm/lone")

    wait_until("a delete marker over cur/k", lambda: any(m and latest for _, _, latest, m in versions_of(c, bucket, "cur/")))
    assert c.get_object(Bucket=bucket, Key="cur/k", VersionId=v)["Body"].read() == b"one"
    wait_until("two versions of nc/k left", lambda: len(versions_of(c, bucket, "nc/")) == 2)
    assert sorted(x[1] for x in versions_of(c, bucket, "nc/")) == sorted(ids[2:])
    wait_until("the lone marker removed", lambda: versions_of(c, bucket, "dm/") == [])


@pytest.mark.skipif(EXTERNAL, reason="an external server's lifecycle day is unknown")
def test_worker_aborts_old_uploads(server, bucket):
    c = server.client()
    c.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "mpu", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    c.create_multipart_upload(Bucket=bucket, Key="up/a")
    c.create_multipart_upload(Bucket=bucket, Key="other/b")
    wait_until("up/a aborted", lambda: [u["Key"] for u in c.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
               == ["other/b"])
    c.abort_multipart_upload(Bucket=bucket, Key="other/b",
                             UploadId=c.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"])
