"""boto3 over HTTPS. Here botocore (>= 1.36, default checksums) uploads with
x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER, Content-Encoding: aws-chunked,
no Content-Length and the CRC32 in an x-amz-checksum-crc32 trailer."""

from __future__ import annotations

import io
import ssl
import urllib.error
import urllib.request

import pytest
from boto3.s3.transfer import TransferConfig

from s3util import (MiB, body_of, crc32_b64, data, md5_file_parts, md5_hex, multipart_etag, quoted_md5, raises_s3,
                    sha256_file, status_of, unique_name, write_file)

pytestmark = pytest.mark.tls

TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def capture(client, op):
    seen = []
    client.meta.events.register(
        f"before-send.s3.{op}",
        lambda request, **_: seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
                                          for k, v in request.headers.items()}))
    return seen


@pytest.mark.parametrize("body_kind", ["bytes", "bytesio"])
def test_tls_put_aws_chunked_trailer_and_get(tls_server, tls_bucket, body_kind):
    s3 = tls_server.client()
    sent = capture(s3, "PutObject")
    payload = data(2 * MiB + 333, f"tls-{body_kind}")
    body = payload if body_kind == "bytes" else io.BytesIO(payload)
    r = s3.put_object(Bucket=tls_bucket, Key=f"tls/{body_kind}", Body=body, ContentType="application/gzip",
                      Metadata={"k": "v"})
    h = sent[0]
    assert h.get("x-amz-content-sha256") == TRAILER, h
    assert h.get("content-encoding", "").startswith("aws-chunked"), h
    assert h.get("x-amz-trailer") == "x-amz-checksum-crc32", h
    assert h.get("x-amz-decoded-content-length") == str(len(payload)), h
    assert r["ETag"] == quoted_md5(payload)

    got = s3.get_object(Bucket=tls_bucket, Key=f"tls/{body_kind}", ChecksumMode="ENABLED")
    assert body_of(got) == payload
    assert got["ContentLength"] == len(payload)           # decoded length, not the aws-chunked length
    assert got["ChecksumCRC32"] == crc32_b64(payload)
    assert got["ContentType"] == "application/gzip"
    assert got["Metadata"] == {"k": "v"}
    assert "ContentEncoding" not in got or "aws-chunked" not in got["ContentEncoding"]

    r = s3.get_object(Bucket=tls_bucket, Key=f"tls/{body_kind}", Range="bytes=1048000-1049000")
    assert status_of(r) == 206
    assert body_of(r) == payload[1048000:1049001]
    assert r["ContentRange"] == f"bytes 1048000-1049000/{len(payload)}"


def test_tls_put_small_and_empty(tls_server, tls_bucket):
    s3 = tls_server.client()
    for key, payload in [("tiny", b"x"), ("empty", b""), ("line", b"hello\n")]:
        s3.put_object(Bucket=tls_bucket, Key=key, Body=payload)
        got = s3.get_object(Bucket=tls_bucket, Key=key, ChecksumMode="ENABLED")
        assert body_of(got) == payload
        assert got["ETag"] == quoted_md5(payload)
        assert got["ChecksumCRC32"] == crc32_b64(payload)


def test_tls_put_synapse_style(tls_server, tls_bucket):
    s3 = tls_server.client(checksum="when_required")
    payload = data(123_456, "tls-synapse")
    s3.put_object(Bucket=tls_bucket, Key="media/x", Body=payload, StorageClass="STANDARD", ContentType="image/jpeg")
    h = s3.head_object(Bucket=tls_bucket, Key="media/x")
    assert (h["ContentLength"], h["ETag"], h["ContentType"]) == (len(payload), quoted_md5(payload), "image/jpeg")
    assert body_of(s3.get_object(Bucket=tls_bucket, Key="media/x")) == payload


