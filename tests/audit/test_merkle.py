"""Tests for corridor.audit.merkle.

Three layers: known answers published by transparency-dev/merkle (tests/audit/vectors/),
randomized cross-checks of MerkleTree against the RFC's recursive definition and the
verifiers, and the behaviour on bad arguments (ValueError from the tree, False from the
verifiers, never an exception).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corridor.audit import merkle
from corridor.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


TREE = _load("rfc6962_tree.json")
INCLUSION_TESTDATA = _load("inclusion.json")
CONSISTENCY_TESTDATA = _load("consistency.json")

REF_LEAVES = [leaf_hash(bytes.fromhex(d)) for d in TREE["leaves"]]
REF_ROOTS = _hexes(TREE["roots"])  # REF_ROOTS[n - 1] is the root of the first n leaves


def _ref_tree() -> MerkleTree:
    tree = MerkleTree()
    for h in REF_LEAVES:
        tree.append(h)
    return tree


# A shared 300-leaf tree: proofs "at size n" exercise the past-size code paths, and the
# reference roots come from the RFC definition, independently of MerkleTree.
MAX_SIZE = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]
BIG = MerkleTree()
for _h in LEAVES:
    BIG.append(_h)
ROOTS = [root_from_leaves(LEAVES[:n]) for n in range(MAX_SIZE + 1)]
OTHER_HASH = hashlib.sha256(b"not in any tree").digest()

sizes = st.integers(min_value=1, max_value=MAX_SIZE)


def _flip_bit(proof: list[bytes], element: int, byte: int, bit: int) -> list[bytes]:
    mutated = list(proof)
    h = bytearray(mutated[element])
    h[byte] ^= 1 << bit
    mutated[element] = bytes(h)
    return mutated


def _inclusion_shape(index: int, size: int) -> list[str]:
    """Directions from the root to the leaf in the RFC definition of PATH(index, D[size])."""
    shape = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if index < lo + k:
            shape.append("left")
            hi = lo + k
        else:
            shape.append("right")
            lo += k
    return shape


def _consistency_shape(size1: int, size2: int) -> list[str]:
    """Decisions of the RFC definition of SUBPROOF(size1, D[size2], true)."""
    shape = []
    lo, hi, whole = 0, size2, True
    while size1 != hi:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if size1 - lo <= k:
            shape.append("left")
            hi = lo + k
        else:
            shape.append("right")
            lo += k
            whole = False
    shape.append("whole" if whole else "part")
    return shape


# --- Known answers: transparency-dev/merkle rfc6962 and proof tests ----------------------


def test_empty_root_is_sha256_of_empty_string() -> None:
    (vector,) = [v for v in TREE["hasher"] if v["kind"] == "empty_root"]
    assert bytes.fromhex(vector["want"]) == EMPTY_ROOT


@pytest.mark.parametrize(
    "vector", [v for v in TREE["hasher"] if v["kind"] == "leaf"], ids=lambda v: v["desc"]
)
def test_leaf_hash_matches_published_vector(vector: dict[str, str]) -> None:
    assert leaf_hash(bytes.fromhex(vector["data"])) == bytes.fromhex(vector["want"])


def test_node_hash_matches_published_vector() -> None:
    (vector,) = [v for v in TREE["hasher"] if v["kind"] == "node"]
    left, right = bytes.fromhex(vector["left"]), bytes.fromhex(vector["right"])
    assert node_hash(left, right) == bytes.fromhex(vector["want"])


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


def test_empty_tree_root_is_empty_root() -> None:
    assert MerkleTree().root() == EMPTY_ROOT
    assert root_from_leaves([]) == EMPTY_ROOT


def test_tree_roots_match_published_roots_for_every_size() -> None:
    tree = _ref_tree()
    assert [tree.root(n) for n in range(1, len(REF_LEAVES) + 1)] == REF_ROOTS


def test_tree_root_tracks_published_roots_while_appending() -> None:
    tree = MerkleTree()
    for n, h in enumerate(REF_LEAVES, start=1):
        tree.append(h)
        assert tree.root() == REF_ROOTS[n - 1]


def test_root_from_leaves_matches_published_roots() -> None:
    roots = [root_from_leaves(REF_LEAVES[:n]) for n in range(1, len(REF_LEAVES) + 1)]
    assert roots == REF_ROOTS


def _published_inclusion_ids(vector: dict[str, Any]) -> str:
    return f"index{vector['index']}-size{vector['size']}"


def _published_consistency_ids(vector: dict[str, Any]) -> str:
    return f"size{vector['size1']}-to-{vector['size2']}"


@pytest.mark.parametrize("vector", TREE["inclusion_proofs"], ids=_published_inclusion_ids)
def test_tree_produces_published_inclusion_proof(vector: dict[str, Any]) -> None:
    proof = _ref_tree().inclusion_proof(vector["index"], vector["size"])
    assert proof == _hexes(vector["proof"])


@pytest.mark.parametrize("vector", TREE["inclusion_proofs"], ids=_published_inclusion_ids)
def test_published_inclusion_proof_verifies(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["size"]
    proof = _hexes(vector["proof"])
    assert verify_inclusion(REF_LEAVES[index], index, size, proof, REF_ROOTS[size - 1])


def _inclusion_corruptions(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> Iterator[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    """The corruptions of transparency-dev's corruptInclusionProof, as (name, arguments)."""
    yield "index - 1", (leaf, index - 1, size, proof, root)
    yield "index + 1", (leaf, index + 1, size, proof, root)
    yield "index ^ 2", (leaf, index ^ 2, size, proof, root)
    yield "size * 2", (leaf, index, size * 2, proof, root)
    yield "size // 2", (leaf, index, size // 2, proof, root)
    yield "wrong leaf", (b"WrongLeaf", index, size, proof, root)
    yield "other leaf", (OTHER_HASH, index, size, proof, root)
    yield "empty root", (leaf, index, size, proof, EMPTY_ROOT)
    yield "other root", (leaf, index, size, proof, OTHER_HASH)
    yield "trailing garbage", (leaf, index, size, [*proof, b""], root)
    yield "trailing root", (leaf, index, size, [*proof, root], root)
    yield "preceding garbage", (leaf, index, size, [b"", *proof], root)
    yield "preceding root", (leaf, index, size, [root, *proof], root)
    for i in range(len(proof)):
        yield f"proof[{i}] bit 3 flipped", (leaf, index, size, _flip_bit(proof, i, 0, 3), root)
    if proof:
        yield "removed component", (leaf, index, size, proof[:-1], root)
    if len(proof) > 1:
        yield "inserted component", (leaf, index, size, [proof[0], OTHER_HASH, *proof[1:]], root)


@pytest.mark.parametrize("vector", TREE["inclusion_proofs"], ids=_published_inclusion_ids)
def test_corrupted_published_inclusion_proof_fails(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["size"]
    proof = _hexes(vector["proof"])
    args = (REF_LEAVES[index], index, size, proof, REF_ROOTS[size - 1])
    accepted = [name for name, bad in _inclusion_corruptions(*args) if verify_inclusion(*bad)]
    assert accepted == []


@pytest.mark.parametrize("vector", TREE["consistency_proofs"], ids=_published_consistency_ids)
def test_tree_produces_published_consistency_proof(vector: dict[str, Any]) -> None:
    proof = _ref_tree().consistency_proof(vector["size1"], vector["size2"])
    assert proof == _hexes(vector["proof"])


@pytest.mark.parametrize("vector", TREE["consistency_proofs"], ids=_published_consistency_ids)
def test_published_consistency_proof_verifies(vector: dict[str, Any]) -> None:
    size1, size2 = vector["size1"], vector["size2"]
    proof = _hexes(vector["proof"])
    assert verify_consistency(size1, size2, proof, REF_ROOTS[size1 - 1], REF_ROOTS[size2 - 1])


def _consistency_corruptions(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> Iterator[tuple[str, tuple[int, int, list[bytes], bytes, bytes]]]:
    """The corruptions of transparency-dev's corruptConsistencyProof, as (name, arguments)."""
    yield "size1 - 1", (size1 - 1, size2, proof, root1, root2)
    yield "size1 + 1", (size1 + 1, size2, proof, root1, root2)
    yield "size1 ^ 2", (size1 ^ 2, size2, proof, root1, root2)
    yield "size2 * 2", (size1, size2 * 2, proof, root1, root2)
    yield "size2 // 2", (size1, size2 // 2, proof, root1, root2)
    yield "wrong root1", (size1, size2, proof, b"WrongRoot", root2)
    yield "wrong root2", (size1, size2, proof, root1, b"WrongRoot")
    yield "other root1", (size1, size2, proof, OTHER_HASH, root2)
    yield "other root2", (size1, size2, proof, root1, OTHER_HASH)
    yield "swapped roots", (size1, size2, proof, root2, root1)
    yield "empty proof", (size1, size2, [], root1, root2)
    yield "trailing garbage", (size1, size2, [*proof, b""], root1, root2)
    yield "trailing root1", (size1, size2, [*proof, root1], root1, root2)
    yield "trailing root2", (size1, size2, [*proof, root2], root1, root2)
    yield "preceding garbage", (size1, size2, [b"", *proof], root1, root2)
    yield "preceding root1", (size1, size2, [root1, *proof], root1, root2)
    yield "preceding root2", (size1, size2, [root2, *proof], root1, root2)
    yield "preceding proof[0]", (size1, size2, [proof[0], *proof], root1, root2)
    yield "truncated proof", (size1, size2, proof[:-1], root1, root2)
    for i in range(len(proof)):
        yield f"proof[{i}] bit 4 flipped", (size1, size2, _flip_bit(proof, i, 0, 4), root1, root2)


@pytest.mark.parametrize(
    "vector",
    [v for v in TREE["consistency_proofs"] if v["proof"]],
    ids=_published_consistency_ids,
)
def test_corrupted_published_consistency_proof_fails(vector: dict[str, Any]) -> None:
    size1, size2 = vector["size1"], vector["size2"]
    proof = _hexes(vector["proof"])
    args = (size1, size2, proof, REF_ROOTS[size1 - 1], REF_ROOTS[size2 - 1])
    accepted = [name for name, bad in _consistency_corruptions(*args) if verify_consistency(*bad)]
    assert accepted == []


# --- Known answers: transparency-dev/merkle testdata/ JSON files --------------------------


def _testdata_id(case: dict[str, Any]) -> str:
    return str(case["source"]).split("@")[0]


def _inclusion_args(case: dict[str, Any]) -> tuple[bytes, int, int, list[bytes], bytes]:
    proof = [_b64(p) for p in case["proof"] or []]
    return _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"])


def _consistency_args(case: dict[str, Any]) -> tuple[int, int, list[bytes], bytes, bytes]:
    proof = [_b64(p) for p in case["proof"] or []]
    return case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])


@pytest.mark.parametrize(
    "case", [c for c in INCLUSION_TESTDATA if not c["wantErr"]], ids=_testdata_id
)
def test_testdata_inclusion_happy_path_verifies(case: dict[str, Any]) -> None:
    assert verify_inclusion(*_inclusion_args(case))


@pytest.mark.parametrize(
    "case", [c for c in INCLUSION_TESTDATA if not c["wantErr"]], ids=_testdata_id
)
def test_tree_reproduces_testdata_inclusion_proof(case: dict[str, Any]) -> None:
    _leaf, index, size, proof, root = _inclusion_args(case)
    tree = _ref_tree()
    assert (tree.root(size), tree.inclusion_proof(index, size)) == (root, proof)


@pytest.mark.parametrize("case", [c for c in INCLUSION_TESTDATA if c["wantErr"]], ids=_testdata_id)
def test_testdata_inclusion_negative_case_fails(case: dict[str, Any]) -> None:
    assert verify_inclusion(*_inclusion_args(case)) is False


@pytest.mark.parametrize(
    "case", [c for c in CONSISTENCY_TESTDATA if not c["wantErr"]], ids=_testdata_id
)
def test_testdata_consistency_happy_path_verifies(case: dict[str, Any]) -> None:
    assert verify_consistency(*_consistency_args(case))


@pytest.mark.parametrize(
    "case", [c for c in CONSISTENCY_TESTDATA if not c["wantErr"]], ids=_testdata_id
)
def test_tree_reproduces_testdata_consistency_proof(case: dict[str, Any]) -> None:
    size1, size2, proof, root1, root2 = _consistency_args(case)
    tree = _ref_tree()
    assert (tree.root(size1), tree.root(size2)) == (root1, root2)
    assert tree.consistency_proof(size1, size2) == proof


@pytest.mark.parametrize(
    "case", [c for c in CONSISTENCY_TESTDATA if c["wantErr"]], ids=_testdata_id
)
def test_testdata_consistency_negative_case_fails(case: dict[str, Any]) -> None:
    assert verify_consistency(*_consistency_args(case)) is False


# --- Verifier edge cases (transparency-dev TestVerifyInclusion*/TestVerifyConsistency) ----


def test_single_leaf_tree_has_empty_inclusion_proof_and_leaf_as_root() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], h)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1)])
def test_inclusion_in_too_small_tree_fails(index: int, size: int) -> None:
    assert not verify_inclusion(OTHER_HASH, index, size, [], OTHER_HASH)
    assert not verify_inclusion(OTHER_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "expected"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, OTHER_HASH, [], True),
        (1, 1, OTHER_HASH, OTHER_HASH, [], True),
        (0, 0, EMPTY_ROOT, OTHER_HASH, [], False),
        (0, 0, OTHER_HASH, OTHER_HASH, [], False),
        (0, 1, OTHER_HASH, OTHER_HASH, [], False),
        (1, 1, OTHER_HASH, EMPTY_ROOT, [], False),
        (1, 0, OTHER_HASH, OTHER_HASH, [], False),
        (2, 1, OTHER_HASH, OTHER_HASH, [], False),
        (1, 2, OTHER_HASH, OTHER_HASH, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_trivial_consistency_cases(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes], expected: bool
) -> None:
    assert verify_consistency(size1, size2, proof, root1, root2) is expected


