"""Identity and access on the four-server cluster (the session's `cluster`, see conftest.py),
with the clients users run: minio-py's MinioAdmin (MinIO's admin API with madmin-encrypted
bodies), boto3 (signed and unsigned), boto3's STS client, and the AWS CLI v1.

What is checked: a user, group, policy or service account created through one server is
enforced by every other server within a second; a disabled user is refused everywhere; an
unsigned client gets exactly what the bucket policy grants to "*"; temporary credentials
from AssumeRole work on another server and are narrowed by their session policy; and all of
it survives a restart of every server."""

from __future__ import annotations

import json
import sys
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from minio import MinioAdmin
from minio.credentials import StaticProvider

from conftest import ROOT_PASSWORD, ROOT_USER
from s3util import clean_env, unique_name

pytestmark = [pytest.mark.needs_process, pytest.mark.cluster]

# A change is enforced everywhere within this (the servers look for changes every 500 ms).
PROPAGATION = 1.0
PASSWORD = "iam-e2e-secret-0123"


def admin(cluster, i: int, access_key: str = ROOT_USER, secret_key: str = ROOT_PASSWORD) -> MinioAdmin:
    return MinioAdmin(endpoint=cluster.endpoint(i).removeprefix("http://"),
                      credentials=StaticProvider(access_key, secret_key), secure=False, region="us-east-1")


def s3(cluster, i: int, access_key: str | None, secret_key: str | None = None, token: str | None = None):
    cfg = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1},
                 connect_timeout=3, read_timeout=30)
    if access_key is None:
        cfg = cfg.merge(Config(signature_version=UNSIGNED))
    return boto3.session.Session().client(
        "s3", endpoint_url=cluster.endpoint(i), region_name="us-east-1", config=cfg,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, aws_session_token=token)


def code_of(call) -> str:
    """The S3 error code of `call()`, or "" when it succeeds."""
    try:
        call()
        return ""
    except ClientError as e:
        return e.response["Error"]["Code"]


