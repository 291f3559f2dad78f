"""The Matrix stack's own tools against the shared pod-level Matrix tenant (conftest's
`matrix_tenant`: the rendered pods in network namespaces, TLS with the tenant CA, the Service
name the example documents), each with its application user's keys from its Secret, run in
the application namespace as an application pod would run them:

* rclone: `sync` from `synapse-media` to `synapse-media-li` and `check`, as the Synapse user;
* minio-py: put/get/fput/fget/stat/list/copy/presigned/remove as the Synapse user, and
  MinioAdmin's info and user calls as root;
* s3cmd: mb refused, put (single and multipart), get, sync, ls, info, del;
* barman-cloud with a real PostgreSQL 15, as CloudNativePG runs it, as the CloudNativePG
  user: check-wal-archive, WAL archiving through archive_command (with one pod down, what
  the PodDisruptionBudget allows), backup (gzip), backup-list/-show, restore and WAL restore
  to a recovery target time, retention by REDUNDANCY 1.

Each tool must also be refused on the buckets its user has no policy for."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from pods import secret_data

pytestmark = [pytest.mark.needs_process, pytest.mark.cluster]

VENV_BIN = REPO / ".e2e-venv" / "bin"
SYNAPSE = "matrix-minio-synapse-user"
CNPG = "matrix-minio-cnpg-user"
MIB = 1024 * 1024


def media_tree(root: Path, seed: str) -> dict[str, str]:
    """Files as Synapse lays them out (local_content/xx/yy/id, thumbnails), one of them above
    the 5 MiB multipart cutoff the tools are given; returns relative path -> sha256."""
    rnd = random.Random(seed)
    out = {}
    sizes = [0, 1, 1000, 70_000, 300_000, 6 * MIB + 123]
    for i, size in enumerate(sizes):
        mid = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(24))
        for rel in (f"local_content/{mid[:2]}/{mid[2:4]}/{mid[4:]}",
                    f"local_thumbnails/{mid[:2]}/{mid[2:4]}/{mid[4:]}/32-32-image-png"):
            data = rnd.randbytes(size if rel.startswith("local_content") else min(size, 4000))
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def test_rclone_syncs_and_checks_the_synapse_buckets(matrix_tenant, tmp_path):
    t = matrix_tenant
    ak, sk = t.keys(SYNAPSE)
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"""[matrix]
type = s3
provider = Minio
access_key_id = {ak}
secret_access_key = {sk}
region = us-east-1
endpoint = {t.app.endpoint}
""")
    rc = [str(VENV_BIN / "rclone"), "--config", str(conf), "--ca-cert", t.app.ca, "--s3-upload-cutoff", "5M",
          "--s3-chunk-size", "5M", "--retries", "1", "--low-level-retries", "2"]
    src = tmp_path / "media"
    tree = media_tree(src, "rclone")
    # --dump headers (rclone redacts the Authorization header): CI once saw this first copy
    # refused with "is a file not a directory", that is, rclone's HEAD of the missing key
    # "rclone" answered 2xx; if it happens again, the failure shows that exchange.
    t.run(rc + ["--dump", "headers", "copy", str(src), "matrix:synapse-media/rclone"])
    t.run(rc + ["sync", "matrix:synapse-media/rclone", "matrix:synapse-media-li/rclone"])
    t.run(rc + ["check", "matrix:synapse-media/rclone", "matrix:synapse-media-li/rclone"])
    t.run(rc + ["check", str(src), "matrix:synapse-media-li/rclone"])
    listed = t.run(rc + ["lsf", "-R", "--files-only", "matrix:synapse-media-li/rclone"]).stdout.split()
    assert sorted(listed) == sorted(tree), listed

    # A removed original is removed from the copy by the next sync; a changed one follows.
    gone = next(k for k in tree if k.startswith("local_thumbnails/"))
    t.run(rc + ["delete", f"matrix:synapse-media/rclone/{gone}"])
    changed = next(k for k in tree if k.startswith("local_content/"))
    (src / changed).write_bytes(b"changed " * 1000)
    t.run(rc + ["copyto", str(src / changed), f"matrix:synapse-media/rclone/{changed}"])
    t.run(rc + ["sync", "matrix:synapse-media/rclone", "matrix:synapse-media-li/rclone"])
    t.run(rc + ["check", "matrix:synapse-media/rclone", "matrix:synapse-media-li/rclone"])
    listed = t.run(rc + ["lsf", "-R", "--files-only", "matrix:synapse-media-li/rclone"]).stdout.split()
    assert gone not in listed and changed in listed and len(listed) == len(tree) - 1
    copied = t.run(rc + ["cat", f"matrix:synapse-media-li/rclone/{changed}"]).stdout
    assert copied == "changed " * 1000

    # The Synapse user has no business in the backups bucket.
    refused = t.run(rc + ["lsf", "matrix:postgresql-backups"], check=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr[-2000:]
    t.run(rc + ["purge", "matrix:synapse-media/rclone"])
    t.run(rc + ["purge", "matrix:synapse-media-li/rclone"])


MINIO_PY = """
import hashlib, io, json, os, sys, urllib.request, ssl, datetime
import urllib3
from minio import Minio, MinioAdmin
from minio.commonconfig import CopySource
from minio.credentials import StaticProvider
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
ENDPOINT, CA, USER, PASSWORD, ROOT, ROOT_PASSWORD, WORK = {args!r}
host = ENDPOINT.split("://", 1)[1]
# minio-py's own client settings (Minio() without http_client), with the tenant CA: its
# retries cover a keep-alive connection the server closed after refusing an upload it
# did not read.
http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=CA, timeout=urllib3.Timeout(connect=30, read=30),
                           retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]))
