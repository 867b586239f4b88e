"""The stored-row Merkle tree agrees with the in-memory reference on every root and proof."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.audit.leaf import decode_leaf, transfer_leaf
from corridor.audit.merkle import MerkleTree, verify_consistency, verify_inclusion
from corridor.audit.tiles import TileAppender, TileReader, leaf_hashes
from corridor.ledger import Account, Ledger, Transfer


def _leaf(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(1, 700), min_size=1, max_size=6),
    restarts=st.lists(st.booleans(), min_size=6, max_size=6),
    data=st.data(),
)
def test_stored_rows_give_the_same_roots_and_proofs_as_the_reference(
    batches: list[int], restarts: list[bool], data: st.DataObject
) -> None:
    rows: dict[tuple[int, int], bytes] = {}
    appender = TileAppender()
    reference = MerkleTree()
    for count, restart in zip(batches, restarts, strict=False):
        hashes = [_leaf(reference.size + k) for k in range(count)]
        appender.append(hashes)
        for h in hashes:
            reference.append(h)
        rows.update(appender.changed_rows())
        if restart:  # resume from stored rows only, as Ledger.open does
            tails = {key[0]: rows[key] for key in TileAppender.tail_keys(appender.size)}
            appender = TileAppender(appender.size, tails)
    reader = TileReader(lambda level, row: rows.get((level, row)), appender.size)
    size = data.draw(st.integers(1, appender.size))
    assert reader.root(size) == reference.root(size)
    index = data.draw(st.integers(0, size - 1))
    proof = reader.inclusion_proof(index, size)
    assert proof == reference.inclusion_proof(index, size)
    assert verify_inclusion(reference_leaf(reference, index), index, size, proof, reader.root(size))
    older = data.draw(st.integers(0, size))
    consistency = reader.consistency_proof(older, size)
    assert consistency == reference.consistency_proof(older, size)
    assert verify_consistency(older, size, consistency, reader.root(older), reader.root(size))


def reference_leaf(tree: MerkleTree, index: int) -> bytes:
    return _leaf(index)


def test_resuming_with_a_wrong_stored_row_is_refused() -> None:
    appender = TileAppender()
    appender.append([_leaf(i) for i in range(300)])
    rows = appender.changed_rows()
    tails = {key[0]: rows[key] for key in TileAppender.tail_keys(300)}
    tails[0] = tails[0][:-32]
    with pytest.raises(ValueError, match="holds"):
        TileAppender(300, tails)


def test_reader_refuses_sizes_beyond_the_log() -> None:
    appender = TileAppender()
    appender.append([_leaf(i) for i in range(10)])
    rows = appender.changed_rows()
    reader = TileReader(lambda level, row: rows.get((level, row)), 10)
    with pytest.raises(ValueError):
        reader.root(11)
    with pytest.raises(ValueError):
        reader.inclusion_proof(10, 10)


def test_every_committed_transfer_is_a_leaf_of_the_durable_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as ledger:
        ledger.create_accounts([Account(id=i, ledger=392, code=1) for i in (1, 2)])
        transfers = [
            Transfer(id=100 + i, debit_account_id=1, credit_account_id=2, amount=i + 1,
                     ledger=392, code=1)
            for i in range(40)
        ]  # fmt: skip
        ledger.create_transfers(transfers[:25])
        ledger.create_transfers(transfers[25:])
        digest = hashlib.sha256(b"a document").digest()
        [document_index] = ledger.notarize([digest])
        log = ledger.log()
        assert log.size == 41 and document_index == 40
        stored = [ledger.store.transfer_row(t.id) for t in transfers]
        leaves = [transfer_leaf(row) for row in stored if row is not None]
        assert [decode_leaf(leaf).fields["amount"] for leaf in leaves] == list(range(1, 41))
        reference = MerkleTree()
        for h in leaf_hashes(leaves):
            reference.append(h)
        assert log.root(40) == reference.root()
    with Ledger.open(path) as reopened:
        reopened.create_transfers(
            [Transfer(id=999, debit_account_id=2, credit_account_id=1, amount=5, ledger=392,
                      code=1)]
        )  # fmt: skip
        assert reopened.log().size == 42
        assert reopened.log().root(40) == reference.root()
