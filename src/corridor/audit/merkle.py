"""RFC 6962 / RFC 9162 Merkle hash trees: hashing, proof verification and an in-memory tree.

The audit log commits to every ledger batch by appending a leaf to a Merkle tree whose root
is signed in checkpoints. Anyone holding two checkpoints can then check, with a handful of
hashes, that a given leaf is in the log (an inclusion proof) and that the later log extends
the earlier one without rewriting it (a consistency proof). This module holds the pieces that
must match the RFC bit for bit:

- the hashes: ``leaf_hash`` = SHA-256(0x00 || data), ``node_hash`` = SHA-256(0x01 || l || r),
  and ``EMPTY_ROOT`` = SHA-256(""), the root of a tree with no leaves;
- the verifiers ``verify_inclusion`` and ``verify_consistency`` (RFC 9162 sections 2.1.3.2
  and 2.1.4.2). They are what a client, a witness or a court runs on untrusted input, so they
  never raise: malformed arguments of any kind give False. Each accepts exactly one proof
  length for its sizes, so a proof with a hash added, dropped or replaced by garbage fails;
- ``MerkleTree``, an append-only in-memory tree that produces roots and proofs for its current
  size and every past size in O(log n). It is used by the tests and is the reference model of
  the persistent log, which must produce byte-identical roots and proofs;
- ``root_from_leaves``, the RFC's recursive definition of the tree hash, kept deliberately
  naive as an independent reference for tests.

Leaf indexes are 0-based. A proof is a list of 32-byte hashes ordered from the leaf (or the
old root) upwards, as in RFC 9162. An inclusion or consistency proof binds sizes only through
its root: it says nothing about a size except through the shape of the path, so callers must
take the size and the root together from the same signed checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof_length",
    "inclusion_proof_length",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of a leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly less than n, for n >= 2 (the RFC's k)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_count(value: object) -> bool:
    """True if value is a non-negative int (bools, which are ints in Python, excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_hash(value: object) -> bool:
    """True if value is a bytes-like SHA-256 hash of exactly HASH_SIZE bytes."""
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def _as_hashes(proof: object) -> list[bytes] | None:
    """Return proof as a list of 32-byte hashes, or None if it is not a sequence of them."""
    if not isinstance(proof, Sequence) or isinstance(proof, str | bytes | bytearray):
        return None
    hashes = list(proof)
    if not all(_is_hash(h) for h in hashes):
        return None
    return [bytes(h) for h in hashes]


def inclusion_proof_length(index: int, size: int) -> int:
    """Return the number of hashes in the inclusion proof of leaf `index` in a tree of `size`.

    The path has one hash per level below the point where the leaf's path and the path to
    the last leaf part ("inner" levels), plus one for each left-hand perfect subtree above
    that point ("border" levels). Raises ValueError unless 0 <= index < size.
    """
    if not (_is_count(index) and _is_count(size) and index < size):
        raise ValueError(f"need 0 <= index < size, got index={index!r}, size={size!r}")
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_length(size1: int, size2: int) -> int:
    """Return the number of hashes in the consistency proof from tree size1 to tree size2.

    The proof is empty when size1 is 0 or equal to size2. Otherwise it is the inclusion
    path of the old tree's last complete subtree in the new tree, plus that subtree's own
    hash unless it is the whole old tree (size1 a power of two, where the verifier already
    knows it as the old root). Raises ValueError unless 0 <= size1 <= size2.
    """
    if not (_is_count(size1) and _is_count(size2) and size1 <= size2):
        raise ValueError(f"need 0 <= size1 <= size2, got size1={size1!r}, size2={size2!r}")
    if size1 == 0 or size1 == size2:
        return 0
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    first = (size1 - 1) >> shift
    last = (size2 - 1) >> shift
    inner = (first ^ last).bit_length()
    border = (first >> inner).bit_count()
    seed = 0 if first == 0 else 1
    return seed + inner + border


def _shift_past_zeros(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn equally until fn's lowest bit is set or fn is 0 (RFC 9162)."""
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return True iff `proof` shows leaf `leaf_hash` at 0-based `index` in the tree `root`.

    Implements RFC 9162 section 2.1.3.2. Returns False, never raises, on any malformed input:
    index >= size, negative or non-int numbers, hashes that are not 32 bytes, or a proof that
    is not exactly inclusion_proof_length(index, size) hashes long.
    """
    if not (_is_count(index) and _is_count(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    path = _as_hashes(proof)
    if path is None or len(path) != inclusion_proof_length(index, size):
        return False

    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_past_zeros(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == bytes(root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Return True iff `proof` shows tree (size2, root2) extends tree (size1, root1).

    Implements RFC 9162 section 2.1.4.2, plus the cases the RFC leaves to the caller:
    equal sizes need an empty proof and equal roots; size1 == 0 needs an empty proof and
    root1 == EMPTY_ROOT (every tree extends the empty one). Returns False, never raises, on any
    malformed input: size1 > size2, negative or non-int sizes, hashes that are not 32 bytes,
    or a proof that is not exactly consistency_proof_length(size1, size2) hashes long.
    """
    if not (_is_count(size1) and _is_count(size2) and size1 <= size2):
        return False
    if not (_is_hash(root1) and _is_hash(root2)):
        return False
    path = _as_hashes(proof)
    if path is None or len(path) != consistency_proof_length(size1, size2):
        return False
    first, second = bytes(root1), bytes(root2)
    if size1 == 0:
        return first == EMPTY_ROOT and (size2 > 0 or second == EMPTY_ROOT)
    if size1 == size2:
        return first == second

    if size1 & (size1 - 1) == 0:
        # The old tree is itself a complete subtree of the new one: its root seeds the path.
        path.insert(0, first)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _shift_past_zeros(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first and sr == second


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of `leaf_hashes` by the RFC's recursive definition.

    MTH({}) = EMPTY_ROOT, MTH({d}) = d (leaf hashes are given already hashed), and
    MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two < n.
    O(n) hashes: a reference for tests, not for production use.
    """

    def mth(start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return bytes(leaf_hashes[start])
        k = _largest_power_of_two_below(n)
        return node_hash(mth(start, start + k), mth(start + k, end))

    if len(leaf_hashes) == 0:
        return EMPTY_ROOT
    return mth(0, len(leaf_hashes))


class MerkleTree:
    """Append-only in-memory RFC 6962 Merkle tree with roots and proofs for any past size.

    Stores every complete (perfect) subtree hash by level: ``_levels[k][i]`` is the hash of
    the 2**k leaves starting at leaf ``i * 2**k``. Appending a leaf adds it at level 0 and
    then completes one parent per trailing one-bit of its index (amortised O(1) hashes).

    Every subtree the RFC definition uses for a tree of size n is either a complete subtree,
    read from ``_levels``, or a right-edge subtree ending at leaf n, covering a run of the
    complete subtrees ("peaks") that n's binary digits decompose it into. Folding the peaks
    from the right gives all the right-edge hashes in O(log n), so a root or proof for any
    size n <= self.size costs O(log n) hashes and never touches the rest of the tree.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> int:
        """Append a leaf hash (see leaf_hash()) and return its 0-based index."""
        if not _is_hash(leaf_hash):
            raise ValueError(f"leaf_hash must be a {HASH_SIZE}-byte hash, got {leaf_hash!r:.80}")
        index = self._size
        levels = self._levels
        node = bytes(leaf_hash)
        levels[0].append(node)
        level, i = 0, index
        while i & 1:  # node is a right child: its parent subtree is now complete
            node = node_hash(levels[level][i - 1], node)
            level += 1
            i >>= 1
            if level == len(levels):
                levels.append([])
            levels[level].append(node)
        self._size = index + 1
        return index

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the tree made of the first `size` leaves (default: all)."""
        n = self._size if size is None else size
        self._check_size("size", n)
        if n == 0:
            return EMPTY_ROOT
        return self._range_hash(0, n, self._right_edge(n))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.

        Raises ValueError unless 0 <= index < size <= self.size.
        """
        n = self._size if size is None else size
        self._check_size("size", n)
        if not (_is_count(index) and index < n):
            raise ValueError(f"index must satisfy 0 <= index < size={n}, got {index!r}")
        edge = self._right_edge(n)
        proof: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index < lo + k:
                proof.append(self._range_hash(lo + k, hi, edge))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k, edge))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return the RFC 9162 consistency proof from tree size1 to tree size2 (default: all).

        The proof is empty when size1 is 0 or equal to size2. Raises ValueError unless
        0 <= size1 <= size2 <= self.size.
        """
        n = self._size if size2 is None else size2
        self._check_size("size2", n)
        if not (_is_count(size1) and size1 <= n):
            raise ValueError(f"size1 must satisfy 0 <= size1 <= size2={n}, got {size1!r}")
        if size1 == 0 or size1 == n:
            return []
        edge = self._right_edge(n)
        proof: list[bytes] = []
        lo, hi = 0, n
        whole_old_tree = True  # RFC 9162 SUBPROOF's flag b: [lo, hi) is still the whole tree
        while size1 != hi:
            k = _largest_power_of_two_below(hi - lo)
            if size1 - lo <= k:
                proof.append(self._range_hash(lo + k, hi, edge))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k, edge))
                lo += k
                whole_old_tree = False
        if not whole_old_tree:
            proof.append(self._range_hash(lo, hi, edge))
        proof.reverse()
        return proof

    def _check_size(self, name: str, size: int) -> None:
        if not (_is_count(size) and size <= self._size):
            raise ValueError(f"{name} must satisfy 0 <= {name} <= {self._size}, got {size!r}")

    def _right_edge(self, size: int) -> dict[int, bytes]:
        """Map the start of each peak of a `size`-leaf tree to the hash of [start, size).

        The peaks are the complete subtrees that size's binary digits cut [0, size) into,
        largest first; the hash of [start, size) folds the peaks from start onwards from the
        right, exactly as the RFC definition nests them.
        """
        peaks: list[tuple[int, bytes]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                peaks.append((start, self._levels[level][start >> level]))
                start += 1 << level
        edge: dict[int, bytes] = {}
        acc = b""
        for start, peak in reversed(peaks):
            acc = node_hash(peak, acc) if acc else peak
            edge[start] = acc
        return edge

    def _range_hash(self, start: int, end: int, edge: dict[int, bytes]) -> bytes:
        """Hash of leaves [start, end), a subtree of the RFC decomposition of the edge's tree.

        Such a subtree is either complete (its length a power of two, its start aligned) or
        ends at the tree's last leaf and starts at a peak.
        """
        n = end - start
        if n & (n - 1) == 0:
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        return edge[start]