c = Minio(host, access_key=USER, secret_key=PASSWORD, secure=True, region="us-east-1", http_client=http)
seen = {{}}
b = "synapse-media"
seen["exists"] = c.bucket_exists(b)
c.put_object(b, "minio-py/hello.txt", io.BytesIO(b"hello\\n"), length=6, content_type="text/plain")
big = os.urandom(12 * 1024 * 1024 + 5)
path = os.path.join(WORK, "big.bin")
open(path, "wb").write(big)
c.fput_object(b, "minio-py/big.bin", path, part_size=5 * 1024 * 1024)
# unknown length: minio-py streams it as multipart
c.put_object(b, "minio-py/stream.bin", io.BytesIO(big[:7 * 1024 * 1024]), length=-1, part_size=5 * 1024 * 1024)
c.fget_object(b, "minio-py/big.bin", os.path.join(WORK, "big.back"))
seen["fget"] = open(os.path.join(WORK, "big.back"), "rb").read() == big
r = c.get_object(b, "minio-py/stream.bin")
seen["stream"] = r.read() == big[:7 * 1024 * 1024]
r.close(); r.release_conn()
st = c.stat_object(b, "minio-py/hello.txt")
seen["stat"] = [st.size, st.content_type]
c.copy_object(b, "minio-py/copy.txt", CopySource(b, "minio-py/hello.txt"))
seen["copy"] = c.get_object(b, "minio-py/copy.txt").read().decode()
seen["list"] = sorted(o.object_name for o in c.list_objects(b, prefix="minio-py/", recursive=True))
url = c.presigned_get_object(b, "minio-py/hello.txt", expires=datetime.timedelta(minutes=5))
with urllib.request.urlopen(url, context=ssl.create_default_context(cafile=CA), timeout=10) as resp:
    seen["presigned"] = resp.read().decode()
errs = list(c.remove_objects(b, [DeleteObject(o.object_name) for o in c.list_objects(b, prefix="minio-py/", recursive=True)]))
seen["removed"] = [str(e) for e in errs]
seen["left"] = [o.object_name for o in c.list_objects(b, prefix="minio-py/", recursive=True)]
try:
    c.put_object("postgresql-backups", "minio-py/x", io.BytesIO(b"x"), length=1)
    seen["other"] = "allowed"
except S3Error as e:
    seen["other"] = e.code
a = MinioAdmin(endpoint=host, credentials=StaticProvider(ROOT, ROOT_PASSWORD), secure=True, region="us-east-1",
               http_client=http)
