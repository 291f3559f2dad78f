"""Snowball uploads with minio-py's own client (issue 10): `upload_snowball_objects`
writes a tar (gzip with compression=True) and PUTs it with
`X-Amz-Meta-Snowball-Auto-Extract: true`; Cairn must store the archive's files as
objects, as MinIO does."""

import io

import pytest
from minio import Minio
from minio.commonconfig import SnowballObject


def minio_client(server) -> Minio:
    return Minio(server.endpoint.removeprefix("http://"), access_key=server.access_key,
                 secret_key=server.secret_key, secure=False, region=server.region)


@pytest.mark.parametrize("compression", [False, True])
def test_upload_snowball_objects_stores_each_file(server, bucket, tmp_path, compression):
    m = minio_client(server)
    on_disk = tmp_path / "from-file.bin"
    on_disk.write_bytes(b"F" * 300_000)
    objects = [
        SnowballObject("media/a.txt", data=io.BytesIO(b"alpha"), length=5),
        SnowballObject("media/deep/b.bin", data=io.BytesIO(bytes(range(256)) * 4000), length=1_024_000),
        SnowballObject("from-file.bin", filename=str(on_disk)),
    ]
    m.upload_snowball_objects(bucket, objects, compression=compression)

    names = sorted(o.object_name for o in m.list_objects(bucket, recursive=True))
    assert names == ["from-file.bin", "media/a.txt", "media/deep/b.bin"], names
    assert m.get_object(bucket, "media/a.txt").read() == b"alpha"
    assert m.get_object(bucket, "media/deep/b.bin").read() == bytes(range(256)) * 4000
    assert m.get_object(bucket, "from-file.bin").read() == b"F" * 300_000
