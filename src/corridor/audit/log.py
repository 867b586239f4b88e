"""The operator's side of the audit log: key setup, checkpoints, receipts, notarization.

The ledger's writer appends leaves and tree rows in every commit (`corridor.ledger`); this
module turns that durable tree into evidence others can check with public keys only:

- `init_log`: create the log's Ed25519 key (a C2SP signer key in an owner-only file, by
  default ``<db>.key``) and record the origin and verifier key in ``meta``. Idempotent on an
  initialized database, and never replaces the key;
- `checkpoint_log`: sign a C2SP checkpoint of the durable log at its current size. Before
  signing, the tree must still extend the latest signed checkpoint (consistency proof over
  the stored tree), so the operator never signs two incompatible histories itself;
- `prove_transfer` / `prove_index`: a receipt (`corridor.audit.receipt`) for one leaf, with
  the latest checkpoint that covers it and the cosignatures the operator has collected;
- `sha256_file`: the digest `corridor notarize` appends through the ledger's writer (the
  ledger is above this layer, so the CLI does the append, then checkpoints and proves here);
- `accept_cosignatures`: store witnesses' cosignatures after verifying them with the keys
  the witnesses are registered with.

All of it works on the database file through `corridor.audit.registry.AuditStore`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.audit.checkpoint import Checkpoint, CheckpointError, sign_checkpoint
from corridor.audit.errors import AuditError, LogKeyError
from corridor.audit.keys import default_key_file, parse_log_vkey, read_log_key, write_key_file
from corridor.audit.merkle import leaf_hash, verify_consistency
from corridor.audit.note import (
    Ed25519Signer,
    InvalidSignatureError,
    NoteError,
    UnverifiedNoteError,
    cosignature_timestamp,
    generate_signer,
    is_valid_name,
    load_cosignature_verifier,
    open_note,
)
from corridor.audit.receipt import Receipt, open_signed_checkpoint
from corridor.audit.registry import (
    AuditStore,
    CheckpointRecord,
    CosignatureRecord,
    LogInfo,
    now,
)
from corridor.audit.sources import (
    RowError,
    SourceRow,
    describe,
    leaf_of,
    rows_at,
    transfer_by_id,
)
from corridor.audit.tiles import TileReader
from corridor.store.sqlite import SqliteStore

__all__ = [
    "CheckpointResult",
    "InitResult",
    "accept_cosignatures",
    "checkpoint_log",
    "cosigned_note",
    "default_origin",
    "init_log",
    "load_log_signer",
    "prove_index",
    "prove_transfer",
    "sha256_file",
]

_NOT_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class InitResult:
    """The log's identity after `init_log`; `created` is False if it already existed."""

    origin: str
    vkey: str
    key_file: Path
    created: bool
    key_file_missing: bool = False


def default_origin(db: Path) -> str:
    """``corridor.local/<db file stem>``, with characters a key name cannot hold replaced."""
    stem = _NOT_NAME.sub("-", db.stem).strip("-") or "log"
    return f"corridor.local/{stem}"


def _check_origin(origin: str) -> None:
    try:
        Checkpoint(origin, 0, bytes(32))
    except CheckpointError as error:
        raise AuditError("bad_origin", f"invalid origin {origin!r}: {error}") from None
    if not is_valid_name(origin):
        raise AuditError(
            "bad_origin", f"invalid origin {origin!r}: it must have no spaces and no '+'"
        )


def init_log(
    db: Path,
    *,
    origin: str | None = None,
    key_file: Path | None = None,
    reuse_key: bool = False,
) -> InitResult:
    """Set up the audit log of `db` (created if missing): key file, origin, verifier key.

    On an initialized database nothing is written: the recorded identity is returned,
    unless `origin` or `key_file` contradict it (``already_initialized``,
    ``key_mismatch``). A new key goes to `key_file` (default ``<db>.key``) with mode 0600;
    an existing key file is never overwritten (``key_exists``) but is adopted with
    `reuse_key`.
    """
    if origin is not None:
        _check_origin(origin)
    SqliteStore(db).close()  # creates the ledger schema, or refuses a foreign file
    with AuditStore.open(db, writable=True) as store:
        info = store.log_info()
        if info is None:
            return _create_log(store, db, origin, key_file, reuse_key)
        return _existing_log(db, info, origin, key_file)


def _create_log(
    store: AuditStore, db: Path, origin: str | None, key_file: Path | None, reuse_key: bool
) -> InitResult:
    origin = origin or default_origin(db)
    _check_origin(origin)
    path = key_file if key_file is not None else default_key_file(db)
    if path.exists():
        if not reuse_key:
            raise LogKeyError(
                "key_exists",
                f"key file {path} already exists; refusing to overwrite it (pass --reuse-key"
                " to sign this log with that key)",
            )
        signer = read_log_key(path)
    else:
        secret, _ = generate_signer(origin)
        write_key_file(path, secret)
        signer = read_log_key(path)
    vkey = signer.verifier().verifier_key()
    if not store.record_log_info(origin, vkey, str(path.resolve())):
        info = store.require_log_info()  # a concurrent init won
        return _existing_log(db, info, None, None)
    return InitResult(origin, vkey, path, created=True)