# --- Randomized cross-checks ---------------------------------------------------------------


def test_tree_roots_match_rfc_definition_for_every_size() -> None:
    assert [BIG.root(n) for n in range(MAX_SIZE + 1)] == ROOTS


@given(seed=st.binary(max_size=8), size=st.integers(min_value=0, max_value=MAX_SIZE))
def test_tree_root_matches_rfc_definition_for_random_leaves(seed: bytes, size: int) -> None:
    leaves = [leaf_hash(seed + i.to_bytes(2, "big")) for i in range(size)]
    tree = MerkleTree()
    for h in leaves:
        tree.append(h)
    assert tree.root() == root_from_leaves(leaves)


@settings(max_examples=40, deadline=None)
@given(size=sizes)
def test_every_inclusion_proof_verifies(size: int) -> None:
    failed = [
        index
        for index in range(size)
        if not verify_inclusion(
            LEAVES[index], index, size, BIG.inclusion_proof(index, size), ROOTS[size]
        )
    ]
    assert failed == []


@settings(max_examples=40, deadline=None)
@given(size2=st.integers(min_value=0, max_value=MAX_SIZE))
def test_every_consistency_proof_verifies(size2: int) -> None:
    failed = [
        size1
        for size1 in range(size2 + 1)
        if not verify_consistency(
            size1, size2, BIG.consistency_proof(size1, size2), ROOTS[size1], ROOTS[size2]
        )
    ]
    assert failed == []


