"""Receipts: proof that one leaf (a payment, an expiry, a document) is in the signed log.

A receipt is a small JSON document anyone can check offline with the log's public key only:

    {
      "format": "corridor-receipt/v1",
      "leaf": "<hex of the canonical leaf bytes, see corridor.audit.leaf>",
      "leaf_index": 123,
      "tree_size": 900,
      "inclusion_proof": ["<hex of 32-byte hashes, leaf upwards (RFC 9162)>", ...],
      "checkpoint": "<the C2SP signed note of the checkpoint of size tree_size>"
    }

Checking it (`verify_receipt`): the checkpoint note carries a valid Ed25519 signature of the
log's key and a well-formed tlog-checkpoint body; its size is the receipt's tree size; the
inclusion proof takes SHA-256(0x00 || leaf) at `leaf_index` to the checkpoint's root (exact
proof length, index below size, see `corridor.audit.merkle.verify_inclusion`); the leaf
decodes. Optionally: the leaf is the SHA-256 of a given document, and a quorum of given
witnesses cosigned the checkpoint (their cosignatures are further lines of the note).

Parsing is strict: exactly these keys, lowercase hex of the right lengths, integers that are
integers. A receipt that anything was changed in (a leaf byte, a proof hash, the index, the
checkpoint text) fails with an `ReceiptError` whose code says which check failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from corridor.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    Cosignature,
    OriginMismatchError,
    open_checkpoint,
    open_cosigned_checkpoint,
)
from corridor.audit.errors import ReceiptError
from corridor.audit.leaf import DecodedLeaf, LeafError, decode_leaf
from corridor.audit.merkle import leaf_hash, verify_inclusion
from corridor.audit.note import (
    CosignatureVerifier,
    InvalidSignatureError,
    NoteError,
    UnverifiedNoteError,
    Verifier,
)

__all__ = [
    "RECEIPT_FORMAT",
    "Receipt",
    "VerifiedReceipt",
    "open_signed_checkpoint",
    "verify_receipt",
]

RECEIPT_FORMAT: Final = "corridor-receipt/v1"
_KEYS: Final = frozenset(
    {"format", "leaf", "leaf_index", "tree_size", "inclusion_proof", "checkpoint"}
)
_HEX: Final = re.compile(r"(?:[0-9a-f]{2})+", re.ASCII)
_HASH_HEX: Final = re.compile(r"[0-9a-f]{64}", re.ASCII)
MAX_LEAF_BYTES: Final = 4096
MAX_PROOF_HASHES: Final = 64


@dataclass(frozen=True)
class Receipt:
    """A leaf, its index and inclusion proof, and the signed checkpoint they lead to."""

    leaf: bytes
    leaf_index: int
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str

    def to_json(self) -> dict[str, object]:
        return {
            "format": RECEIPT_FORMAT,
            "leaf": self.leaf.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "checkpoint": self.checkpoint,
        }

    def dumps(self) -> str:
        """The receipt as indented JSON text ending in a newline."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def loads(cls, text: str | bytes) -> Receipt:
        """Parse receipt JSON strictly; `ReceiptError` ``malformed_receipt`` otherwise."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise _malformed(f"not JSON: {error}") from None
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: object) -> Receipt:
        if not isinstance(data, dict):
            raise _malformed("a receipt is a JSON object")
        keys = set(data)
        if keys != _KEYS:
            missing, extra = sorted(_KEYS - keys), sorted(keys - _KEYS)
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(map(str, extra))}"] if extra else []
            )
            raise _malformed("; ".join(parts))
        if data["format"] != RECEIPT_FORMAT:
            raise _malformed(f"format is {data['format']!r}, expected {RECEIPT_FORMAT!r}")
        leaf = data["leaf"]
        if not isinstance(leaf, str) or not _HEX.fullmatch(leaf) or len(leaf) > 2 * MAX_LEAF_BYTES:
            raise _malformed("leaf must be non-empty lowercase hex")
        index, size = data["leaf_index"], data["tree_size"]
        for name, value in (("leaf_index", index), ("tree_size", size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _malformed(f"{name} must be a non-negative integer")
        proof = data["inclusion_proof"]
        if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
            raise _malformed("inclusion_proof must be a list of hashes")
        for item in proof:
            if not isinstance(item, str) or not _HASH_HEX.fullmatch(item):
                raise _malformed("each inclusion_proof hash must be 64 lowercase hex digits")
        checkpoint = data["checkpoint"]
        if not isinstance(checkpoint, str):
            raise _malformed("checkpoint must be the signed note text")
        return cls(
            leaf=bytes.fromhex(leaf),
            leaf_index=index,
            tree_size=size,
            inclusion_proof=tuple(bytes.fromhex(h) for h in proof),
            checkpoint=checkpoint,
        )


def _malformed(message: str) -> ReceiptError:
    return ReceiptError("malformed_receipt", f"malformed receipt: {message}")


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a receipt proves once verified."""

    checkpoint: Checkpoint
    leaf_index: int
    leaf: DecodedLeaf
    cosignatures: tuple[Cosignature, ...]


