"""`corridor audit verify`: recompute the whole audit log from the ledger's tables.

What a database claims about its own history is checked against what it holds, with no
trust in the stored tree:

1. the log's identity: ``meta`` has the log's origin and verifier key (and, if the auditor
   pins one, it is that key);
2. every stored checkpoint is a note signed by that key, for that origin, whose size and
   root are the ones stored beside it; every stored cosignature verifies with the witness
   key stored with it, which is the key the witness is registered with;
3. every leaf, rebuilt from the ``transfers``, ``expirations`` and ``documents`` rows taken
   in ``log_index`` order (`corridor.audit.sources`), in one pass: log indexes run 0, 1, 2...
   without gap or repeat, below ``meta.log_size``; the leaf's hash is the stored level-0
   hash; every perfect subtree the stored tree keeps a hash of (heights 0, 4, 8...,
   `corridor.audit.tiles`) is recomputed and compared as soon as it is complete; at each
   checkpointed size the recomputed root is the checkpoint's root;
4. the log has as many leaves as ``meta.log_size`` says and no checkpoint is beyond it; the
   ``log_hashes`` table holds exactly the rows of a tree of that size, no more, no fewer
   hashes;
5. consecutive checkpoints are consistent (RFC 9162 consistency proofs over the now verified
   tree).

It stops at the first discrepancy, in that order, and names it: the leaf index and which
row it comes from, the stored tree row, or the checkpoint's size. The recomputation keeps
only the O(log n) right edge of the tree ("peaks") in memory and hashes each node once, so
a million leaves take seconds; everything is read inside one read transaction, so a running
ledger does not disturb it.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from corridor.audit.errors import AuditError
from corridor.audit.keys import parse_log_vkey, parse_witness_vkey
from corridor.audit.merkle import EMPTY_ROOT, verify_consistency
from corridor.audit.note import Ed25519Verifier, NoteError, cosignature_timestamp, open_note
from corridor.audit.receipt import open_signed_checkpoint
from corridor.audit.registry import AuditStore, CheckpointRecord
from corridor.audit.sources import RowError, SourceRow, describe, leaf_of, sorted_rows
from corridor.audit.tiles import HASH_BYTES, LEVEL_STEP, ROW_HASHES

__all__ = ["AuditReport", "Discrepancy", "verify_log"]

PROGRESS_EVERY: Final = 1 << 16

# The one-pass recomputation indexes stored rows and bands with shifts and masks.
assert ROW_HASHES & (ROW_HASHES - 1) == 0 and LEVEL_STEP & (LEVEL_STEP - 1) == 0


@dataclass(frozen=True)
class Discrepancy:
    """The first thing found wrong: a stable `code`, a message naming it, the leaf if any."""

    code: str
    message: str
    log_index: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "log_index": self.log_index}


@dataclass
class AuditReport:
    """What `verify_log` checked, and the first discrepancy (None if the log is sound)."""

    path: str
    origin: str | None = None
    log_size: int = 0
    leaves: int = 0
    transfers: int = 0
    expiries: int = 0
    documents: int = 0
    tree_rows: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    seconds: float = 0.0
    problem: Discrepancy | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "path": self.path,
            "origin": self.origin,
            "log_size": self.log_size,
            "leaves": self.leaves,
            "transfers": self.transfers,
            "expiries": self.expiries,
            "documents": self.documents,
            "tree_rows": self.tree_rows,
            "checkpoints": self.checkpoints,
            "cosignatures": self.cosignatures,
            "seconds": self.seconds,
            "problem": None if self.problem is None else self.problem.to_json(),
            "notes": self.notes,
        }


class _Found(Exception):
    def __init__(self, code: str, message: str, log_index: int | None = None) -> None:
        super().__init__(message)
        self.discrepancy = Discrepancy(code, message, log_index)


def verify_log(
    path: Path,
    *,
    vkey: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Check the audit log of the database at `path` (see the module docstring).

    `vkey` pins the log's verifier key instead of trusting ``meta.log_vkey``. `progress` is
    called with (leaves done, leaves expected) every 65,536 leaves. Raises `AuditError` only
    when the check cannot run (no such file, not a corridor database, a malformed `vkey`);
    discrepancies are returned in `AuditReport.problem`.
    """
    pinned = parse_log_vkey(vkey) if vkey is not None else None
    started = time.perf_counter()
    report = AuditReport(str(path))
    with AuditStore.open(path) as store, store.snapshot():
        try:
            _Verification(store, report, pinned, progress).run()
        except _Found as found:
            report.problem = found.discrepancy
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _Verification:
    def __init__(
        self,
        store: AuditStore,
        report: AuditReport,
        pinned: Ed25519Verifier | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.store = store
        self.db = store.connection
        self.report = report
        self.pinned = pinned
        self.progress = progress
        self._rows: dict[int, tuple[int, bytes | None]] = {}

    def run(self) -> None:
        verifier, origin = self._identity()
        checkpoints = self._checkpoints(verifier, origin)
        self._cosignatures(checkpoints)
        leaves = self._leaves(checkpoints)
        self._tail(leaves, checkpoints)
        self._consistency(checkpoints)

    # 1. identity -------------------------------------------------------------------------

    def _identity(self) -> tuple[Ed25519Verifier | None, str | None]:
        report = self.report
        try:
            report.log_size = self.store.log_size()
        except AuditError as error:
            raise _Found("log_size_mismatch", str(error)) from None
        info = self.store.log_info()
        if info is None:
            if self.pinned is None:
                report.notes.append(
                    "the log has no key yet (run `corridor init`): only the tree is checked"
                )
            return self.pinned, None
        report.origin = info.origin
        if self.pinned is not None:
            if info.vkey != self.pinned.verifier_key():
                raise _Found(
                    "key_mismatch",
                    f"meta log_vkey {info.vkey} is not the log key given ({self.pinned.name})",
                )
            return self.pinned, info.origin
        try:
            return parse_log_vkey(info.vkey), info.origin
        except AuditError as error:
            raise _Found("key_mismatch", f"meta log_vkey: {error}") from None

    # 2. signatures -----------------------------------------------------------------------

    def _checkpoints(
        self, verifier: Ed25519Verifier | None, origin: str | None
    ) -> list[CheckpointRecord]:
        records = self.store.checkpoints()
        self.report.checkpoints = len(records)
        if records and verifier is None:
            raise _Found(
                "not_initialized",
                f"{len(records)} checkpoints are stored but meta has no log key to check them",
            )
        for record in records:
            what = f"checkpoint of size {record.size}"
            assert verifier is not None
            try:
                checkpoint = open_signed_checkpoint(record.note, verifier, origin=origin, what=what)
            except AuditError as error:
                raise _Found("checkpoint_signature", str(error)) from None
            if checkpoint.size != record.size or checkpoint.root != record.root:
                raise _Found(
                    "checkpoint_mismatch",
                    f"{what}: its signed note says size {checkpoint.size} and another root "
                    "than the stored columns",
                )
        return records

    def _cosignatures(self, checkpoints: list[CheckpointRecord]) -> None:
        bodies = {c.size: c.note[: c.note.rfind("\n\n") + 1] for c in checkpoints}
        registered = {w.name: w.vkey for w in self.store.witnesses()}
        cosignatures = self.store.cosignatures()
        self.report.cosignatures = len(cosignatures)
        for cosig in cosignatures:
            what = f"cosignature of {cosig.witness} on the checkpoint of size {cosig.size}"
            body = bodies.get(cosig.size)
            if body is None:
                raise _Found("cosignature_invalid", f"{what}: no such checkpoint is stored")
            if cosig.witness in registered and registered[cosig.witness] != cosig.vkey:
                raise _Found(
                    "cosignature_invalid",
                    f"{what}: made with another key than the witness is registered with",
                )
            try:
                verifier = parse_witness_vkey(cosig.vkey)
            except AuditError:
                raise _Found(
                    "cosignature_invalid", f"{what}: the stored witness key is invalid"
                ) from None
            try:
                note = open_note(body + "\n" + cosig.signature, [verifier])
                stamped = cosignature_timestamp(note.sigs[0])
            except (NoteError, IndexError):
                raise _Found("cosignature_invalid", f"{what}: does not verify") from None
            if note.sigs[0].name != cosig.witness or stamped != cosig.timestamp:
                raise _Found(
                    "cosignature_invalid",
                    f"{what}: its signed name or time is not the stored one",
                )

    # 3. leaves and tree ------------------------------------------------------------------

    def _stored(self, level: int, index: int, log_index: int) -> bytes:
        """Stored hash `index` of `level`, or a discrepancy naming what is missing."""
        row_index = index // ROW_HASHES
        cached = self._rows.get(level)
        if cached is None or cached[0] != row_index:
            cached = (row_index, self.store.log_row(level, row_index))
            self._rows[level] = cached
        blob = cached[1]
        offset = (index % ROW_HASHES) * HASH_BYTES
        value = blob[offset : offset + HASH_BYTES] if blob is not None else b""
        if len(value) != HASH_BYTES:
            raise _Found(
                "tree_missing",
                f"the stored tree has no hash at height {level}, index {index} (row {level},"
                f" {row_index}) although leaf {log_index} exists",
                log_index,
            )
        return value

    def _leaves(self, checkpoints: list[CheckpointRecord]) -> int:
        """Rebuild every leaf in log order against the stored tree; returns the leaf count."""
        report = self.report
        log_size = report.log_size
        roots = [(c.size, c.root) for c in checkpoints]
        roots.reverse()  # pop() from the end: smallest size first
        while roots and roots[-1][0] == 0:
            size, root = roots.pop()
            if root != EMPTY_ROOT:
                raise _Found("checkpoint_root", "checkpoint of size 0: root is not the empty root")
        sha256 = hashlib.sha256
        peaks: list[bytes] = []
        counts = [0, 0, 0]
        pos = 0
        previous: SourceRow | None = None
        stored0: bytes = b""
        stored0_row = -1
        progress = self.progress
        row_shift, row_mask, band_mask = ROW_HASHES.bit_length() - 1, ROW_HASHES - 1, LEVEL_STEP - 1
        try:
            for row in sorted_rows(self.db):
                log_index = row[0]
                if log_index != pos:
                    self._misplaced(row, previous, pos)
                if pos >= log_size:
                    raise _Found(
                        "log_size_mismatch",
                        f"leaf {pos} ({describe(row)}) is beyond meta.log_size {log_size}",
                        pos,
                    )
                try:
                    leaf = leaf_of(row)
                except RowError as error:
                    raise _Found("bad_row", f"leaf {pos} ({describe(row)}): {error}", pos) from None
                node = sha256(b"\x00" + leaf).digest()
                if pos >> row_shift != stored0_row:
                    stored0_row = pos >> row_shift
                    found = self.store.log_row(0, stored0_row)
                    stored0 = found if found is not None else b""
                offset = (pos & row_mask) * HASH_BYTES
                if stored0[offset : offset + HASH_BYTES] != node:
                    self._leaf_mismatch(row, pos, stored0[offset : offset + HASH_BYTES])
                j, height = pos, 0
                while j & 1:
                    node = sha256(b"\x01" + peaks.pop() + node).digest()
                    j >>= 1
                    height += 1
                    if not height & band_mask and self._stored(height, j, pos) != node:
                        first = j << height
                        raise _Found(
                            "tree_mismatch",
                            f"the stored hash at height {height}, index {j} (leaves {first}.."
                            f"{first + (1 << height) - 1}) differs from the recomputed one",
                            first,
                        )
                peaks.append(node)
                pos += 1
                counts[row[1]] += 1
                previous = row
                if roots and roots[-1][0] == pos:
                    size, root = roots.pop()
                    if _fold(peaks) != root:
                        raise _Found(
                            "checkpoint_root",
                            f"checkpoint of size {size}: root does not match the log",
                        )
                if progress is not None and not pos % PROGRESS_EVERY:
                    progress(pos, log_size)
        except TypeError:
            self._non_integer_log_index()
            raise
        finally:  # also on a discrepancy: how far the check got
            report.leaves = pos
            report.transfers, report.expiries, report.documents = counts
        if progress is not None:
            progress(pos, log_size)
        return pos

    def _misplaced(self, row: SourceRow, previous: SourceRow | None, pos: int) -> None:
        log_index = row[0]
        if type(log_index) is not int:
            raise _Found("bad_row", f"{describe(row)}: log_index {log_index!r} is not an integer")
        if log_index < pos:
            other = describe(previous) if previous is not None else "another row"
            raise _Found(
                "duplicate_log_index",
                f"log_index {log_index} is used twice: by {other} and by {describe(row)}",
                log_index,
            )
        self._non_integer_log_index()
        raise _Found(
            "log_gap",
            f"log_index gap at {pos}: no transfer, expiry or document has it (the next leaf,"
            f" {describe(row)}, has log_index {log_index})",
            pos,
        )

    def _non_integer_log_index(self) -> None:
        """Name a row whose log_index is not an INTEGER, if there is one (it sorts apart)."""
        for table in ("transfers", "expirations", "documents"):
            bad = self.db.execute(
                f"SELECT timestamp, log_index FROM {table} WHERE typeof(log_index) != 'integer'"
                " LIMIT 1"
            ).fetchone()
            if bad is not None:
                raise _Found(
                    "bad_row",
                    f"the {table} row of timestamp {bad[0]} has log_index {bad[1]!r}, which is"
                    " not an integer",
                )

    def _leaf_mismatch(self, row: SourceRow, pos: int, stored: bytes) -> None:
        if len(stored) != HASH_BYTES:
            raise _Found(
                "tree_missing",
                f"leaf {pos} ({describe(row)}): the stored tree has no hash for it",
                pos,
            )
        raise _Found(
            "leaf_mismatch",
            f"leaf {pos} ({describe(row)}): recomputed hash differs from the stored tree",
            pos,
        )

    # 4. sizes and stored rows ------------------------------------------------------------

    def _tail(self, leaves: int, checkpoints: list[CheckpointRecord]) -> None:
        log_size = self.report.log_size
        if leaves < log_size:
            raise _Found(
                "log_gap",
                f"the tables hold {leaves} leaves but meta.log_size is {log_size}: no transfer,"
                f" expiry or document has log_index {leaves}",
                leaves,
            )
        for record in checkpoints:
            if record.size > leaves:
                raise _Found(
                    "checkpoint_beyond_log",
                    f"checkpoint of size {record.size} is beyond the log ({leaves} leaves):"
                    " signed leaves have been removed",
                )
        expected: dict[tuple[int, int], int] = {}
        level = 0
        while leaves >> level:
            count = leaves >> level
            for row in range((count + ROW_HASHES - 1) // ROW_HASHES):
                expected[(level, row)] = min(ROW_HASHES, count - row * ROW_HASHES)
            level += LEVEL_STEP
        stored = self.db.execute(
            "SELECT level, row, length(CAST(hashes AS BLOB)), typeof(hashes) FROM log_hashes"
            " ORDER BY level, row"
        ).fetchall()
        self.report.tree_rows = len(stored)
        for level, row, length, kind in stored:
            want = expected.pop((level, row), None)
            if want is None:
                raise _Found(
                    "tree_extra",
                    f"stored tree row (level {level}, row {row}) is not part of a log of "
                    f"{leaves} leaves",
                )
            if kind != "blob":
                raise _Found(
                    "tree_mismatch",
                    f"stored tree row (level {level}, row {row}) is a {kind}, not a BLOB",
                )
            if length != want * HASH_BYTES:
                raise _Found(
                    "tree_mismatch",
                    f"stored tree row (level {level}, row {row}) is {length} bytes; a log of "
                    f"{leaves} leaves has {want} hashes ({want * HASH_BYTES} bytes) there",
                )
        if expected:
            level, row = min(expected)
            raise _Found("tree_missing", f"stored tree row (level {level}, row {row}) is missing")

    # 5. consistency ----------------------------------------------------------------------

    def _consistency(self, checkpoints: list[CheckpointRecord]) -> None:
        reader = self.store.tile_reader(self.report.leaves)
        for old, new in itertools.pairwise(checkpoints):
            proof = reader.consistency_proof(old.size, new.size)
            if not verify_consistency(old.size, new.size, proof, old.root, new.root):
                raise _Found(
                    "checkpoint_inconsistent",
                    f"checkpoint of size {new.size} is not consistent with the checkpoint of "
                    f"size {old.size}",
                )


def _fold(peaks: list[bytes]) -> bytes:
    """Root of the tree whose perfect subtrees, largest first, are `peaks`."""
    if not peaks:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    acc = peaks[-1]
    for peak in reversed(peaks[:-1]):
        acc = sha256(b"\x01" + peak + acc).digest()
    return acc
