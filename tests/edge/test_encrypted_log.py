"""The encrypted local log: round trips across rotation, and every tampering refused, naming file and frame."""

from __future__ import annotations

import base64
import os
import random
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from weir.edge import (
    EncryptedLog,
    EncryptedLogError,
    LogKeyError,
    WrongLogKeyError,
    generate_log_key,
    load_log_key,
    log_key_from_env,
    read_encrypted_log,
)
from weir.errors import NotFoundError, StoreUnavailableError, ValidationError

HEADER = 32  # magic (8) + key id (8) + link (16)


def records(seed: int, n: int) -> list[list[dict[str, Any]]]:
    """``n`` appends of one to three records each, seeded."""
    rng = random.Random(seed)
    batches = []
    for i in range(n):
        batch = [
            {"i": i, "j": j, "age": rng.randint(18, 90), "p": round(rng.random(), 6), "pad": "x" * rng.randint(0, 80)}
            for j in range(rng.randint(1, 3))
        ]
        batches.append(batch)
    return batches


def frames(path: Path) -> list[tuple[int, int]]:
    """``(start, end)`` byte offsets of each frame of a log file, length prefix included."""
    data = path.read_bytes()
    spans, pos = [], HEADER
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        spans.append((pos, pos + 4 + length))
        pos += 4 + length
    return spans


@pytest.fixture
def key() -> bytes:
    return generate_log_key()


@pytest.fixture
def rotated(tmp_path: Path, key: bytes) -> tuple[Path, list[dict[str, Any]]]:
    """A log of 120 appends rotated over many small files, and the records written."""
    log = EncryptedLog(tmp_path / "log", key, max_bytes=1024)
    written = []
    for batch in records(seed=7, n=120):
        log.append(batch)
        written.extend(batch)
    return log.folder, written


# --- round trip ----------------------------------------------------------------------------------


