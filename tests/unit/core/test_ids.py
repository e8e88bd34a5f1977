"""Random ids cut from a pooled page of OS randomness (`nanobrain.core.ids`)."""

from __future__ import annotations

import os
import re

import pytest

from nanobrain.core.ids import random_id

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_an_id_is_32_lowercase_hex_digits() -> None:
    for _ in range(300):  # more than one 4 KiB page's worth (256 ids)
        value = random_id()
        assert isinstance(value, str)
        assert HEX_ID.fullmatch(value), value


def test_ten_thousand_ids_are_distinct() -> None:
    ids = [random_id() for _ in range(10_000)]  # about 40 refills of the pool
    assert len(set(ids)) == len(ids)
    assert all(HEX_ID.fullmatch(value) for value in ids)
    # 128 random bits each: every hex digit turns up about equally often in every position.
    for position in (0, 15, 31):
        digits = {value[position] for value in ids}
        assert digits == set("0123456789abcdef")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    random_id()  # the pool now holds a page that parent and child would share
    count = 5
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave without running pytest's exit
        status = 1
        try:
            os.close(read_end)
            payload = "".join(random_id() for _ in range(count)).encode()
            os.write(write_end, payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    parent_next = [random_id() for _ in range(count)]
    received = b""
    while chunk := os.read(read_end, 4096):
        received += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = received.decode()
    child_next = [text[i : i + 32] for i in range(0, len(text), 32)]
    assert len(child_next) == count
    assert all(HEX_ID.fullmatch(value) for value in child_next)
    assert child_next[0] != parent_next[0]
    assert not set(child_next) & set(parent_next)
