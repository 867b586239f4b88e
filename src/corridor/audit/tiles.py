"""The audit log's Merkle tree as stored rows: cheap to append, O(log n) to prove.

Storing every node of an RFC 6962 tree costs two rows per leaf, which halved ledger write
throughput when measured. Instead, hashes are stored only at every LEVEL_STEP-th height
(0 = leaf hashes, 4, 8, ...): at height h the hash of the perfect subtree over leaves
[i·2^h, (i+1)·2^h) has index i, and hashes are packed ROW_HASHES to a row, keyed by
(level, row). A batch of 8,189 leaves touches about 40 rows. Any perfect subtree's hash is
rebuilt from at most 2^(LEVEL_STEP-1) stored hashes. An inclusion or consistency proof
needs about log2(n) subtree hashes of heights in every band, roughly 60 hash operations
plus a handful of row reads.

`TileAppender` keeps the partial last row of every level in memory and reports the rows a
batch changed; `TileReader` computes roots and proofs for any size up to the stored one from
a row-fetching callback. corridor.audit.merkle.MerkleTree is the reference the tests compare
both with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Final

from corridor.audit.merkle import EMPTY_ROOT

LEVEL_STEP: Final = 4
GROUP: Final = 1 << LEVEL_STEP
"""Hashes of one stored level that make one hash of the next stored level."""
ROW_HASHES: Final = 256
HASH_BYTES: Final = 32
ROW_BYTES_MAX: Final = ROW_HASHES * HASH_BYTES

CACHED_ROWS_MAX: Final = 4096
"""Rows a reader keeps (8 KiB each at most: 32 MiB), cleared wholesale when full."""

RowKey = tuple[int, int]
"""(stored level, row index); the level is a height: 0, 4, 8, ..."""


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + leaf).digest() for leaf in leaves]


def _group_hash(hashes: list[bytes]) -> bytes:
    """Root of a perfect subtree given its 2^k bottom hashes, in order."""
    sha256 = hashlib.sha256
    while len(hashes) > 1:
        hashes = [
            sha256(b"\x01" + hashes[i] + hashes[i + 1]).digest() for i in range(0, len(hashes), 2)
        ]
    return hashes[0]


class TileAppender:
    """Appends leaf hashes and tracks which stored rows changed."""

    def __init__(self, size: int = 0, tails: dict[int, bytes] | None = None) -> None:
        """`tails`: the stored content of the last (partial) row of each level."""
        self.size = size
        self._tails: dict[int, list[bytes]] = {}
        for level, blob in (tails or {}).items():
            count = size >> level
            expected = count % ROW_HASHES
            if len(blob) != expected * HASH_BYTES:
                raise ValueError(
                    f"stored log row at level {level} holds {len(blob) // HASH_BYTES} hashes, "
                    f"size {size} needs {expected}"
                )
            self._tails[level] = [blob[i : i + HASH_BYTES] for i in range(0, len(blob), 32)]
        self._changed: set[RowKey] = set()  # partial rows touched
        self._full_rows: dict[RowKey, bytes] = {}  # rows completed

    @staticmethod
    def tail_keys(size: int) -> list[RowKey]:
        """The rows whose content an appender at `size` needs to resume."""
        keys = []
        level = 0
        while size >> level:
            count = size >> level
            if count % ROW_HASHES:
                keys.append((level, count // ROW_HASHES))
            level += LEVEL_STEP
        return keys

    def append(self, hashes: list[bytes]) -> None:
        self._append(0, hashes)
        self.size += len(hashes)

    def _append(self, level: int, hashes: list[bytes]) -> None:
        # Before this append, level `level` holds one hash per complete 2^level subtree;
        # the tail holds the hashes of its last, partial row.
        before = self.size >> level
        tail = self._tails.setdefault(level, [])
        tail_start = before - before % ROW_HASHES  # level index of tail[0]
        tail.extend(hashes)
        after = before + len(hashes)
        promoted = [
            _group_hash(tail[g * GROUP - tail_start : (g + 1) * GROUP - tail_start])
            for g in range(before // GROUP, after // GROUP)
        ]
        full_rows = range(before // ROW_HASHES, after // ROW_HASHES)
        for row in full_rows:
            start = row * ROW_HASHES - tail_start
            self._full_rows[(level, row)] = b"".join(tail[start : start + ROW_HASHES])
            self._changed.discard((level, row))
        if full_rows:
            del tail[: full_rows.stop * ROW_HASHES - tail_start]
        if after % ROW_HASHES:
            self._changed.add((level, after // ROW_HASHES))
        if promoted:
            self._append(level + LEVEL_STEP, promoted)

    def changed_rows(self) -> dict[RowKey, bytes]:
        """Rows changed since the last call, with their full current content."""
        out = dict(self._full_rows)
        for level, row in self._changed:
            out[(level, row)] = b"".join(self._tails[level])
        self._changed.clear()
        self._full_rows.clear()
        return out


class TileReader:
    """Roots and proofs over stored rows, for any tree size up to what is stored."""

    def __init__(
        self,
        fetch_row: Callable[[int, int], bytes | None],
        size: int,
        *,
        cached_rows_max: int = CACHED_ROWS_MAX,
    ) -> None:
        """`size` may be raised later as the log grows; cached rows stay valid because a
        stored hash never changes: a row only gains hashes at its end."""
        self._fetch = fetch_row
        self.size = size
        self._rows: dict[RowKey, bytes] = {}
        self._cached_rows_max = cached_rows_max

    def _hash_at(self, level: int, index: int) -> bytes:
        key = (level, index // ROW_HASHES)
        offset = (index % ROW_HASHES) * HASH_BYTES
        row = self._rows.get(key)
        if row is None or len(row) < offset + HASH_BYTES:
            row = self._fetch(*key)
            if row is None:
                raise LookupError(f"audit log row {key} is missing")
            if len(self._rows) >= self._cached_rows_max:
                self._rows.clear()
            self._rows[key] = row
        value = row[offset : offset + HASH_BYTES]
        if len(value) != HASH_BYTES:
            raise LookupError(f"audit log row {key} has no hash {index}")
        return value

    def subtree(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2^height leaves starting at leaf index·2^height."""
        band = height % LEVEL_STEP
        level = height - band
        width = 1 << band
        first = index * width
        return _group_hash([self._hash_at(level, first + k) for k in range(width)])

    def range_hash(self, start: int, end: int) -> bytes:
        """RFC 6962 MTH of leaves [start, end); start is aligned as the RFC's recursion is."""
        count = end - start
        if count == 0:
            return EMPTY_ROOT
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            return self.subtree(height, start >> height)
        split = 1 << ((count - 1).bit_length() - 1)
        left = self.range_hash(start, start + split)
        right = self.range_hash(start + split, end)
        return hashlib.sha256(b"\x01" + left + right).digest()

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the stored log ({self.size})")

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self.range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is not below tree size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            split = 1 << ((end - start - 1).bit_length() - 1)
            if index < start + split:
                proof.append(self.range_hash(start + split, end))
                end = start + split
            else:
                proof.append(self.range_hash(start, start + split))
                start = start + split
        proof.reverse()
        return proof

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        size2 = self.size if size2 is None else size2
        self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise ValueError(f"cannot prove {size1} -> {size2}")
        if size1 == 0 or size1 == size2:
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, size2, size1, True
        while True:
            count = end - start
            if m == count:
                if not complete:
                    proof.append(self.range_hash(start, end))
                break
            split = 1 << ((count - 1).bit_length() - 1)
            if m <= split:
                proof.append(self.range_hash(start + split, end))
                end = start + split
            else:
                proof.append(self.range_hash(start, start + split))
                start, m, complete = start + split, m - split, False
        proof.reverse()
        return proof
