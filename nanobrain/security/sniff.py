"""Does an upload's content match its declared type? Checked on the first bytes, before storing.

Only what the bytes can prove is judged: a known binary format must start with its signature,
and text must not be a known binary format nor contain NUL bytes. Other types pass.
"""

from __future__ import annotations

SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/gzip": (b"\x1f\x8b",),
    "application/x-executable": (b"\x7fELF", b"MZ"),
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "application/x-gzip": "application/gzip",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    # Office Open XML and OpenDocument files are zip archives
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "application/zip",
    "application/vnd.oasis.opendocument.spreadsheet": "application/zip",
    "application/vnd.oasis.opendocument.text": "application/zip",
}
_TEXT_APPLICATIONS = {
    "application/json",
    "application/xml",
    "application/csv",
    "application/x-yaml",
    "application/yaml",
    "application/x-ndjson",
}
SNIFF_BYTES = 512


def detect(head: bytes) -> str | None:
    """The binary format the bytes start with, if it is one we know."""
    for media_type, signatures in SIGNATURES.items():
        if head.startswith(signatures):
            return media_type
    return None


def is_textual(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_APPLICATIONS
        or media_type.endswith(("+json", "+xml"))
    )


def mismatch(declared: str, head: bytes) -> str | None:
    """Why the bytes cannot be `declared`, or None when they may be."""
    expected = _ALIASES.get(declared, declared)
    found = detect(head)
    if expected in SIGNATURES and found != expected:
        return f"the content is not {declared}" + (f" (it looks like {found})" if found else "")
    if is_textual(expected):
        if found is not None:
            return f"the content is {found}, not {declared}"
        if b"\x00" in head:
            return f"the content is binary, not {declared}"
    return None