def test_past_size_proofs_equal_proofs_of_a_tree_of_that_size() -> None:
    small = MerkleTree()
    for h in LEAVES[:77]:
        small.append(h)
    assert [BIG.inclusion_proof(i, 77) for i in range(77)] == [
        small.inclusion_proof(i) for i in range(77)
    ]
    assert [BIG.consistency_proof(m, 77) for m in range(78)] == [
        small.consistency_proof(m) for m in range(78)
    ]


def test_proof_lengths_match_generated_proofs() -> None:
    for size in range(1, 70):
        for index in range(size):
            assert len(BIG.inclusion_proof(index, size)) == inclusion_proof_length(index, size)
        for size1 in range(size + 1):
            assert len(BIG.consistency_proof(size1, size)) == consistency_proof_length(size1, size)


@st.composite
def inclusion_cases(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int, list[bytes]]:
    size = draw(st.integers(min_value=min_size, max_value=MAX_SIZE))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return index, size, BIG.inclusion_proof(index, size)


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    """Non-trivial cases: 0 < size1 < size2, so the proof is not empty."""
    size2 = draw(st.integers(min_value=2, max_value=MAX_SIZE))
    size1 = draw(st.integers(min_value=1, max_value=size2 - 1))
    return size1, size2, BIG.consistency_proof(size1, size2)


