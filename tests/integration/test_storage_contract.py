"""One contract, two stores: the local folder and S3 (moto's server) behave the same."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest

from audiobatch.errors import (
    NotFoundError,
    StorageConflictError,
    StorageError,
    StorageIntegrityError,
    StorageUnavailableError,
)
from audiobatch.storage import LocalStorage, Storage
from audiobatch.storage.s3 import S3Storage

MIB = 1024 * 1024


@pytest.fixture(params=["local", "s3", "s3-prefixed"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    prefix = "renders/nightly" if request.param == "s3-prefixed" else ""
    return S3Storage(bucket, prefix, endpoint_url=endpoint)


def leftovers(store: Storage) -> list[str]:
    """Every object or partial write the store holds, by any name."""
    if isinstance(store, LocalStorage):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert isinstance(store, S3Storage)
    objects = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return sorted([o["Key"] for o in objects] + [f"upload:{u['Key']}" for u in uploads])


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield bytes([start // size % 256]) * min(size, total - start)


def test_an_object_written_reads_back_with_its_size_and_sha256(store: Storage) -> None:
    obj = store.write("demo/b1/job/audio.mp3", [b"abc", b"def"], "audio/mpeg")
    assert (obj.bytes, obj.sha256) == (6, hashlib.sha256(b"abcdef").hexdigest())
    assert b"".join(store.read("demo/b1/job/audio.mp3")) == b"abcdef"
    assert store.size("demo/b1/job/audio.mp3") == 6
    store.verify(obj)


def test_an_object_of_several_parts_round_trips(store: Storage) -> None:
    data_hash = hashlib.sha256(b"".join(chunks(20 * MIB))).hexdigest()
    obj = store.write("big/audio.pcm", chunks(20 * MIB), "audio/pcm")
    assert (obj.bytes, obj.sha256) == (20 * MIB, data_hash)
    store.verify(obj)
    assert leftovers(store) == [k for k in leftovers(store) if not k.startswith("upload:")]


@pytest.mark.parametrize("total", [10, 20 * MIB])
def test_a_failing_stream_leaves_nothing_behind(store: Storage, total: int) -> None:
    class Cut(Exception):
        pass

    def broken() -> Iterator[bytes]:
        yield from chunks(total)
        raise Cut("connection lost")

    with pytest.raises(Cut):
        store.write("demo/b1/job/audio.mp3", broken(), "audio/mpeg")
    assert leftovers(store) == []
    assert store.size("demo/b1/job/audio.mp3") is None


@pytest.mark.parametrize("total", [10, 9 * MIB])  # one PutObject, a multipart upload
def test_a_create_only_write_never_replaces_an_object(store: Storage, total: int) -> None:
    store.write("j/audio.mp3", [b"first"], "audio/mpeg", exclusive=True)
    with pytest.raises(StorageConflictError, match="already exists"):
        store.write("j/audio.mp3", chunks(total), "audio/mpeg", exclusive=True)
    assert b"".join(store.read("j/audio.mp3")) == b"first"
    assert len(leftovers(store)) == 1  # no temporary file, no multipart upload


def test_verify_catches_a_changed_and_a_missing_object(store: Storage) -> None:
    obj = store.write("a/x.json", [b"{}"], "application/json")
    store.write("a/x.json", [b"{ }"], "application/json")  # changed behind the record's back
    with pytest.raises(StorageIntegrityError):
        store.verify(obj)
    store.delete("a/x.json")
    store.delete("a/x.json")  # deleting twice is fine
    with pytest.raises(NotFoundError):
        store.verify(obj)
    assert store.size("a/x.json") is None


@pytest.mark.parametrize("key", ["../escape", "/abs/key", "a/../b", "a//b", "a\\b", ""])
def test_keys_that_could_leave_the_root_are_refused(store: Storage, key: str) -> None:
    with pytest.raises(StorageError, match="invalid storage key"):
        store.write(key, [b"x"], "text/plain")


def test_uris_name_the_object(store: Storage) -> None:
    obj = store.write("a/b.txt", [b"x"], "text/plain")
    if isinstance(store, S3Storage):
        prefix = f"{store.prefix}/" if store.prefix else ""
        assert obj.uri == f"s3://{store.bucket}/{prefix}a/b.txt"
        url = store.presigned_url("a/b.txt")
        assert url is not None and httpx.get(url).content == b"x"
        head = boto3.client("s3", endpoint_url=store._endpoint_url).head_object(
            Bucket=store.bucket, Key=f"{prefix}a/b.txt"
        )
        assert head["ContentType"] == "text/plain"
    else:
        assert obj.uri == (store.root / "a" / "b.txt").as_uri()
        assert store.presigned_url("a/b.txt") is None
        assert store.local_path("a/b.txt") == store.root / "a" / "b.txt"


def test_an_unreachable_s3_endpoint_is_a_retryable_storage_error() -> None:
    store = S3Storage("bucket", endpoint_url="http://127.0.0.1:1")
    with pytest.raises(StorageUnavailableError):
        store.write("a/b", [b"x"], "text/plain")


def test_a_missing_bucket_says_so(s3_server: str) -> None:
    store = S3Storage("no-such-bucket-here", endpoint_url=s3_server)
    with pytest.raises(StorageError, match="does not exist"):
        store.write("a/b", [b"x"], "text/plain")


def leave_a_dead_writers_leftover(store: Storage, key: str) -> None:
    if isinstance(store, LocalStorage):
        (store.root / key).parent.mkdir(parents=True, exist_ok=True)
        (store.root / key).with_name(f".{Path(key).name}.1234abcd.partial").write_bytes(b"half")
        return
    assert isinstance(store, S3Storage)
    full = f"{store.prefix}/{key}" if store.prefix else key
    upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=full)
    store.client.upload_part(
        Bucket=store.bucket, Key=full, UploadId=upload["UploadId"], PartNumber=1, Body=b"half"
    )


def test_leftovers_of_writers_that_died_are_removed_once_old_enough(store: Storage) -> None:
    leave_a_dead_writers_leftover(store, "a/audio.mp3")
    store.write("a/audio.mp3", [b"whole"], "audio/mpeg")
    if isinstance(store, LocalStorage):  # moto dates every multipart upload 2010-11-10
        assert store.remove_leftovers(older_than_s=3600) == 0  # may be a writer still at work
    assert store.remove_leftovers(older_than_s=0) == 1
    assert [name for name in leftovers(store) if "audio.mp3" in name] == [
        "a/audio.mp3" if isinstance(store, LocalStorage) or not store.prefix
        else "renders/nightly/a/audio.mp3"
    ]  # fmt: skip


def test_a_workers_threads_storing_at_once_share_one_s3_client(
    s3_server: str, s3_bucket: str
) -> None:
    """A worker's threads store their first answers at the same moment: they make one client
    between them (each one made loads S3's model, half a second of CPU), and every object lands."""
    store = S3Storage(s3_bucket, endpoint_url=s3_server)
    threads = 16
    together = threading.Barrier(threads)

    def store_one(n: int) -> object:
        together.wait()
        client = store.client
        store.write(f"b/{n}/audio.mp3", [b"x" * (n + 1)], "audio/mpeg")
        return client

    with ThreadPoolExecutor(threads) as pool:
        clients = list(pool.map(store_one, range(threads)))
    assert len({id(client) for client in clients}) == 1
    assert [store.size(f"b/{n}/audio.mp3") for n in range(threads)] == list(range(1, threads + 1))
