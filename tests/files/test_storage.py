"""Both storages behave the same: put, open, exists, delete, replace, large objects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.files.storage import LocalStorage, MissingObject, S3Storage, Storage, check_key
from tests.files.conftest import chunks_of


async def read_all(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.open(key)])


async def test_put_then_open_gives_the_same_bytes_and_size(storage: Storage) -> None:
    data = os.urandom(300_000)
    assert await storage.put("ab/one", chunks_of(data)) == len(data)
    assert await storage.exists("ab/one")
    assert await read_all(storage, "ab/one") == data


async def test_put_replaces_and_delete_removes(storage: Storage) -> None:
    await storage.put("cd/two", chunks_of(b"first"))
    await storage.put("cd/two", chunks_of(b"second"))
    assert await read_all(storage, "cd/two") == b"second"
    await storage.delete("cd/two")
    assert not await storage.exists("cd/two")
    await storage.delete("cd/two")  # deleting a missing object is not an error


async def test_opening_a_missing_object_raises_missing_object(storage: Storage) -> None:
    with pytest.raises(MissingObject):
        await read_all(storage, "ef/none")


async def test_an_object_larger_than_a_part_goes_up_in_parts(storage: Storage) -> None:
    if isinstance(storage, S3Storage):
        storage.PART_SIZE = 5 * 1024 * 1024  # S3's smallest part
    data = os.urandom(11 * 1024 * 1024 + 123)
    assert await storage.put("gh/big", chunks_of(data, 1024 * 1024)) == len(data)
    assert await read_all(storage, "gh/big") == data


async def test_a_failed_put_leaves_nothing(storage: Storage) -> None:
    async def broken():  # type: ignore[no-untyped-def]
        yield b"x" * (6 * 1024 * 1024)
        raise RuntimeError("client went away")

    if isinstance(storage, S3Storage):
        storage.PART_SIZE = 5 * 1024 * 1024
    with pytest.raises(RuntimeError):
        await storage.put("ij/broken", broken())
    assert not await storage.exists("ij/broken")
    if isinstance(storage, LocalStorage):
        assert not any(p.name.startswith(".part-") for p in storage.root.rglob("*"))


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "A", "a/../b", "", "x\x00"])
def test_keys_cannot_leave_the_storage_root(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_local_storage_writes_under_its_root(tmp_path: Path) -> None:
    assert LocalStorage(tmp_path).path("ab/cd") == tmp_path / "ab" / "cd"
