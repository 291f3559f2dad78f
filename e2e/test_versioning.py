"""Bucket versioning with boto3 (issue 10): what a backup tool or `aws s3api` does with a
versioned bucket — keep every PUT, read old versions, delete markers, restore by deleting
the marker, list and page through versions, delete versions in bulk, suspend."""

from __future__ import annotations

import uuid

import pytest

from s3util import MiB, body_of, data, raises_s3
from test_awscli import AwsCli


def versions_of(c, bucket: str, prefix: str = "", page: int = 1000) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, delete marker) of every version, paged `page` at a time."""
    out = []
    for p in c.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page}
    ):
        entries = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in p.get("Versions", [])]
        entries += [(d["Key"], d["VersionId"], d["IsLatest"], True) for d in p.get("DeleteMarkers", [])]
        assert len(entries) <= page
        entries.sort(key=lambda e: (e[0], not e[2]))
        out += entries
    return out


def remove_every_version(c, bucket: str):
    objs = [{"Key": k, "VersionId": v} for k, v, _, _ in versions_of(c, bucket)]
    for i in range(0, len(objs), 1000):
        c.delete_objects(Bucket=bucket, Delete={"Objects": objs[i:i + 1000], "Quiet": True})


def test_versions_markers_and_restore(server, bucket):
    c = server.client()
    assert "Status" not in c.get_bucket_versioning(Bucket=bucket)
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert c.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    bodies = [data(10, "v0"), data(3 * MiB + 1, "v1"), data(200_000, "v2")]
    ids = [c.put_object(Bucket=bucket, Key="db/backup", Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == 3 and all(uuid.UUID(i) for i in ids)
    for i, b in zip(ids, bodies):
        r = c.get_object(Bucket=bucket, Key="db/backup", VersionId=i)
        assert r["VersionId"] == i and body_of(r) == b
    assert body_of(c.get_object(Bucket=bucket, Key="db/backup")) == bodies[2]

    d = c.delete_object(Bucket=bucket, Key="db/backup")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    e = raises_s3("NoSuchKey", 404, c.get_object, Bucket=bucket, Key="db/backup")
    assert e.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    raises_s3("MethodNotAllowed", 405, c.get_object, Bucket=bucket, Key="db/backup", VersionId=marker)
    raises_s3("NoSuchVersion", 404, c.get_object, Bucket=bucket, Key="db/backup", VersionId=str(uuid.uuid4()))
    raises_s3("InvalidArgument", 400, c.get_object, Bucket=bucket, Key="db/backup", VersionId="junk")
    assert c.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert versions_of(c, bucket) == [
        ("db/backup", marker, True, True),
        ("db/backup", ids[2], False, False),
        ("db/backup", ids[1], False, False),
        ("db/backup", ids[0], False, False),
    ]
    # Restore: remove the marker; then copy an old version on top.
    c.delete_object(Bucket=bucket, Key="db/backup", VersionId=marker)
    assert body_of(c.get_object(Bucket=bucket, Key="db/backup")) == bodies[2]
    cp = c.copy_object(Bucket=bucket, Key="db/backup",
                       CopySource={"Bucket": bucket, "Key": "db/backup", "VersionId": ids[0]})
    assert cp["CopySourceVersionId"] == ids[0]
    assert body_of(c.get_object(Bucket=bucket, Key="db/backup")) == bodies[0]
    assert len(versions_of(c, bucket)) == 4
    remove_every_version(c, bucket)
    assert versions_of(c, bucket) == []


def test_version_listing_pages_and_bulk_deletes(server, bucket):
    c = server.client()
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    want = []
    for key in ["a", "b/1", "b/2", "c d"]:
        ids = [c.put_object(Bucket=bucket, Key=key, Body=f"{key}{i}".encode())["VersionId"] for i in range(3)]
        want += [(key, v, n == 2, False) for n, v in reversed(list(enumerate(ids)))]
    for page in (1, 2, 5, 1000):
        assert versions_of(c, bucket, page=page) == want, page
    r = c.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]
    r = c.list_object_versions(Bucket=bucket, Prefix="c", EncodingType="url")
    assert r["Versions"][0]["Key"] == "c%20d"
    # DeleteObjects: one version by id, one key without (a marker).
    r = c.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": want[0][1]},
        {"Key": "b/1"},
    ]})
    by_key = {d["Key"]: d for d in r["Deleted"]}
    assert by_key["a"]["VersionId"] == want[0][1]
    assert by_key["b/1"]["DeleteMarker"] is True and by_key["b/1"]["DeleteMarkerVersionId"]
    assert body_of(c.get_object(Bucket=bucket, Key="a")) == b"a1"
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["a", "b/2", "c d"]
    remove_every_version(c, bucket)


def test_suspended_bucket_writes_the_null_version(server, bucket):
    c = server.client()
    c.put_object(Bucket=bucket, Key="k", Body=b"old")
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = c.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    assert body_of(c.get_object(Bucket=bucket, Key="k", VersionId="null")) == b"old"
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    c.put_object(Bucket=bucket, Key="k", Body=b"new null")
    assert body_of(c.get_object(Bucket=bucket, Key="k", VersionId="null")) == b"new null"
    assert body_of(c.get_object(Bucket=bucket, Key="k", VersionId=v1)) == b"v1"
    assert [(v[1], v[2]) for v in versions_of(c, bucket)] == [("null", True), (v1, False)]
    remove_every_version(c, bucket)


@pytest.mark.parametrize("cli_version", ["v1", "v2"])
def test_aws_cli_versions_markers_and_restore(server, bucket, tmp_path, cli_version):
    """The AWS CLI's versioning workflow: enable, overwrite, `aws s3 rm` (a delete marker),
    list the versions, read an old one, restore by removing the marker."""
    cli = AwsCli(cli_version, server, tmp_path)
    cli.run("s3api", "put-bucket-versioning", "--bucket", bucket,
            "--versioning-configuration", "Status=Enabled")
    assert cli.json("s3api", "get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    src = tmp_path / "doc.txt"
    ids = []
    for body in (b"one", b"two"):
        src.write_bytes(body)
        ids.append(cli.json("s3api", "put-object", "--bucket", bucket, "--key", "doc",
                            "--body", str(src))["VersionId"])
    assert len(set(ids)) == 2 and "null" not in ids
    cli.run("s3", "rm", f"s3://{bucket}/doc")
    listed = cli.json("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "doc")
    assert sorted(v["VersionId"] for v in listed["Versions"]) == sorted(ids)
    assert [(m["Key"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("doc", True)]
    p = cli.run("s3api", "head-object", "--bucket", bucket, "--key", "doc", check=False)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr
    out = tmp_path / "out"
    cli.run("s3api", "get-object", "--bucket", bucket, "--key", "doc", "--version-id", ids[0], str(out))
    assert out.read_bytes() == b"one"
    marker = listed["DeleteMarkers"][0]["VersionId"]
    cli.run("s3api", "delete-object", "--bucket", bucket, "--key", "doc", "--version-id", marker)
    cli.run("s3", "cp", f"s3://{bucket}/doc", str(out))
    assert out.read_bytes() == b"two"
    unknown = str(uuid.uuid4())
    p = cli.run("s3api", "head-object", "--bucket", bucket, "--key", "doc", "--version-id", unknown, check=False)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr
