"""boto3 against the server: the calls Synapse's s3_storage_provider (checksums
"when_required") and barman-cloud / s3_media_upload (default CRC32 checksums) make, plus the
S3 semantics those clients rely on (errors, listing, multipart, copy, presigned URLs)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from s3util import (MiB, body_of, crc32_b64, data, expect_error, md5_file_parts, md5_hex, multipart_etag,
                    presign_v4, quoted_md5, raises_s3, sha256_file, status_of, unique_name, write_file)


def capture_headers(client, operation: str) -> list[dict]:
    """Record the HTTP headers the client actually sends for an operation (to prove which
    wire mode a test exercised)."""
    seen: list[dict] = []

    def hook(request, **_):
        seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return seen


# ---------------------------------------------------------------------------------------------
# PUT / GET / HEAD


def test_put_get_synapse_style_when_required(server, bucket):
    s3 = server.client(checksum="when_required")
    sent = capture_headers(s3, "PutObject")
    payload = data(300_000, "synapse")
    key = "media/local_content/ab/cd/efghijklmnop"
    r = s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType="image/png", StorageClass="STANDARD",
                      Metadata={"origin": "synapse", "thumb": "no"})
    assert r["ETag"] == quoted_md5(payload)
    assert not any(k.startswith("x-amz-checksum-") for k in sent[0]), sent[0]

    got = s3.get_object(Bucket=bucket, Key=key)
    assert body_of(got) == payload
    assert got["ContentLength"] == len(payload)
    assert got["ETag"] == quoted_md5(payload)
    assert got["ContentType"] == "image/png"

    h = s3.head_object(Bucket=bucket, Key=key)
    assert h["ContentLength"] == len(payload)
    assert h["ETag"] == quoted_md5(payload)
    assert h["ContentType"] == "image/png"
    assert h["Metadata"] == {"origin": "synapse", "thumb": "no"}
    assert isinstance(h["LastModified"], dt.datetime)
    assert abs((dt.datetime.now(dt.timezone.utc) - h["LastModified"]).total_seconds()) < 600


@pytest.mark.parametrize("body_kind", ["bytes", "bytesio", "file"])
def test_put_default_crc32_and_checksum_mode(server, bucket, tmp_path, body_kind):
    s3 = server.client()
    sent = capture_headers(s3, "PutObject")
    payload = data(1_500_000 + 7, body_kind)   # > 1 MiB erasure block, odd length
    if body_kind == "bytes":
        body = payload
    elif body_kind == "bytesio":
        body = io.BytesIO(payload)
    else:
        body = open(write_file(tmp_path / "f.bin", len(payload), body_kind), "rb")
    try:
        r = s3.put_object(Bucket=bucket, Key=f"wal/{body_kind}", Body=body, ContentType="application/octet-stream")
    finally:
        if hasattr(body, "close"):
            body.close()
    # the default client really sent a CRC32 (the barman-cloud wire behaviour over HTTP)
    hdrs = sent[0]
    if not server.tls:
        assert hdrs.get("x-amz-checksum-crc32") == crc32_b64(payload), hdrs
    assert r["ETag"] == quoted_md5(payload)
    assert r.get("ChecksumCRC32") in (None, crc32_b64(payload))

    got = s3.get_object(Bucket=bucket, Key=f"wal/{body_kind}", ChecksumMode="ENABLED")
    assert body_of(got) == payload
    assert got["ChecksumCRC32"] == crc32_b64(payload)

    h = s3.head_object(Bucket=bucket, Key=f"wal/{body_kind}", ChecksumMode="ENABLED")
    assert h["ContentLength"] == len(payload)
    assert h["ETag"] == quoted_md5(payload)
    assert h.get("ChecksumCRC32") == crc32_b64(payload)


def test_put_rejects_wrong_content_md5(s3, bucket):
    import base64
    import hashlib
    bad = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    raises_s3("BadDigest", 400, s3.put_object, Bucket=bucket, Key="bad-md5", Body=b"payload", ContentMD5=bad)
    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="bad-md5")


def test_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert body_of(got) == b""
    assert got["ContentLength"] == 0
    assert got["ETag"] == quoted_md5(b"")


def test_ranged_get(s3, bucket):
    payload = data(3 * MiB + 12345, "range")
    s3.put_object(Bucket=bucket, Key="r", Body=payload)
    n = len(payload)
    cases = [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1048570-1048590", 1048570, 1048590),       # crosses the first 1 MiB erasure block
        (f"bytes={n - 50}-", n - 50, n - 1),                # open-ended
        ("bytes=-50", n - 50, n - 1),                       # suffix
        (f"bytes=2000000-{n + 1000}", 2000000, n - 1),      # end beyond size is clamped
    ]
    for rng, first, last in cases:
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert status_of(got) == 206, rng
        assert body_of(got) == payload[first:last + 1], rng
        assert got["ContentRange"] == f"bytes {first}-{last}/{n}", rng
        assert got["ContentLength"] == last - first + 1, rng


def test_invalid_range_416(s3, bucket):
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    raises_s3("InvalidRange", 416, s3.get_object, Bucket=bucket, Key="small", Range="bytes=20-30")


def test_conditional_get(s3, bucket):
    payload = b"conditional body"
    etag = s3.put_object(Bucket=bucket, Key="c", Body=payload)["ETag"]
    assert etag == quoted_md5(payload)
    # If-None-Match with the current ETag -> 304 Not Modified
    e = raises_s3(None, 304, s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    # If-Match with another ETag -> 412 PreconditionFailed
    raises_s3("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    # and the matching cases succeed
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)) == payload
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0123456789abcdef0123456789abcdef"')) == payload
    # same rules on HEAD
    raises_s3(None, 304, s3.head_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    raises_s3(None, 412, s3.head_object, Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    # If-Modified-Since in the future -> 304; If-Unmodified-Since in the past -> 412
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
    raises_s3(None, 304, s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=future)
    raises_s3("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c", IfUnmodifiedSince=past)


def test_acl_private_and_multipart_accepted_like_barman(server):
    s3 = server.client()
    name = unique_name("barman")
    # barman-cloud-check-wal-archive creates the bucket with x-amz-acl: private
    raises_s3(None, 404, s3.head_bucket, Bucket=name)
    s3.create_bucket(Bucket=name, ACL="private")
    try:
        payload = data(200_000, "wal")
        key = "main/pg-main/wals/0000000100000000/000000010000000000000001"
        r = s3.put_object(Bucket=name, Key=key, Body=payload, ACL="private")
        assert "ServerSideEncryption" not in r
        assert body_of(s3.get_object(Bucket=name, Key=key)) == payload
        # barman-cloud-backup multipart (no checksum algorithm on Create, CRC32 on parts)
        mkey = "main/pg-main/base/20260101T000000/data.tar.gz"
        up = s3.create_multipart_upload(Bucket=name, Key=mkey)
        p1, p2 = data(5 * MiB, "b1"), data(1000, "b2")
        e1 = s3.upload_part(Bucket=name, Key=mkey, UploadId=up["UploadId"], PartNumber=1, Body=p1)["ETag"]
        e2 = s3.upload_part(Bucket=name, Key=mkey, UploadId=up["UploadId"], PartNumber=2, Body=p2)["ETag"]
        s3.complete_multipart_upload(Bucket=name, Key=mkey, UploadId=up["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        got = s3.get_object(Bucket=name, Key=mkey)
        assert body_of(got) == p1 + p2
        assert got["ETag"] == multipart_etag([bytes.fromhex(md5_hex(p1)), bytes.fromhex(md5_hex(p2))])
    finally:
        from s3util import empty_bucket
        empty_bucket(s3, name)


KMS_NOT_CONFIGURED = "Server side encryption specified but KMS is not configured"


def test_sse_without_kms_or_tls_is_refused_and_nothing_stored(server, bucket):
    """The plain HTTP server has no KMS key: barman-cloud's `--encryption AES256` (SSE-S3)
    and SSE-KMS get MinIO's no-KMS error, and an SSE-C key sent in the clear (Synapse's
    `sse_customer_key` without TLS) gets S3's "secure connection" refusal, before anything
    is written: not the new key, not over an existing one, not an upload."""
    s3 = server.client()
    key = "main/pg-main/wals/0000000100000000/000000010000000000000002"
    sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
    for extra in ({"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key"}):
        e = raises_s3("NotImplemented", 501, s3.put_object, Bucket=bucket, Key=key, Body=data(100_000, "x"),
                      **extra)
        assert e.response["Error"]["Message"].startswith(KMS_NOT_CONFIGURED), e.response["Error"]
        raises_s3("NotImplemented", 501, s3.create_multipart_upload, Bucket=bucket, Key=key, **extra)
    e = raises_s3("InvalidRequest", 400, s3.put_object, Bucket=bucket, Key=key, Body=b"x", **sse_c)
    assert "secure connection" in e.response["Error"]["Message"], e.response["Error"]
    raises_s3("InvalidRequest", 400, s3.create_multipart_upload, Bucket=bucket, Key=key, **sse_c)
    raises_s3(None, 404, s3.head_object, Bucket=bucket, Key=key)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    # An existing object of that key is left as it was, and reads back without SSE headers.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"original")
    raises_s3("NotImplemented", 501, s3.put_object, Bucket=bucket, Key="kept", Body=b"replacement",
              ServerSideEncryption="AES256")
    raises_s3("InvalidRequest", 400, s3.put_object, Bucket=bucket, Key="kept", Body=b"replacement", **sse_c)
    raises_s3("InvalidRequest", 400, s3.get_object, Bucket=bucket, Key="kept", **sse_c)
    raises_s3("NotImplemented", 501, s3.copy_object, Bucket=bucket, Key="copy",
              CopySource={"Bucket": bucket, "Key": "kept"}, ServerSideEncryption="AES256")
    raises_s3(None, 404, s3.head_object, Bucket=bucket, Key="copy")
    got = s3.get_object(Bucket=bucket, Key="kept")
    assert body_of(got) == b"original"
    assert "ServerSideEncryption" not in got and "SSECustomerAlgorithm" not in got
    raises_s3("NotImplemented", 501, s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    raises_s3("ServerSideEncryptionConfigurationNotFoundError", 404, s3.get_bucket_encryption, Bucket=bucket)


def test_sse_over_tls_with_boto3_as_barman_and_synapse_send_it(tls_server, tls_bucket):
    """boto3's own SSE wire, against the TLS server with a KMS key: barman-cloud's
    `--encryption AES256` path (put_object and upload_file's multipart with
    ServerSideEncryption), Synapse's SSE-C path (ExtraArgs SSECustomerKey, boto3 adding the
    key's MD5), a presigned GET that carries the SSE-C headers, copies between kinds, and
    bucket default encryption."""
    s3 = tls_server.client()
    b = tls_bucket
    wal = data(300_000, "wal-sse")
    r = s3.put_object(Bucket=b, Key="wal", Body=wal, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256" and r["ETag"] == quoted_md5(wal)
    got = s3.get_object(Bucket=b, Key="wal", Range="bytes=65530-65545")
    assert body_of(got) == wal[65530:65546] and got["ServerSideEncryption"] == "AES256"
    big = data(12 * MiB + 5, "base-sse")
    s3.upload_fileobj(io.BytesIO(big), b, "base.tar", ExtraArgs={"ServerSideEncryption": "AES256"},
                      Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    head = s3.head_object(Bucket=b, Key="base.tar")
    assert head["ContentLength"] == len(big) and head["ServerSideEncryption"] == "AES256"
    assert body_of(s3.get_object(Bucket=b, Key="base.tar")) == big

    key = "synapse-sse-c-key-32-bytes-long!"
    c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    media = data(200_000, "media")
    s3.upload_fileobj(io.BytesIO(media), b, "media/local_content/ab/cd/ef", ExtraArgs=dict(c))
    raises_s3("InvalidRequest", 400, s3.get_object, Bucket=b, Key="media/local_content/ab/cd/ef")
    raises_s3("AccessDenied", 403, s3.get_object, Bucket=b, Key="media/local_content/ab/cd/ef",
              SSECustomerAlgorithm="AES256", SSECustomerKey="another-key-of-32-bytes-length!!")
    got = s3.get_object(Bucket=b, Key="media/local_content/ab/cd/ef", **c)
    assert body_of(got) == media and got["SSECustomerAlgorithm"] == "AES256"
    # A presigned GET: the SSE-C headers are signed, and the client sends them.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "media/local_content/ab/cd/ef", **c},
                                    ExpiresIn=300)
    raw = key.encode()
    req = urllib.request.Request(url, headers={
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(raw).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(raw).digest()).decode()})
    with urllib.request.urlopen(req, timeout=30, context=tls_server.ssl_context()) as resp:
        assert resp.read() == media
    # SSE-C to SSE-S3 and back to plain, by copies naming the source's key.
    s3.copy_object(Bucket=b, Key="copied", CopySource={"Bucket": b, "Key": "media/local_content/ab/cd/ef"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key,
                   ServerSideEncryption="AES256")
    assert body_of(s3.get_object(Bucket=b, Key="copied")) == media
    assert s3.head_object(Bucket=b, Key="copied")["ServerSideEncryption"] == "AES256"

    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.put_object(Bucket=b, Key="by-default", Body=b"d")["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=b)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=b, Key="plain-again", Body=b"p")


# ---------------------------------------------------------------------------------------------
# Buckets and errors


def test_bucket_lifecycle_and_errors(server):
    s3 = server.client()
    name = unique_name("life")
    raises_s3("NoSuchBucket", 404, s3.list_objects_v2, Bucket=name)
    raises_s3("NoSuchBucket", 404, s3.get_object, Bucket=name, Key="k")
    raises_s3("NoSuchBucket", 404, s3.put_object, Bucket=name, Key="k", Body=b"x")
    raises_s3(None, 404, s3.head_bucket, Bucket=name)
    raises_s3("NoSuchBucket", 404, s3.delete_bucket, Bucket=name)

    s3.create_bucket(Bucket=name)
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=name, Key="missing")
    raises_s3(None, 404, s3.head_object, Bucket=name, Key="missing")

    s3.put_object(Bucket=name, Key="x", Body=b"x")
    raises_s3("BucketNotEmpty", 409, s3.delete_bucket, Bucket=name)
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    raises_s3(None, 404, s3.head_bucket, Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_already_owned_by_you(s3, bucket):
    """MinIO semantics (what Cairn promises): 409 even in us-east-1, where AWS itself keeps a
    legacy 200 OK."""
    raises_s3("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket=bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("bad", ["ab", "Has_Upper", "bad..dots", "-leading-dash", "192.168.5.4", "x" * 64])
def test_invalid_bucket_name(s3, bad):
    raises_s3("InvalidBucketName", 400, s3.create_bucket, Bucket=bad)


def test_wrong_secret_key_signature_does_not_match(server, bucket):
    bad = server.client(secret_key=server.secret_key + "-wrong")
    raises_s3("SignatureDoesNotMatch", 403, bad.list_objects_v2, Bucket=bucket)
    raises_s3("SignatureDoesNotMatch", 403, bad.put_object, Bucket=bucket, Key="k", Body=b"x")
    raises_s3("NoSuchKey", 404, server.client().get_object, Bucket=bucket, Key="k")


def test_unknown_access_key(server, bucket):
    bad = server.client(access_key="NOSUCHACCESSKEY0001", secret_key="whatever-secret-key")
    raises_s3("InvalidAccessKeyId", 403, bad.list_objects_v2, Bucket=bucket)
    raises_s3("InvalidAccessKeyId", 403, bad.get_object, Bucket=bucket, Key="k")


def test_anonymous_request_denied(server, bucket):
    server.client().put_object(Bucket=bucket, Key="private", Body=b"secret")
    url = f"{server.endpoint}/{bucket}/private"
    with pytest.raises(urllib.error.HTTPError) as ei:
        server.urlopen(url)
    assert ei.value.code == 403
    assert b"<Code>AccessDenied</Code>" in ei.value.read()


# ---------------------------------------------------------------------------------------------
# Listing


LIST_KEYS = sorted(
    [f"f/{i}" for i in range(2400)]                          # not zero-padded: "f/10" < "f/2"
    + [f"d{j}/x/{m}" for j in range(10) for m in range(10)]
    + ["u/z", "u/Z", "u/é", "u/ä", "u/a b", "u/a+b", "u/a-b", "u/a/b", "u/a0", "root.txt", "root-2.txt"],
    key=lambda k: k.encode())


@pytest.fixture(scope="module")
def listing_bucket(server):
    s3 = server.client()
    name = unique_name("list")
    s3.create_bucket(Bucket=name)

    def put(k):
        c = clients[hash(k) % len(clients)]
        c.put_object(Bucket=name, Key=k, Body=k.encode())

    clients = [server.client() for _ in range(8)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(put, LIST_KEYS))
    yield name
    from s3util import empty_bucket
    try:
        empty_bucket(s3, name)
    except Exception:
        pass


def test_list_v2_pagination_2500_keys(server, listing_bucket):
    s3 = server.client()
    keys, pages, token = [], 0, None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=1000, **kw)
        pages += 1
        contents = r.get("Contents", [])
        assert r["KeyCount"] == len(contents)
        assert len(contents) <= 1000
        keys += [o["Key"] for o in contents]
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        assert len(contents) == 1000
        token = r["NextContinuationToken"]
        assert pages < 10
    assert pages == 3
    assert keys == LIST_KEYS, "listing is not the full key set in UTF-8 byte order"
    # sizes and ETags of listed objects
    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="u/", MaxKeys=1000)
    for o in r["Contents"]:
        assert o["Size"] == len(o["Key"].encode())
        assert o["ETag"] == quoted_md5(o["Key"].encode())


def test_list_v2_default_max_keys_is_1000(server, listing_bucket):
    r = server.client().list_objects_v2(Bucket=listing_bucket)
    assert r["KeyCount"] == 1000 and r["IsTruncated"] is True
    assert [o["Key"] for o in r["Contents"]] == LIST_KEYS[:1000]


def test_list_v2_paginator_matches(server, listing_bucket):
    s3 = server.client()
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=listing_bucket, PaginationConfig={"PageSize": 700}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == LIST_KEYS


def test_list_v2_prefix_delimiter(server, listing_bucket):
    s3 = server.client()
    r = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == [f"d{j}/" for j in range(10)] + ["f/", "u/"]
    assert [o["Key"] for o in r.get("Contents", [])] == ["root-2.txt", "root.txt"]
    assert r["KeyCount"] == 14

    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="d3/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["d3/x/"]
    assert "Contents" not in r

    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="u/a", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["u/a b", "u/a+b", "u/a-b", "u/a0"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["u/a/"]

    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="f/1", MaxKeys=1000)
    assert [o["Key"] for o in r["Contents"]] == [k for k in LIST_KEYS if k.startswith("f/1")][:1000]

    r = s3.list_objects_v2(Bucket=listing_bucket, Prefix="nothing-here/")
    assert r["KeyCount"] == 0 and "Contents" not in r and r["IsTruncated"] is False


def test_list_v2_delimiter_pagination_small_pages(server, listing_bucket):
    """CommonPrefixes count toward MaxKeys; paging with a delimiter visits each prefix once."""
    s3 = server.client()
    entries, token = [], None
    for _ in range(50):
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/", MaxKeys=3, **kw)
        page = [p["Prefix"] for p in r.get("CommonPrefixes", [])] + [o["Key"] for o in r.get("Contents", [])]
        assert 0 < len(page) <= 3
        assert r["KeyCount"] == len(page)
        entries += page
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(entries) == sorted([f"d{j}/" for j in range(10)] + ["f/", "u/", "root-2.txt", "root.txt"])
    assert len(entries) == len(set(entries))


def test_list_v2_start_after(server, listing_bucket):
    r = server.client().list_objects_v2(Bucket=listing_bucket, StartAfter="f/998", MaxKeys=5)
    assert [o["Key"] for o in r["Contents"]] == [k for k in LIST_KEYS if k > "f/998"][:5]


def test_list_v1_marker(server, listing_bucket):
    s3 = server.client()
    keys, marker = [], ""
    for _ in range(10):
        r = s3.list_objects(Bucket=listing_bucket, Marker=marker, MaxKeys=1000)
        contents = r.get("Contents", [])
        keys += [o["Key"] for o in contents]
        if not r["IsTruncated"]:
            break
        assert len(contents) == 1000
        # NextMarker is only required with a delimiter; clients fall back to the last key
        marker = r.get("NextMarker") or contents[-1]["Key"]
    assert keys == LIST_KEYS

    # With a delimiter, NextMarker must be present when truncated.
    entries, marker = [], ""
    for _ in range(20):
        r = s3.list_objects(Bucket=listing_bucket, Delimiter="/", MaxKeys=4, Marker=marker)
        entries += [p["Prefix"] for p in r.get("CommonPrefixes", [])] + [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        assert r.get("NextMarker"), "truncated V1 listing with a delimiter has no NextMarker"
        marker = r["NextMarker"]
    assert sorted(entries) == sorted([f"d{j}/" for j in range(10)] + ["f/", "u/", "root-2.txt", "root.txt"])
    assert len(entries) == len(set(entries))

    r = s3.list_objects(Bucket=listing_bucket, Prefix="u/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == [k for k in LIST_KEYS if k.startswith("u/") and "/" not in k[2:]]


# ---------------------------------------------------------------------------------------------
# Multipart


@pytest.fixture(scope="module")
def file_100mib(tmp_path_factory):
    return write_file(tmp_path_factory.mktemp("big") / "big-100MiB.bin", 100 * MiB, "100MiB")


def test_upload_file_100mib_multipart(server, bucket, file_100mib, tmp_path):
    s3 = server.client()
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(file_100mib), bucket, "big/100MiB.bin", Config=cfg)

    h = s3.head_object(Bucket=bucket, Key="big/100MiB.bin")
    assert h["ContentLength"] == 100 * MiB
    assert h["ETag"].endswith('-13"'), h["ETag"]
    assert h["ETag"] == multipart_etag(md5_file_parts(file_100mib, 8 * MiB))

    out = tmp_path / "down.bin"
    s3.download_file(bucket, "big/100MiB.bin", str(out), Config=cfg)   # parallel ranged GETs
    assert sha256_file(out) == sha256_file(file_100mib)

    # and a plain streaming GET of the whole object, plus a range across a part boundary
    import hashlib
    hsh = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key="big/100MiB.bin")["Body"]
    for blk in body.iter_chunks(MiB):
        hsh.update(blk)
    body.close()
    assert hsh.hexdigest() == sha256_file(file_100mib)
    r = s3.get_object(Bucket=bucket, Key="big/100MiB.bin", Range=f"bytes={8 * MiB - 10}-{8 * MiB + 9}")
    with open(file_100mib, "rb") as f:
        f.seek(8 * MiB - 10)
        assert body_of(r) == f.read(20)


@pytest.mark.parametrize("style", ["synapse-when_required", "s3transfer-crc32", "barman-parts-crc32-only"])
def test_manual_multipart(server, bucket, style):
    """create / upload_part / list_parts / complete, in the three ways the clients do it."""
    s3 = server.client(checksum="when_required" if style.startswith("synapse") else "when_supported")
    key = f"mp/{style}/object"
    create_kw = {"ContentType": "application/x-tar", "Metadata": {"backup": style}}
    if style == "s3transfer-crc32":
        create_kw["ChecksumAlgorithm"] = "CRC32"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_kw)
    uid = up["UploadId"]
    assert up["Key"] == key and up["Bucket"] == bucket and uid

    listed = s3.list_multipart_uploads(Bucket=bucket, Prefix="mp/")
    assert (key, uid) in [(u["Key"], u["UploadId"]) for u in listed.get("Uploads", [])]

    parts = [data(5 * MiB, f"{style}1"), data(5 * MiB + 1, f"{style}2"), data(777, f"{style}3")]
    done = []
    for i, p in enumerate(parts, 1):
        kw = {"ChecksumAlgorithm": "CRC32"} if style == "s3transfer-crc32" else {}
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=p, **kw)
        assert r["ETag"] == quoted_md5(p)
        entry = {"PartNumber": i, "ETag": r["ETag"]}
        if style == "s3transfer-crc32":
            assert r.get("ChecksumCRC32") == crc32_b64(p)
            entry["ChecksumCRC32"] = r["ChecksumCRC32"]
        done.append(entry)

    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(i, quoted_md5(p), len(p)) for i, p in enumerate(parts, 1)]

    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    expected_etag = multipart_etag([bytes.fromhex(md5_hex(p)) for p in parts])
    assert r["ETag"] == expected_etag
    assert r["Key"] == key

    got = s3.get_object(Bucket=bucket, Key=key)
    assert body_of(got) == b"".join(parts)
    assert got["ETag"] == expected_etag
    assert got["ContentType"] == "application/x-tar"
    assert got["Metadata"] == {"backup": style}
    assert got["ContentLength"] == sum(map(len, parts))

    listed = s3.list_multipart_uploads(Bucket=bucket, Prefix="mp/")
    assert uid not in [u["UploadId"] for u in listed.get("Uploads", [])]
    raises_s3("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key=key, UploadId=uid)


def test_multipart_part_overwrite_and_ordering(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="ow")
    uid = up["UploadId"]
    # parts uploaded out of order, part 1 uploaded twice (the second one wins)
    p2 = data(1234, "p2")
    e2 = s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=1, Body=data(5 * MiB, "old"))
    p1 = data(5 * MiB, "new")
    e1 = s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="ow", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert body_of(s3.get_object(Bucket=bucket, Key="ow")) == p1 + p2


def test_multipart_abort(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="aborted")
    uid = up["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=uid, PartNumber=1, Body=data(MiB, "ab"))
    assert uid in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=uid)
    assert uid not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    raises_s3("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="aborted", UploadId=uid)
    raises_s3("NoSuchUpload", 404, s3.upload_part, Bucket=bucket, Key="aborted", UploadId=uid, PartNumber=2, Body=b"x")
    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="aborted")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_multipart_entity_too_small(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="small-parts")
    uid = up["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small-parts", UploadId=uid, PartNumber=1, Body=data(MiB, "s1"))["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small-parts", UploadId=uid, PartNumber=2, Body=data(MiB, "s2"))["ETag"]
    raises_s3("EntityTooSmall", 400, s3.complete_multipart_upload, Bucket=bucket, Key="small-parts", UploadId=uid,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="small-parts")
    s3.abort_multipart_upload(Bucket=bucket, Key="small-parts", UploadId=uid)


def test_multipart_invalid_part(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="wrong-etag")
    uid = up["UploadId"]
    s3.upload_part(Bucket=bucket, Key="wrong-etag", UploadId=uid, PartNumber=1, Body=data(5 * MiB, "w1"))
    raises_s3("InvalidPart", 400, s3.complete_multipart_upload, Bucket=bucket, Key="wrong-etag", UploadId=uid,
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    # a part number that was never uploaded is InvalidPart too
    raises_s3("InvalidPart", 400, s3.complete_multipart_upload, Bucket=bucket, Key="wrong-etag", UploadId=uid,
              MultipartUpload={"Parts": [{"PartNumber": 7, "ETag": quoted_md5(b"never")}]})
    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="wrong-etag")
    s3.abort_multipart_upload(Bucket=bucket, Key="wrong-etag", UploadId=uid)


def test_complete_unknown_upload_id(s3, bucket):
    raises_s3("NoSuchUpload", 404, s3.complete_multipart_upload, Bucket=bucket, Key="nope", UploadId="does-not-exist",
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": quoted_md5(b"x")}]})


# ---------------------------------------------------------------------------------------------
# Copy and delete


def test_copy_object_copy_and_replace_across_buckets(server, bucket):
    s3 = server.client()
    dst = unique_name("dst")
    s3.create_bucket(Bucket=dst)
    try:
        payload = data(2 * MiB + 3, "copy")
        src_key = "dir/source object+1 é.bin"     # needs URL-encoding in x-amz-copy-source
        s3.put_object(Bucket=bucket, Key=src_key, Body=payload, ContentType="text/x-src",
                      Metadata={"a": "1", "b": "two"})

        r = s3.copy_object(Bucket=dst, Key="copied", CopySource={"Bucket": bucket, "Key": src_key})
        assert r["CopyObjectResult"]["ETag"] == quoted_md5(payload)
        h = s3.head_object(Bucket=dst, Key="copied")
        assert h["Metadata"] == {"a": "1", "b": "two"}
        assert h["ContentType"] == "text/x-src"
        assert h["ETag"] == quoted_md5(payload)
        assert body_of(s3.get_object(Bucket=dst, Key="copied")) == payload

        s3.copy_object(Bucket=dst, Key="replaced", CopySource={"Bucket": bucket, "Key": src_key},
                       MetadataDirective="REPLACE", Metadata={"c": "3"}, ContentType="text/x-new")
        h = s3.head_object(Bucket=dst, Key="replaced")
        assert h["Metadata"] == {"c": "3"}
        assert h["ContentType"] == "text/x-new"
        assert body_of(s3.get_object(Bucket=dst, Key="replaced")) == payload

        # in-place metadata update (the rclone/aws-cli idiom) must keep the bytes
        s3.copy_object(Bucket=bucket, Key=src_key, CopySource={"Bucket": bucket, "Key": src_key},
                       MetadataDirective="REPLACE", Metadata={"d": "4"}, ContentType="text/x-inplace")
        h = s3.head_object(Bucket=bucket, Key=src_key)
        assert h["Metadata"] == {"d": "4"} and h["ContentType"] == "text/x-inplace"
        assert body_of(s3.get_object(Bucket=bucket, Key=src_key)) == payload

        # the source is unaffected by copies made from it to other buckets
        raises_s3("NoSuchKey", 404, s3.copy_object, Bucket=dst, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    finally:
        from s3util import empty_bucket
        empty_bucket(s3, dst)


def test_copy_multipart_source(server, bucket):
    s3 = server.client()
    parts = [data(5 * MiB, "cm1"), data(100, "cm2")]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp-src")
    etags = [s3.upload_part(Bucket=bucket, Key="mp-src", UploadId=up["UploadId"], PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp-src", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp-src"})
    assert body_of(s3.get_object(Bucket=bucket, Key="mp-copy")) == b"".join(parts)
    assert body_of(s3.get_object(Bucket=bucket, Key="mp-copy", Range="bytes=5242870-5242889")) == \
        b"".join(parts)[5242870:5242890]


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"bye")
    r = s3.delete_object(Bucket=bucket, Key="gone")
    assert status_of(r) == 204
    raises_s3("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="gone")
    # deleting a missing key is not an error in S3
    assert status_of(s3.delete_object(Bucket=bucket, Key="never-existed")) == 204
    # overwrite then delete leaves nothing behind
    s3.put_object(Bucket=bucket, Key="twice", Body=b"1")
    s3.put_object(Bucket=bucket, Key="twice", Body=b"22")
    assert body_of(s3.get_object(Bucket=bucket, Key="twice")) == b"22"
    s3.delete_object(Bucket=bucket, Key="twice")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_objects(server, bucket, quiet):
    s3 = server.client(checksum="when_required")   # still sends CRC32 (required op), no Content-MD5
    keys = [f"del/{i}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3.put_object(Bucket=bucket, Key="keep", Body=b"keep")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys + ["del/missing"]],
                                                   "Quiet": quiet})
    assert r.get("Errors", []) == []
    if quiet:
        assert r.get("Deleted", []) == []
    else:
        assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys + ["del/missing"])
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert left == ["keep"]


# ---------------------------------------------------------------------------------------------
# Presigned URLs


@pytest.mark.parametrize("sigver", ["default", "s3v4"])
def test_presigned_get_and_put(server, bucket, sigver):
    """boto3's generate_presigned_url with a default config makes SigV2 query URLs
    (AWSAccessKeyId/Signature/Expires); with signature_version="s3v4", SigV4 ones. Apps use both."""
    s3 = server.client() if sigver == "default" else server.client(signature_version="s3v4")
    payload = data(70_000, "presign")
    s3.put_object(Bucket=bucket, Key="pre/get me.bin", Body=payload)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/get me.bin"}, ExpiresIn=300)
    with server.urlopen(url) as r:
        assert r.status == 200
        assert r.read() == payload
        assert r.headers["ETag"] == quoted_md5(payload)

    put_payload = data(50_000, "presign-put")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre/put.bin"}, ExpiresIn=300)
    req = urllib.request.Request(url, data=put_payload, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    with server.urlopen(req) as r:
        assert r.status == 200
        assert r.headers["ETag"] == quoted_md5(put_payload)
    assert body_of(s3.get_object(Bucket=bucket, Key="pre/put.bin")) == put_payload


def test_presigned_expired_and_tampered(server, bucket):
    s3 = server.client()
    s3.put_object(Bucket=bucket, Key="pre/x", Body=b"presigned")
    # control: our own presigner works with the current time
    ok = presign_v4("GET", server.endpoint, bucket, "pre/x", server.access_key, server.secret_key, server.region)
    with server.urlopen(ok) as r:
        assert r.read() == b"presigned"
    # signed two hours ago, valid for 60 s -> expired
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    url = presign_v4("GET", server.endpoint, bucket, "pre/x", server.access_key, server.secret_key, server.region,
                     expires=60, when=old)
    with pytest.raises(urllib.error.HTTPError) as ei:
        server.urlopen(url)
    assert ei.value.code == 403
    body = ei.value.read()
    assert b"<Code>AccessDenied</Code>" in body, body
    # a tampered signature -> 403 SignatureDoesNotMatch
    v4 = server.client(signature_version="s3v4")
    good = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/x"}, ExpiresIn=300)
    sig_at = good.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = good[:sig_at] + ("0" if good[sig_at] != "0" else "1") + good[sig_at + 1:]
    with pytest.raises(urllib.error.HTTPError) as ei:
        server.urlopen(flipped)
    assert ei.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in ei.value.read()


# ---------------------------------------------------------------------------------------------
# Virtual-host-style addressing (bucket.localhost)


def test_virtual_host_addressing(server, bucket, monkeypatch):
    """Many resolvers map *.localhost to 127.0.0.1; this machine's does not, so resolve
    <bucket>.localhost in-process. The server gets CAIRN_DOMAIN/MINIO_DOMAIN=localhost."""
    orig = socket.getaddrinfo

    def resolve(host, *a, **kw):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return orig(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = server.endpoint.rsplit(":", 1)[1]
    vs3 = server.client(addressing="virtual", endpoint=f"{server.endpoint.split('://')[0]}://localhost:{port}")
    sent = []
    vs3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request.url))
    payload = b"virtual host style"
    vs3.put_object(Bucket=bucket, Key="vh/key.txt", Body=payload)
    assert sent[0].startswith(f"{server.endpoint.split('://')[0]}://{bucket}.localhost:{port}/vh/key.txt"), sent[0]
    assert body_of(vs3.get_object(Bucket=bucket, Key="vh/key.txt")) == payload
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket=bucket)["Contents"]] == ["vh/key.txt"]
    # and it is the same object seen path-style
    assert body_of(server.client().get_object(Bucket=bucket, Key="vh/key.txt")) == payload
