"""Browser form uploads (PostObject, issue 10) with the forms real clients sign:
boto3's `generate_presigned_post` (SigV4) and minio-py's `presigned_post_policy`, posted
as multipart/form-data with urllib3, as a browser would. Checks the stored object, the
policy's conditions (key prefix, content-length-range, exact fields), expiry, forged
signatures, extra fields, success_action_status and success_action_redirect."""

import datetime
import json
import hashlib
import xml.etree.ElementTree as ET

import pytest
import urllib3
from minio import Minio
from minio.datatypes import PostPolicy


def post(url: str, fields: dict, content: bytes, filename: str = "photo.jpg", content_type=None):
    parts = list(fields.items())
    file_tuple = (filename, content) if content_type is None else (filename, content, content_type)
    parts.append(("file", file_tuple))
    http = urllib3.PoolManager()
    return http.request("POST", url, fields=parts, redirect=False, timeout=60)


def code_of(resp) -> str:
    return ET.fromstring(resp.data).findtext("Code")


def test_boto3_presigned_post_stores_the_file(server, bucket):
    s3 = server.client(signature_version="s3v4")
    body = bytes(range(256)) * 2000
    form = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"acl": "private", "Content-Type": "image/jpeg", "x-amz-meta-owner": "alice",
                "success_action_status": "201"},
        Conditions=[{"acl": "private"}, ["starts-with", "$Content-Type", "image/"],
                    {"x-amz-meta-owner": "alice"}, {"success_action_status": "201"},
                    ["content-length-range", 1, 10 * 1024 * 1024]],
        ExpiresIn=300)
    r = post(form["url"], form["fields"], body, filename="cat.jpg")
    assert r.status == 201, r.data
    doc = ET.fromstring(r.data)
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    assert doc.tag == f"{ns}PostResponse"
    assert doc.findtext(f"{ns}Key") == "uploads/cat.jpg"
    assert doc.findtext(f"{ns}Bucket") == bucket
    etag = doc.findtext(f"{ns}ETag")
    assert etag.strip('"') == hashlib.md5(body).hexdigest()
    head = s3.head_object(Bucket=bucket, Key="uploads/cat.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"] == {"owner": "alice"}
    assert s3.get_object(Bucket=bucket, Key="uploads/cat.jpg")["Body"].read() == body


@pytest.mark.parametrize("signature", ["s3", "s3v4"])
def test_policy_conditions_are_enforced(server, bucket, signature):
    """boto3 signs forms with SigV2 by default, SigV4 with signature_version="s3v4"."""
    s3 = server.client(signature_version=signature)
    form = s3.generate_presigned_post(
        bucket, "user/${filename}", Conditions=[["content-length-range", 10, 100]],
        ExpiresIn=300)
    url, fields = form["url"], dict(form["fields"])

    ok = post(url, fields, b"x" * 50, filename="a.txt")
    assert ok.status == 204, ok.data

    too_big = post(url, fields, b"x" * 101, filename="big.txt")
    assert too_big.status == 400 and code_of(too_big) == "EntityTooLarge", too_big.data
    too_small = post(url, fields, b"x" * 9, filename="small.txt")
    assert too_small.status == 400 and code_of(too_small) == "EntityTooSmall", too_small.data
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["user/a.txt"], keys

    # A key outside the signed prefix, a field the policy does not name, a forged signature.
    outside = post(url, dict(fields, key="admin/a.txt"), b"x" * 50)
    assert outside.status == 403 and code_of(outside) == "AccessDenied", outside.data
    extra = post(url, dict(fields, **{"x-amz-meta-sneaky": "1"}), b"x" * 50)
    assert extra.status == 403 and code_of(extra) == "AccessDenied", extra.data
    forged = dict(fields)
    if signature == "s3v4":
        assert "x-amz-signature" in forged and "signature" not in forged
        forged["x-amz-signature"] = "0" * 64
    else:
        assert "signature" in forged and "x-amz-signature" not in forged
        forged["signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    bad = post(url, forged, b"x" * 50)
    assert bad.status == 403 and code_of(bad) == "SignatureDoesNotMatch", bad.data


def test_expired_policy_and_redirect(server, bucket, s3):
    expired = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=-10)
    r = post(expired["url"], expired["fields"], b"late")
    assert r.status == 403 and code_of(r) == "AccessDenied", r.data
    assert b"expired" in r.data

    target = "https://example.com/done?from=cairn"
    form = s3.generate_presigned_post(
        bucket, "redirected.txt", Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}], ExpiresIn=300)
    r = post(form["url"], form["fields"], b"hello")
    assert r.status == 303, r.data
    location = r.headers["Location"]
    assert location.startswith(target + "&bucket=" + bucket), location
    assert "key=redirected.txt" in location
    assert s3.get_object(Bucket=bucket, Key="redirected.txt")["Body"].read() == b"hello"


def test_minio_py_presigned_post_policy(server, bucket, s3):
    m = Minio(server.endpoint.removeprefix("http://"), access_key=server.access_key,
              secret_key=server.secret_key, secure=False, region=server.region)
    policy = PostPolicy(bucket, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5))
    policy.add_starts_with_condition("key", "minio/")
    policy.add_content_length_range_condition(1, 1024 * 1024)
    fields = m.presigned_post_policy(policy)
    fields["key"] = "minio/from-form.bin"
    url = f"{server.endpoint}/{bucket}"
    body = b"minio form " * 1000
    r = post(url, fields, body, filename="from-form.bin", content_type="application/octet-stream")
    assert r.status == 204, r.data
    assert m.get_object(bucket, "minio/from-form.bin").read() == body


@pytest.mark.parametrize("field", ["policy", "x-amz-credential"])
def test_anonymous_or_half_signed_forms_are_refused(server, bucket, s3, field):
    """Without its policy a signed form is refused; so is one without its credential."""
    form = server.client(signature_version="s3v4").generate_presigned_post(bucket, "k.txt", ExpiresIn=300)
    fields = dict(form["fields"])
    del fields[field]
    r = post(form["url"], fields, b"data")
    assert r.status in (400, 403), r.data
    assert code_of(r) in ("InvalidArgument", "AccessDenied"), r.data
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == []


def test_unsigned_form_needs_a_public_write_policy(server, bucket, s3):
    url = f"{server.endpoint}/{bucket}"
    denied = post(url, {"key": "anon.txt"}, b"anonymous")
    assert denied.status == 403 and code_of(denied) == "AccessDenied", denied.data
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/drop/*"}]}))
    try:
        ok = post(url, {"key": "drop/anon.txt"}, b"anonymous")
        assert ok.status == 204, ok.data
        outside = post(url, {"key": "anon.txt"}, b"anonymous")
        assert outside.status == 403, outside.data
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="drop/anon.txt")["Body"].read() == b"anonymous"


def test_malformed_forms(server, bucket, s3):
    url = f"{server.endpoint}/{bucket}"
    http = urllib3.PoolManager()
    no_file = http.request("POST", url, fields={"key": "k"}, timeout=30)
    assert no_file.status == 400 and code_of(no_file) == "MalformedPOSTRequest", no_file.data
    broken = http.request("POST", url, body=b"--xyz\r\nnot a form", timeout=30,
                          headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert broken.status == 400 and code_of(broken) == "MalformedPOSTRequest", broken.data
    no_key = post(url, {}, b"data")
    assert no_key.status == 400 and code_of(no_key) == "InvalidArgument", no_key.data
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
