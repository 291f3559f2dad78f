#!/usr/bin/env python3
# Usage: start a server (CAIRN_ROOT_USER=benchadmin CAIRN_ROOT_PASSWORD=benchpassword1
#   cairn server --address 127.0.0.1:19555 /tmp/d{1..8}) on fresh drives, then
#   .e2e-venv/bin/python bench/versioning-ab.py http://127.0.0.1:19555
"""A/B: PUT and GET of small (4 KiB, inline) and 1 MiB objects in an unversioned and a
versioned bucket of one server, alternating rounds; prints ops/s per round."""
import sys, time, threading, boto3, statistics
from botocore.config import Config
ep = sys.argv[1]
c = boto3.client("s3", endpoint_url=ep, aws_access_key_id="benchadmin", aws_secret_access_key="benchpassword1",
                 region_name="us-east-1", config=Config(max_pool_connections=16, retries={"max_attempts": 1}))
for b in ("plain-b", "versioned-b"):
    c.create_bucket(Bucket=b)
c.put_bucket_versioning(Bucket="versioned-b", VersioningConfiguration={"Status": "Enabled"})
def run(bucket, op, size, seconds=4.0, threads=4):
    body = b"x" * size
    n = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds
    def w(t):
        i = 0
        while time.monotonic() < end:
            k = f"k{t}-{i % 50}"
            if op == "put":
                c.put_object(Bucket=bucket, Key=k, Body=body)
            else:
                c.get_object(Bucket=bucket, Key=k)["Body"].read()
            i += 1
        with lock:
            n[0] += i
    ts = [threading.Thread(target=w, args=(t,)) for t in range(threads)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return n[0] / seconds
res = {}
for rnd in range(3):
    for size in (4096, 1 << 20):
        for op in ("put", "get"):
            for b in (("plain-b", "versioned-b") if rnd % 2 == 0 else ("versioned-b", "plain-b")):
                res.setdefault((size, op, b), []).append(run(b, op, size))
for (size, op, b), v in sorted(res.items()):
    print(f"{size:>8} {op} {b:12} median {statistics.median(v):8.1f} ops/s  rounds {[round(x,1) for x in v]}")