@given(case=inclusion_cases(min_size=2), data=st.data())
def test_inclusion_proof_with_flipped_bit_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    element = data.draw(st.integers(0, len(proof) - 1))
    bad = _flip_bit(proof, element, data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7)))
    assert not verify_inclusion(LEAVES[index], index, size, bad, ROOTS[size])


@given(case=inclusion_cases(), data=st.data())
def test_inclusion_proof_with_extra_hash_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    extra = data.draw(st.sampled_from([OTHER_HASH, ROOTS[size], LEAVES[index], *proof]))
    bad = list(proof)
    bad.insert(data.draw(st.integers(0, len(proof))), extra)
    assert not verify_inclusion(LEAVES[index], index, size, bad, ROOTS[size])


@given(case=inclusion_cases(min_size=2), data=st.data())
def test_inclusion_proof_with_missing_hash_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    bad = list(proof)
    del bad[data.draw(st.integers(0, len(proof) - 1))]
    assert not verify_inclusion(LEAVES[index], index, size, bad, ROOTS[size])


@given(case=inclusion_cases(min_size=2), data=st.data())
def test_inclusion_proof_for_wrong_index_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    other = data.draw(st.integers(0, 2 * size).filter(lambda i: i != index))
    assert not verify_inclusion(LEAVES[index], other, size, proof, ROOTS[size])


