"""Encryption at rest over real servers with keys from the environment: what is on disk, what
clients and workflows get, damaged files, refusals at start-up, and key rotation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nanobrain.crypto.keyring import KeyRing, decode_key, key_id
from nanobrain.examples import DATA_DIR as EXAMPLES
from nanobrain.runtime.scratch import PREFIX as SCRATCH_PREFIX
from nanobrain.store.blobs import BlobUnreadable, LocalBlobStore
from nanobrain.store.encrypted_blobs import EncryptedBlobStore
from tests.support.api import assert_problem, upload, wait_for
from tests.support.cli import run_cli
from tests.support.encryption import KEY_A, KEY_B, cli_env, keys_env, rotate, serve_refusal
from tests.support.server import Server

TEXT = b"".join(
    b"line %06d: the quick brown fox jumps over the lazy dog\n" % i for i in range(4000)
)


def stored(server: Server, file_id: str) -> bytes:
    return (server.data_dir / "files" / file_id).read_bytes()


def shares_a_run(plain: bytes, disk: bytes, length: int = 16) -> bool:
    """Whether any `length` consecutive bytes of `plain` appear in `disk`."""
    runs = {disk[i : i + length] for i in range(len(disk) - length + 1)}
    return any(plain[i : i + length] in runs for i in range(len(plain) - length + 1))


def scratch_dirs(root: Path) -> list[Path]:
    return sorted(root.glob(f"{SCRATCH_PREFIX}*"))


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("encrypted")
    instance = Server(root / "data", env=keys_env(KEY_A, scratch=root / "tmp")).start()
    yield instance
    instance.kill()


@pytest.fixture
def eclient(encrypted: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=encrypted.api, timeout=60) as http:
        yield http


def scratch_root(server: Server) -> Path:
    return Path(server.env["TMPDIR"])


def execute(client: httpx.Client, workflow: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/workflows/execute", json={"workflow": workflow, "input": data, "wait": True}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- what is stored, what is served ------------------------------------------------------------
def test_stored_bytes_are_ciphertext_and_download_is_the_plaintext(
    eclient: httpx.Client, encrypted: Server
) -> None:
    info = upload(eclient, "notes.txt", TEXT).json()
    assert info["size"] == len(TEXT)
    assert info["sha256"] == hashlib.sha256(TEXT).hexdigest()
    disk = stored(encrypted, info["file_id"])
    assert disk.startswith(b"NBEF\x01" + key_id(decode_key(KEY_A)))
    assert not shares_a_run(TEXT, disk)
    download = eclient.get(f"/files/{info['file_id']}")
    assert download.status_code == 200
    assert download.content == TEXT
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-length"] == str(len(TEXT))
    assert "attachment" in download.headers["content-disposition"]


def test_binary_files_of_many_chunks_round_trip(eclient: httpx.Client, encrypted: Server) -> None:
    content = os.urandom(3 * 1024 * 1024 + 12345)
    info = upload(eclient, "blob.bin", content, "application/octet-stream").json()
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert not shares_a_run(content[:65536], stored(encrypted, info["file_id"])[:200_000])
    assert eclient.get(f"/files/{info['file_id']}").content == content
    empty = upload(eclient, "empty.txt", b"").json()
    assert eclient.get(f"/files/{empty['file_id']}").content == b""


def test_keys_are_redacted_and_never_logged(eclient: httpx.Client, encrypted: Server) -> None:
    config = eclient.get("/config")
    assert config.json()["storage"]["encryption_keys"] == ["**********"]
    assert KEY_A not in config.text
    assert KEY_A not in encrypted.log()


# -- workflows read plaintext, only while they run ---------------------------------------------
def test_workflows_read_the_plaintext_of_encrypted_files(
    eclient: httpx.Client, encrypted: Server
) -> None:
    fasta = (EXAMPLES / "sample.fasta").read_bytes()
    file_id = upload(eclient, "sample.fasta", fasta).json()["file_id"]
    body = execute(eclient, "sequence-analysis", {"fasta": file_id})
    assert body["status"] == "succeeded", body
    assert [record["id"] for record in body["output"]["records"]] == ["seq1", "seq2", "seq3"]

    peek = execute(eclient, "hold-upload", {"upload": file_id})
    assert peek["status"] == "succeeded", peek
    output = peek["output"]
    assert output["sha256"] == hashlib.sha256(fasta).hexdigest()
    path = Path(output["path"])
    assert path.is_relative_to(scratch_root(encrypted))
    assert not path.exists()
    assert scratch_dirs(scratch_root(encrypted)) == []


def test_plaintext_is_removed_when_a_run_fails_or_is_cancelled(
    eclient: httpx.Client, encrypted: Server
) -> None:
    file_id = upload(eclient, "notes.txt", TEXT).json()["file_id"]
    failed = execute(eclient, "hold-upload", {"upload": file_id, "fail": True})
    assert failed["status"] == "failed"
    assert scratch_dirs(scratch_root(encrypted)) == []

    started = eclient.post(
        "/workflows/execute",
        json={"workflow": "hold-upload", "input": {"upload": file_id, "seconds": 60}},
    ).json()
    execution_id = started["execution_id"]
    deadline = time.monotonic() + 20
    while (
        message := eclient.get(f"/workflows/{execution_id}/status").json()["progress"]["message"]
    ) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    path = Path(message)
    assert path.read_bytes() == TEXT  # the plaintext exists while the run holds it
    assert path.stat().st_mode & 0o077 == 0
    assert eclient.delete(f"/workflows/{execution_id}/cancel").status_code == 202
    assert wait_for(eclient, execution_id, {"cancelled"})["status"] == "cancelled"
    assert not path.exists()
    assert scratch_dirs(scratch_root(encrypted)) == []


def test_multipart_inputs_and_artifacts_are_encrypted_too(
    eclient: httpx.Client, encrypted: Server
) -> None:
    response = eclient.post(
        "/workflows/execute",
        data={"request": '{"workflow": "read-upload", "wait": true}'},
        files=[("upload", ("a.txt", b"12345")), ("more", ("b.txt", b"67")), ("more", ("c", b"8"))],
    )
    assert response.json()["output"] == {"count": 8}
    made = execute(eclient, "make-file", {"text": "an artifact the workflow wrote"})
    artifact = made["output"]["file_id"]
    assert b"artifact" not in stored(encrypted, artifact)
    assert eclient.get(f"/files/{artifact}").content == b"an artifact the workflow wrote"
    assert scratch_dirs(scratch_root(encrypted)) == []


# -- damaged files ---------------------------------------------------------------------------------
def test_tampered_files_are_refused_with_a_problem_and_a_logged_reason(
    eclient: httpx.Client, encrypted: Server
) -> None:
    def damaged(change: str) -> str:
        file_id = upload(eclient, "victim.txt", TEXT).json()["file_id"]
        path = encrypted.data_dir / "files" / file_id
        data = bytearray(path.read_bytes())
        if change == "flip":
            data[len(data) // 2] ^= 0x40
        elif change == "truncate":
            del data[-100:]
        else:  # another file's (genuine) ciphertext in its place
            data = bytearray(
                stored(encrypted, upload(eclient, "other.txt", TEXT).json()["file_id"])
            )
        path.write_bytes(bytes(data))
        return file_id

    for change in ("flip", "truncate", "swap"):
        file_id = damaged(change)
        body = assert_problem(eclient.get(f"/files/{file_id}"), 500)
        assert body["title"] == "File unreadable"
        assert file_id in body["detail"] and "integrity" not in body["detail"]
        run = execute(eclient, "read-upload", {"upload": file_id})
        assert run["status"] == "failed"
        assert run["error"]["type"] == "file_unreadable"
    log = encrypted.log()
    assert "failed its integrity check" in log
    assert "Traceback" not in log
    assert scratch_dirs(scratch_root(encrypted)) == []


def test_a_missing_stored_file_is_a_problem(eclient: httpx.Client, encrypted: Server) -> None:
    file_id = upload(eclient, "gone.txt", b"soon gone").json()["file_id"]
    (encrypted.data_dir / "files" / file_id).unlink()
    assert assert_problem(eclient.get(f"/files/{file_id}"), 500)["title"] == "File unreadable"


# -- memory stays bounded ----------------------------------------------------------------------
def memory(server: Server, field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (the peak so far) of the server process, in bytes."""
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_100_mb_file_streams_through_in_bounded_memory(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", env=keys_env(KEY_A)).start()
    try:
        with httpx.Client(base_url=server.api, timeout=120) as client:
            warm = upload(client, "warm.bin", os.urandom(2 << 20), "application/octet-stream")
            client.get(f"/files/{warm.json()['file_id']}")
            before = memory(server, "VmRSS")
            content = os.urandom(100_000_000)
            info = upload(client, "big.bin", content, "application/octet-stream").json()
            digest = hashlib.sha256()
            with client.stream("GET", f"/files/{info['file_id']}") as response:
                for chunk in response.iter_bytes():
                    digest.update(chunk)
            assert digest.hexdigest() == info["sha256"] == hashlib.sha256(content).hexdigest()
            growth = memory(server, "VmHWM") - before
        assert growth < 48 * 1024 * 1024, f"peak memory grew by {growth >> 20} MiB"
    finally:
        server.kill()


# -- start-up refusals -------------------------------------------------------------------------
def test_start_up_refuses_keys_that_cannot_read_the_files(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", env=keys_env(KEY_A)).start()
    with httpx.Client(base_url=server.api) as client:
        upload(client, "x.txt", b"kept secret")
    server.kill()
    wrong = serve_refusal(tmp_path / "data", KEY_B)
    assert key_id(decode_key(KEY_A)).hex() in wrong and "encryption_keys" in wrong
    assert KEY_A not in wrong and KEY_B not in wrong
    assert "encrypted but storage.encryption_keys is empty" in " ".join(
        serve_refusal(tmp_path / "data").split()
    )


def test_bad_keys_stop_start_up_naming_the_setting(tmp_path: Path) -> None:
    bad = "bm90IDMyIGJ5dGVz"
    result = run_cli("serve", "--data-dir", str(tmp_path), env=cli_env(bad))
    assert result.returncode == 2
    assert "storage.encryption_keys" in result.stderr and bad not in result.stderr


def test_without_keys_files_are_stored_as_uploaded(client: httpx.Client, server: Server) -> None:
    info = upload(client, "plain.txt", TEXT).json()
    assert stored(server, info["file_id"]) == TEXT
    assert not (server.data_dir / "files" / ".encryption.json").exists()
    ranged = client.get(f"/files/{info['file_id']}", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == TEXT[:4]


# -- enabling encryption and rotating keys -----------------------------------------------------
def test_existing_plaintext_files_are_encrypted_by_rotate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plain = Server(data).start()
    with httpx.Client(base_url=plain.api) as client:
        file_id = upload(client, "legacy.txt", TEXT).json()["file_id"]
    plain.kill()
    assert "stored before encryption was enabled" in " ".join(serve_refusal(data, KEY_A).split())
    code, report = rotate(data, KEY_A)
    assert code == 0 and "files: 1 re-encrypted, 0 already under" in report
    assert not shares_a_run(TEXT, (data / "files" / file_id).read_bytes())
    server = Server(data, env=keys_env(KEY_A)).start()
    try:
        with httpx.Client(base_url=server.api) as client:
            assert client.get(f"/files/{file_id}").content == TEXT
    finally:
        server.kill()


def test_rotation_re_encrypts_under_the_new_key_and_retires_the_old(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Server(data, env=keys_env(KEY_A)).start()
    with httpx.Client(base_url=old.api) as client:
        contents = {
            upload(client, f"f{i}.txt", TEXT + bytes([i])).json()["file_id"]: TEXT + bytes([i])
            for i in range(3)
        }
    old.kill()
    b = key_id(decode_key(KEY_B))

    # An earlier run was interrupted after one file: the next run carries on from there.
    first = next(iter(contents))
    interrupted = EncryptedBlobStore(
        LocalBlobStore(data / "files"), KeyRing([decode_key(KEY_B), decode_key(KEY_A)])
    )
    assert asyncio.run(interrupted.rewrap(first, hashlib.sha256(contents[first]).hexdigest()))
    code, report = rotate(data, KEY_B, KEY_A)
    assert code == 0, report
    assert f"files: 2 re-encrypted, 1 already under key {b.hex()}, 0 failed" in report
    assert all((data / "files" / file_id).read_bytes()[5:13] == b for file_id in contents)
    code, report = rotate(data, KEY_B, KEY_A)
    assert code == 0 and "files: 0 re-encrypted, 3 already under" in report  # idempotent

    # The old key alone can no longer read anything: refused at start-up, and file by file.
    assert b.hex() in serve_refusal(data, KEY_A)
    only_old = EncryptedBlobStore(LocalBlobStore(data / "files"), KeyRing([decode_key(KEY_A)]))
    for file_id in contents:
        with pytest.raises(BlobUnreadable, match="not configured"):
            asyncio.run(_drain(only_old, file_id))

    # The new key alone serves everything.
    new = Server(data, env=keys_env(KEY_B)).start()
    try:
        with httpx.Client(base_url=new.api) as client:
            for file_id, content in contents.items():
                assert client.get(f"/files/{file_id}").content == content
    finally:
        new.kill()


async def _drain(store: EncryptedBlobStore, file_id: str) -> None:
    async for _ in store.read(file_id):
        pass


def test_rotation_reports_damaged_files_and_keeps_the_old_key_needed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Server(data, env=keys_env(KEY_A)).start()
    with httpx.Client(base_url=old.api) as client:
        good = upload(client, "good.txt", TEXT).json()["file_id"]
        bad = upload(client, "bad.txt", TEXT).json()["file_id"]
    old.kill()
    path = data / "files" / bad
    path.write_bytes(path.read_bytes()[:-1])
    code, report = rotate(data, KEY_B, KEY_A)
    assert code == 2
    assert "1 re-encrypted" in report and "1 failed" in report and bad in report
    assert (data / "files" / good).read_bytes()[5:13] == key_id(decode_key(KEY_B))
    assert key_id(decode_key(KEY_A)).hex() in serve_refusal(data, KEY_B)  # A is still needed


def test_keys_generate_prints_a_usable_key() -> None:
    result = run_cli("keys", "generate", env=cli_env())
    assert result.returncode == 0
    assert len(decode_key(result.stdout.strip())) == 32


def test_rotate_needs_a_key(tmp_path: Path) -> None:
    code, report = rotate(tmp_path)
    assert code == 2 and "encryption_keys is empty" in report
