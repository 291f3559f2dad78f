"""Pod-level end-to-end test of the operator's output: `cairn-operator render -o json` turns a
Tenant into Kubernetes objects; e2e/pods.py runs the pods its StatefulSets describe as real
`cairn` processes, as a kubelet would (own network, UTS and mount namespaces; the rendered
command, arguments and environment unchanged; every Secret, ConfigMap, emptyDir and claim
volume mounted at its mountPath; the security context's user, groups, read-only root file
system, no_new_privs and dropped capabilities), with a hosts file resolving the pod and Service
DNS names as cluster DNS would. A further namespace plays an application pod (Synapse,
CloudNativePG): boto3 there reaches the tenant by DNS name, over HTTPS trusting only the CA
the operator published, with the root credentials of the configuration Secret, and (Matrix)
with each application user's keys from its Secret once the operator's reconcile step has
created the users and policies.

Cases: the Matrix example (4 x 2, TLS: buckets, objects through the Service and every pod,
one pod killed as the PodDisruptionBudget allows, maintenance health, the pod brought back),
a two-pool tenant (4 x 2 + 8 x 1: every StatefulSet carries both pools' endpoints) and a
plain-HTTP single-server tenant."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from pods import secret_data
from podtenant import FIXTURES, MATRIX, App, _docs, operator_view, pod_network, proc_status, render, running

pytestmark = [pytest.mark.needs_process, pytest.mark.cluster]


def test_matrix_pods_form_a_tls_cluster_that_applications_use(matrix_tenant):
    """The shared Matrix tenant: pods as rendered, provisioned by the operator, used by each
    application user within its own buckets, served through the Service and every pod, and
    writable with one pod down (what the PodDisruptionBudget allows)."""
    t = matrix_tenant
    objects, c, app, tmp_path = t.objects, t.c, t.app, t.root
    assert app.scheme == "https" and app.endpoint == "https://minio.matrix.svc.cluster.local"
    names = [p.name for p in c.pods]
    assert names == [f"matrix-minio-pool-0-{i}" for i in range(4)]

    # each pod runs the server as the rendered security context says, under its own name
    for n in names:
        st = proc_status(c, n)
        assert st["Name"] == "cairn", st["Name"]
        assert st["Uid"].split()[0] == "1000" and st["Gid"].split()[0] == "1000", (st["Uid"], st["Gid"])
        assert st["NoNewPrivs"] == "1" and int(st["CapBnd"], 16) == 0, st
        host = subprocess.run(["nsenter", "-t", str(c.procs[n].pid), "-u", "hostname"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert host == n
        assert c.probe(n, "livenessProbe") == 200
        # the drives hold the format the server wrote as user 1000
        for d in ("data0", "data1"):
            drive = tmp_path / n / "pvc" / d
            owned = {f.stat().st_uid for f in drive.rglob("*")}
            assert owned == {1000}, (drive, owned)

    # the operator's provisioning, through the S3 Service as the controller reaches it:
    # the Tenant's buckets, once (a second pass creates nothing)
    buckets = ["synapse-media", "synapse-media-li", "postgresql-backups"]
    view = t.first_view  # the fixture's first pass
    assert view["url"] == app.endpoint_9000
    assert (view["write_ok"], view["read_ok"], view["drives_online"], view["drives_offline"]) == (True, True, 8, 0), view
    assert view["write_quorum"] == 5, view  # 8 drives, EC:4: data + 1
    assert view["created"] == view["provisioned"] == buckets and not view["failed"], view
    # the policies and users, by the controller's reconcile step (provision_pods.rs)
    matrix_users = [
        {"secret": "matrix-minio-synapse-user", "access_key": "synapse",
         "policy": "synapse-media-readwrite", "provisioned": True},
        {"secret": "matrix-minio-cnpg-user", "access_key": "cloudnative-pg",
         "policy": "postgresql-backups-readwrite", "provisioned": True},
    ]
    assert view["users"] == matrix_users, view
    assert (view["users_condition"]["status"], view["users_condition"]["reason"]) == ("True", "UsersCreated"), view
    assert view["policies"] == ["postgresql-backups-readwrite", "synapse-media-readwrite"], view
    assert view["buckets"] == sorted(buckets)
    again = operator_view(c, MATRIX, app.ca, provision=True)
    assert again["created"] == [] and again["provisioned"] == buckets and not again["failed"], again
    assert again["users"] == matrix_users and again["users_condition"]["reason"] == "UsersCreated", again

    # each application, with the keys of its user Secret (as applied), over TLS trusting only
    # the tenant CA: read-write on its own buckets, AccessDenied on the other application's
    # bucket and on creating a bucket; its objects are removed again
    own = {"matrix-minio-synapse-user": (["synapse-media", "synapse-media-li"], "postgresql-backups"),
           "matrix-minio-cnpg-user": (["postgresql-backups"], "synapse-media")}
    for secret_name, (mine, other) in own.items():
        keys = secret_data(next(o for o in objects if o["kind"] == "Secret"
                                and o["metadata"]["name"] == secret_name))
        out = app.as_user(keys["CONSOLE_ACCESS_KEY"].decode(), keys["CONSOLE_SECRET_KEY"].decode(), f"""
