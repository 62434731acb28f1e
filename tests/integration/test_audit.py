"""A folder of the store checked against its records, on the local folder and on S3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from audiobatch.storage import LocalStorage, Storage
from audiobatch.storage.audit import Audit, Changed, Recorded, audit
from audiobatch.storage.s3 import S3Storage

FOLDER = "demo/b1"


@pytest.fixture(params=["local", "s3-prefixed"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    endpoint = request.getfixturevalue("s3_server")
    return S3Storage(request.getfixturevalue("s3_bucket"), "renders", endpoint_url=endpoint)


def stored(store: Storage) -> list[Recorded]:
    """Two jobs' outputs, the batch's results.json, and a neighbouring batch's output."""
    records = []
    for key, data in [(f"{FOLDER}/a/audio.mp3", b"aaaa"), (f"{FOLDER}/b/part-001/audio.mp3", b"b")]:
        obj = store.write(key, [data], "audio/mpeg")
        records.append(Recorded(obj.key, obj.bytes, obj.sha256))
    store.write(f"{FOLDER}/results.json", [b"{}"], "application/json")
    store.write("demo/b10/a/audio.mp3", [b"elsewhere"], "audio/mpeg")
    return records


def check(store: Storage, records: list[Recorded]) -> Audit:
    return audit(store, FOLDER, records, expected=[f"{FOLDER}/results.json"])


def test_a_folder_that_matches_its_records_is_clean(store: Storage) -> None:
    result = check(store, stored(store))
    assert result.clean and result.checked == 2


def test_a_missing_object_is_reported(store: Storage) -> None:
    records = stored(store)
    store.delete(records[0].key)
    assert check(store, records).missing == [records[0].key]


def test_a_changed_object_is_reported_with_both_sizes_and_hashes(store: Storage) -> None:
    records = stored(store)
    store.delete(records[1].key)
    store.write(records[1].key, [b"other"], "audio/mpeg")
    [changed] = check(store, records).changed
    assert changed == Changed(
        records[1].key, 5, hashlib.sha256(b"other").hexdigest(), 1, records[1].sha256
    )


def test_an_object_no_record_names_is_stray(store: Storage) -> None:
    records = stored(store)
    store.write(f"{FOLDER}/a/alignment.json", [b"{}"], "application/json")
    result = check(store, records)
    assert result.stray == [f"{FOLDER}/a/alignment.json"] and not result.clean
