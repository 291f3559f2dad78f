"""The AWS CLI against the server: v1 from PyPI (the suite's venv; new botocore defaults,
CRC32 checksums, aws-chunked trailers over HTTPS) and Debian's v2 at /usr/bin/aws (old SDK:
Content-MD5 + Expect: 100-continue over HTTP, UNSIGNED-PAYLOAD over HTTPS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from s3util import (MiB, clean_env, crc32_b64, make_tree, md5_file_parts, multipart_etag, quoted_md5,
                    sha256_file, tree_digest, assert_same_tree, unique_name, write_file, data)

AWS_V2 = Path("/usr/bin/aws")


def _v2_available() -> str | None:
    if not AWS_V2.exists():
        return "Debian's AWS CLI v2 (/usr/bin/aws) is not installed (e2e/setup.sh installs it with apt when run as root)"
    return None


class AwsCli:
    def __init__(self, version: str, target, workdir: Path):
        self.version = version
        self.target = target
        self.workdir = workdir
        self.base = [sys.executable, "-m", "awscli"] if version == "v1" else [str(AWS_V2)]
        self.env = clean_env(
            AWS_ACCESS_KEY_ID=target.access_key,
            AWS_SECRET_ACCESS_KEY=target.secret_key,
            AWS_DEFAULT_REGION=target.region,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(workdir / "aws-config-none"),
            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "aws-credentials-none"),
            AWS_PAGER="",
        )

    def run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        argv = self.base + ["--endpoint-url", self.target.endpoint]
        if self.target.tls:
            argv += ["--ca-bundle", self.target.ca_file]
        argv += list(args)
        t0 = time.monotonic()
        p = subprocess.run(argv, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=timeout)
        if os.environ.get("E2E_TRACE"):
            print(f"[{time.monotonic() - t0:6.2f}s] aws {self.version} {' '.join(args)} -> rc {p.returncode}")
        if check and p.returncode != 0:
            pytest.fail(f"aws {self.version} failed (rc {p.returncode}): {' '.join(args)}\n"
                        f"stdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}", pytrace=False)
        return p

    def json(self, *args: str) -> dict:
        out = self.run(*args, "--output", "json").stdout
        return json.loads(out) if out.strip() else {}

    def ls_recursive(self, url: str) -> dict[str, int]:
        """`aws s3 ls --recursive` parsed into {key: size}. rc 1 means "nothing found"."""
        p = self.run("s3", "ls", "--recursive", url, check=False)
        if p.returncode == 1 and not p.stdout.strip():
            return {}
        assert p.returncode == 0, p.stderr
        out = {}
        for line in p.stdout.splitlines():
            # "2026-11-22 10:00:00      12345 some/key with spaces"
            date, time_, size, key = line.split(None, 3)
            out[key] = int(size)
        return out


def _sizes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture(params=["v1", "v2"])
def aws_version(request):
    if request.param == "v2":
        why = _v2_available()
        if why:
            pytest.skip(why)
    return request.param


@pytest.fixture
def aws(aws_version, any_server, tmp_path) -> AwsCli:
    return AwsCli(aws_version, any_server, tmp_path)


def test_aws_s3_mb_cp_sync_ls_rm(aws: AwsCli, tmp_path):
    b = unique_name(f"aws{aws.version}")
    tree = tmp_path / "tree"
    big_size = 20 * MiB + 4097
    digest = make_tree(tree, n_small=25, big={"big/20MiB.bin": big_size}, seed=f"awstree-{aws.version}")

    assert f"make_bucket: {b}" in aws.run("s3", "mb", f"s3://{b}").stdout

    # single file over the 8 MiB multipart threshold -> 3 parts of 8 MiB
    aws.run("s3", "cp", "--only-show-errors", str(tree / "big/20MiB.bin"), f"s3://{b}/single/20MiB.bin")
    h = aws.json("s3api", "head-object", "--bucket", b, "--key", "single/20MiB.bin")
    assert h["ContentLength"] == big_size
    assert h["ETag"] == multipart_etag(md5_file_parts(tree / "big/20MiB.bin", 8 * MiB)), h

    # a tree with nested dirs, odd names, empty files and the 20 MiB file
    aws.run("s3", "sync", "--only-show-errors", str(tree), f"s3://{b}/tree")
    assert aws.ls_recursive(f"s3://{b}/tree/") == {f"tree/{k}": v for k, v in _sizes(tree).items()}

    # back down: byte-identical
    down = tmp_path / "down"
    aws.run("s3", "sync", "--only-show-errors", f"s3://{b}/tree", str(down))
    assert_same_tree(digest, down)
    aws.run("s3", "cp", "--only-show-errors", f"s3://{b}/single/20MiB.bin", str(tmp_path / "single.bin"))
    assert sha256_file(tmp_path / "single.bin") == digest["big/20MiB.bin"]

    # a second sync uploads nothing new; then a sync with deletions and changes
    assert aws.run("s3", "sync", str(tree), f"s3://{b}/tree").stdout.strip() == ""
    victims = sorted(k for k in digest if k.endswith(".bin") and not k.startswith("big/"))[:3]
    for k in victims:
        (tree / k).unlink()
    changed = sorted(k for k in digest if k.endswith(".txt"))[0]
    write_file(tree / changed, 9000, "changed")                 # different size -> re-uploaded
    write_file(tree / "new/dir/added.dat", 4242, "added")
    aws.run("s3", "sync", "--only-show-errors", "--delete", str(tree), f"s3://{b}/tree")
    assert aws.ls_recursive(f"s3://{b}/tree/") == {f"tree/{k}": v for k, v in _sizes(tree).items()}
    down2 = tmp_path / "down2"
    aws.run("s3", "sync", "--only-show-errors", f"s3://{b}/tree", str(down2))
    assert_same_tree(tree_digest(tree), down2)

    # rm one key, then the rest recursively
    aws.run("s3", "rm", "--only-show-errors", f"s3://{b}/tree/{changed}")
    listing = aws.ls_recursive(f"s3://{b}/tree/")
    assert f"tree/{changed}" not in listing and len(listing) == len(_sizes(tree)) - 1
    aws.run("s3", "rm", "--only-show-errors", "--recursive", f"s3://{b}/tree/")
    assert aws.ls_recursive(f"s3://{b}/tree/") == {}
    r = aws.json("s3api", "list-objects-v2", "--bucket", b)
    assert [o["Key"] for o in r.get("Contents", [])] == ["single/20MiB.bin"]

    # top-level ls shows the bucket; rb --force removes it and its objects
    assert b in aws.run("s3", "ls").stdout
    aws.run("s3", "rb", "--force", f"s3://{b}")
    assert aws.run("s3api", "head-bucket", "--bucket", b, check=False).returncode != 0


def test_aws_s3api_multipart(aws: AwsCli, tmp_path):
    b = unique_name(f"awsmp{aws.version}")
    aws.run("s3api", "create-bucket", "--bucket", b)
    key = "backups/base.tar"
    up = aws.json("s3api", "create-multipart-upload", "--bucket", b, "--key", key, "--content-type",
                  "application/x-tar", "--metadata", "tool=awscli")
    uid = up["UploadId"]
    p1 = write_file(tmp_path / "p1", 5 * MiB, f"mp1-{aws.version}")
    p2 = write_file(tmp_path / "p2", 1234567, f"mp2-{aws.version}")
    parts = []
    for n, p in ((1, p1), (2, p2)):
        r = aws.json("s3api", "upload-part", "--bucket", b, "--key", key, "--upload-id", uid,
                     "--part-number", str(n), "--body", str(p))
        assert r["ETag"] == quoted_md5(p.read_bytes())
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    lp = aws.json("s3api", "list-parts", "--bucket", b, "--key", key, "--upload-id", uid)
    assert [(x["PartNumber"], x["Size"]) for x in lp["Parts"]] == [(1, 5 * MiB), (2, 1234567)]
    (tmp_path / "parts.json").write_text(json.dumps({"Parts": parts}))
    r = aws.json("s3api", "complete-multipart-upload", "--bucket", b, "--key", key, "--upload-id", uid,
                 "--multipart-upload", f"file://{tmp_path / 'parts.json'}")
    expected = multipart_etag(md5_file_parts(p1, 5 * MiB) + md5_file_parts(p2, 5 * MiB))
    assert r["ETag"] == expected
    out = tmp_path / "out.tar"
    g = aws.json("s3api", "get-object", "--bucket", b, "--key", key, str(out))
    assert g["ETag"] == expected and g["ContentType"] == "application/x-tar" and g["Metadata"] == {"tool": "awscli"}
    assert out.read_bytes() == p1.read_bytes() + p2.read_bytes()
    assert aws.json("s3api", "list-multipart-uploads", "--bucket", b).get("Uploads", []) == []
    aws.run("s3", "rb", "--force", f"s3://{b}")


def test_aws_presign_and_checksum(aws: AwsCli, tmp_path):
    b = unique_name(f"awspre{aws.version}")
    aws.run("s3", "mb", f"s3://{b}")
    payload = data(30_000, f"presign-{aws.version}")
    src = tmp_path / "obj.bin"
    src.write_bytes(payload)
    aws.run("s3", "cp", "--only-show-errors", str(src), f"s3://{b}/dir/obj.bin")
    h = aws.json("s3api", "head-object", "--bucket", b, "--key", "dir/obj.bin", "--checksum-mode", "ENABLED")
    assert h["ETag"] == quoted_md5(payload) and h["ContentLength"] == len(payload)
    if aws.version == "v1":
        # v1 uploaded with a CRC32 (header over HTTP, aws-chunked trailer over HTTPS): it must come back
        assert h.get("ChecksumCRC32") == crc32_b64(payload), h
    # AWS CLI v1 presigns with SigV2 query auth by default (AWSAccessKeyId/Signature/Expires),
    # v2 with SigV4 (X-Amz-Signature): both are what users get from `aws s3 presign`.
    url = aws.run("s3", "presign", f"s3://{b}/dir/obj.bin", "--expires-in", "300").stdout.strip()
    assert url.startswith(aws.target.endpoint), url
    try:
        with aws.target.urlopen(url) as r:
            assert r.read() == payload
    except urllib.error.HTTPError as e:
        pytest.fail(f"GET of `aws s3 presign` URL failed: HTTP {e.code} {e.read()[:300]!r}\nURL: {url}", pytrace=False)
    aws.run("s3", "rb", "--force", f"s3://{b}")
