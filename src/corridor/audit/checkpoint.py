"""Transparency log checkpoints (c2sp.org/tlog-checkpoint): the signed head of the audit log.

A checkpoint is the text of a signed note (see `corridor.audit.note`) with the log's origin,
its tree size and its RFC 6962 Merkle root hash, one per line, then optional extension lines:

    example.com/behind-the-sofa
    20852163
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

The log signs it with its Ed25519 key; witnesses add timestamped cosignatures
(c2sp.org/tlog-cosignature) after checking it is consistent with what they saw before.

Parsing is strict so that one checkpoint has exactly one text: the size is ASCII decimal
with no leading zeroes, the root is canonical base64 of exactly 32 bytes, lines are
non-empty and the body ends in a newline. `Checkpoint.parse(c.to_body()) == c` always holds.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from corridor.audit.note import (
    CosignatureSigner,
    Note,
    Signer,
    UnverifiedNoteError,
    Verifier,
    cosignature_timestamp,
    open_note,
    sign_note,
)

__all__ = [
    "MAX_TREE_SIZE",
    "ROOT_SIZE",
    "Checkpoint",
    "CheckpointError",
    "Cosignature",
    "MalformedCheckpointError",
    "OriginMismatchError",
    "cosign_checkpoint",
    "open_checkpoint",
    "open_cosigned_checkpoint",
    "sign_checkpoint",
]

ROOT_SIZE: Final = 32
"""An RFC 6962 root hash is a SHA-256 digest."""

MAX_TREE_SIZE: Final = (1 << 64) - 1
"""Tree sizes are unsigned 64-bit integers, as in the Go implementations."""

_SIZE: Final = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL: Final = re.compile(r"[\x00-\x1f]")


class CheckpointError(ValueError):
    """Base class of the errors raised by this module (note errors pass through as-is)."""


class MalformedCheckpointError(CheckpointError):
    """A checkpoint body, or the fields of a `Checkpoint`, break the tlog-checkpoint format."""


class OriginMismatchError(CheckpointError):
    """A checkpoint is validly signed but comes from another log than the one expected."""


def _check_line(what: str, line: str) -> None:
    if not line:
        raise MalformedCheckpointError(f"checkpoint {what} must not be empty")
    if _CONTROL.search(line):
        raise MalformedCheckpointError(f"checkpoint {what} must not contain control characters")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedCheckpointError(f"checkpoint {what} is not valid UTF-8") from exc


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, number of leaves and Merkle root, plus extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise MalformedCheckpointError("checkpoint size must be an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"checkpoint size {self.size} is not in [0, 2^64-1]")
        if not isinstance(self.root, bytes) or len(self.root) != ROOT_SIZE:
            raise MalformedCheckpointError(f"checkpoint root must be {ROOT_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise MalformedCheckpointError("checkpoint extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line("extension line", line)

    def to_body(self) -> str:
        """The note text of this checkpoint, ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text strictly; raises `MalformedCheckpointError`."""
        if not body.endswith("\n"):
            raise MalformedCheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("checkpoint body needs origin, size and root hash lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise MalformedCheckpointError(
                f"checkpoint size {size_text!r} is not a decimal without leading zeroes"
            )
        root = _decode_root(root_text)
        return cls(origin, int(size_text), root, tuple(extensions))


def _decode_root(text: str) -> bytes:
    try:
        root = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise MalformedCheckpointError(f"checkpoint root hash {text!r} is not base64") from exc
    if base64.b64encode(root).decode("ascii") != text:
        raise MalformedCheckpointError(f"checkpoint root hash {text!r} is not canonical base64")
    if len(root) != ROOT_SIZE:
        raise MalformedCheckpointError(
            f"checkpoint root hash is {len(root)} bytes, not {ROOT_SIZE}"
        )
    return root


@dataclass(frozen=True)
class Cosignature:
    """A witness cosignature that verified: who made it and the Unix time it claims."""

    name: str
    key_hash: int
    timestamp: int


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Sign `checkpoint` with the log's key; returns the signed note text."""
    return sign_note(checkpoint.to_body(), signer)


def _open(
    note_text: str | bytes, log_verifier: Verifier, origin: str | None
) -> tuple[Note, Checkpoint]:
    note = open_note(note_text, [log_verifier])
    checkpoint = Checkpoint.parse(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise OriginMismatchError(
            f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}"
        )
    return note, checkpoint


def open_checkpoint(
    note_text: str | bytes, log_verifier: Verifier, *, origin: str | None = None
) -> Checkpoint:
    """Verify the log's signature on a signed checkpoint and parse it.

    Other signature lines (witness cosignatures, other keys) are ignored. If `origin` is
    given, the checkpoint must name it. Raises the `corridor.audit.note` errors for a bad
    note or signature (`UnverifiedNoteError` if the log did not sign it),
    `MalformedCheckpointError` for a bad body and `OriginMismatchError` for another log.
    """
    return _open(note_text, log_verifier, origin)[1]


def open_cosigned_checkpoint(
    note_text: str | bytes,
    log_verifier: Verifier,
    witnesses: Iterable[Verifier],
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, tuple[Cosignature, ...]]:
    """Verify the log's signature and the cosignatures of the known `witnesses`.

    Returns the checkpoint and the witnesses' verified cosignatures, in note order, one per
    witness; deciding whether they make a quorum, or whether a timestamp is too old, is the
    caller's policy. A cosignature from a known witness that fails to verify rejects the
    whole note (`InvalidSignatureError`).
    """
    checkpoint = open_checkpoint(note_text, log_verifier, origin=origin)
    try:
        note = open_note(note_text, list(witnesses))
    except UnverifiedNoteError:
        return checkpoint, ()
    cosignatures = tuple(
        Cosignature(sig.name, sig.key_hash, cosignature_timestamp(sig)) for sig in note.sigs
    )
    return checkpoint, cosignatures


def cosign_checkpoint(
    note_text: str | bytes,
    log_verifier: Verifier,
    cosigner: CosignatureSigner,
    *,
    timestamp: int | None = None,
) -> str:
    """Add `cosigner`'s cosignature to a checkpoint the log has signed; returns the new note.

    The log's signature and the body are verified first, and all existing signature lines
    are kept (an earlier cosignature by the same witness is replaced). Checking consistency
    with the checkpoints the witness saw before is the caller's job. `timestamp` (Unix
    seconds) defaults to the cosigner's clock.
    """
    note, _ = _open(note_text, log_verifier, None)
    if timestamp is not None:
        fixed = timestamp
        cosigner = replace(cosigner, clock=lambda: fixed)
    return sign_note(note.text, cosigner, existing=(*note.sigs, *note.unverified_sigs))