info = json.loads(a.info())
seen["servers"] = len(info.get("servers", []))
users = json.loads(a.user_list())
seen["users"] = sorted(users)
seen["synapse_policy"] = json.loads(a.user_info(USER)).get("policyName")
print(json.dumps(seen))
"""


def test_minio_py_objects_and_admin(matrix_tenant, tmp_path):
    t = matrix_tenant
    ak, sk = t.keys(SYNAPSE)
    cnpg, _ = t.keys(CNPG)
    args = (t.app.endpoint, t.app.ca, ak, sk, t.app.user, t.app.password, str(tmp_path))
    out = t.run([str(VENV_BIN / "python"), "-c", MINIO_PY.format(args=args)]).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {
        "exists": True, "fget": True, "stream": True, "stat": [6, "text/plain"], "copy": "hello\n",
        "list": ["minio-py/big.bin", "minio-py/copy.txt", "minio-py/hello.txt", "minio-py/stream.bin"],
        "presigned": "hello\n", "removed": [], "left": [], "other": "AccessDenied",
        "servers": 4, "users": sorted([ak, cnpg]), "synapse_policy": "synapse-media-readwrite",
    }, seen


def test_s3cmd_basic_workflow(matrix_tenant, tmp_path):
    t = matrix_tenant
    ak, sk = t.keys(SYNAPSE)
    host = t.app.endpoint.split("://", 1)[1]

    def config(name: str, access_key: str, secret_key: str) -> list[str]:
        cfg = tmp_path / name
        cfg.write_text(f"""[default]
access_key = {access_key}
secret_key = {secret_key}
host_base = {host}
host_bucket = {host}
use_https = True
ca_certs_file = {t.app.ca}
check_ssl_certificate = True
check_ssl_hostname = True
signature_v2 = False
bucket_location = us-east-1
""")
        return [str(VENV_BIN / "s3cmd"), "-c", str(cfg), "--no-progress"]

    s3cmd = config("s3cfg", ak, sk)
    src = tmp_path / "media"
    tree = media_tree(src, "s3cmd")
    small = next(k for k in tree if k.startswith("local_content/") and 0 < (src / k).stat().st_size < 100_000)
    big = max(tree, key=lambda k: (src / k).stat().st_size)
    t.run(s3cmd + ["put", str(src / small), "s3://synapse-media/s3cmd/small"])
    t.run(s3cmd + ["put", "--multipart-chunk-size-mb=5", str(src / big), "s3://synapse-media/s3cmd/big"])
    for name, rel in (("small", small), ("big", big)):
        back = tmp_path / f"{name}.back"
        t.run(s3cmd + ["get", "--force", f"s3://synapse-media/s3cmd/{name}", str(back)])
        assert hashlib.sha256(back.read_bytes()).hexdigest() == tree[rel], name
    t.run(s3cmd + ["sync", f"{src}/", "s3://synapse-media/s3cmd/tree/"])
    listed = t.run(s3cmd + ["ls", "-r", "s3://synapse-media/s3cmd/tree/"]).stdout
    keys = sorted(line.split("s3://synapse-media/s3cmd/tree/", 1)[1] for line in listed.splitlines() if "s3://" in line)
    assert keys == sorted(tree), keys
    # `info` reads the bucket's policy and CORS too, which the Synapse policy does not
    # grant (on AWS as here: s3cmd stops at the CORS 403), so the administrator runs it.
    admin = config("s3cfg-root", t.app.user, t.app.password)
    info = t.run(admin + ["info", "s3://synapse-media/s3cmd/small"]).stdout
    assert f"File size: {(src / small).stat().st_size}" in info, info
    assert "ACL:       synapse: FULL_CONTROL" in info, info
    # what the Synapse user may not do
    refused = t.run(s3cmd + ["mb", "s3://synapse-extra"], check=False)
    assert refused.returncode != 0 and "AccessDenied" in (refused.stdout + refused.stderr)
    refused = t.run(s3cmd + ["ls", "s3://postgresql-backups/"], check=False)
    assert refused.returncode != 0 and "AccessDenied" in (refused.stdout + refused.stderr)
    t.run(s3cmd + ["del", "--recursive", "--force", "s3://synapse-media/s3cmd/"])
    left = t.run(s3cmd + ["ls", "-r", "s3://synapse-media/s3cmd/"]).stdout
    assert left.strip() == "", left


PG_BIN = Path("/usr/lib/postgresql/15/bin")
BARMAN_BIN = REPO / ".e2e-barman" / "bin"


# Counts the objects under a prefix by their server-side encryption (HEAD of each), with the
# barman venv's boto3 and the caller's keys from the environment.
SSE_OF_OBJECTS = r'''
import collections, json, sys
import boto3
endpoint, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint)
kinds = collections.Counter()
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get("Contents", []):
        kinds[s3.head_object(Bucket=bucket, Key=o["Key"]).get("ServerSideEncryption", "none")] += 1
print(json.dumps(kinds))
'''


def test_barman_cloud_backs_up_and_restores_postgresql_to_a_point_in_time(matrix_tenant):
    t = matrix_tenant
    for need in (PG_BIN / "initdb", BARMAN_BIN / "barman-cloud-backup"):
        if not need.exists():
            pytest.fail(f"{need} is missing: e2e/setup.sh installs it (as root)", pytrace=False)
    ak, sk = t.keys(CNPG)
    # PostgreSQL runs as the postgres user: outside pytest's root-only temporary directory.
    work = Path(tempfile.mkdtemp(prefix="cairn-e2e-pg-"))
    work.chmod(0o755)
    ca = work / "ca.crt"
    shutil.copy(t.app.ca, ca)
    ca.chmod(0o644)
    for d in ("sock", "sock2"):
        (work / d).mkdir()
    for p in [work, *work.iterdir()]:
        shutil.chown(p, "postgres", "postgres")
    env = {"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CA_BUNDLE": str(ca), "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(work),
           "PATH": f"{PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin"}
    dest, server = "s3://postgresql-backups/e2e", "pg-main"
    cloud = ["--endpoint-url", t.app.endpoint, "--cloud-provider", "aws-s3"]

    def pg(*argv, check=True, timeout=300):
        return t.run([str(a) for a in argv], env=env, user="postgres", check=check, cwd=work, timeout=timeout)

    def sql(query: str, sock: str = "sock", port: int = 55432) -> str:
        return pg(PG_BIN / "psql", "-h", work / sock, "-p", port, "-U", "postgres", "-v", "ON_ERROR_STOP=1",
                  "-Atc", query).stdout.strip()

    main, restored = work / "main", work / "restore"
    try:
        # CloudNativePG checks the archive before the first WAL goes there.
        pg(BARMAN_BIN / "barman-cloud-check-wal-archive", *cloud, dest, server)
        pg(PG_BIN / "initdb", "-D", main, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(main / "postgresql.conf", "a") as f:
            f.write(f"""