@given(case=inclusion_cases(), data=st.data())
def test_inclusion_proof_with_wrong_leaf_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    other = data.draw(st.sampled_from([OTHER_HASH, *(h for h in LEAVES if h != LEAVES[index])]))
    assert not verify_inclusion(other, index, size, proof, ROOTS[size])


@given(case=inclusion_cases(), other=st.integers(min_value=0, max_value=2 * MAX_SIZE))
def test_inclusion_proof_for_wrong_size_fails_unless_path_shape_is_identical(
    case: tuple[int, int, list[bytes]], other: int
) -> None:
    # A proof commits to a size only through the path's shape: sizes giving the leaf the
    # same path (e.g. leaf 0 of 5 or 6 leaves) accept the same proof for the same root.
    index, size, proof = case
    assume(other != size)
    same_shape = index < other and _inclusion_shape(index, other) == _inclusion_shape(index, size)
    assert verify_inclusion(LEAVES[index], index, other, proof, ROOTS[size]) is same_shape


def test_inclusion_proof_is_accepted_for_a_size_with_the_same_path_shape() -> None:
    # Leaf 0 has the path left-left-left in trees of 5 and of 6 leaves.
    assert _inclusion_shape(0, 5) == _inclusion_shape(0, 6)
    assert verify_inclusion(LEAVES[0], 0, 6, BIG.inclusion_proof(0, 5), ROOTS[5])