from botocore.exceptions import ClientError
def code(f):
    try:
        f()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "allowed"
c = s3()
seen = {{}}
for b in {mine!r}:
    c.put_object(Bucket=b, Key="app/" + USER, Body=b"from " + USER.encode())
    body = c.get_object(Bucket=b, Key="app/" + USER)["Body"].read().decode()
    listed = [o["Key"] for o in c.list_objects_v2(Bucket=b, Prefix="app/")["Contents"]]
    c.delete_object(Bucket=b, Key="app/" + USER)
    seen[b] = [body, listed, c.list_objects_v2(Bucket=b, Prefix="app/").get("KeyCount")]
seen["other-put"] = code(lambda: c.put_object(Bucket={other!r}, Key="app/" + USER, Body=b"no"))
seen["other-get"] = code(lambda: c.get_object(Bucket={other!r}, Key="wal/0"))
seen["other-list"] = code(lambda: c.list_objects_v2(Bucket={other!r}))
seen["create"] = code(lambda: c.create_bucket(Bucket=USER + "-bucket"))
print(json.dumps(seen))
""")
        ak = keys["CONSOLE_ACCESS_KEY"].decode()
        seen = json.loads(out.strip().splitlines()[-1])
        assert seen == {**{b: [f"from {ak}", [f"app/{ak}"], 0] for b in mine},
                        "other-put": "AccessDenied", "other-get": "AccessDenied",
                        "other-list": "AccessDenied", "create": "AccessDenied"}, (secret_name, seen)

    # objects through the Service and through every pod
    urls = [app.url(n) for n in names]
    out = app.ok(f"""
c = s3()
c.put_object(Bucket="synapse-media", Key="local_content/ab/cd/file", Body=b"x" * 300000)
for i, url in enumerate({urls!r}):
    pod = s3(url)
    assert pod.get_object(Bucket="synapse-media", Key="local_content/ab/cd/file")["Body"].read() == b"x" * 300000, i
    pod.put_object(Bucket="postgresql-backups", Key=f"wal/{{i}}", Body=bytes([i]) * 70000)
pod0 = s3({urls[0]!r})
print(json.dumps({{"buckets": sorted(b["Name"] for b in pod0.list_buckets()["Buckets"]),
                  "keys": sorted(o["Key"] for o in c.list_objects_v2(Bucket="postgresql-backups", Prefix="wal/")["Contents"]),
                  "wal3": pod0.get_object(Bucket="postgresql-backups", Key="wal/3")["Body"].read() == bytes([3]) * 70000}}))
""")
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {"buckets": sorted(buckets), "keys": [f"wal/{i}" for i in range(4)], "wal3": True}

    # one pod down, what the PodDisruptionBudget allows: reads and writes go on through the
    # Service and pod 0, and every other pod says one more would cost write quorum
    pdb = next(o for o in objects if o["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == len(names) - 1
    down = names[-1]
    c.kill9(down)
    health = "\n".join(f'print(status("{u}/minio/health/cluster"), status("{u}/minio/health/cluster?maintenance=true"))'
                       for u in urls[:-1])
    app.until(health, "\n".join(["200 412"] * (len(names) - 1)), timeout=30)
    # the controller sees the tenant writable, with the down pod's two drives offline
    view = operator_view(c, MATRIX, app.ca, provision=False)
    assert (view["write_ok"], view["drives_online"], view["drives_offline"]) == (True, 6, 2), view
    app.ok(f"""