def test_round_trip_across_rotation(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, written = rotated
    files = sorted(f for f in folder.iterdir() if f.name != ".lock")  # .lock: the writers' empty flock file

    assert len(files) >= 10
    assert [f.name for f in files] == [f"log-{n:06d}.wlog" for n in range(1, len(files) + 1)]
    assert all(f.stat().st_size <= 1024 for f in files)
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert read_encrypted_log(folder, key) == written


def test_a_new_writer_continues_the_same_log(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, written = rotated
    files_before = len(list(folder.iterdir()))
    reopened = EncryptedLog(folder, key, max_bytes=1024)
    more = [b for batch in records(seed=8, n=30) for b in batch]
    for record in more:
        reopened.append([record])

    assert len(reopened.files) > files_before
    assert reopened.read() == written + more


def test_two_writers_taking_turns_keep_one_valid_chain(tmp_path: Path, key: bytes) -> None:
    first, second = EncryptedLog(tmp_path, key, max_bytes=1024), EncryptedLog(tmp_path, key, max_bytes=1024)
    for i in range(30):
        (first if i % 3 else second).append([{"i": i, "pad": "p" * 40}])
    assert [r["i"] for r in read_encrypted_log(tmp_path, key, strict=True)] == list(range(30))


def test_a_frame_larger_than_max_bytes_gets_a_file_of_its_own(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key, max_bytes=1024)
    log.append([{"small": 1}])
    log.append([{"big": "y" * 5000}])
    log.append([{"small": 2}])
    assert len(log.files) == 3
    assert [sorted(r) for r in log.read()] == [["small"], ["big"], ["small"]]


def test_empty_appends_write_nothing_and_unicode_round_trips(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path / "log", key)
    log.append([])
    assert not (tmp_path / "log").exists()
    log.append([{"name": "Zoë", "city": "Zürich", "nested": {"a": [1, 2.5, None, True]}}])
    assert log.read() == [{"name": "Zoë", "city": "Zürich", "nested": {"a": [1, 2.5, None, True]}}]


def test_concurrent_appends_are_all_kept(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key, max_bytes=2048)

    def write(thread: int) -> None:
        for i in range(40):
            log.append([{"thread": thread, "i": i}])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    got = log.read()
    assert len(got) == 160
    for thread in range(4):
        assert [r["i"] for r in got if r["thread"] == thread] == list(range(40))


def test_every_append_is_fsynced(tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    log = EncryptedLog(tmp_path, key)
    for i in range(5):
        before = len(calls)
        log.append([{"i": i}])
        assert len(calls) > before


def test_plaintext_never_reaches_the_disk(tmp_path: Path, key: bytes) -> None:
    folder = tmp_path / "log"
    log = EncryptedLog(folder, key, max_bytes=1024)
    for i in range(40):
        log.append([{"customer": "ZEBRA-PLAINTEXT-7731", "income": 987654.321, "row": i}])

    everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    for needle in (b"ZEBRA-PLAINTEXT-7731", b"987654.321", b"customer", b"income", b'"row"'):
        assert needle not in everything
    assert all(p.name.endswith(".wlog") or p.name == ".lock" for p in folder.rglob("*"))  # no temporary files
    assert (folder / ".lock").stat().st_size == 0
    assert [r["income"] for r in log.read()] == [987654.321] * 40


def test_records_must_be_json_dicts(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key)
    with pytest.raises(ValidationError, match="list of records"):
        log.append({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Record 1 is a int"):
        log.append([{"a": 1}, 2])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="None for a missing number"):
        log.append([{"a": float("nan")}])
    with pytest.raises(ValidationError, match="cannot be written as JSON"):
        log.append([{"a": {1, 2}}])
    assert log.files == []


# --- tampering -----------------------------------------------------------------------------------


def test_wrong_key_is_refused_as_such(rotated: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, _ = rotated
    with pytest.raises(WrongLogKeyError, match="different key") as info:
        read_encrypted_log(folder, generate_log_key())
    assert str(folder / "log-000001.wlog") in info.value.message
    assert info.value.code == "wrong_log_key"
    with pytest.raises(WrongLogKeyError):
        EncryptedLog(folder, generate_log_key()).append([{"a": 1}])


@pytest.mark.parametrize(
    ("where", "expected", "message"),
    [
        ("nonce", EncryptedLogError, "frame 2 failed authentication"),
        ("ciphertext", EncryptedLogError, "frame 2 failed authentication"),
        ("tag", EncryptedLogError, "frame 2 failed authentication"),
        ("length", EncryptedLogError, "frame 2"),
        ("magic", EncryptedLogError, "not a weir encrypted log file"),
        ("key id", WrongLogKeyError, "different key"),
        ("link", EncryptedLogError, "does not follow log-000002.wlog"),
    ],
)
def test_a_flipped_byte_is_refused_naming_file_and_frame(
    rotated: tuple[Path, list[dict[str, Any]]], key: bytes, where: str, expected: type[Exception], message: str
) -> None:
    folder, _ = rotated
    target = folder / "log-000003.wlog"
    start, end = frames(target)[2]
    offset = {
        "length": start + 3,
        "nonce": start + 4,
        "ciphertext": start + 4 + 12 + 3,
        "tag": end - 1,
        "magic": 0,
        "key id": 9,
        "link": 20,
    }[where]
    data = bytearray(target.read_bytes())
    data[offset] ^= 0x20
    target.write_bytes(bytes(data))

    with pytest.raises(expected, match=message) as info:
        read_encrypted_log(folder, key)
    assert str(target) in str(info.value)


def test_reordered_frames_are_refused(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, _ = rotated
    target = folder / "log-000002.wlog"
    data = target.read_bytes()
    (a0, a1), (b0, b1) = frames(target)[0:2]
    target.write_bytes(data[:a0] + data[b0:b1] + data[a0:a1] + data[b1:])

    with pytest.raises(EncryptedLogError, match="frame 0 failed authentication") as info:
        read_encrypted_log(folder, key)
    assert str(target) in info.value.message


def test_a_frame_dropped_from_the_middle_is_refused(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, _ = rotated
    target = folder / "log-000004.wlog"
    data = target.read_bytes()
    start, end = frames(target)[1]
    target.write_bytes(data[:start] + data[end:])

    with pytest.raises(EncryptedLogError, match="frame 1 failed authentication") as info:
        read_encrypted_log(folder, key)
    assert str(target) in info.value.message


def test_the_last_frame_dropped_from_a_middle_file_is_refused(
    rotated: tuple[Path, list[dict[str, Any]]], key: bytes
) -> None:
    folder, _ = rotated
    target = folder / "log-000004.wlog"
    start, _ = frames(target)[-1]
    os.truncate(target, start)

    with pytest.raises(EncryptedLogError, match="frames were dropped from the end of log-000004.wlog") as info:
        read_encrypted_log(folder, key)
    assert str(folder / "log-000005.wlog") in info.value.message


def test_a_frame_moved_to_another_file_is_refused(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, _ = rotated
    source, target = folder / "log-000002.wlog", folder / "log-000005.wlog"
    s0, s1 = frames(source)[1]
    t0, t1 = frames(target)[1]
    data = target.read_bytes()
    target.write_bytes(data[:t0] + source.read_bytes()[s0:s1] + data[t1:])

    with pytest.raises(EncryptedLogError, match="frame 1 failed authentication") as info:
        read_encrypted_log(folder, key)
    assert str(target) in info.value.message


def test_swapped_files_are_refused(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, _ = rotated
    a, b = folder / "log-000003.wlog", folder / "log-000004.wlog"
    a.rename(folder / "tmp")
    b.rename(a)
    (folder / "tmp").rename(b)

    with pytest.raises(EncryptedLogError, match="log-000003.wlog") as info:
        read_encrypted_log(folder, key)
    assert "does not follow" in info.value.message or "failed authentication" in info.value.message


def test_a_file_removed_from_the_middle_is_refused(rotated: tuple[Path, list[dict[str, Any]]], key: bytes) -> None:
    folder, _ = rotated
    (folder / "log-000003.wlog").unlink()
    with pytest.raises(EncryptedLogError, match="log-000003.wlog is missing between log-000002.wlog and log-000004"):
        read_encrypted_log(folder, key)


def test_files_removed_from_the_start_leave_the_rest_readable(
    rotated: tuple[Path, list[dict[str, Any]]], key: bytes
) -> None:
    """A retention job may ship and delete the oldest files: what is left still verifies."""
    folder, written = rotated
    (folder / "log-000001.wlog").unlink()
    (folder / "log-000002.wlog").unlink()
    left = read_encrypted_log(folder, key, strict=True)
    assert 0 < len(left) < len(written)
    assert left == written[len(written) - len(left) :]


def test_a_renamed_first_file_is_refused(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key, max_bytes=1024)
    for batch in records(seed=1, n=30):
        log.append(batch)
    (tmp_path / "log-000001.wlog").unlink()
    (tmp_path / "log-000002.wlog").rename(tmp_path / "log-000001.wlog")
    with pytest.raises(EncryptedLogError, match="first file of the log"):
        read_encrypted_log(tmp_path, key)


def test_a_file_cut_short_in_the_middle_of_the_log_is_refused(
    rotated: tuple[Path, list[dict[str, Any]]], key: bytes
) -> None:
    folder, _ = rotated
    target = folder / "log-000002.wlog"
    os.truncate(target, target.stat().st_size - 5)
    with pytest.raises(EncryptedLogError, match="cut short") as info:
        read_encrypted_log(folder, key)
    assert str(target) in info.value.message


# --- crashes -------------------------------------------------------------------------------------


def test_a_torn_last_frame_is_reported_and_the_rest_returned(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    log = EncryptedLog(tmp_path, key)
    for i in range(5):
        log.append([{"i": i}])
    last = log.files[-1]
    _, end = frames(last)[-1]
    os.truncate(last, end - 7)  # a crash in the middle of the fifth append

    with caplog.at_level("WARNING", logger="weir.edge.encrypted_log"):
        got = read_encrypted_log(tmp_path, key)
    assert got == [{"i": i} for i in range(4)]
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert str(last) in warning and "frame 4 is truncated" in warning

    with pytest.raises(EncryptedLogError, match="frame 4 is truncated") as info:
        read_encrypted_log(tmp_path, key, strict=True)
    assert str(last) in info.value.message

    caplog.clear()
    with caplog.at_level("WARNING", logger="weir.edge.encrypted_log"):
        EncryptedLog(tmp_path, key).append([{"i": 5}])  # the next writer drops the torn frame
        assert read_encrypted_log(tmp_path, key, strict=True) == [{"i": i} for i in (0, 1, 2, 3, 5)]
    assert "truncating it" in caplog.text


def test_a_torn_length_prefix_is_a_torn_frame(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key)
    log.append([{"i": 0}])
    with log.files[-1].open("ab") as handle:
        handle.write(b"\x00\x00")  # two of the four length bytes of a next frame
    assert read_encrypted_log(tmp_path, key) == [{"i": 0}]
    log2 = EncryptedLog(tmp_path, key)
    log2.append([{"i": 1}])
    assert log2.read(strict=True) == [{"i": 0}, {"i": 1}]


def test_a_torn_header_of_a_new_file_is_recovered(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key, max_bytes=1024)
    for batch in records(seed=3, n=20):
        log.append(batch)
    written = log.read()
    files = log.files
    torn = tmp_path / f"log-{len(files) + 1:06d}.wlog"
    torn.write_bytes(files[0].read_bytes()[:10])  # a crash while the next file's header was written

    assert read_encrypted_log(tmp_path, key) == written
    with pytest.raises(EncryptedLogError, match="header is truncated"):
        read_encrypted_log(tmp_path, key, strict=True)
    EncryptedLog(tmp_path, key, max_bytes=1024).append([{"after": True}])
    assert read_encrypted_log(tmp_path, key, strict=True) == [*written, {"after": True}]


def test_a_failed_write_is_reported_and_the_next_append_recovers(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = EncryptedLog(tmp_path, key)
    log.append([{"i": 0}])
    real_write = os.write

    def half_then_fail(fd: int, data: Any) -> int:
        real_write(fd, bytes(data)[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(StoreUnavailableError, match="No space left") as info:
        log.append([{"i": 1}])
    assert str(log.files[-1]) in info.value.message
    monkeypatch.setattr(os, "write", real_write)

    log.append([{"i": 2}])
    assert log.read(strict=True) == [{"i": 0}, {"i": 2}]


def test_a_foreign_file_in_place_of_the_last_log_file_stops_the_writer(tmp_path: Path, key: bytes) -> None:
    (tmp_path / "log-000001.wlog").write_bytes(b"#!/bin/sh\nthis is no log\n" * 3)
    with pytest.raises(EncryptedLogError, match="not a weir encrypted log file"):
        EncryptedLog(tmp_path, key).append([{"a": 1}])


def test_files_that_are_not_log_files_are_ignored(tmp_path: Path, key: bytes) -> None:
    log = EncryptedLog(tmp_path, key)
    log.append([{"a": 1}])
    (tmp_path / "README").write_text("device log")
    (tmp_path / "log-1.wlog.bak").write_bytes(b"x")
    assert read_encrypted_log(tmp_path, key) == [{"a": 1}]


def test_a_missing_log_folder_is_named(tmp_path: Path, key: bytes) -> None:
    with pytest.raises(NotFoundError, match="does not exist") as info:
        read_encrypted_log(tmp_path / "nowhere", key)
    assert str(tmp_path / "nowhere") in info.value.message


# --- keys ----------------------------------------------------------------------------------------


def test_generated_keys_are_32_random_bytes() -> None:
    keys = {generate_log_key() for _ in range(20)}
    assert len(keys) == 20 and {len(k) for k in keys} == {32}


@pytest.mark.parametrize(
    "encode",
    [
        lambda k: k,
        lambda k: base64.b64encode(k),
        lambda k: base64.b64encode(k) + b"\n",
        lambda k: base64.urlsafe_b64encode(k) + b"\n",
        lambda k: k.hex().encode() + b"\n",
    ],
    ids=["raw", "base64", "base64-newline", "urlsafe-base64", "hex"],
)
def test_load_log_key_reads_raw_base64_and_hex(tmp_path: Path, encode: Any) -> None:
    key = generate_log_key()
    path = tmp_path / "log.key"
    path.write_bytes(encode(key))
    path.chmod(0o600)
    assert load_log_key(path) == key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("folder", "is not a file"),
        (b"\x01" * 16, "holds 16 bytes that are neither 32 raw bytes"),
        (b"\x01" * 33, "holds 33 bytes"),
        (base64.b64encode(b"\x02" * 16), "decodes to 16 bytes"),
        (b"not base64 at all!", "is not base64"),
        (b"", "holds 0 bytes"),
    ],
)
def test_load_log_key_errors_name_the_file(tmp_path: Path, content: bytes | str | None, message: str) -> None:
    path = tmp_path / "log.key"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(LogKeyError, match=message) as info:
        load_log_key(path)
    assert str(path) in info.value.message
    assert info.value.code == "invalid_log_key" and isinstance(info.value, ValueError)


def test_a_key_readable_by_others_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(generate_log_key())
    path.chmod(0o644)
    with caplog.at_level("WARNING", logger="weir.edge.encrypted_log"):
        load_log_key(path)
    assert "chmod 600" in caplog.text and str(path) in caplog.text


@pytest.mark.parametrize("bad", [b"short", b"x" * 31, "a" * 32, None])
def test_a_bad_key_is_refused_before_anything_is_written(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(LogKeyError, match="32 bytes"):
        EncryptedLog(tmp_path / "log", bad)
    with pytest.raises(LogKeyError, match="32 bytes"):
        read_encrypted_log(tmp_path, bad)
    assert not (tmp_path / "log").exists()


def test_max_bytes_must_leave_room_for_frames(tmp_path: Path, key: bytes) -> None:
    with pytest.raises(ValidationError, match="max_bytes"):
        EncryptedLog(tmp_path, key, max_bytes=100)
    assert "max_bytes=1024" in repr(EncryptedLog(tmp_path, key, max_bytes=1024))
    assert key.hex() not in repr(EncryptedLog(tmp_path, key))


def test_two_writers_on_one_folder_take_turns(tmp_path: Path) -> None:
    import threading

    key = generate_log_key()
    writers = [EncryptedLog(tmp_path / "log", key, max_bytes=8192) for _ in range(2)]

    def write(log: EncryptedLog, who: int) -> None:
        for i in range(150):
            log.append([{"who": who, "i": i}])

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_encrypted_log(tmp_path / "log", key, strict=True)
    assert len(records) == 300
    for who in (0, 1):
        assert [r["i"] for r in records if r["who"] == who] == list(range(150))


def test_max_files_drops_the_oldest_and_the_rest_still_reads(tmp_path: Path) -> None:
    key = generate_log_key()
    log = EncryptedLog(tmp_path / "log", key, max_bytes=4096, max_files=3)
    for i in range(400):
        log.append([{"i": i, "pad": "x" * 40}])
    assert len(log.files) == 3
    kept = [r["i"] for r in log.read()]
    assert kept == list(range(kept[0], 400)) and kept[0] > 0


def test_the_key_from_the_environment(tmp_path: Path) -> None:
    import base64

    key = generate_log_key()
    assert log_key_from_env("K", {"K": base64.b64encode(key).decode()}) == key
    with pytest.raises(LogKeyError, match="K2 is not set"):
        log_key_from_env("K2", {})