def _existing_log(db: Path, info: LogInfo, origin: str | None, key_file: Path | None) -> InitResult:
    if origin is not None and origin != info.origin:
        raise AuditError(
            "already_initialized",
            f"{db} is already initialized with origin {info.origin!r}; refusing to change it",
        )
    path = key_file or (Path(info.key_file) if info.key_file else default_key_file(db))
    if key_file is not None or path.exists():
        signer = read_log_key(path)
        if signer.verifier().verifier_key() != info.vkey:
            raise LogKeyError(
                "key_mismatch",
                f"{db} is already initialized with the key {info.vkey}; {path} holds another"
                " key and will not replace it",
            )
    return InitResult(
        info.origin, info.vkey, path, created=False, key_file_missing=not path.exists()
    )


def load_log_signer(store: AuditStore, key_file: Path | None = None) -> Ed25519Signer:
    """The log's signer: `key_file`, else the file `corridor init` recorded, else the default.

    The key must be the one whose verifier key is recorded in ``meta`` (``key_mismatch``).
    """
    info = store.require_log_info()
    if key_file is not None:
        path = key_file
    elif info.key_file and Path(info.key_file).exists():
        path = Path(info.key_file)
    else:
        path = default_key_file(store.path)
    signer = read_log_key(path)
    if signer.verifier().verifier_key() != info.vkey:
        raise LogKeyError(
            "key_mismatch", f"{path} is not the key of this log ({info.vkey}); refusing to sign"
        )
    return signer


@dataclass(frozen=True)
class CheckpointResult:
    """A checkpoint of the log and whether this call signed it (False: already signed)."""

    record: CheckpointRecord
    new: bool


def _tree_root(reader: TileReader, size: int) -> bytes:
    try:
        return reader.root(size)
    except (LookupError, ValueError) as error:
        raise AuditError(
            "log_mismatch",
            f"the stored tree cannot give the root of size {size} ({error}): run"
            " `corridor audit verify`",
        ) from None


def checkpoint_log(db: Path, *, key_file: Path | None = None) -> CheckpointResult:
    """Sign a checkpoint of the durable log at its current size (idempotent per size).

    Refuses (``log_rolled_back``, ``log_mismatch``) when the stored tree no longer extends
    the latest checkpoint signed: that would be the operator forking its own log.
    """
    with AuditStore.open(db, writable=True) as store:
        info = store.require_log_info()
        signer = load_log_signer(store, key_file)
        with store.snapshot():
            size = store.log_size()
            reader = store.tile_reader(size)
            root = _tree_root(reader, size)
            latest = store.latest_checkpoint()
            if latest is not None:
                if size < latest.size:
                    raise AuditError(
                        "log_rolled_back",
                        f"the log has {size} leaves but a checkpoint of size {latest.size} "
                        "was signed: the log lost leaves; refusing to sign",
                    )
                if size == latest.size:
                    if root != latest.root:
                        raise AuditError(
                            "log_mismatch",
                            f"the log's root at size {size} is not the root signed at that "
                            "size; refusing to sign a fork (run `corridor audit verify`)",
                        )
                    return CheckpointResult(latest, new=False)
                proof = reader.consistency_proof(latest.size, size)
                if not verify_consistency(latest.size, size, proof, latest.root, root):
                    raise AuditError(
                        "log_mismatch",
                        f"the log at size {size} does not extend the checkpoint of size "
                        f"{latest.size}; refusing to sign a fork (run `corridor audit verify`)",
                    )
        note = sign_checkpoint(Checkpoint(info.origin, size, root), signer)
        record = store.add_checkpoint(CheckpointRecord(size, root, note, now()))
        if record.root != root:
            raise AuditError(
                "log_mismatch", f"another checkpoint of size {size} with another root exists"
            )
        return CheckpointResult(record, new=record.note == note)


def cosigned_note(store: AuditStore, record: CheckpointRecord) -> str:
    """The checkpoint's note with the stored cosignatures of registered witnesses appended.

    Only cosignatures that verify with the witness's registered key are included, so a
    damaged row never makes a receipt unreadable.
    """
    body = record.note[: record.note.rfind("\n\n") + 1]
    registered = {w.name: w.vkey for w in store.witnesses()}
    lines: list[str] = []
    for cosig in store.cosignatures(record.size):
        if registered.get(cosig.witness) != cosig.vkey:
            continue
        try:
            verifier = load_cosignature_verifier(cosig.vkey)
            open_note(body + "\n" + cosig.signature, [verifier])
        except NoteError:
            continue
        lines.append(cosig.signature)
    return record.note + "".join(lines)