c, pod0 = s3(), s3({urls[0]!r})
c.put_object(Bucket="synapse-media", Key="while-one-down", Body=b"y" * 200000)
pod0.put_object(Bucket="postgresql-backups", Key="wal/while-down", Body=b"w" * 1000)
assert pod0.get_object(Bucket="synapse-media", Key="while-one-down")["Body"].read() == b"y" * 200000
for k in range(8):  # Service connections, spread over the ready pods
    assert c.get_object(Bucket="synapse-media", Key="local_content/ab/cd/file")["Body"].read() == b"x" * 300000
    assert s3({app.endpoint_9000!r}).get_object(Bucket="synapse-media", Key="while-one-down")["Body"].read() == b"y" * 200000
assert s3({urls[1]!r}).get_object(Bucket="postgresql-backups", Key="wal/3")["Body"].read() == bytes([3]) * 70000
""")

    # the pod comes back on its claims: ready by its probe, it serves what was written while
    # it was down, and the cluster can afford a disruption again
    c.start(down)
    c.wait_ready([down], timeout=60)
    app.ok(f"""
c = s3({urls[-1]!r})
assert c.get_object(Bucket="synapse-media", Key="while-one-down")["Body"].read() == b"y" * 200000
assert c.get_object(Bucket="postgresql-backups", Key="wal/while-down")["Body"].read() == b"w" * 1000
""")
    app.until("\n".join(f'print(status("{u}/minio/health/cluster?maintenance=true"))' for u in urls),
              "\n".join(["200"] * len(names)), timeout=60)


def test_two_pool_tenant_pods_share_buckets_and_objects(tmp_path):
    """Every StatefulSet carries both pools' endpoints; twelve pods form one cluster."""
    objects = render(FIXTURES / "two-pools.yaml")
    with running(tmp_path, objects) as c:
        app = App(c, objects)
        assert app.endpoint == "https://grown-s3.storage.svc.cluster.local"
        pools = {}
        for p in c.pods:
            pools.setdefault(p.sts["metadata"]["name"], []).append(p.name)
        assert {k: len(v) for k, v in pools.items()} == {"grown-pool-0": 4, "grown-pool-1": 8}
        writers = [pools["grown-pool-0"][0], pools["grown-pool-1"][-1]]
        readers = [pools["grown-pool-1"][0], pools["grown-pool-0"][-1]]
        app.ok(f"""
s3().create_bucket(Bucket="media")
for w, url in enumerate({[app.url(n) for n in writers]!r}):
    c = s3(url)
    for k in range(6):
        c.put_object(Bucket="media", Key=f"w{{w}}/{{k}}", Body=bytes([w, k]) * 40000)
for url in {[app.url(n) for n in readers]!r}:
    c = s3(url)
    keys = sorted(o["Key"] for o in c.list_objects_v2(Bucket="media")["Contents"])
    assert keys == sorted(f"w{{w}}/{{k}}" for w in range(2) for k in range(6)), keys
    for w in range(2):
        for k in range(6):
            assert c.get_object(Bucket="media", Key=f"w{{w}}/{{k}}")["Body"].read() == bytes([w, k]) * 40000
""")
        # the bucket exists on every drive of both pools (each pod's claims)
        for p in c.pods:
            for claim in p.sts["spec"]["volumeClaimTemplates"]:
                drive = tmp_path / p.name / "pvc" / claim["metadata"]["name"]
                assert (drive / "media").is_dir(), f"{drive} has no bucket: {sorted(x.name for x in drive.iterdir())}"