port = 55432
listen_addresses = ''
unix_socket_directories = '{work / "sock"}'
wal_level = replica
archive_mode = on
archive_timeout = 60
archive_command = '{BARMAN_BIN}/barman-cloud-wal-archive --gzip --encryption AES256 {" ".join(cloud)} {dest} {server} %p'
""")
        pg(PG_BIN / "pg_ctl", "-D", main, "-l", work / "main.log", "-w", "start")
        sql("create table t(id int primary key, note text);"
            " insert into t select g, md5(g::text) from generate_series(1, 10000) g")
        sql("select pg_switch_wal()")
        backup = [BARMAN_BIN / "barman-cloud-backup", *cloud, "-h", work / "sock", "-p", "55432", "-U", "postgres",
                  "--immediate-checkpoint", "--gzip", "--jobs", "2", "--encryption", "AES256"]
        pg(*backup, "--name", "backup-1", dest, server)
        listed = json.loads(pg(BARMAN_BIN / "barman-cloud-backup-list", *cloud, "--format", "json", dest,
                               server).stdout)["backups_list"]
        assert [(b["backup_name"], b["status"]) for b in listed] == [("backup-1", "DONE")], listed
        first = listed[0]["backup_id"]
        shown = pg(BARMAN_BIN / "barman-cloud-backup-show", *cloud, dest, server, first).stdout
        assert first in shown and "backup-1" in shown, shown
        # `--encryption AES256`: every object of the backup and the WAL archive is SSE-S3.
        kinds = json.loads(pg(BARMAN_BIN / "python", "-c", SSE_OF_OBJECTS, t.app.endpoint, "postgresql-backups",
                              "e2e/").stdout)
        assert set(kinds) == {"AES256"} and sum(kinds.values()) >= 3, kinds

        # More writes, archived while one pod is down; the target time falls between them.
        down = t.c.pods[-1].name
        t.c.kill9(down)
        try:
            sql("insert into t select g, md5(g::text) from generate_series(10001, 15000) g")
            target = sql("select now()")
            time.sleep(1.5)
            sql("insert into t select g, md5(g::text) from generate_series(15001, 17000) g")
            last = sql("select pg_walfile_name(pg_switch_wal())")
            deadline = time.monotonic() + 90
            while True:
                archived, failed = sql("select coalesce(last_archived_wal, ''), failed_count from pg_stat_archiver").split("|")
                if archived >= last:
                    break
                assert time.monotonic() < deadline, f"WAL {last} not archived (last {archived!r}, failures {failed}):\n" \
                    + (work / "main.log").read_text()[-4000:]
                time.sleep(0.5)
            assert failed == "0", (work / "main.log").read_text()[-4000:]
        finally:
            t.c.start(down)
            t.c.wait_ready([down], timeout=60)

        # Point-in-time restore: the backup, then WAL up to the target time.
        pg(BARMAN_BIN / "barman-cloud-restore", *cloud, dest, server, first, restored)
        restored.chmod(0o700)
        with open(restored / "postgresql.conf", "a") as f:
            f.write(f"""
