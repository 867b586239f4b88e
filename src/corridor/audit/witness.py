"""A witness: remembers the last checkpoint it saw and cosigns only consistent extensions.

A participant runs a witness so that the operator cannot show it one history and others
another (a split view) without being caught: the witness keeps the latest checkpoint it has
cosigned, and cosigns a new one (c2sp.org/tlog-cosignature, Ed25519 type 0x04) only if

- it is signed by the log's key, for the log's origin (``bad_signature``,
  ``origin_mismatch``, ``malformed_checkpoint`` otherwise);
- its tree is not smaller than the one seen (``rollback``);
- at the same size it has the same root (``fork``: two signed checkpoints of one size with
  different roots are proof that the log forked);
- for a larger tree, the consistency proof (RFC 9162) shows it extends the one seen: a proof
  of the wrong shape is ``bad_proof``; a well-formed proof that does not verify against the
  root the witness holds is ``fork``.

The state is a small JSON file (`WitnessState`), replaced atomically (written to a temporary
file in the same directory, fsynced, renamed over the old one, directory fsynced), so a crash
leaves either the old or the new state, never a mix. The first checkpoint a witness sees is
trusted as it is (trust on first use); the log's verifier key must then be given, and it is
kept in the state from then on. One witness state must not be used by two processes at once.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.audit.checkpoint import Checkpoint, CheckpointError, cosign_checkpoint
from corridor.audit.errors import AuditError, WitnessError
from corridor.audit.keys import parse_log_vkey
from corridor.audit.merkle import HASH_SIZE, consistency_proof_length, verify_consistency
from corridor.audit.note import CosignatureSigner, NoteError, Signature, open_note
from corridor.audit.receipt import open_signed_checkpoint

__all__ = [
    "STATE_FORMAT",
    "WitnessResult",
    "WitnessState",
    "read_state",
    "witness_checkpoint",
    "write_state",
]

STATE_FORMAT: Final = "corridor-witness-state/v1"
_STATE_KEYS: Final = frozenset({"format", "origin", "log_vkey", "size", "root", "checkpoint"})
MAX_STATE_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class WitnessState:
    """The latest checkpoint a witness cosigned, and the log it belongs to."""

    origin: str
    log_vkey: str
    size: int
    root: bytes
    checkpoint: str
    """The signed note the witness cosigned (log signature and its own cosignature)."""

    def to_json(self) -> dict[str, object]:
        return {
            "format": STATE_FORMAT,
            "origin": self.origin,
            "log_vkey": self.log_vkey,
            "size": self.size,
            "root": base64.b64encode(self.root).decode("ascii"),
            "checkpoint": self.checkpoint,
        }


def _bad_state(path: Path, message: str) -> WitnessError:
    return WitnessError("bad_state", f"witness state {path}: {message}")


def read_state(path: Path) -> WitnessState | None:
    """Load a witness state file; None if it does not exist yet (first use).

    The state is checked as untrusted input: the stored checkpoint must verify with the
    stored log key and match the stored size and root (``bad_state`` otherwise).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _bad_state(path, f"cannot be read: {error}") from None
    if len(data) > MAX_STATE_BYTES:
        raise _bad_state(path, "is too large")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        raise _bad_state(path, "is not JSON") from None
    if not isinstance(raw, dict) or set(raw) != _STATE_KEYS:
        raise _bad_state(path, f"must be an object with keys {', '.join(sorted(_STATE_KEYS))}")
    if raw["format"] != STATE_FORMAT:
        raise _bad_state(path, f"format is {raw['format']!r}, expected {STATE_FORMAT!r}")
    origin, vkey, size, root, note = (
        raw["origin"],
        raw["log_vkey"],
        raw["size"],
        raw["root"],
        raw["checkpoint"],
    )
    if not all(isinstance(v, str) for v in (origin, vkey, root, note)):
        raise _bad_state(path, "origin, log_vkey, root and checkpoint must be strings")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _bad_state(path, "size must be a non-negative integer")
    try:
        verifier = parse_log_vkey(vkey)
        checkpoint = open_signed_checkpoint(note, verifier, origin=origin)
    except AuditError as error:
        raise _bad_state(path, str(error)) from None
    if checkpoint.size != size or base64.b64encode(checkpoint.root).decode("ascii") != root:
        raise _bad_state(path, "size and root are not those of its checkpoint")
    return WitnessState(origin, vkey, size, checkpoint.root, note)