def test_adding_a_pool_restarts_the_old_pods_one_by_one_without_downtime(tmp_path):
    """Day 2: pool-1 is added to a running one-pool tenant. The new pool's pods start first,
    then the old pods restart one by one with the new endpoint list (the operator's order,
    reconcile/rollout.rs), and the tenant serves reads and writes all along."""
    grown = render(FIXTURES / "two-pools.yaml")
    one_pool = tmp_path / "one-pool.yaml"
    docs = _docs(FIXTURES / "two-pools.yaml")
    for d in docs:
        if d["kind"] == "Tenant":
            d["spec"]["pools"] = d["spec"]["pools"][:1]
    one_pool.write_text(yaml.safe_dump_all(docs))
    old = render(one_pool)

    def args(objects, sts_name):
        sts = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == sts_name)
        return sts["spec"]["template"]["spec"]["containers"][0]["args"]

    old_args, new_args = args(old, "grown-pool-0"), args(grown, "grown-pool-0")
    endpoints = [a for a in new_args if a.startswith("https://")]
    assert len(endpoints) == 2 and [a for a in old_args if a.startswith("https://")] == endpoints[:1]

    with pod_network(tmp_path, grown) as c:
        pool0 = [p.name for p in c.pods if p.sts["metadata"]["name"] == "grown-pool-0"]
        pool1 = [p.name for p in c.pods if p.sts["metadata"]["name"] == "grown-pool-1"]
        # before: the one-pool tenant, as its pods were created from the old revision
        for n in pool0:
            c.start(n, args=old_args)
        c.wait_ready(pool0)
        app = App(c, grown)
        app.ok("""
s3().create_bucket(Bucket="media")
for k in range(8):
    s3().put_object(Bucket="media", Key=f"before/{k}", Body=bytes([k]) * 30000)
""")
        # the new StatefulSet's pods start with the new list and join the old servers
        for n in pool1:
            c.start(n)
        c.wait_ready(pool1)
        # a new server takes writes, but into pool 0 only while old servers run without pool 1
        app.ok(f"""
w, r = s3({app.url(pool1[0])!r}), s3({app.url(pool0[0])!r})
for k in range(16):
    w.put_object(Bucket="media", Key=f"mid/{{k}}", Body=b"m" * 5000)
    assert r.get_object(Bucket="media", Key=f"mid/{{k}}")["Body"].read() == b"m" * 5000
""")

        def pool_drives(names):
            return [tmp_path / n / "pvc" / claim["metadata"]["name"]
                    for n in names for claim in c.pod(n).sts["spec"]["volumeClaimTemplates"]]

        def stored_in(names, prefix):
            return {k.parent.relative_to(d / "media").as_posix() for d in pool_drives(names)
                    for k in (d / "media" / prefix).glob("*/~meta")}

        assert not stored_in(pool1, "mid"), "an object went to pool 1 while old servers could not read it"
        # the operator's rolling order: highest ordinal first, one pod at a time
        for step, n in enumerate(reversed(pool0)):
            c.kill9(n)
            app.ok(f"""
c = s3()
c.put_object(Bucket="media", Key="during/{step}", Body=b"d" * 70000)
for k in range(8):
    assert c.get_object(Bucket="media", Key=f"before/{{k}}")["Body"].read() == bytes([k]) * 30000
assert len(c.list_objects_v2(Bucket="media", Prefix="mid/")["Contents"]) == 16
""")
            c.start(n)
            c.wait_ready([n])
        # every server runs with both pools: new objects go to both
        deadline = time.monotonic() + 60
        batch = 0
        while not stored_in(pool1, "after"):
            assert time.monotonic() < deadline, "no new object reached pool 1 after the restarts"
            app.ok(f"""
for k in range(20):
    s3().put_object(Bucket="media", Key=f"after/{batch}-{{k}}", Body=b"a" * 3000)
""")
            batch += 1
        assert stored_in(pool0, "after"), "new objects should land on both pools"
        for n in (pool0[0], pool1[-1]):
            app.ok(f"""
c = s3({app.url(n)!r})
keys = set()
for page in c.get_paginator("list_objects_v2").paginate(Bucket="media"):
    keys |= {{o["Key"] for o in page.get("Contents", [])}}
assert {{f"before/{{k}}" for k in range(8)}} | {{f"mid/{{k}}" for k in range(16)}} <= keys, sorted(keys)
assert {{f"during/{{s}}" for s in range(4)}} <= keys, sorted(keys)
assert len([k for k in keys if k.startswith("after/")]) == {batch} * 20
for k in sorted(keys):
    assert len(c.get_object(Bucket="media", Key=k)["Body"].read()) > 0, k
""")


def test_plain_http_single_server_tenant(tmp_path):
    """requestAutoCert: false renders an HTTP probe, no certificate volume and an HTTP pod."""
    objects = render(FIXTURES / "tls-off.yaml")
    assert not [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-tls")]
    with running(tmp_path, objects) as c:
        app = App(c, objects)
        assert app.endpoint == "http://minio.dev.svc.cluster.local"
        [pod] = c.pods
        assert [m["mountPath"] for m in pod.container["volumeMounts"] if m["mountPath"].startswith("/export")] \
            == [f"/export{i}" for i in range(4)]
        out = app.ok(f"""
c = s3()
c.create_bucket(Bucket="plain-bucket")
c.put_object(Bucket="plain-bucket", Key="k", Body=b"z" * 100000)
print(s3({app.url(pod.name)!r}).get_object(Bucket="plain-bucket", Key="k")["Body"].read() == b"z" * 100000,
      status({app.url(pod.name)!r} + "/minio/health/cluster"))
""")
        assert out.split() == ["True", "200"]
