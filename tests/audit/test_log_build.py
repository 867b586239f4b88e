"""Operator setup of the audit log: `init_log` keys and identity, `checkpoint_log` signing.

Also the shared builder of the other audit test modules: `build_log` makes a small ledger
whose log holds every kind of leaf (plain transfers with every column set, a pending
transfer and its post, an expiry driven by a fake clock, a notarized document), with the
log initialized and checkpointed; `copy_log` gives each test its own copy of it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from corridor.audit.checkpoint import open_checkpoint
from corridor.audit.errors import AuditError, LogKeyError
from corridor.audit.keys import default_key_file, parse_log_vkey
from corridor.audit.log import checkpoint_log, default_origin, init_log, load_log_signer
from corridor.audit.registry import AuditStore
from corridor.ledger import Account, CreateTransferResult, Ledger, Transfer, TransferFlags

NS = 1_000_000_000
LEDGER = 392
OK = CreateTransferResult.OK
PENDING_ID = 100
POST_ID = 101
EXPIRING_ID = 102
RICH_ID = 0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210
DOCUMENT = b"a content licence, version 1\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.now


@dataclass(frozen=True)
class Built:
    """A built ledger: its database, key file and what its log holds."""

    db: Path
    key_file: Path
    vkey: str
    origin: str
    size: int
    document_index: int
    expiry_index: int


def _transfer(id: int, amount: int = 10, **kw: int) -> Transfer:
    return Transfer(
        id=id, debit_account_id=1, credit_account_id=2, amount=amount, ledger=LEDGER, code=1,
        **kw,
    )  # fmt: skip


def build_ledger(db: Path, transfers: int = 30) -> tuple[int, int]:
    """Fill a ledger; returns (expiry log index, document log index)."""
    clock = FakeClock()
    with Ledger.open(db, clock=clock) as ledger:
        accounts = [Account(id=i, ledger=LEDGER, code=1) for i in (1, 2, 3)]
        assert all(r.value == "ok" for r in ledger.create_accounts(accounts))
        plain = [_transfer(10 + k, amount=k + 1) for k in range(transfers)]
        assert ledger.create_transfers(plain) == [OK] * transfers
        rich = Transfer(
            id=RICH_ID, debit_account_id=2, credit_account_id=3, amount=12345, ledger=LEDGER,
            code=7, user_data_128=(1 << 127) + 5, user_data_64=64, user_data_32=32,
        )  # fmt: skip
        pending = _transfer(PENDING_ID, amount=100, flags=TransferFlags.PENDING, timeout=3600)
        assert ledger.create_transfers([rich, pending]) == [OK, OK]
        post = Transfer(
            id=POST_ID, pending_id=PENDING_ID, amount=60,
            flags=TransferFlags.POST_PENDING_TRANSFER,
        )  # fmt: skip
        expiring = _transfer(EXPIRING_ID, amount=5, flags=TransferFlags.PENDING, timeout=1)
        assert ledger.create_transfers([post, expiring]) == [OK, OK]
        clock.now += 2 * NS
        ledger.pulse()
        (document_index,) = ledger.notarize([hashlib.sha256(DOCUMENT).digest()])
    with sqlite3.connect(db) as connection:
        (expiry_index,) = connection.execute("SELECT log_index FROM expirations").fetchone()
    connection.close()
    return expiry_index, document_index


def build_log(directory: Path, name: str = "ledger.db") -> Built:
    """A ledger with every kind of leaf, its log initialized and checkpointed."""
    db = directory / name
    expiry_index, document_index = build_ledger(db)
    result = init_log(db)
    checkpoint = checkpoint_log(db).record
    return Built(
        db, result.key_file, result.vkey, result.origin, checkpoint.size, document_index,
        expiry_index,
    )  # fmt: skip


def copy_log(built: Built, directory: Path) -> Built:
    """A copy of a built log (database and key file) in `directory`."""
    db = directory / built.db.name
    shutil.copyfile(built.db, db)
    key_file = default_key_file(db)
    shutil.copyfile(built.key_file, key_file)
    key_file.chmod(0o600)
    with AuditStore.open(db, writable=True) as store, store.write():
        store.set_meta("log_key_file", str(key_file.resolve()))
    return Built(
        db, key_file, built.vkey, built.origin, built.size, built.document_index,
        built.expiry_index,
    )  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_log(tmp_path_factory.mktemp("log"))


@pytest.fixture
def built(template: Built, tmp_path: Path) -> Built:
    return copy_log(template, tmp_path)


# -- init ----------------------------------------------------------------------------------


def test_init_creates_an_owner_only_key_and_records_origin_and_vkey(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    result = init_log(db)
    assert result.created
    assert result.key_file == tmp_path / "corridor.db.key"
    assert stat.S_IMODE(result.key_file.stat().st_mode) == 0o600
    assert result.origin == "corridor.local/corridor" == default_origin(db)
    verifier = parse_log_vkey(result.vkey)
    assert result.vkey.startswith("corridor.local/corridor+")
    assert verifier.name == result.origin
    with AuditStore.open(db) as store:
        assert store.meta("log_origin") == result.origin
        assert store.meta("log_vkey") == result.vkey
        assert load_log_signer(store).verifier() == verifier


def test_init_again_is_idempotent_and_never_replaces_the_key(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    first = init_log(db, origin="example.com/log")
    key_text = first.key_file.read_text()
    again = init_log(db)
    assert not again.created
    assert (again.origin, again.vkey) == (first.origin, first.vkey)
    assert first.key_file.read_text() == key_text
    with pytest.raises(AuditError) as error:
        init_log(db, origin="example.com/other")
    assert error.value.code == "already_initialized"
    other = tmp_path / "other.key"
    init_log(tmp_path / "other.db", key_file=other)
    with pytest.raises(LogKeyError) as error:
        init_log(db, key_file=other)
    assert error.value.code == "key_mismatch"
    assert first.key_file.read_text() == key_text


def test_init_refuses_an_existing_key_file_unless_told_to_reuse_it(tmp_path: Path) -> None:
    first = init_log(tmp_path / "a.db")
    with pytest.raises(LogKeyError) as error:
        init_log(tmp_path / "b.db", key_file=first.key_file)
    assert error.value.code == "key_exists"
    reused = init_log(tmp_path / "b.db", key_file=first.key_file, reuse_key=True)
    assert reused.vkey == first.vkey


def test_init_rejects_a_bad_origin_and_a_readable_key(tmp_path: Path) -> None:
    with pytest.raises(AuditError) as error:
        init_log(tmp_path / "a.db", origin="has space")
    assert error.value.code == "bad_origin"
    result = init_log(tmp_path / "a.db")
    result.key_file.chmod(0o644)
    with pytest.raises(LogKeyError) as key_error:
        checkpoint_log(tmp_path / "a.db")
    assert key_error.value.code == "key_permissions"


def test_default_origin_is_a_valid_key_name() -> None:
    assert default_origin(Path("/x/my ledger+1.db")) == "corridor.local/my-ledger-1"
    assert default_origin(Path("/x/+++.db")) == "corridor.local/log"


# -- checkpoints ---------------------------------------------------------------------------


def test_the_built_log_holds_every_kind_of_leaf(built: Built) -> None:
    with AuditStore.open(built.db) as store:
        assert store.log_size() == built.size == 36
        (record,) = store.checkpoints()
    checkpoint = open_checkpoint(record.note, parse_log_vkey(built.vkey), origin=built.origin)
    assert (checkpoint.size, checkpoint.root) == (record.size, record.root)
    assert built.document_index == built.size - 1
    assert 0 < built.expiry_index < built.document_index


def test_checkpoint_is_idempotent_per_size_and_follows_growth(built: Built) -> None:
    again = checkpoint_log(built.db)
    assert not again.new and again.record.size == built.size
    with Ledger.open(built.db) as ledger:
        ledger.notarize([bytes(32)])
    grown = checkpoint_log(built.db)
    assert grown.new and grown.record.size == built.size + 1
    with AuditStore.open(built.db) as store:
        assert [c.size for c in store.checkpoints()] == [built.size, built.size + 1]


def test_checkpoint_refuses_a_log_that_lost_leaves_or_changed(built: Built) -> None:
    with sqlite3.connect(built.db) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(built.size - 1),))
    db.close()
    with pytest.raises(AuditError) as error:
        checkpoint_log(built.db)
    assert error.value.code == "log_rolled_back"
    with sqlite3.connect(built.db) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'log_size'", (str(built.size),))
        db.execute("UPDATE log_hashes SET hashes = zeroblob(length(hashes)) WHERE level = 0")
    db.close()
    with pytest.raises(AuditError) as error:
        checkpoint_log(built.db)
    assert error.value.code == "log_mismatch"


def test_checkpoint_needs_init_and_the_right_key(tmp_path: Path, built: Built) -> None:
    db = tmp_path / "bare.db"
    build_ledger(db, transfers=1)
    with pytest.raises(LogKeyError) as error:
        checkpoint_log(db)
    assert error.value.code == "not_initialized"
    other = init_log(tmp_path / "other.db")
    with pytest.raises(LogKeyError) as error:
        checkpoint_log(built.db, key_file=other.key_file)
    assert error.value.code == "key_mismatch"
    built.key_file.unlink()
    with pytest.raises(LogKeyError) as error:
        checkpoint_log(built.db)
    assert error.value.code == "key_not_found"


def test_audit_store_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(AuditError) as error:
        AuditStore.open(tmp_path / "missing.db")
    assert error.value.code == "database_not_found"
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(AuditError) as error:
        AuditStore.open(foreign)
    assert error.value.code == "not_a_corridor_database"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(AuditError) as error:
        AuditStore.open(garbage)
    assert error.value.code == "not_a_corridor_database"