def within(seconds: float, check, what: str):
    """Polls `check()` until it is true; fails if that takes longer than `seconds`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            pytest.fail(f"not true within {seconds}s: {what}", pytrace=False)
        time.sleep(0.05)


def rw_policy(*buckets: str) -> dict:
    resources = [r for b in buckets for r in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")]
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": resources},
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["arn:aws:s3:::*"]}]}


@pytest.fixture(scope="module")
def buckets(cluster):
    root = cluster.client(1)
    mine, other = unique_name("iam-mine"), unique_name("iam-other")
    for b in (mine, other):
        root.create_bucket(Bucket=b)
        root.put_object(Bucket=b, Key="seed", Body=b"seed")
    return mine, other


def test_user_made_on_one_server_is_enforced_on_every_server(cluster, buckets):
    mine, other = buckets
    a = admin(cluster, 1)
    user = unique_name("alice")
    a.user_add(user, PASSWORD)
    a.policy_add(f"rw-{user}", policy=rw_policy(mine))
    a.policy_set(f"rw-{user}", user=user)
    info = json.loads(a.user_info(user))
    assert info.get("status") == "enabled" and f"rw-{user}" in info.get("policyName", ""), info
    assert "secretKey" not in info or not info["secretKey"], "a secret was returned"
    assert user in json.loads(a.user_list()), "list-users does not name the user"

    for i in range(1, cluster.n + 1):
        c = s3(cluster, i, user, PASSWORD)
        within(PROPAGATION, lambda: code_of(lambda: c.put_object(Bucket=mine, Key=f"from-{i}", Body=b"x")) == "",
               f"server {i} lets {user} write its bucket")
        assert code_of(lambda: c.get_object(Bucket=mine, Key="seed")) == ""
        assert code_of(lambda: c.get_object(Bucket=other, Key="seed")) == "AccessDenied"
        assert code_of(lambda: c.put_object(Bucket=other, Key="x", Body=b"x")) == "AccessDenied"
    listed = {b["Name"] for b in s3(cluster, 3, user, PASSWORD).list_buckets()["Buckets"]}
    assert mine in listed and other not in listed, listed

    # Disabled through server 2: refused by every server within a second.
    admin(cluster, 2).user_disable(user)
    for i in range(1, cluster.n + 1):
        c = s3(cluster, i, user, PASSWORD)
        within(PROPAGATION, lambda: code_of(lambda: c.get_object(Bucket=mine, Key="seed")) != "",
               f"server {i} refuses the disabled {user}")
    admin(cluster, 4).user_enable(user)
    within(PROPAGATION, lambda: code_of(lambda: s3(cluster, 1, user, PASSWORD).get_object(Bucket=mine, Key="seed")) == "",
           "enabled again")


def test_groups_and_service_accounts(cluster, buckets):
    mine, other = buckets
    a = admin(cluster, 1)
    user, group = unique_name("bob"), unique_name("readers")
    a.user_add(user, PASSWORD)
    a.group_add(group, [user])  # a list, as MinIO decodes it ([]string), whatever the type hint says
    a.policy_set("readonly", group=group)
    c = s3(cluster, 2, user, PASSWORD)
    within(PROPAGATION, lambda: code_of(lambda: c.get_object(Bucket=other, Key="seed")) == "",
           "the group's readonly policy reaches its member")
    assert code_of(lambda: c.put_object(Bucket=other, Key="x", Body=b"x")) == "AccessDenied"

    # The user makes its own service account, narrowed to one bucket.
    own = admin(cluster, 3, user, PASSWORD)
    narrow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{mine}/*"]}]}
    created = json.loads(own.add_service_account(policy=narrow, name="e2e"))
    creds = created.get("credentials", created)
    sa = s3(cluster, 4, creds["accessKey"], creds["secretKey"])
    within(PROPAGATION, lambda: code_of(lambda: sa.get_object(Bucket=mine, Key="seed")) == "",
           "the service account reads where both its policy and its parent allow")
    assert code_of(lambda: sa.get_object(Bucket=other, Key="seed")) == "AccessDenied", "narrowed"
    listed = json.loads(own.list_service_account(user))
    assert creds["accessKey"] in json.dumps(listed)
    # A user without admin rights cannot create users.
    with pytest.raises(Exception) as e:
        own.user_add(unique_name("mallory"), PASSWORD)
    assert "AccessDenied" in str(e.value)
    own.delete_service_account(creds["accessKey"])
    within(PROPAGATION, lambda: code_of(lambda: sa.get_object(Bucket=mine, Key="seed")) == "InvalidAccessKeyId",
           "a deleted service account is refused")


def test_anonymous_access_is_what_the_bucket_policy_grants(cluster, buckets):
    mine, _ = buckets
    root = cluster.client(1)
    root.put_object(Bucket=mine, Key="public/page.html", Body=b"<p>hi</p>")
    anon = s3(cluster, 3, None)
    assert code_of(lambda: anon.get_object(Bucket=mine, Key="public/page.html")) == "AccessDenied"
    root.put_bucket_policy(Bucket=mine, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{mine}/public/*"]}]}))
    within(PROPAGATION, lambda: code_of(lambda: anon.get_object(Bucket=mine, Key="public/page.html")) == "",
           "anonymous read of the public prefix on another server")
    assert anon.get_object(Bucket=mine, Key="public/page.html")["Body"].read() == b"<p>hi</p>"
    assert code_of(lambda: anon.get_object(Bucket=mine, Key="seed")) == "AccessDenied"
    assert code_of(lambda: anon.put_object(Bucket=mine, Key="public/x", Body=b"x")) == "AccessDenied"
    assert code_of(lambda: anon.list_objects_v2(Bucket=mine)) == "AccessDenied"
    # The AWS CLI, unsigned, through another server.
    env = clean_env(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    import subprocess
    p = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", cluster.endpoint(2), "--no-sign-request",
                        "s3", "cp", f"s3://{mine}/public/page.html", "-"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout == "<p>hi</p>", p.stderr
    p = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", cluster.endpoint(2), "--no-sign-request",
                        "s3", "cp", f"s3://{mine}/seed", "-"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and ("AccessDenied" in p.stderr or "403" in p.stderr), p.stderr
    root.delete_bucket_policy(Bucket=mine)
    within(PROPAGATION + 1.0,
           lambda: code_of(lambda: anon.get_object(Bucket=mine, Key="public/page.html")) == "AccessDenied",
           "the policy's removal closes the public prefix")


def test_assume_role_credentials_work_on_another_server(cluster, buckets):
    mine, other = buckets
    a = admin(cluster, 1)
    user = unique_name("carol")
    a.user_add(user, PASSWORD)
    a.policy_set("readwrite", user=user)
    time.sleep(PROPAGATION)
    sts = boto3.session.Session().client("sts", endpoint_url=cluster.endpoint(2), region_name="us-east-1",
                                         aws_access_key_id=user, aws_secret_access_key=PASSWORD)
    session_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{mine}/*"]}]}
    got = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/e2e", RoleSessionName="e2e",
                          DurationSeconds=900, Policy=json.dumps(session_policy))["Credentials"]
    c = s3(cluster, 4, got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"])
    assert code_of(lambda: c.get_object(Bucket=mine, Key="seed")) == ""
    assert code_of(lambda: c.get_object(Bucket=other, Key="seed")) == "AccessDenied", "the session policy narrows"
    assert code_of(lambda: c.put_object(Bucket=mine, Key="x", Body=b"x")) == "AccessDenied"
    bad = s3(cluster, 3, got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"][:-4] + "AAAA")
    assert code_of(lambda: bad.get_object(Bucket=mine, Key="seed")) == "InvalidToken"


def test_identities_survive_a_restart_of_every_server(cluster, buckets):
    mine, _ = buckets
    a = admin(cluster, 2)
    user = unique_name("dave")
    a.user_add(user, PASSWORD)
    a.policy_add(f"rw-{user}", policy=rw_policy(mine))
    a.policy_set(f"rw-{user}", user=user)
    time.sleep(PROPAGATION)
    for i in range(1, cluster.n + 1):
        cluster.kill9(i)
    for i in range(1, cluster.n + 1):
        cluster.start(i)
    cluster.wait_ready(range(1, cluster.n + 1))
    for i in range(1, cluster.n + 1):
        c = s3(cluster, i, user, PASSWORD)
        within(10.0, lambda: code_of(lambda: c.get_object(Bucket=mine, Key="seed")) == "",
               f"server {i} knows {user} after the restart")
    assert f"rw-{user}" in json.loads(admin(cluster, 3).policy_list())
