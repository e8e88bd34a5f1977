"""Embedded mode on a disk that fills up: the data directory (SQLite database and stored files) is a
small tmpfs of the test's own, filled to the last byte while executions run and stream, then
freed. While it is full every request is answered within the client's bound: 503 with
`Retry-After` when it needs to write (an upload, a new execution's durable record), never a 500
or a hang; `/health` says `storage` is down. Afterwards every acknowledged execution reaches a
final state, on disk too, and every stream ends with each event once."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.outage import LONG_RUN, health_during, serves, submit
from tests.faults.report import report, settle
from tests.faults.traffic import CLIENT_TIMEOUT, Follower, Traffic, check_answers, check_stream
from tests.support.server import Server
from tests.support.waiting import wait_until

FULL_SECONDS = 6.0
ENV = {
    "NANOBRAIN_RUNTIME__DEPENDENCY_TIMEOUT_SECONDS": "2",
    "NANOBRAIN_RUNTIME__FLUSH_TIMEOUT_SECONDS": "2",
    "NANOBRAIN_REALTIME__SSE_PING_SECONDS": "1",
}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted for the test (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]  # the last few bytes too
                if not chunk:
                    break
    assert os.statvfs(directory).f_bavail == 0
    return filler


def test_a_full_disk_refuses_writes_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    server = Server(small_disk, env=ENV)
    server.log_path = tmp_path / "server.log"  # the log must not share the full disk
    server.start()
    try:
        api = server.api
        with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
            in_flight = [submit(client, api, "simulation", LONG_RUN) for _ in range(3)]
        followers = [Follower(api, execution_id).start() for execution_id in in_flight]
        wait_until(
            lambda: all(f.events for f in followers), 15, interval=0.1, what="the streams to start"
        )
        with Traffic(server.url) as traffic:
            time.sleep(1.0)
            full = time.monotonic()
            filler = fill(small_disk)
            health = health_during(api, FULL_SECONDS)
            filler.unlink()
            freed = time.monotonic()
            wait_until(serves(api), 30, interval=0.1, what="the server to write again")
            recovered = time.monotonic()
            time.sleep(1.0)
        during = traffic.between(full, freed)
        check_answers(traffic.answers)
        refused = [answer for answer in during if answer.refused]
        assert any(answer.kind == "upload" for answer in refused), "a full disk refuses uploads"
        assert health and all(body["checks"]["storage"]["status"] == "down" for body in health)

        for follower in followers:
            follower.join(60)
            check_stream(follower)
        acknowledged = [*in_flight, *traffic.acknowledged]
        outcomes = settle(api, acknowledged)
        summary = report(
            "embedded: disk full",
            window=(full, freed),
            recovered_at=recovered,
            during=during,
            answers=traffic.answers,
            outcomes=outcomes,
        )
        assert summary["lost"] == 0
        for execution_id in in_flight:
            assert outcomes[execution_id]["status"] == "succeeded", outcomes[execution_id]
        # And on disk: a restarted server reads every acknowledged outcome back.
        server.stop()
        server.start()
        again = settle(api, acknowledged, timeout=10)
        assert {i: b["status"] for i, b in again.items()} == {
            i: b["status"] for i, b in outcomes.items()
        }
    finally:
        server.kill()


pytestmark = pytest.mark.timeout(300)