def write_state(path: Path, state: WitnessState) -> None:
    """Replace the state file atomically (temporary file, fsync, rename, fsync directory)."""
    directory = path.parent
    text = json.dumps(state.to_json(), indent=2) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class WitnessResult:
    """A cosigned checkpoint: the new state, the note with the cosignature, the line."""

    state: WitnessState
    checkpoint: Checkpoint
    cosigned_note: str
    cosignature: Signature
    previous_size: int | None


def witness_checkpoint(
    state: WitnessState | None,
    note: str,
    proof: Sequence[bytes] | Callable[[int, int], Sequence[bytes]],
    cosigner: CosignatureSigner,
    *,
    log_vkey: str | None = None,
    timestamp: int | None = None,
) -> WitnessResult:
    """Check a signed checkpoint against what the witness saw, and cosign it.

    `proof` is the consistency proof from the state's size to the checkpoint's, or a
    function of (old size, new size) that fetches it, called only once the checkpoint's
    signature is checked and only if a proof is needed. `log_vkey` is required on first
    use; later it must be the state's key if given. Raises `WitnessError` (codes in the
    module docstring, plus ``no_log_key`` and ``key_mismatch``); returns the new state,
    which the caller persists with `write_state`.
    """
    if state is None:
        if log_vkey is None:
            raise WitnessError(
                "no_log_key",
                "this witness has no state yet: give the log's verifier key to trust",
            )
        vkey, origin = log_vkey.strip(), None
    else:
        if log_vkey is not None and log_vkey.strip() != state.log_vkey:
            raise WitnessError(
                "key_mismatch",
                f"the log key given is not the key this witness follows ({state.log_vkey})",
            )
        vkey, origin = state.log_vkey, state.origin
    verifier = parse_log_vkey(vkey)
    try:
        checkpoint = open_signed_checkpoint(note, verifier, origin=origin)
    except AuditError as error:
        raise WitnessError(error.code, str(error)) from None

    if state is not None:
        _check_extends(state, checkpoint, proof)
    try:
        cosigned = cosign_checkpoint(note, verifier, cosigner, timestamp=timestamp)
        opened = open_note(cosigned, [cosigner.verifier()])
    except (NoteError, CheckpointError) as error:
        raise WitnessError("malformed_checkpoint", f"cannot cosign: {error}") from None
    new_state = WitnessState(checkpoint.origin, vkey, checkpoint.size, checkpoint.root, cosigned)
    return WitnessResult(
        new_state,
        checkpoint,
        cosigned,
        opened.sigs[0],
        None if state is None else state.size,
    )


def _check_extends(
    state: WitnessState,
    checkpoint: Checkpoint,
    fetch: Sequence[bytes] | Callable[[int, int], Sequence[bytes]],
) -> None:
    seen = f"the checkpoint of size {state.size} this witness saw"
    if checkpoint.size < state.size:
        raise WitnessError(
            "rollback",
            f"checkpoint of size {checkpoint.size} is older than {seen}: refusing a rollback",
        )
    if checkpoint.size == state.size:
        if checkpoint.root != state.root:
            raise WitnessError(
                "fork",
                f"checkpoint of size {checkpoint.size} has another root than {seen}: "
                "the log forked (split view)",
            )
        return
    proof = fetch(state.size, checkpoint.size) if callable(fetch) else fetch
    expected = consistency_proof_length(state.size, checkpoint.size)
    if len(proof) != expected or any(
        not isinstance(h, bytes) or len(h) != HASH_SIZE for h in proof
    ):
        raise WitnessError(
            "bad_proof",
            f"the consistency proof from size {state.size} to {checkpoint.size} must be "
            f"{expected} hashes of {HASH_SIZE} bytes; got {len(proof)} items",
        )
    if not verify_consistency(state.size, checkpoint.size, proof, state.root, checkpoint.root):
        raise WitnessError(
            "fork",
            f"checkpoint of size {checkpoint.size} does not extend {seen} (the consistency "
            "proof fails): the log forked or rewrote history",
        )