def open_signed_checkpoint(
    note: str, log_verifier: Verifier, *, origin: str | None = None, what: str = "checkpoint"
) -> Checkpoint:
    """`open_checkpoint` with its errors turned into `ReceiptError` codes.

    ``bad_signature`` (not signed by the log's key, or a bad signature from it),
    ``origin_mismatch`` and ``malformed_checkpoint``.
    """
    try:
        return open_checkpoint(note, log_verifier, origin=origin)
    except UnverifiedNoteError:
        raise ReceiptError(
            "bad_signature",
            f"{what} is not signed by the log key {log_verifier.name}+{log_verifier.key_hash:08x}",
        ) from None
    except InvalidSignatureError:
        raise ReceiptError(
            "bad_signature", f"{what}: the signature of {log_verifier.name} does not verify"
        ) from None
    except OriginMismatchError as error:
        raise ReceiptError("origin_mismatch", f"{what}: {error}") from None
    except (NoteError, CheckpointError) as error:
        raise ReceiptError("malformed_checkpoint", f"{what} is malformed: {error}") from None


def verify_receipt(
    receipt: Receipt,
    log_verifier: Verifier,
    *,
    origin: str | None = None,
    document_sha256: bytes | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> VerifiedReceipt:
    """Check a receipt offline; returns what it proves or raises `ReceiptError`.

    Codes: ``bad_signature``, ``malformed_checkpoint``, ``origin_mismatch``, ``bad_proof``
    (size or inclusion proof), ``bad_leaf``, ``document_mismatch``, ``bad_cosignature`` and
    ``not_witnessed`` (fewer than `quorum` of `witnesses` cosigned the checkpoint).
    """
    checkpoint = open_signed_checkpoint(receipt.checkpoint, log_verifier, origin=origin)
    if checkpoint.size != receipt.tree_size:
        raise ReceiptError(
            "bad_proof",
            f"the receipt says tree size {receipt.tree_size} but its checkpoint is of size "
            f"{checkpoint.size}",
        )
    if not verify_inclusion(
        leaf_hash(receipt.leaf),
        receipt.leaf_index,
        receipt.tree_size,
        receipt.inclusion_proof,
        checkpoint.root,
    ):
        raise ReceiptError(
            "bad_proof",
            f"the inclusion proof does not lead from leaf {receipt.leaf_index} to the root of "
            f"the checkpoint of size {checkpoint.size}",
        )
    try:
        decoded = decode_leaf(receipt.leaf)
    except LeafError as error:
        raise ReceiptError("bad_leaf", f"the leaf does not decode: {error}") from None
    if document_sha256 is not None:
        if decoded.kind != "document":
            raise ReceiptError(
                "document_mismatch", f"the receipt is for a {decoded.kind}, not a document"
            )
        if decoded.fields["sha256"] != document_sha256.hex():
            raise ReceiptError(
                "document_mismatch",
                f"the file's SHA-256 {document_sha256.hex()} is not the notarized "
                f"{decoded.fields['sha256']}",
            )
    cosignatures: tuple[Cosignature, ...] = ()
    if witnesses or quorum:
        try:
            _, cosignatures = open_cosigned_checkpoint(
                receipt.checkpoint, log_verifier, witnesses, origin=origin
            )
        except InvalidSignatureError as error:
            raise ReceiptError("bad_cosignature", f"checkpoint cosignature: {error}") from None
        except (NoteError, CheckpointError) as error:
            raise ReceiptError("malformed_checkpoint", f"checkpoint: {error}") from None
        if len(cosignatures) < quorum:
            names = ", ".join(c.name for c in cosignatures) or "none"
            raise ReceiptError(
                "not_witnessed",
                f"{len(cosignatures)} of the given witnesses cosigned the checkpoint "
                f"({names}); {quorum} required",
            )
    return VerifiedReceipt(checkpoint, receipt.leaf_index, decoded, cosignatures)