def test_tls_upload_file_multipart(tls_server, tls_bucket, tmp_path):
    s3 = tls_server.client()
    sent = capture(s3, "UploadPart")
    src = write_file(tmp_path / "src.bin", 20 * MiB + 4321, "tls-mp")
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=3)
    s3.upload_file(str(src), tls_bucket, "mp/big.bin", Config=cfg)
    assert sent and all(h.get("x-amz-content-sha256") == TRAILER for h in sent), sent[:1]

    h = s3.head_object(Bucket=tls_bucket, Key="mp/big.bin")
    assert h["ContentLength"] == 20 * MiB + 4321
    assert h["ETag"] == multipart_etag(md5_file_parts(src, 8 * MiB))
    out = tmp_path / "out.bin"
    s3.download_file(tls_bucket, "mp/big.bin", str(out), Config=cfg)
    assert sha256_file(out) == sha256_file(src)


def test_tls_manual_multipart_barman_style(tls_server, tls_bucket):
    s3 = tls_server.client()
    key = "base/backup/data.tar"
    # Encryption is refused until Cairn encrypts (test_boto3.py covers it); barman runs
    # without `--encryption` here.
    up = s3.create_multipart_upload(Bucket=tls_bucket, Key=key)
    parts = [data(5 * MiB, "tb1"), data(4321, "tb2")]
    etags = [s3.upload_part(Bucket=tls_bucket, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, 1)]
    assert etags == [quoted_md5(p) for p in parts]
    s3.complete_multipart_upload(Bucket=tls_bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
    got = s3.get_object(Bucket=tls_bucket, Key=key)
    assert body_of(got) == b"".join(parts)
    assert got["ETag"] == multipart_etag([bytes.fromhex(md5_hex(p)) for p in parts])


@pytest.mark.parametrize("sigver", ["default", "s3v4"])
def test_tls_presigned_get(tls_server, tls_bucket, sigver):
    s3 = tls_server.client() if sigver == "default" else tls_server.client(signature_version="s3v4")
    s3.put_object(Bucket=tls_bucket, Key="p", Body=b"over tls")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": tls_bucket, "Key": "p"}, ExpiresIn=120)
    assert url.startswith("https://")
    with tls_server.urlopen(url) as r:
        assert r.read() == b"over tls"


def test_tls_list_copy_delete(tls_server, tls_bucket):
    s3 = tls_server.client()
    for i in range(5):
        s3.put_object(Bucket=tls_bucket, Key=f"l/{i}", Body=str(i).encode())
    s3.copy_object(Bucket=tls_bucket, Key="l/copy", CopySource={"Bucket": tls_bucket, "Key": "l/3"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=tls_bucket, Prefix="l/")["Contents"]] == \
        ["l/0", "l/1", "l/2", "l/3", "l/4", "l/copy"]
    s3.delete_objects(Bucket=tls_bucket, Delete={"Objects": [{"Key": f"l/{i}"} for i in range(5)]})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=tls_bucket, Prefix="l/")["Contents"]] == ["l/copy"]
    assert body_of(s3.get_object(Bucket=tls_bucket, Key="l/copy")) == b"3"


def test_tls_rejects_untrusted_client_config(tls_server, tls_bucket):
    """Sanity of the fixture: the certificate is really checked (no silent verify=False)."""
    with pytest.raises(urllib.error.URLError) as ei:
        urllib.request.urlopen(f"{tls_server.endpoint}/minio/health/live", timeout=10,
                               context=ssl.create_default_context(cafile="/etc/ssl/certs/ca-certificates.crt"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(ei.value)


@pytest.mark.needs_process
def test_tls_kill9_restart_keeps_objects(server_factory):
    srv = server_factory(tls=True, name="cairn-tls-restart")
    s3 = srv.client()
    b = unique_name("tlsrestart")
    s3.create_bucket(Bucket=b)
    small, big = data(1000, "r1"), data(3 * MiB + 5, "r2")
    s3.put_object(Bucket=b, Key="small", Body=small)
    s3.put_object(Bucket=b, Key="big", Body=big)
    srv.restart()
    s3 = srv.client()
    assert body_of(s3.get_object(Bucket=b, Key="small")) == small
    assert body_of(s3.get_object(Bucket=b, Key="big")) == big
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["big", "small"]
    raises_s3("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket=b)