def test_consistency_proof_is_accepted_for_a_size_with_the_same_shape() -> None:
    # 4 -> 5 and 4 -> 6 are both "old root, then one right-hand subtree".
    assert _consistency_shape(4, 5) == _consistency_shape(4, 6)
    assert verify_consistency(4, 6, BIG.consistency_proof(4, 5), ROOTS[4], ROOTS[5])


@given(case=consistency_cases(), data=st.data())
def test_consistency_proof_with_flipped_bit_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    element = data.draw(st.integers(0, len(proof) - 1))
    bad = _flip_bit(proof, element, data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7)))
    assert not verify_consistency(size1, size2, bad, ROOTS[size1], ROOTS[size2])


@given(case=consistency_cases(), data=st.data())
def test_consistency_proof_with_extra_hash_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    extra = data.draw(st.sampled_from([OTHER_HASH, ROOTS[size1], ROOTS[size2], *proof]))
    bad = list(proof)
    bad.insert(data.draw(st.integers(0, len(proof))), extra)
    assert not verify_consistency(size1, size2, bad, ROOTS[size1], ROOTS[size2])


@given(case=consistency_cases(), data=st.data())
def test_consistency_proof_with_missing_hash_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    bad = list(proof)
    del bad[data.draw(st.integers(0, len(proof) - 1))]
    assert not verify_consistency(size1, size2, bad, ROOTS[size1], ROOTS[size2])


@given(case=consistency_cases(), data=st.data())
def test_consistency_proof_with_wrong_roots_fails(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    root1 = data.draw(st.sampled_from(ROOTS))
    root2 = data.draw(st.sampled_from(ROOTS))
    assume((root1, root2) != (ROOTS[size1], ROOTS[size2]))
    assert not verify_consistency(size1, size2, proof, root1, root2)


@given(case=consistency_cases(), other=st.integers(min_value=0, max_value=2 * MAX_SIZE))
def test_consistency_proof_for_wrong_size1_fails_unless_shape_is_identical(
    case: tuple[int, int, list[bytes]], other: int
) -> None:
    size1, size2, proof = case
    assume(other != size1)
    same_shape = 0 < other < size2 and _consistency_shape(other, size2) == _consistency_shape(
        size1, size2
    )
    assert verify_consistency(other, size2, proof, ROOTS[size1], ROOTS[size2]) is same_shape


@given(case=consistency_cases(), other=st.integers(min_value=0, max_value=2 * MAX_SIZE))
def test_consistency_proof_for_wrong_size2_fails_unless_shape_is_identical(
    case: tuple[int, int, list[bytes]], other: int
) -> None:
    # As for inclusion, sizes with the same proof shape (e.g. 4 -> 5 and 4 -> 6) accept the
    # same proof: the size is bound by the signed checkpoint that carries the root.
    size1, size2, proof = case
    assume(other != size2)
    same_shape = size1 < other and _consistency_shape(size1, other) == _consistency_shape(
        size1, size2
    )
    assert verify_consistency(size1, other, proof, ROOTS[size1], ROOTS[size2]) is same_shape


# --- Cost: no operation rehashes the tree --------------------------------------------------


@pytest.fixture
def count_node_hashes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls = 0
    real = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)

    def take() -> int:
        nonlocal calls
        taken, calls = calls, 0
        return taken

    return take


def test_append_hashes_each_completed_subtree_once(count_node_hashes: Callable[[], int]) -> None:
    tree = MerkleTree()
    n = 5000
    for i in range(n):
        tree.append(leaf_hash(i.to_bytes(4, "big")))
    # A tree of n leaves has n - popcount(n) complete interior subtrees.
    assert count_node_hashes() == n - n.bit_count()