port = 55433
unix_socket_directories = '{work / "sock2"}'
archive_mode = off
restore_command = '{BARMAN_BIN}/barman-cloud-wal-restore {" ".join(cloud)} {dest} {server} %f %p'
recovery_target_time = '{target}'
recovery_target_action = 'promote'
""")
        (restored / "recovery.signal").touch()
        shutil.chown(restored / "recovery.signal", "postgres", "postgres")
        pg(PG_BIN / "pg_ctl", "-D", restored, "-l", work / "restore.log", "-w", "-t", "120", "start")
        deadline = time.monotonic() + 120
        while sql("select pg_is_in_recovery()", "sock2", 55433) != "f":
            assert time.monotonic() < deadline, (work / "restore.log").read_text()[-4000:]
            time.sleep(0.5)
        got = sql("select count(*), max(id) from t", "sock2", 55433)
        assert got == "15000|15000", f"{got}: rows committed before {target} only\n" \
            + (work / "restore.log").read_text()[-3000:]
        pg(PG_BIN / "pg_ctl", "-D", restored, "-m", "fast", "stop")

        # Retention: a second backup, then REDUNDANCY 1 keeps only it.
        pg(*backup, "--name", "backup-2", dest, server)
        pg(BARMAN_BIN / "barman-cloud-backup-delete", *cloud, "--retention-policy", "REDUNDANCY 1", dest, server)
        listed = json.loads(pg(BARMAN_BIN / "barman-cloud-backup-list", *cloud, "--format", "json", dest,
                               server).stdout)["backups_list"]
        assert [b["backup_name"] for b in listed] == ["backup-2"], listed
    finally:
        for d in (restored, main):
            if (d / "postmaster.pid").exists():
                pg(PG_BIN / "pg_ctl", "-D", d, "-m", "immediate", "stop", check=False)
        shutil.rmtree(work, ignore_errors=True)


SYNAPSE_BIN = REPO / ".e2e-synapse" / "bin"

# Runs in the application namespace with the Synapse venv's Python: a homeserver on SQLite
# whose media storage provider is the tenant (the Synapse user's keys, the tenant CA through
# AWS_CA_BUNDLE), then the client media API and the migration tool.
SYNAPSE_FLOW = r'''
import hashlib, io, json, os, re, shutil, signal, subprocess, sys, time
import boto3, requests
from botocore.config import Config
from PIL import Image
WORK, BIN, ENDPOINT, KEY, SECRET, PREFIX, SSEC = sys.argv[1:8]
# With an SSE-C key (32 characters, as the provider's sse_customer_key takes it), every
# object is encrypted with it and every read of S3 must send it.
SSE = {"SSECustomerKey": SSEC, "SSECustomerAlgorithm": "AES256"} if SSEC else {}
os.chdir(WORK)
py = os.path.join(BIN, "python")
subprocess.run([py, "-m", "synapse.app.homeserver", "--server-name", "localtest", "--config-path", "homeserver.yaml",
                "--generate-config", "--report-stats=no"], check=True, capture_output=True)
cfg = open("homeserver.yaml").read()
cfg = cfg.replace("    - ::1\n", "")
cfg = re.sub(r"trusted_key_servers:\n  - server_name: \"matrix.org\"\n", "trusted_key_servers: []\n", cfg)
cfg += f"""
suppress_key_server_warning: true
media_storage_providers:
  - module: s3_storage_provider.S3StorageProviderBackend
    store_local: True
    store_remote: True
    store_synchronous: True
    config:
      bucket: synapse-media
      region_name: us-east-1
      endpoint_url: {ENDPOINT}
      access_key_id: {KEY}
      secret_access_key: {SECRET}
      prefix: {PREFIX}
"""
if SSEC:
    cfg += f"""      sse_customer_key: {SSEC}
      sse_customer_algo: AES256
