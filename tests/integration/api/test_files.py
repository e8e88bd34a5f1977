"""Files over a real server: upload, download, limits, and workflows that take files."""

from __future__ import annotations

import hashlib
import json
import socket

import httpx

from nanobrain.examples import DATA_DIR as EXAMPLES
from tests.support.api import assert_problem, upload
from tests.support.server import Server

LIMIT = 256 * 1024  # the session server's upload limit (conftest)


def test_upload_then_download_round_trips(client: httpx.Client) -> None:
    content = b"ACGT\n" * 1000
    response = upload(client, "reads.txt", content)
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["size"] == len(content)
    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert info["filename"] == "reads.txt" and info["content_type"] == "text/plain"
    download = client.get(f"/files/{info['file_id']}")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]


def test_client_file_names_are_never_paths(client: httpx.Client, server: Server) -> None:
    info = upload(client, "../../../etc/passwd", b"root:x:0:0").json()
    assert info["filename"] == "passwd"
    assert not (server.data_dir / "etc").exists()
    assert client.get(f"/files/{info['file_id']}").content == b"root:x:0:0"


def test_upload_over_the_limit_is_413_and_keeps_nothing(
    client: httpx.Client, server: Server
) -> None:
    before = sorted((server.data_dir / "files").iterdir())
    assert_problem(
        upload(client, "big.bin", b"\0" * (LIMIT + 70_000), "application/octet-stream"), 413
    )
    assert sorted((server.data_dir / "files").iterdir()) == before


def test_oversized_chunked_upload_is_refused_before_it_is_all_sent(server: Server) -> None:
    """No Content-Length: the server must count and stop reading, not buffer 50 MB."""
    boundary = "nbboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /api/v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
        )
        sent = 0
        chunk = head + b"x" * 65536
        try:
            while sent < 50 * 1024 * 1024:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                chunk = b"x" * 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 10 * 1024 * 1024


def test_upload_needs_exactly_one_multipart_file(client: httpx.Client) -> None:
    assert_problem(
        client.post("/files", content=b"raw", headers={"content-type": "text/plain"}), 415
    )
    assert_problem(client.post("/files", data={"not": "a file"}), 415)
    two = client.post("/files", files=[("file", ("a", b"1")), ("file", ("b", b"2"))])
    assert_problem(two, 422)
    garbage = client.post(
        "/files",
        content=b"--x\r\nnonsense",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert garbage.status_code in (400, 422)


def test_unknown_files_are_404(client: httpx.Client) -> None:
    assert_problem(client.get(f"/files/{'a' * 32}"), 404)
    assert_problem(client.get("/files/..%2F..%2Fetc%2Fpasswd"), 404)


def test_sequence_analysis_by_file_id(client: httpx.Client) -> None:
    file_id = upload(client, "sample.fasta", (EXAMPLES / "sample.fasta").read_bytes()).json()[
        "file_id"
    ]
    body = client.post(
        "/workflows/execute",
        json={"workflow": "sequence-analysis", "input": {"fasta": file_id}, "wait": True},
    ).json()
    assert body["status"] == "succeeded", body
    records = body["output"]["records"]
    assert len(records) == 3
    assert records[0]["id"] == "seq1"
    assert all(0 <= record["gc_content"] <= 100 for record in records)
    table = body["output"]["table"]
    assert table["kind"] == "table" and len(table["rows"]) == 3


def test_execute_as_multipart_with_the_file_inline(client: httpx.Client) -> None:
    fasta = b">r1 test\nATGAAATTTGGGTAA\n>r2\nGGGGCCCC\n"
    response = client.post(
        "/workflows/execute",
        data={"request": json.dumps({"workflow": "sequence-analysis", "wait": True})},
        files={"fasta": ("reads.fasta", fasta, "text/plain")},
    )
    assert response.status_code == 200, response.text
    records = response.json()["output"]["records"]
    assert [record["id"] for record in records] == ["r1", "r2"]
    assert records[1]["gc_content"] == 100
    events = client.get(f"/workflows/{response.json()['execution_id']}/events").text
    assert events.count("event: progress") >= 2


def test_multipart_lists_and_bad_parts(client: httpx.Client) -> None:
    files = [
        ("upload", ("a.txt", b"12345")),
        ("more", ("b.txt", b"678")),
        ("more", ("c.txt", b"9")),
    ]
    response = client.post(
        "/workflows/execute",
        data={"request": json.dumps({"workflow": "read-upload", "wait": True})},
        files=files,
    )
    assert response.json()["output"] == {"count": 9}
    missing = client.post("/workflows/execute", files={"upload": ("a.txt", b"1")})
    assert_problem(missing, 422)
    wrong_field = client.post(
        "/workflows/execute",
        data={"request": json.dumps({"workflow": "read-upload"})},
        files={"nonsense": ("a.txt", b"1")},
    )
    assert_problem(wrong_field, 422)
    bad_json = client.post(
        "/workflows/execute", data={"request": "{nope"}, files={"upload": ("a.txt", b"1")}
    )
    assert_problem(bad_json, 400)


def test_a_file_that_is_not_fasta_fails_with_a_clear_reason(client: httpx.Client) -> None:
    file_id = upload(client, "notes.txt", b"Dear diary, today I sequenced nothing.").json()[
        "file_id"
    ]
    body = client.post(
        "/workflows/execute",
        json={"workflow": "sequence-analysis", "input": {"fasta": file_id}, "wait": True},
    ).json()
    assert body["status"] == "failed"
    assert "not a FASTA file" in body["error"]["message"]


def test_data_summary_returns_a_table_and_a_chart(client: httpx.Client) -> None:
    file_id = upload(
        client, "sample.csv", (EXAMPLES / "sample.csv").read_bytes(), "text/csv"
    ).json()["file_id"]
    body = client.post(
        "/workflows/execute",
        json={"workflow": "data-summary", "input": {"table": file_id}, "wait": True},
    ).json()
    assert body["status"] == "succeeded", body
    summary = body["output"]["summary"]
    assert summary["kind"] == "table"
    assert {"count", "mean", "std", "min", "max"} <= set(summary["columns"])
    chart = body["output"]["chart"]
    assert chart["kind"] == "chart" and "vega-lite" in chart["spec"]["$schema"]


def test_binary_content_declared_as_text_is_refused_at_upload(client: httpx.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
    assert_problem(upload(client, "x.csv", png, "text/csv"), 415)
    assert_problem(upload(client, "x.csv", png, "application/octet-stream"), 415)  # by name
    assert_problem(upload(client, "x.png", b"GIF89a...", "image/png"), 415)
    assert upload(client, "x.png", png, "image/png").status_code == 201
    assert upload(client, "x.bin", png, "application/octet-stream").status_code == 201


def test_data_summary_refuses_empty_files(client: httpx.Client) -> None:
    for content in (b"",):
        file_id = upload(client, "x.csv", content, "text/csv").json()["file_id"]
        body = client.post(
            "/workflows/execute",
            json={"workflow": "data-summary", "input": {"table": file_id}, "wait": True},
        ).json()
        assert body["status"] == "failed"
        assert body["error"]["type"] == "workflow_error"