def test_roots_and_proofs_cost_logarithmic_hashes(count_node_hashes: Callable[[], int]) -> None:
    tree = MerkleTree()
    for i in range(5000):
        tree.append(leaf_hash(i.to_bytes(4, "big")))
    count_node_hashes()
    bound = (5000).bit_length()  # one hash per peak of the right edge at most
    for size in (1, 2, 3, 1000, 4095, 4096, 4097, 4999, 5000):
        tree.root(size)
        assert count_node_hashes() <= bound
        tree.inclusion_proof(size // 3, size)
        assert count_node_hashes() <= bound
        tree.consistency_proof(size // 3, size)
        assert count_node_hashes() <= bound


# --- Bad arguments: MerkleTree raises ValueError ------------------------------------------


def test_append_returns_consecutive_indexes() -> None:
    tree = MerkleTree()
    assert [tree.append(h) for h in REF_LEAVES] == list(range(len(REF_LEAVES)))
    assert tree.size == len(REF_LEAVES)


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x00" * (HASH_SIZE - 1), b"\x00" * (HASH_SIZE + 1), "a" * HASH_SIZE, None, 0],
    ids=["empty", "short", "long", "str", "None", "int"],
)
def test_append_rejects_anything_but_a_32_byte_hash(bad: Any) -> None:
    tree = _ref_tree()
    with pytest.raises(ValueError, match="32-byte"):
        tree.append(bad)
    assert (tree.size, tree.root()) == (len(REF_LEAVES), REF_ROOTS[-1])


@pytest.mark.parametrize("size", [-1, 9, 100])
def test_root_rejects_size_outside_tree(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        _ref_tree().root(size)


@pytest.mark.parametrize(("index", "size"), [(-1, 8), (8, 8), (5, 5), (9, 8), (0, 0)])
def test_inclusion_proof_rejects_index_not_below_size(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="index"):
        _ref_tree().inclusion_proof(index, size)


@pytest.mark.parametrize("size", [-1, 9, 100])
def test_inclusion_proof_rejects_size_outside_tree(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        _ref_tree().inclusion_proof(0, size)


def test_inclusion_proof_on_empty_tree_raises() -> None:
    with pytest.raises(ValueError, match="index"):
        MerkleTree().inclusion_proof(0)


@pytest.mark.parametrize(("size1", "size2"), [(-1, 8), (5, 4), (9, 8), (1, 0)])
def test_consistency_proof_rejects_size1_outside_range(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match="size1"):
        _ref_tree().consistency_proof(size1, size2)


@pytest.mark.parametrize("size2", [-1, 9, 100])
def test_consistency_proof_rejects_size2_outside_tree(size2: int) -> None:
    with pytest.raises(ValueError, match="size2"):
        _ref_tree().consistency_proof(0, size2)


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 8), (3, 3), (8, 8)])
def test_consistency_proof_from_empty_or_same_size_is_empty(size1: int, size2: int) -> None:
    assert _ref_tree().consistency_proof(size1, size2) == []


@pytest.mark.parametrize(("index", "size"), [(-1, 1), (0, 0), (3, 3), (True, 2)])
def test_inclusion_proof_length_rejects_index_not_below_size(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof_length(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(-1, 1), (2, 1), (0, -1)])
def test_consistency_proof_length_rejects_size1_above_size2(size1: int, size2: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof_length(size1, size2)


# --- Bad arguments: verifiers return False and never raise -------------------------------

_LEAF0, _PROOF0, _ROOT8 = REF_LEAVES[0], _hexes(TREE["inclusion_proofs"][1]["proof"]), REF_ROOTS[7]


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "root"),
    [
        (_LEAF0, -1, 8, _PROOF0, _ROOT8),
        (_LEAF0, 8, 8, _PROOF0, _ROOT8),
        (_LEAF0, 2**64 - 1, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0, -8, _PROOF0, _ROOT8),
        (_LEAF0, 0, 0, [], EMPTY_ROOT),
        (_LEAF0, False, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0.0, 8, _PROOF0, _ROOT8),
        (_LEAF0, "0", 8, _PROOF0, _ROOT8),
        (_LEAF0, None, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0, None, _PROOF0, _ROOT8),
        (_LEAF0[:-1], 0, 8, _PROOF0, _ROOT8),
        (_LEAF0 + b"\x00", 0, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0, 8, _PROOF0, _ROOT8[:-1]),
        (None, 0, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0, 8, _PROOF0, None),
        (_LEAF0.hex(), 0, 8, _PROOF0, _ROOT8),
        (_LEAF0, 0, 8, None, _ROOT8),
        (_LEAF0, 0, 8, b"".join(_PROOF0), _ROOT8),
        (_LEAF0, 0, 8, [p.hex() for p in _PROOF0], _ROOT8),
        (_LEAF0, 0, 8, [*_PROOF0[:2], None], _ROOT8),
        (_LEAF0, 0, 8, [*_PROOF0[:2], _PROOF0[2][:-1]], _ROOT8),
        (_LEAF0, 0, 8, iter(_PROOF0), _ROOT8),
    ],
)
def test_verify_inclusion_returns_false_for_malformed_arguments(
    leaf: Any, index: Any, size: Any, proof: Any, root: Any
) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) is False