"""
open("homeserver.yaml", "w").write(cfg)
log_config = "localtest.log.config"
log_text = open(log_config).read()
open(log_config, "w").write(re.sub(r"filename: .*", f"filename: {WORK}/homeserver.log", log_text))
out = open("synapse.out", "wb")
proc = subprocess.Popen([py, "-m", "synapse.app.homeserver", "-c", "homeserver.yaml"], stdout=out, stderr=subprocess.STDOUT)
seen = {}
try:
    base = "http://127.0.0.1:8008"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, open("synapse.out").read()[-3000:]
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "synapse did not start"
        time.sleep(0.5)
    subprocess.run([os.path.join(BIN, "register_new_matrix_user"), "-c", "homeserver.yaml", "-u", "alice", "-p",
                    "alice-password-1", "-a", base], check=True, capture_output=True)
    token = requests.post(base + "/_matrix/client/v3/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "alice-password-1"}, timeout=30).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def upload(data, name, ctype):
        r = requests.post(base + f"/_matrix/media/v3/upload?filename={name}", data=data,
                          headers={**auth, "Content-Type": ctype}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["content_uri"].rsplit("/", 1)[1]

    img = Image.effect_noise((640, 480), 64).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    png = buf.getvalue()
    mid = upload(png, "noise.png", "image/png")
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="synapse-media", Prefix=PREFIX)["Contents"])
    original = f"{PREFIX}local_content/{mid[:2]}/{mid[2:4]}/{mid[4:]}"
    seen["original_in_s3"] = original in keys
    seen["thumbnails_in_s3"] = len([k for k in keys if k.startswith(f"{PREFIX}local_thumbnails/{mid[:2]}/{mid[2:4]}/{mid[4:]}/")])
    seen["s3_bytes_match"] = s3.get_object(Bucket="synapse-media", Key=original, **SSE)["Body"].read() == png
    if SSEC:
        # Encrypted with the customer key: a read without it is refused.
        try:
            s3.get_object(Bucket="synapse-media", Key=original)
            seen["read_without_key"] = "allowed"
        except s3.exceptions.ClientError as e:
            seen["read_without_key"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
    # The local copy goes: the download must come from S3.
    os.remove(f"media_store/local_content/{mid[:2]}/{mid[2:4]}/{mid[4:]}")
    r = requests.get(base + f"/_matrix/client/v1/media/download/localtest/{mid}", headers=auth, timeout=60)
    seen["download"] = [r.status_code, hashlib.sha256(r.content).hexdigest() == hashlib.sha256(png).hexdigest()]
    r = requests.get(base + f"/_matrix/client/v1/media/thumbnail/localtest/{mid}?width=32&height=32&method=crop",
                     headers=auth, timeout=60)
    seen["thumbnail"] = [r.status_code, r.headers.get("Content-Type")]

    # The migration tool, for media that stayed local (a provider added to a running server).
    later = os.urandom(100_000)
    mid2 = upload(later, "later.bin", "application/octet-stream")
    s3.delete_object(Bucket="synapse-media", Key=f"{PREFIX}local_content/{mid2[:2]}/{mid2[2:4]}/{mid2[4:]}")
    time.sleep(2)
    os.makedirs("mu", exist_ok=True)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
    mu = os.path.join(BIN, "s3_media_upload")
    def tool(*args):
        p = subprocess.run([mu, "--no-progress", *args], cwd="mu", env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-2000:])
        return p.stdout
    tool("update", "../media_store", "1s", "--homeserver-config-path", "../homeserver.yaml")
    written = tool("write")
    seen["write_lists_it"] = f"local_content/{mid2[:2]}/{mid2[2:4]}/{mid2[4:]}" in written
    ssec_args = ["--sse-customer-key", SSEC, "--sse-customer-algo", "AES256"] if SSEC else []
    tool("upload", "../media_store", "synapse-media", "--prefix", PREFIX, "--endpoint-url", ENDPOINT, "--delete",
         *ssec_args)
    key2 = f"{PREFIX}local_content/{mid2[:2]}/{mid2[2:4]}/{mid2[4:]}"
    seen["uploaded"] = s3.get_object(Bucket="synapse-media", Key=key2, **SSE)["Body"].read() == later
    seen["local_deleted"] = not os.path.exists(f"media_store/local_content/{mid2[:2]}/{mid2[2:4]}/{mid2[4:]}")
    r = requests.get(base + f"/_matrix/client/v1/media/download/localtest/{mid2}", headers=auth, timeout=60)
    seen["download_after_upload"] = [r.status_code, r.content == later]
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
print("SYNAPSE-RESULT " + json.dumps(seen))
'''


@pytest.mark.parametrize("sse_customer_key", ["", "synapse-sse-c-key-32-bytes-long!"], ids=["plain", "sse-c"])
def test_synapse_keeps_its_media_in_the_tenant(matrix_tenant, tmp_path, sse_customer_key):
    """Synapse's media through its S3 storage provider, plain and with `sse_customer_key`
    (SSE-C: the tenant encrypts every object with Synapse's key, and only reads that send
    it get the media)."""
    t = matrix_tenant
    if not (SYNAPSE_BIN / "python").exists():
        pytest.fail("the Synapse venv is missing: e2e/setup.sh installs it", pytrace=False)
    ak, sk = t.keys(SYNAPSE)
    prefix = "media-ssec/" if sse_customer_key else "media/"
    r = t.run([str(SYNAPSE_BIN / "python"), "-c", SYNAPSE_FLOW, str(tmp_path), str(SYNAPSE_BIN), t.app.endpoint,
               ak, sk, prefix, sse_customer_key], env={"AWS_CA_BUNDLE": t.app.ca, "HOME": str(tmp_path)},
              timeout=400, check=False)
    line = next((x for x in r.stdout.splitlines() if x.startswith("SYNAPSE-RESULT ")), None)
    log = tmp_path / "homeserver.log"
    assert r.returncode == 0 and line, r.stdout[-3000:] + r.stderr[-5000:] + (
        log.read_text()[-5000:] if log.exists() else "")
    seen = json.loads(line.split(" ", 1)[1])
    assert seen.pop("thumbnails_in_s3") >= 2, seen
    if sse_customer_key:
        assert seen.pop("read_without_key") == 400, seen
    assert seen == {
        "original_in_s3": True, "s3_bytes_match": True, "download": [200, True], "thumbnail": [200, "image/png"],
        "write_lists_it": True, "uploaded": True, "local_deleted": True, "download_after_upload": [200, True],
    }, seen


def scrape_config(t, tmp_path: Path) -> tuple[dict, list[str]]:
    """The Prometheus scrape job the rendered ServiceMonitor implies for the tenant (what the
    Prometheus Operator generates from it): the selected Service's endpoints (the ready pods'
    addresses) on the endpoint's port, its scheme, path, TLS CA and server name, and its
    bearer token Secret when it names one; and the targets."""
    sm = next(o for o in t.objects if o["kind"] == "ServiceMonitor")
    ep, = sm["spec"]["endpoints"]
    selector = sm["spec"]["selector"]["matchLabels"]
    svc = next(o for o in t.objects if o["kind"] == "Service"
               and all(o["metadata"].get("labels", {}).get(k) == v for k, v in selector.items()))
    port = next(p for p in svc["spec"]["ports"] if p.get("name") == ep["port"])
    pods = t.c.selected(svc["spec"]["selector"])
    target_port = {p.port(port.get("targetPort", port["port"])) for p in pods}.pop()
    targets = [f"{t.c.addr(p.index)}:{target_port}" for p in pods]
    job = {"job_name": sm["metadata"]["name"], "scheme": ep.get("scheme", "http"),
           "metrics_path": ep.get("path", "/metrics"), "static_configs": [{"targets": targets}]}

    def secret_file(ref: dict, name: str) -> str:
        obj = next(o for o in t.objects if o["kind"] == "Secret" and o["metadata"]["name"] == ref["name"])
        f = tmp_path / name
        f.write_bytes(secret_data(obj)[ref["key"]])
        return str(f)

    tls = ep.get("tlsConfig")
    if tls:
        job["tls_config"] = {"ca_file": secret_file(tls["ca"]["secret"], "scrape-ca.crt"),
                             "server_name": tls["serverName"]}
    if ep.get("bearerTokenSecret"):
        job["authorization"] = {"type": "Bearer",
                                "credentials_file": secret_file(ep["bearerTokenSecret"], "scrape-token")}
    return job, targets


def test_prometheus_scrapes_every_pod_as_the_service_monitor_says(matrix_tenant, tmp_path):
    t = matrix_tenant
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: e2e/setup.sh installs Debian's prometheus (as root)", pytrace=False)
    job, targets = scrape_config(t, tmp_path)
    assert len(targets) == 4 and job["scheme"] == "https", job
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                                   "scrape_configs": [job]}))
    t.run(["promtool", "check", "config", str(cfg)])
    # Every pod's page is valid exposition text; promtool's lint is clean but for MinIO's
    # names and types (gauges ending in _total, counters without it, the TTFB distribution's
    # `le` on a gauge), kept: MinIO's dashboards query them as they are.
    out = t.app.ok(f"""
