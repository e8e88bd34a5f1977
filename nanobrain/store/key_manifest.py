"""Which keys the stored data (files, and chat sessions and messages in the database) may be
encrypted with, noted beside the files in `.encryption.json`.

Each encrypted file or value names its key, so a missing key shows item by item anyway; this note
lets a server refuse at start-up instead: when a key the data needs is not configured, when
encryption is off but data is encrypted (it would hand out ciphertext), or when encryption is on
but files stored before it was have not been encrypted yet (`nanobrain keys rotate`; chat values
stored before it was read back as they are until rotation encrypts them). Every server notes its
first key before it encrypts anything with it; only `nanobrain.store.rotation.rotate` narrows the
list, once files and chat are all under the first key. It lists key ids only, never keys.
"""

from __future__ import annotations

import json
import os

from nanobrain.crypto.keyring import KeyRing
from nanobrain.store.blobs import LocalBlobStore, new_key
from nanobrain.store.private import create_private

NAME = ".encryption.json"
ROTATE = "`nanobrain keys rotate`"


class StorageKeyError(Exception):
    """The configured keys cannot serve the stored files; the message says what to do."""


def recorded_key_ids(store: LocalBlobStore) -> list[bytes] | None:
    """The ids of the keys stored data may be encrypted with; None: encryption never used."""
    path = store.root / NAME
    try:
        document = json.loads(path.read_text())
        return [bytes.fromhex(kid) for kid in document["key_ids"]]
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise StorageKeyError(
            f"{path} is damaged: restore it, or delete it and run {ROTATE}"
        ) from None


def record_key_ids(store: LocalBlobStore, key_ids: list[bytes]) -> None:
    path = store.root / NAME
    partial = path.with_name(f"{NAME}.{new_key()}.partial")
    with os.fdopen(create_private(partial), "w") as handle:
        handle.write(json.dumps({"format": 1, "key_ids": [kid.hex() for kid in key_ids]}))
    os.replace(partial, path)


def check_and_record(store: LocalBlobStore, ring: KeyRing) -> None:
    """Refuse (`StorageKeyError`) a ring that cannot serve the stored data; otherwise note the
    primary key, which new files and chat values will be encrypted with."""
    recorded = recorded_key_ids(store)
    if recorded is None:
        if ring.enabled:
            if next(store.keys(), None) is not None:
                raise StorageKeyError(
                    f"files in {store.root} were stored before encryption was enabled: encrypt "
                    f"them with {ROTATE} (with the same configuration) before serving"
                )
            record_key_ids(store, [ring.primary_id])
        return
    if not ring.enabled:
        raise StorageKeyError(
            "stored files and chat are encrypted but storage.encryption_keys is empty: configure "
            f"the keys they were encrypted with (noted in {store.root / NAME})"
        )
    missing = [kid.hex() for kid in recorded if kid not in ring.ids]
    if missing:
        raise StorageKeyError(
            f"stored files and chat may be encrypted with key id(s) {', '.join(missing)}, which "
            "storage.encryption_keys does not hold: configure those keys again (a key may only "
            f"be removed after {ROTATE} has re-encrypted every file and chat message with the "
            f"first key; noted in {store.root / NAME})"
        )
    if ring.primary_id not in recorded:
        record_key_ids(store, [*recorded, ring.primary_id])