def test_verify_inclusion_accepts_any_sequence_of_hashes() -> None:
    assert verify_inclusion(_LEAF0, 0, 8, tuple(_PROOF0), _ROOT8)


_CPROOF = _hexes(TREE["consistency_proofs"][4]["proof"])  # 6 -> 7
_ROOT6, _ROOT7 = REF_ROOTS[5], REF_ROOTS[6]


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "root1", "root2"),
    [
        (7, 6, _CPROOF, _ROOT6, _ROOT7),
        (-6, 7, _CPROOF, _ROOT6, _ROOT7),
        (6, -7, _CPROOF, _ROOT6, _ROOT7),
        (6.0, 7, _CPROOF, _ROOT6, _ROOT7),
        (6, None, _CPROOF, _ROOT6, _ROOT7),
        (True, 7, _CPROOF, _ROOT6, _ROOT7),
        (0, 7, _CPROOF, EMPTY_ROOT, _ROOT7),
        (0, 0, [], b"", b""),
        (1, 1, [], b"x", b"x"),
        (6, 7, _CPROOF, _ROOT6[:-1], _ROOT7),
        (6, 7, _CPROOF, _ROOT6, _ROOT7 + b"\x00"),
        (6, 7, _CPROOF, None, _ROOT7),
        (6, 7, _CPROOF, _ROOT6, _ROOT7.hex()),
        (6, 7, None, _ROOT6, _ROOT7),
        (6, 7, b"".join(_CPROOF), _ROOT6, _ROOT7),
        (6, 7, "".join(p.hex() for p in _CPROOF), _ROOT6, _ROOT7),
        (6, 7, [*_CPROOF[:2], 0], _ROOT6, _ROOT7),
        (6, 7, [*_CPROOF[:2], _CPROOF[2] * 2], _ROOT6, _ROOT7),
        (6, 7, iter(_CPROOF), _ROOT6, _ROOT7),
    ],
)
def test_verify_consistency_returns_false_for_malformed_arguments(
    size1: Any, size2: Any, proof: Any, root1: Any, root2: Any
) -> None:
    assert verify_consistency(size1, size2, proof, root1, root2) is False


def test_verify_consistency_accepts_any_sequence_of_hashes() -> None:
    assert verify_consistency(6, 7, tuple(_CPROOF), _ROOT6, _ROOT7)


_any_count = st.integers(min_value=-(2**70), max_value=2**70) | st.integers(-2, 40)
_any_hash = st.binary(min_size=30, max_size=34) | st.sampled_from([*REF_LEAVES, *REF_ROOTS])
_any_proof = st.lists(_any_hash, max_size=12)


@given(leaf=_any_hash, index=_any_count, size=_any_count, proof=_any_proof, root=_any_hash)
def test_verify_inclusion_never_raises(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assert isinstance(verify_inclusion(leaf, index, size, proof, root), bool)


@given(size1=_any_count, size2=_any_count, proof=_any_proof, root1=_any_hash, root2=_any_hash)
def test_verify_consistency_never_raises(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    assert isinstance(verify_consistency(size1, size2, proof, root1, root2), bool)
