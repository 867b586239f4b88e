"""Canonical, versioned binary encoding of what the audit log records.

Every committed transfer, every expiry of a pending transfer and every notarized document
becomes one leaf. A leaf is `version (1 byte) ‖ kind (1 byte) ‖ body`, all integers big-endian
and fixed-width, so the same committed event always has the same bytes and anyone can
rebuild it from the `transfers` table with plain SQL. The kind byte separates domains: a
document's hash can never be read as a transfer.

Transfer body (122-byte leaf): id, debit_account_id, credit_account_id, pending_id,
user_data_128 (16 bytes each), timestamp, amount, user_data_64 (8 each), user_data_32,
timeout, ledger (4 each), code, flags (2 each). The 80 bytes of ids come first so storage can
reuse them as they are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from corridor.store.rows import TransferRow

LEAF_VERSION: Final = 1
KIND_TRANSFER: Final = 1
KIND_EXPIRY: Final = 2
KIND_DOCUMENT: Final = 3

_HEADER_TRANSFER: Final = bytes([LEAF_VERSION, KIND_TRANSFER])
_TRANSFER_NUMBERS: Final = struct.Struct(">QQQIIIHH")
TRANSFER_LEAF_BYTES: Final = 2 + 80 + _TRANSFER_NUMBERS.size
TRANSFER_IDS: Final = slice(2, 82)
"""Where a transfer leaf holds its five 16-byte ids, in storage order."""

_EXPIRY: Final = struct.Struct(">BB16sQ")
_DOCUMENT: Final = struct.Struct(">BB32sQ")
_ZERO_ID: Final = bytes(16)


class LeafError(ValueError):
    """Bytes that are not a leaf this version of corridor understands."""


def transfer_leaf(row: TransferRow) -> bytes:
    """The leaf of a committed transfer row."""
    return (
        _HEADER_TRANSFER
        + row[1].to_bytes(16, "big")
        + row[2].to_bytes(16, "big")
        + row[3].to_bytes(16, "big")
        + (row[5].to_bytes(16, "big") if row[5] else _ZERO_ID)
        + (row[6].to_bytes(16, "big") if row[6] else _ZERO_ID)
        + _TRANSFER_NUMBERS.pack(row[0], row[4], row[7], row[8], row[9], row[10], row[11], row[12])
    )


def transfer_leaves(rows: list[TransferRow]) -> list[bytes]:
    """transfer_leaf for a whole batch (the hot path: kept in one comprehension)."""
    header = _HEADER_TRANSFER
    zero = _ZERO_ID
    pack = _TRANSFER_NUMBERS.pack
    return [
        header
        + r[1].to_bytes(16, "big")
        + r[2].to_bytes(16, "big")
        + r[3].to_bytes(16, "big")
        + (r[5].to_bytes(16, "big") if r[5] else zero)
        + (r[6].to_bytes(16, "big") if r[6] else zero)
        + pack(r[0], r[4], r[7], r[8], r[9], r[10], r[11], r[12])
        for r in rows
    ]


def expiry_leaf(pending_id: int, timestamp: int) -> bytes:
    return _EXPIRY.pack(LEAF_VERSION, KIND_EXPIRY, pending_id.to_bytes(16, "big"), timestamp)


def document_leaf(sha256: bytes, timestamp: int) -> bytes:
    if len(sha256) != 32:
        raise LeafError("a document digest is 32 bytes of SHA-256")
    return _DOCUMENT.pack(LEAF_VERSION, KIND_DOCUMENT, sha256, timestamp)


@dataclass(frozen=True)
class DecodedLeaf:
    kind: str
    fields: dict[str, int | str]


def decode_leaf(leaf: bytes) -> DecodedLeaf:
    """Read a leaf back into named fields (ids and digests as hex strings)."""
    if len(leaf) < 2 or leaf[0] != LEAF_VERSION:
        raise LeafError("unknown leaf version")
    kind = leaf[1]
    if kind == KIND_TRANSFER and len(leaf) == TRANSFER_LEAF_BYTES:
        ids = [int.from_bytes(leaf[2 + 16 * k : 18 + 16 * k], "big") for k in range(5)]
        ts, amount, ud64, ud32, timeout, ledger, code, flags = _TRANSFER_NUMBERS.unpack(leaf[82:])
        return DecodedLeaf(
            "transfer",
            {
                "id": ids[0],
                "debit_account_id": ids[1],
                "credit_account_id": ids[2],
                "pending_id": ids[3],
                "user_data_128": ids[4],
                "timestamp": ts,
                "amount": amount,
                "user_data_64": ud64,
                "user_data_32": ud32,
                "timeout": timeout,
                "ledger": ledger,
                "code": code,
                "flags": flags,
            },
        )
    if kind == KIND_EXPIRY and len(leaf) == _EXPIRY.size:
        _v, _k, pending, ts = _EXPIRY.unpack(leaf)
        return DecodedLeaf(
            "expiry", {"pending_id": int.from_bytes(pending, "big"), "timestamp": ts}
        )
    if kind == KIND_DOCUMENT and len(leaf) == _DOCUMENT.size:
        _v, _k, digest, ts = _DOCUMENT.unpack(leaf)
        return DecodedLeaf("document", {"sha256": digest.hex(), "timestamp": ts})
    raise LeafError(f"malformed leaf of kind {kind} and {len(leaf)} bytes")