def prove_index(
    store: AuditStore, index: int, *, what: str | None = None, row: SourceRow | None = None
) -> Receipt:
    """A receipt for leaf `index` against the latest checkpoint that covers it.

    `row` is the leaf's row if the caller has it (transfers have no index on log_index).

    Codes: ``leaf_not_found``, ``not_checkpointed`` (run `corridor audit checkpoint`),
    ``log_mismatch`` (the stored rows and tree disagree: run `corridor audit verify`).
    """
    name = what or f"leaf {index}"
    with store.snapshot():
        size = store.log_size()
        if not 0 <= index < size:
            raise AuditError("leaf_not_found", f"the log has no leaf {index} ({size} leaves)")
        record = store.checkpoint_covering(index)
        if record is None:
            latest = store.latest_checkpoint()
            signed = f"size {latest.size}" if latest is not None else "none yet"
            raise AuditError(
                "not_checkpointed",
                f"{name} is at log index {index}, beyond the latest checkpoint ({signed}): "
                f"run `corridor audit checkpoint --db {store.path}` first",
            )
        if record.size > size:
            raise AuditError(
                "log_mismatch",
                f"checkpoint of size {record.size} is beyond the log ({size} leaves): run"
                " `corridor audit verify`",
            )
        rows = [row] if row is not None else rows_at(store.connection, index)
        if len(rows) != 1:
            raise AuditError(
                "log_mismatch",
                f"{len(rows)} rows have log index {index}: run `corridor audit verify`",
            )
        try:
            leaf = leaf_of(rows[0])
        except RowError as error:
            raise AuditError(
                "log_mismatch", f"leaf {index} ({describe(rows[0])}): {error}"
            ) from None
        reader = store.tile_reader(size)
        try:
            stored = reader.subtree(0, index)
            root = reader.root(record.size)
            proof = reader.inclusion_proof(index, record.size)
        except (LookupError, ValueError) as error:
            raise AuditError("log_mismatch", f"the stored tree is incomplete: {error}") from None
        if stored != leaf_hash(leaf):
            raise AuditError(
                "log_mismatch",
                f"leaf {index} ({describe(rows[0])}) is not the leaf the log holds: the row was"
                " changed (run `corridor audit verify`)",
            )
        if root != record.root:
            raise AuditError(
                "log_mismatch",
                f"the stored tree's root at size {record.size} is not the signed one: run"
                " `corridor audit verify`",
            )
        note = cosigned_note(store, record)
    return Receipt(leaf, index, record.size, tuple(proof), note)


def prove_transfer(store: AuditStore, transfer_id: int) -> Receipt:
    """A receipt for the transfer with this id (``transfer_not_found`` if there is none)."""
    if not 0 <= transfer_id < 1 << 128:
        raise AuditError("transfer_not_found", f"{transfer_id} is not a 128-bit transfer id")
    row = transfer_by_id(store.connection, transfer_id)
    if row is None:
        raise AuditError("transfer_not_found", f"no transfer with id {hex(transfer_id)}")
    index = row[0]
    if type(index) is not int:
        raise AuditError("log_mismatch", f"transfer {hex(transfer_id)} has no valid log_index")
    return prove_index(store, index, what=f"transfer {hex(transfer_id)}", row=row)


def sha256_file(path: Path) -> bytes:
    """SHA-256 of a file's bytes, read in chunks (``file_not_found`` if unreadable)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except FileNotFoundError:
        raise AuditError("file_not_found", f"{path}: no such file") from None
    except IsADirectoryError:
        raise AuditError("file_not_found", f"{path} is a directory, not a file") from None
    except OSError as error:
        raise AuditError("file_not_found", f"cannot read {path}: {error}") from None
    return digest.digest()


def accept_cosignatures(store: AuditStore, note: str) -> list[CosignatureRecord]:
    """Store the cosignatures of registered witnesses found on a checkpoint note.

    The note must be one of this log's stored checkpoints (same size and root) and carry at
    least one valid cosignature of a registered witness. Codes: ``bad_signature``,
    ``unknown_checkpoint``, ``unknown_witness``, ``bad_cosignature``.
    """
    info = store.require_log_info()
    checkpoint = open_signed_checkpoint(note, parse_log_vkey(info.vkey), origin=info.origin)
    record = store.checkpoint(checkpoint.size)
    if record is None or record.root != checkpoint.root:
        raise AuditError(
            "unknown_checkpoint",
            f"this log never signed a checkpoint of size {checkpoint.size} with that root",
        )
    witnesses = {w.name: w for w in store.witnesses()}
    verifiers = [load_cosignature_verifier(w.vkey) for w in witnesses.values()]
    try:
        opened = open_note(note, verifiers)
    except UnverifiedNoteError:
        raise AuditError(
            "unknown_witness",
            "no registered witness cosigned this checkpoint: register the witness with"
            " `corridor audit witnesses add NAME VKEY`",
        ) from None
    except InvalidSignatureError as error:
        raise AuditError("bad_cosignature", f"cosignature does not verify: {error}") from None
    except NoteError as error:
        raise AuditError("malformed_checkpoint", f"checkpoint note: {error}") from None
    stored: list[CosignatureRecord] = []
    received = now()
    for signature in opened.sigs:
        witness = witnesses[signature.name]
        cosig = CosignatureRecord(
            size=checkpoint.size,
            witness=witness.name,
            vkey=witness.vkey,
            timestamp=cosignature_timestamp(signature),
            signature=signature.line(),
            received=received,
        )
        store.add_cosignature(cosig)
        stored.append(cosig)
    return stored