import ssl, urllib.request
ctx = ssl.create_default_context(cafile={job.get("tls_config", {}).get("ca_file")!r})
ctx.check_hostname = False
for target in {targets!r}:
    req = urllib.request.Request("{job['scheme']}://" + target + {job['metrics_path']!r})
    tok = {job.get("authorization", {}).get("credentials_file")!r}
    if tok:
        req.add_header("Authorization", "Bearer " + open(tok).read().strip())
    open({str(tmp_path / "page-")!r} + target.replace(":", "_"), "wb").write(urllib.request.urlopen(req, context=ctx, timeout=10).read())
print("ok")
""")
    assert out.strip().endswith("ok")
    for page in sorted(tmp_path.glob("page-*")):
        r = subprocess.run(["promtool", "check", "metrics"], stdin=page.open("rb"), capture_output=True, text=True)
        problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
        minio_findings = ("non-counter metrics should not have \"_total\" suffix",
                          "counter metrics should have \"_total\" suffix",
                          "non-histogram metrics should not have \"le\" label")
        unexpected = [p for p in problems if not (p.startswith("minio_") and any(f in p for f in minio_findings))]
        assert r.returncode in (0, 3) and not unexpected, (page.name, r.returncode, problems[:20])
    prom = subprocess_in_app(t, ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 "--web.listen-address=127.0.0.1:9095"], tmp_path / "prometheus.log")
    try:
        want = sorted(targets)
        got = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = t.app.run("""
