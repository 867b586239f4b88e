"""Receipts: made from the stored log, checked offline with the log's key, tamper-evident."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corridor.audit.errors import AuditError, ReceiptError
from corridor.audit.keys import parse_log_vkey, parse_witness_vkey
from corridor.audit.log import (
    accept_cosignatures,
    checkpoint_log,
    init_log,
    prove_index,
    prove_transfer,
)
from corridor.audit.note import generate_cosigner, load_cosigner
from corridor.audit.receipt import Receipt, verify_receipt
from corridor.audit.registry import AuditStore, WitnessRecord
from corridor.audit.witness import witness_checkpoint
from corridor.ledger import Ledger
from tests.audit.test_log_build import (
    DOCUMENT,
    EXPIRING_ID,
    PENDING_ID,
    POST_ID,
    RICH_ID,
    Built,
    built,
    template,
)

__all__ = ["built", "template"]


def prove(built: Built, transfer_id: int) -> Receipt:
    with AuditStore.open(built.db) as store:
        return prove_transfer(store, transfer_id)


def check(built: Built, receipt: Receipt, **kw: object) -> object:
    return verify_receipt(receipt, parse_log_vkey(built.vkey), **kw)  # type: ignore[arg-type]


def failure(built: Built, receipt: Receipt | str, **kw: object) -> str:
    with pytest.raises(ReceiptError) as error:
        parsed = receipt if isinstance(receipt, Receipt) else Receipt.loads(receipt)
        check(built, parsed, **kw)
    return error.value.code


def test_a_transfer_receipt_verifies_and_decodes(built: Built) -> None:
    receipt = prove(built, RICH_ID)
    again = Receipt.loads(receipt.dumps())
    assert again == receipt
    verified = check(built, again, origin=built.origin)
    assert verified.leaf.kind == "transfer"  # type: ignore[attr-defined]
    fields = verified.leaf.fields  # type: ignore[attr-defined]
    assert (fields["id"], fields["amount"], fields["user_data_128"]) == (
        RICH_ID, 12345, (1 << 127) + 5
    )  # fmt: skip
    assert verified.checkpoint.size == built.size  # type: ignore[attr-defined]
    post = check(built, prove(built, POST_ID)).leaf.fields  # type: ignore[attr-defined]
    assert post["pending_id"] == PENDING_ID


def test_expiry_and_document_leaves_have_receipts(built: Built) -> None:
    with AuditStore.open(built.db) as store:
        expiry = prove_index(store, built.expiry_index)
        document = prove_index(store, built.document_index)
    assert check(built, expiry).leaf.fields["pending_id"] == EXPIRING_ID  # type: ignore[attr-defined]
    digest = hashlib.sha256(DOCUMENT).digest()
    check(built, document, document_sha256=digest)
    with pytest.raises(ReceiptError) as error:
        check(built, document, document_sha256=hashlib.sha256(b"other").digest())
    assert error.value.code == "document_mismatch"
    with pytest.raises(ReceiptError) as error:
        check(built, expiry, document_sha256=digest)
    assert error.value.code == "document_mismatch"


def test_the_receipt_uses_the_latest_checkpoint_covering_the_leaf(built: Built) -> None:
    with Ledger.open(built.db) as ledger:
        (index,) = ledger.notarize([bytes(32)])
    with AuditStore.open(built.db) as store, pytest.raises(AuditError) as error:
        prove_index(store, index)
    assert error.value.code == "not_checkpointed"
    assert "corridor audit checkpoint" in str(error.value)
    checkpoint_log(built.db)
    assert prove(built, RICH_ID).tree_size == built.size + 1


def test_unknown_transfers_and_indexes_are_refused(built: Built) -> None:
    with AuditStore.open(built.db) as store:
        for call, code in (
            (lambda: prove_transfer(store, 999_999), "transfer_not_found"),
            (lambda: prove_transfer(store, 1 << 128), "transfer_not_found"),
            (lambda: prove_index(store, built.size), "leaf_not_found"),
            (lambda: prove_index(store, -1), "leaf_not_found"),
        ):
            with pytest.raises(AuditError) as error:
                call()
            assert error.value.code == code


def test_no_receipt_is_made_from_a_changed_row(built: Built) -> None:
    with sqlite3.connect(built.db) as c:
        c.execute("UPDATE transfers SET amount = 1 WHERE id = ?", (RICH_ID.to_bytes(16, "big"),))
    c.close()
    with pytest.raises(AuditError) as error:
        prove(built, RICH_ID)
    assert error.value.code == "log_mismatch"


# -- tampering -----------------------------------------------------------------------------


def _edit(receipt: Receipt, **changes: object) -> str:
    data = receipt.to_json()
    data.update(changes)
    return json.dumps(data)


def test_every_tampered_part_fails(built: Built) -> None:
    receipt = prove(built, RICH_ID)
    data = receipt.to_json()
    leaf = bytearray(receipt.leaf)
    leaf[100] ^= 1
    assert failure(built, _edit(receipt, leaf=leaf.hex())) == "bad_proof"
    proof = list(data["inclusion_proof"])  # type: ignore[call-overload]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
    assert failure(built, _edit(receipt, inclusion_proof=proof)) == "bad_proof"
    assert failure(built, _edit(receipt, inclusion_proof=proof[:-1])) == "bad_proof"
    assert failure(built, _edit(receipt, leaf_index=receipt.leaf_index + 1)) == "bad_proof"
    assert failure(built, _edit(receipt, tree_size=receipt.tree_size + 1)) == "bad_proof"
    note = receipt.checkpoint.replace(f"\n{built.size}\n", f"\n{built.size - 1}\n")
    assert failure(built, _edit(receipt, checkpoint=note)) == "bad_signature"
    assert failure(built, _edit(receipt, checkpoint=receipt.checkpoint[:-5])) in {
        "bad_signature",
        "malformed_checkpoint",
    }
    assert failure(built, _edit(receipt, checkpoint="hello\n")) == "malformed_checkpoint"
    assert failure(built, receipt, origin="other.example/log") == "origin_mismatch"


def test_a_receipt_checked_with_another_key_fails(built: Built, tmp_path: Path) -> None:
    other = init_log(tmp_path / "other.db")
    with pytest.raises(ReceiptError) as error:
        verify_receipt(prove(built, RICH_ID), parse_log_vkey(other.vkey))
    assert error.value.code == "bad_signature"


def test_a_leaf_that_does_not_decode_fails(built: Built) -> None:
    receipt = prove(built, RICH_ID)
    odd = Receipt(b"\x09\x01", 0, 1, (), receipt.checkpoint)
    assert failure(built, odd) == "bad_proof"  # the proof is checked before decoding


MALFORMED: dict[str, Callable[[dict[str, Any]], object]] = {
    "not json": lambda d: "not json",
    "not an object": lambda d: [],
    "missing keys": lambda d: {"format": d["format"]},
    "an extra key": lambda d: {**d, "extra": 1},
    "another format": lambda d: {**d, "format": "corridor-receipt/v0"},
    "a bool index": lambda d: {**d, "leaf_index": True},
    "a negative size": lambda d: {**d, "tree_size": -1},
    "uppercase hex": lambda d: {**d, "leaf": d["leaf"].upper()},
    "odd hex": lambda d: {**d, "leaf": d["leaf"][:-1]},
    "a short proof hash": lambda d: {**d, "inclusion_proof": ["00"]},
    "a proof that is not a list": lambda d: {**d, "inclusion_proof": "00"},
    "a checkpoint that is not text": lambda d: {**d, "checkpoint": 5},
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_receipts_are_refused(built: Built, name: str) -> None:
    made = MALFORMED[name](prove(built, RICH_ID).to_json())
    text = made if isinstance(made, str) else json.dumps(made)
    with pytest.raises(ReceiptError) as error:
        Receipt.loads(text)
    assert error.value.code == "malformed_receipt"


# -- witnessed receipts --------------------------------------------------------------------


def test_a_receipt_carries_the_cosignatures_and_can_demand_a_quorum(built: Built) -> None:
    keys = {name: generate_cosigner(name) for name in ("w1", "w2")}
    with AuditStore.open(built.db, writable=True) as store:
        for name, (_, vkey) in keys.items():
            store.update_witnesses(add=WitnessRecord(name, vkey, 0))
        (record,) = store.checkpoints()
        result = witness_checkpoint(
            None, record.note, [], load_cosigner(keys["w1"][0]), log_vkey=built.vkey
        )
        accept_cosignatures(store, result.cosigned_note)
    receipt = prove(built, RICH_ID)
    assert "\n— w1 " in receipt.checkpoint
    w1, w2 = (parse_witness_vkey(keys[n][1]) for n in ("w1", "w2"))
    verified = check(built, receipt, witnesses=[w1, w2], quorum=1)
    assert [c.name for c in verified.cosignatures] == ["w1"]  # type: ignore[attr-defined]
    assert failure(built, receipt, witnesses=[w1, w2], quorum=2) == "not_witnessed"
    forged = receipt.checkpoint.replace("\n— w1 ", "\n— w1 A", 1)
    assert failure(built, _edit(receipt, checkpoint=forged), witnesses=[w1]) in {
        "bad_cosignature",
        "malformed_checkpoint",
        "bad_signature",
    }
