"""`verify_log` recomputes the audit log from the tables and names the first tampering.

Each test takes its own copy of one built ledger (every kind of leaf, checkpointed), changes
one thing in it with plain SQL, as someone with write access to the file could, and checks
that verification fails naming that thing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from corridor.audit.errors import AuditError
from corridor.audit.log import checkpoint_log, init_log
from corridor.audit.merkle import MerkleTree, leaf_hash
from corridor.audit.registry import AuditStore
from corridor.audit.sources import leaf_of, sorted_rows
from corridor.audit.tiles import TileAppender
from corridor.audit.verify import verify_log
from corridor.ledger import Account, Ledger, Transfer
from tests.audit.test_log_build import (
    EXPIRING_ID,
    LEDGER,
    POST_ID,
    RICH_ID,
    Built,
    build_ledger,
    built,
    template,
)

__all__ = ["built", "template"]  # fixtures re-exported for pytest

LEAF_COLUMNS = [
    "timestamp",
    "id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "pending_id",
    "user_data_128",
    "user_data_64",
    "user_data_32",
    "timeout",
    "ledger",
    "code",
    "flags",
]


@contextmanager
def sql(db: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def log_index_of(db: Path, transfer_id: int) -> int:
    with sql(db) as c:
        row = c.execute(
            "SELECT log_index FROM transfers WHERE id = ?", (transfer_id.to_bytes(16, "big"),)
        ).fetchone()
    return int(row[0])


def changed(value: object, column: str) -> object:
    """Another value for a stored column: one byte flipped, one added, or one set."""
    if value is None:
        return (1).to_bytes(16, "big")
    if isinstance(value, bytes):
        return bytes([value[0] ^ 0xFF]) + value[1:]
    assert isinstance(value, int)
    return value + (10**12 if column == "timestamp" else 1)


def rebuild_tree(db: Path) -> None:
    """Rewrite log_hashes from the tables, as an attacker covering their tracks would."""
    with sql(db) as c:
        leaves = [leaf_of(row) for row in sorted_rows(c)]
        appender = TileAppender()
        appender.append([leaf_hash(leaf) for leaf in leaves])
        c.execute("DELETE FROM log_hashes")
        c.executemany(
            "INSERT INTO log_hashes (level, row, hashes) VALUES (?, ?, ?)",
            [(level, row, blob) for (level, row), blob in appender.changed_rows().items()],
        )
        c.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(len(leaves)),))


def problem(built: Built) -> tuple[str, str, int | None]:
    report = verify_log(built.db)
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.code, report.problem.message, report.problem.log_index


# -- sound logs ----------------------------------------------------------------------------


def test_a_sound_log_verifies_and_is_counted(built: Built) -> None:
    report = verify_log(built.db)
    assert report.ok, report.problem
    assert (report.leaves, report.transfers, report.expiries, report.documents) == (36, 34, 1, 1)
    assert report.checkpoints == 1 and report.log_size == 36 and report.origin == built.origin
    assert report.to_json()["ok"] is True


def test_recomputed_roots_match_the_reference_tree(built: Built) -> None:
    with AuditStore.open(built.db) as store:
        leaves = [leaf_of(row) for row in sorted_rows(store.connection)]
        (checkpoint,) = store.checkpoints()
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf_hash(leaf))
    assert tree.root() == checkpoint.root


def test_many_checkpoints_across_tree_rows_verify(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    init_log(db)
    with Ledger.open(db) as ledger:
        ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in (1, 2)])
        next_id = 1000
        for count in (1, 15, 16, 240, 300, 5):
            transfers = [
                Transfer(
                    id=next_id + k,
                    debit_account_id=1,
                    credit_account_id=2,
                    amount=1,
                    ledger=LEDGER,
                    code=1,
                )
                for k in range(count)
            ]
            next_id += count
            ledger.create_transfers(transfers)
            checkpoint_log(db)
    report = verify_log(db)
    assert report.ok, report.problem
    assert report.leaves == 577 and report.checkpoints == 6 and report.tree_rows == 5
    with sql(db) as c:
        c.execute("UPDATE transfers SET amount = 2 WHERE log_index = 530")
    assert verify_log(db).problem is not None
    assert verify_log(db).problem.log_index == 530  # type: ignore[union-attr]


def test_an_uninitialized_log_checks_the_tree_only(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    build_ledger(db, transfers=3)
    report = verify_log(db)
    assert report.ok and report.checkpoints == 0 and report.notes


def test_a_pinned_key_must_be_the_logs(built: Built, tmp_path: Path) -> None:
    assert verify_log(built.db, vkey=built.vkey).ok
    other = init_log(tmp_path / "other.db")
    report = verify_log(built.db, vkey=other.vkey)
    assert report.problem is not None and report.problem.code == "key_mismatch"
    with pytest.raises(AuditError) as error:
        verify_log(built.db, vkey="not a key")
    assert error.value.code == "bad_key"


# -- tampered transfers --------------------------------------------------------------------


@pytest.mark.parametrize("column", LEAF_COLUMNS)
def test_changing_any_leaf_column_of_a_transfer_is_named(built: Built, column: str) -> None:
    target = POST_ID if column == "pending_id" else RICH_ID
    index = log_index_of(built.db, target)
    with sql(built.db) as c:
        key = target.to_bytes(16, "big")
        (value,) = c.execute(f"SELECT {column} FROM transfers WHERE id = ?", (key,)).fetchone()
        c.execute(f"UPDATE transfers SET {column} = ? WHERE id = ?", (changed(value, column), key))
    code, message, at = problem(built)
    assert code == "leaf_mismatch"
    assert at == index
    assert message.startswith(f"leaf {index} (transfer 0x")
    assert "recomputed hash differs from the stored tree" in message
    if column != "id":
        assert f"transfer {hex(target)}" in message


def test_changing_a_transfers_log_index_is_named(built: Built) -> None:
    index = log_index_of(built.db, RICH_ID)
    with sql(built.db) as c:
        c.execute("UPDATE transfers SET log_index = 500 WHERE log_index = ?", (index,))
    code, message, at = problem(built)
    assert (code, at) == ("log_gap", index)
    assert f"log_index gap at {index}" in message


def test_a_repeated_log_index_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("UPDATE transfers SET log_index = 4 WHERE log_index = 5")
    code, message, _ = problem(built)
    assert code == "duplicate_log_index"
    assert "log_index 4 is used twice" in message


def test_deleting_a_transfer_is_named(built: Built) -> None:
    index = log_index_of(built.db, 20)
    with sql(built.db) as c:
        c.execute("DELETE FROM transfers WHERE id = ?", ((20).to_bytes(16, "big"),))
    code, message, at = problem(built)
    assert (code, at) == ("log_gap", index)
    assert "transfer 0x15" in message  # the next leaf


def test_reordering_two_transfers_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("UPDATE transfers SET log_index = -1 WHERE log_index = 3")
        c.execute("UPDATE transfers SET log_index = 3 WHERE log_index = 7")
        c.execute("UPDATE transfers SET log_index = 7 WHERE log_index = -1")
    code, message, at = problem(built)
    assert (code, at) == ("leaf_mismatch", 3)
    assert message.startswith("leaf 3 (transfer 0x11)")


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("id", b"\x00" * 15 + b"\x0a" + b"\x00", "id is not a 16-byte BLOB"),
        ("pending_id", bytes(16), "zero BLOB"),
        ("amount", "ten", "amount is not an INTEGER"),
        ("amount", -1, "out of its leaf field's range"),
    ],
)
def test_a_row_the_writer_cannot_have_stored_is_named(
    built: Built, column: str, value: object, why: str
) -> None:
    index = log_index_of(built.db, 10)
    with sql(built.db) as c:
        c.execute(
            f"UPDATE transfers SET {column} = ? WHERE id = ?", (value, (10).to_bytes(16, "big"))
        )
    code, message, at = problem(built)
    assert (code, at) == ("bad_row", index)
    assert why in message


def test_a_text_log_index_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("UPDATE transfers SET log_index = 'x' WHERE log_index = 2")
    code, message, _ = problem(built)
    assert code == "bad_row" and "not an integer" in message


def test_a_rewritten_transfer_with_a_rebuilt_tree_breaks_the_checkpoint(built: Built) -> None:
    with sql(built.db) as c:
        c.execute(
            "UPDATE transfers SET amount = 999999 WHERE id = ?", (RICH_ID.to_bytes(16, "big"),)
        )
    rebuild_tree(built.db)
    code, message, _ = problem(built)
    assert code == "checkpoint_root"
    assert message == f"checkpoint of size {built.size}: root does not match the log"


def test_removing_signed_leaves_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("DELETE FROM documents")
    rebuild_tree(built.db)
    code, message, _ = problem(built)
    assert code == "checkpoint_beyond_log"
    assert f"checkpoint of size {built.size} is beyond the log ({built.size - 1} leaves)" in message


# -- tampered expiries, documents, tree rows, meta -----------------------------------------


@pytest.mark.parametrize("column", ["pending_id", "timestamp"])
def test_changing_an_expiry_is_named(built: Built, column: str) -> None:
    with sql(built.db) as c:
        (value,) = c.execute(f"SELECT {column} FROM expirations").fetchone()
        c.execute(f"UPDATE expirations SET {column} = ?", (changed(value, column),))
    code, message, at = problem(built)
    assert (code, at) == ("leaf_mismatch", built.expiry_index)
    assert message.startswith(f"leaf {built.expiry_index} (expiry of 0x")
    if column == "timestamp":
        assert f"expiry of {hex(EXPIRING_ID)}" in message


@pytest.mark.parametrize("column", ["sha256", "timestamp"])
def test_changing_a_document_is_named(built: Built, column: str) -> None:
    with sql(built.db) as c:
        (value,) = c.execute(f"SELECT {column} FROM documents").fetchone()
        c.execute(f"UPDATE documents SET {column} = ?", (changed(value, column),))
    code, message, at = problem(built)
    assert (code, at) == ("leaf_mismatch", built.document_index)
    assert message.startswith(f"leaf {built.document_index} (document ")


def test_changing_a_stored_leaf_hash_is_named(built: Built) -> None:
    with sql(built.db) as c:
        (blob,) = c.execute("SELECT hashes FROM log_hashes WHERE level = 0").fetchone()
        offset = 9 * 32
        tampered = blob[:offset] + hashlib.sha256(b"x").digest() + blob[offset + 32 :]
        c.execute("UPDATE log_hashes SET hashes = ? WHERE level = 0", (tampered,))
    code, message, at = problem(built)
    assert (code, at) == ("leaf_mismatch", 9)
    assert message.startswith("leaf 9 (transfer 0x13): recomputed hash differs")


def test_changing_a_stored_upper_hash_is_named(built: Built) -> None:
    with sql(built.db) as c:
        (blob,) = c.execute("SELECT hashes FROM log_hashes WHERE level = 4").fetchone()
        c.execute("UPDATE log_hashes SET hashes = ? WHERE level = 4", (blob[:32] + bytes(32),))
    code, message, at = problem(built)
    assert (code, at) == ("tree_mismatch", 16)
    assert "stored hash at height 4, index 1 (leaves 16..31)" in message


def test_a_missing_or_extra_tree_row_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("INSERT INTO log_hashes VALUES (8, 0, ?)", (bytes(32),))
    code, message, _ = problem(built)
    assert code == "tree_extra" and "(level 8, row 0)" in message
    with sql(built.db) as c:
        c.execute("DELETE FROM log_hashes WHERE level = 8")
        (blob,) = c.execute("SELECT hashes FROM log_hashes WHERE level = 0").fetchone()
        c.execute("UPDATE log_hashes SET hashes = ? WHERE level = 0", (blob + bytes(32),))
    code, message, _ = problem(built)
    assert code == "tree_mismatch" and "(level 0, row 0) is 1184 bytes" in message
    with sql(built.db) as c:
        c.execute("DELETE FROM log_hashes WHERE level = 0")
    code, message, at = problem(built)
    assert (code, at) == ("tree_missing", 0)


def test_a_wrong_meta_log_size_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(built.size + 1),))
    code, message, _ = problem(built)
    assert code == "log_gap"
    assert f"meta.log_size is {built.size + 1}" in message
    with sql(built.db) as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(built.size - 1),))
    code, message, at = problem(built)
    assert (code, at) == ("log_size_mismatch", built.size - 1)
    assert f"beyond meta.log_size {built.size - 1}" in message


# -- tampered checkpoints ------------------------------------------------------------------


def _edit_note(db: Path, old: str, new: str) -> None:
    with sql(db) as c:
        (note,) = c.execute("SELECT note FROM checkpoints").fetchone()
        assert old in note
        c.execute("UPDATE checkpoints SET note = ?", (note.replace(old, new, 1),))


def test_changing_a_checkpoints_note_is_named(built: Built) -> None:
    _edit_note(built.db, f"\n{built.size}\n", f"\n{built.size + 1}\n")
    code, message, _ = problem(built)
    assert code == "checkpoint_signature"
    assert message.startswith(f"checkpoint of size {built.size}: the signature")


def test_a_checkpoint_signed_by_another_key_is_named(built: Built, tmp_path: Path) -> None:
    other = init_log(tmp_path / "other.db", origin=built.origin)
    with sql(other_db := tmp_path / "other.db") as c:
        c.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(0),))
    checkpoint_log(other_db)
    with AuditStore.open(other_db) as store:
        (forged,) = store.checkpoints()
    with sql(built.db) as c:
        c.execute("INSERT INTO checkpoints VALUES (0, ?, ?, 0)", (forged.root, forged.note))
    code, message, _ = problem(built)
    assert code == "checkpoint_signature"
    assert "checkpoint of size 0 is not signed by the log key" in message
    assert other.vkey != built.vkey


def test_a_checkpoint_row_that_disagrees_with_its_note_is_named(built: Built) -> None:
    with sql(built.db) as c:
        c.execute("UPDATE checkpoints SET root = zeroblob(32)")
    code, message, _ = problem(built)
    assert code == "checkpoint_mismatch"
    assert message.startswith(f"checkpoint of size {built.size}")