import json, urllib.request
print(json.dumps(json.load(urllib.request.urlopen("http://127.0.0.1:9095/api/v1/query?query=up", timeout=5))))
""")
            if r.returncode == 0:
                res = json.loads(r.stdout.strip().splitlines()[-1])["data"]["result"]
                got = sorted((x["metric"]["instance"], x["value"][1]) for x in res)
                if got == [(i, "1") for i in want]:
                    break
            time.sleep(1)
        assert got == [(i, "1") for i in want], (got, (tmp_path / "prometheus.log").read_text()[-3000:])

        # The Grafana dashboard the chart ships: after some traffic (with a 4xx), every
        # panel's query answers with data from this Prometheus.
        t.app.ok("""
from botocore.exceptions import ClientError
c = s3()
for i in range(20):
    c.put_object(Bucket="synapse-media", Key=f"dash/{i}", Body=b"d" * 5000)
    c.get_object(Bucket="synapse-media", Key=f"dash/{i}")["Body"].read()
    c.delete_object(Bucket="synapse-media", Key=f"dash/{i}")
try:
    c.get_object(Bucket="synapse-media", Key="dash/missing")
except ClientError:
    pass
""")
        time.sleep(4)
        dashboard = json.loads((REPO / "charts" / "cairn-operator" / "dashboards" / "cairn.json").read_text())

        def panels(ps):
            for p in ps:
                yield p
                yield from panels(p.get("panels", []))

        queries = sorted({tg["expr"] for p in panels(dashboard["panels"]) for tg in p.get("targets", [])
                          if tg.get("expr")})
        assert len(queries) >= 20, queries
        concrete = [q.replace("$namespace", ".*").replace("$job", ".*").replace("$__rate_interval", "1m")
                    for q in queries]
        r = t.app.ok(f"""
import json, urllib.parse, urllib.request
empty = []
for q in {concrete!r}:
    url = "http://127.0.0.1:9095/api/v1/query?query=" + urllib.parse.quote(q)
    res = json.load(urllib.request.urlopen(url, timeout=10))
    if res.get("status") != "success" or not res["data"]["result"]:
        empty.append([q, res.get("error", "no data")])
print(json.dumps(empty))
""")
        empty = json.loads(r.strip().splitlines()[-1])
        assert empty == [], empty
    finally:
        prom.terminate()
        prom.wait(timeout=30)


def subprocess_in_app(t, argv: list[str], log: Path):
    """A long-running program in the application namespace; the caller stops it."""
    out = open(log, "wb")
    return subprocess.Popen(["ip", "netns", "exec", t.c.ns(t.c.CLIENT), *argv], stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
