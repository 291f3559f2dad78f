"""Helpers shared by the end-to-end tests: deterministic data, checksums, file trees,
error assertions, and an independent SigV4 query presigner."""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import os
import random
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def unique_name(prefix: str = "e2e") -> str:
    """A valid, unique bucket name (lowercase, 3-63 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def data(n: int, seed: object = 0) -> bytes:
    """n deterministic pseudo-random bytes for a given seed."""
    return random.Random(str(seed)).randbytes(n)


def write_file(path: Path, n: int, seed: object = 0, chunk: int = 8 * MiB) -> Path:
    """Write n deterministic bytes to path without holding them all in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(str(seed))
    with open(path, "wb") as f:
        left = n
        while left:
            k = min(chunk, left)
            f.write(rnd.randbytes(k))
            left -= k
    return path


def md5_hex(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(MiB), b""):
            h.update(blk)
    return h.hexdigest()


def md5_file_parts(path: Path, part_size: int) -> list[bytes]:
    out = []
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(part_size), b""):
            out.append(hashlib.md5(blk).digest())
    return out


def crc32_b64(b: bytes) -> str:
    """The value S3 puts in x-amz-checksum-crc32: base64 of the big-endian CRC32."""
    return base64.b64encode(zlib.crc32(b).to_bytes(4, "big")).decode()


def multipart_etag(part_md5_digests: list[bytes]) -> str:
    """S3's ETag of a completed multipart upload: md5(concat(part md5s))-N, quoted."""
    return '"%s-%d"' % (hashlib.md5(b"".join(part_md5_digests)).hexdigest(), len(part_md5_digests))


def quoted_md5(b: bytes) -> str:
    return '"%s"' % md5_hex(b)


def body_of(resp) -> bytes:
    """Read a GetObject body through botocore's StreamingBody (which checks Content-Length
    and, with ChecksumMode=ENABLED, the returned checksum)."""
    body = resp["Body"]
    try:
        return body.read()
    finally:
        body.close()


def status_of(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def expect_error(excinfo_or_exc, code: str | None, status: int):
    """Assert a botocore ClientError has the given S3 error code and HTTP status."""
    exc = getattr(excinfo_or_exc, "value", excinfo_or_exc)
    assert isinstance(exc, ClientError), f"expected ClientError, got {exc!r}"
    got_code = exc.response.get("Error", {}).get("Code")
    got_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    ok = got_status == status and (code is None or got_code == code)
    assert ok, (
        f"expected error {code} / HTTP {status}, got {got_code} / HTTP {got_status}: {exc.response.get('Error')}"
    )


def raises_s3(code: str | None, status: int, fn, *args, **kwargs):
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    expect_error(ei, code, status)
    return ei.value


def empty_bucket(client, bucket: str, delete_bucket: bool = True):
    """Best effort: abort uploads, delete every object, delete the bucket."""
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for u in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    except ClientError:
        pass
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    if delete_bucket:
        client.delete_bucket(Bucket=bucket)


# ---------------------------------------------------------------------------------------------
# File trees


def make_tree(root: Path, n_small: int = 30, big: dict[str, int] | None = None, seed: object = "tree") -> dict[str, str]:
    """Create a tree of files with nested dirs; return {relative posix path: sha256}.

    Small files get sizes 0..~5 KiB (including empty files) spread over 3 levels of dirs;
    `big` maps extra relative paths to sizes."""
    rnd = random.Random(str(seed))
    files: dict[str, int] = {}
    for i in range(n_small):
        depth = i % 4
        parts = [f"d{(i // 7) % 5}", f"s{(i // 3) % 4}", f"t{i % 3}"][:depth]
        name = f"file-{i:04d}.{['txt', 'bin', 'dat'][i % 3]}"
        size = 0 if i % 37 == 0 else rnd.randrange(1, 5000)
        files["/".join(parts + [name])] = size
    # a few awkward but common names
    files["with space/name with spaces.txt"] = 123
    files["unicode-é/ü-file.txt"] = 77
    files["plus+and=equals/a+b=c.txt"] = 55
    for rel, size in (big or {}).items():
        files[rel] = size
    for j, (rel, size) in enumerate(sorted(files.items())):
        write_file(root / rel, size, seed=f"{seed}/{rel}")
    return tree_digest(root)


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = sha256_file(p)
    return out


def assert_same_tree(expected: dict[str, str], root: Path):
    got = tree_digest(root)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    assert not (missing or extra or differ), (
        f"tree {root} differs: missing={missing[:10]} extra={extra[:10]} content-differs={differ[:10]} "
        f"(counts {len(missing)}/{len(extra)}/{len(differ)})"
    )


# ---------------------------------------------------------------------------------------------
# An independent SigV4 query-string presigner, so tests can choose the signing time
# (e.g. a URL that expired an hour ago) without patching the SDK.


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def presign_v4(method: str, endpoint: str, bucket: str, key: str, access_key: str, secret_key: str,
               region: str = "us-east-1", expires: int = 300, when: _dt.datetime | None = None) -> str:
    when = when or _dt.datetime.now(_dt.timezone.utc)
    u = urlsplit(endpoint)
    host = u.netloc
    path = "/" + quote(bucket, safe="") + "/" + quote(key, safe="/-_.~")
    amzdate = when.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amzdate[:8]}/{region}/s3/aws4_request"
    q = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amzdate,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    cq = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(q.items()))
    creq = "\n".join([method, path, cq, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret_key).encode(), amzdate[:8])
    k = _hmac(k, region)
    k = _hmac(k, "s3")
    k = _hmac(k, "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return f"{u.scheme}://{host}{path}?{cq}&X-Amz-Signature={sig}"


def clean_env(**extra: str) -> dict[str, str]:
    """Environment for client subprocesses: no stray AWS profile/credential or rclone settings
    from the caller (AWS_CA_BUNDLE, set globally on these machines, is kept: real users have it)."""
    env = {k: v for k, v in os.environ.items()
           if not ((k.startswith("AWS_") and k != "AWS_CA_BUNDLE") or k.startswith("RCLONE_") or k.startswith("E2E_"))}
    env.update(extra)
    return env
