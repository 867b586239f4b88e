"""The PostgreSQL store: same rows as SQLite, migrations, one writer, failures, readers.

The ledger's own behaviour on PostgreSQL is covered by the parametrized tests in
tests/ledger (`db_target`); these are about what only the PostgreSQL store does.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from corridor.ledger import (
    Account,
    AccountFlags,
    CreateTransferResult,
    Ledger,
    LedgerUnavailable,
    Transfer,
    TransferFlags,
)
from corridor.ledger.types import AMOUNT_MAX, ID_MAX, U32_MAX, USER_DATA_64_MAX
from corridor.ledger.verify import VerifyError, verify
from corridor.store import StoreError, WriterBusy
from corridor.store import postgres as postgres_store
from corridor.store.postgres import DatabaseUnavailable, migrate, migrations

NS = 1_000_000_000
OK = CreateTransferResult.OK
LEDGER = 392
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING_TRANSFER)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
LINKED = int(TransferFlags.LINKED)
BIG = ID_MAX - 1
"""The largest id a client may use: every byte of the 16 is exercised."""

TABLES = {
    "accounts": "timestamp",
    "transfers": "timestamp",
    "expirations": "timestamp",
    "documents": "log_index",
    "log_hashes": "level, row",
    "account_balances": "account_id, timestamp",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.now


def _transfer(id: int, debit: int, credit: int, amount: int = 10, **fields: int) -> Transfer:
    return Transfer(
        id=id, debit_account_id=debit, credit_account_id=credit, amount=amount, ledger=LEDGER,
        code=1, **fields,
    )  # fmt: skip


def _connect(target: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(target, autocommit=True)


def _history(target: Path | str, clock: Clock) -> None:
    """Every kind of row: accounts with every field at its limit, plain, pending, posted,
    voided, expired, balancing and failed linked transfers, history, documents, and enough
    leaves for full and partial rows of the audit tree, over several batches and a reopen."""
    accounts = [
        Account(id=1, ledger=LEDGER, code=1, flags=int(AccountFlags.HISTORY)),
        Account(
            id=2,
            ledger=LEDGER,
            code=2,
            user_data_128=BIG,
            user_data_64=USER_DATA_64_MAX,
            user_data_32=U32_MAX,
        ),
        Account(
            id=BIG, ledger=LEDGER, code=3, flags=int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        ),
        Account(id=4, ledger=LEDGER, code=4),
    ]
    with Ledger.open(target, clock=clock) as ledger:
        assert {r.value for r in ledger.create_accounts(accounts)} == {"ok"}
        first = [
            _transfer(
                10, 1, 2, AMOUNT_MAX // 4, user_data_128=BIG, user_data_64=7, user_data_32=U32_MAX
            ),
            _transfer(11, 2, BIG, 500),
            _transfer(12, 1, 4, 300, flags=PENDING, timeout=U32_MAX),
            _transfer(13, 4, 1, 200, flags=PENDING, timeout=5),
            _transfer(14, 2, 1, 100, flags=PENDING),
            _transfer(BIG, BIG, 4, 1_000, flags=int(TransferFlags.BALANCING_DEBIT)),
            _transfer(15, 1, 2, 5, flags=LINKED),
            _transfer(16, 1, 999, 5),  # fails, and takes 15 with it
        ]
        assert ledger.create_transfers(first)[:6] == [OK] * 6
        clock.now += NS
        ledger.create_transfers(
            [
                Transfer(id=20, pending_id=12, amount=120, flags=POST),
                Transfer(id=21, pending_id=14, flags=VOID),
            ]
        )
        clock.now += 10 * NS
        ledger.pulse()  # 13 expires
        ledger.notarize([bytes(range(32)), bytes(32)])
        for start in range(1000, 1600, 150):
            clock.now += NS
            ledger.create_transfers(
                [_transfer(start + k, 1 + k % 2, 2 - k % 2 + 2, 1 + k) for k in range(150)]
            )
    with Ledger.open(target, clock=clock) as ledger:
        clock.now += NS
        ledger.create_transfers([_transfer(2000 + k, 4, 1, 3) for k in range(300)])


def _sqlite_rows(path: Path, table: str, order: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY {order}")]
    finally:
        db.close()


def _postgres_rows(target: str, table: str, order: str) -> list[tuple[Any, ...]]:
    with _connect(target) as db:
        return [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY {order}")]


@pytest.mark.parametrize(
    "pipeline_rows_max",
    [postgres_store.PIPELINE_ROWS_MAX, 0, 1_000_000],
    ids=["copy-and-pipeline", "copy-only", "pipeline-only"],
)
def test_both_stores_hold_the_same_rows_and_audit_log_for_the_same_history(
    tmp_path: Path, pg_target: str, pipeline_rows_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_store, "PIPELINE_ROWS_MAX", pipeline_rows_max)
    sqlite_path = tmp_path / "ledger.db"
    _history(sqlite_path, Clock())
    _history(pg_target, Clock())
    for table, order in TABLES.items():
        expected = _sqlite_rows(sqlite_path, table, order)
        assert expected, f"the history leaves {table} empty; the comparison proves nothing"
        assert _postgres_rows(pg_target, table, order) == expected, table
    with Ledger.open(sqlite_path) as lite, Ledger.open(pg_target) as pg:
        assert pg.log().size == lite.log().size
        assert pg.log().root() == lite.log().root()
        assert pg.log().inclusion_proof(7) == lite.log().inclusion_proof(7)
        ids = [1, 2, BIG, 4, 5]
        assert pg.lookup_accounts(ids) == lite.lookup_accounts(ids)
        ids = [10, 11, 12, 13, 14, 15, 16, BIG, 20, 21, 1000, 1599, 2299, 3]
        assert pg.lookup_transfers(ids) == lite.lookup_transfers(ids)
        for pending_id in (10, 12, 13, 14, 99):
            assert pg.store.pending_status_code(pending_id) == lite.store.pending_status_code(
                pending_id
            )
        middle = lite.lookup_transfers([1300])[0].timestamp
        for account in (1, 2, 4, BIG, 77):
            for options in (
                {},
                {"reversed": True, "limit": 7},
                {"limit": 5, "timestamp_min": middle},
                {"limit": 9, "timestamp_max": middle, "reversed": True},
                {"limit": 500, "debits": False},
                {"limit": 500, "credits": False, "timestamp_min": middle, "timestamp_max": middle},
            ):
                assert pg.get_account_transfers(account, **options) == lite.get_account_transfers(
                    account, **options
                ), (account, options)
            for options in ({}, {"reversed": True, "limit": 2}, {"timestamp_min": middle}):
                assert pg.get_account_balances(account, **options) == lite.get_account_balances(
                    account, **options
                ), (account, options)
    assert verify(pg_target).ok


def test_migrations_are_applied_once_and_recorded_with_their_digest(pg_database: str) -> None:
    with Ledger.open(pg_database):
        pass
    with _connect(pg_database) as db:
        recorded = db.execute("SELECT version, name, sha256 FROM schema_migrations").fetchall()
        schema = db.execute("SELECT current_schema()").fetchone()
    assert recorded == [(m.version, m.name, m.sha256) for m in migrations()]
    assert schema == ("public",)
    report = migrate(pg_database)
    assert (report.applied, report.version, report.schema) == ((), len(migrations()), "public")
    with _connect(pg_database) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(recorded),)


def test_init_applies_only_the_missing_migrations_and_not_under_a_running_writer(
    pg_target: str,
) -> None:
    assert migrate(pg_target).applied == tuple(m.version for m in migrations())
    ledger = Ledger.open(pg_target)
    try:
        with _connect(pg_target) as db:
            db.execute("DROP FUNCTION corridor_id(numeric), corridor_id_numeric(bytea)")
            db.execute("DELETE FROM schema_migrations WHERE version = 2")
        with pytest.raises(WriterBusy, match="another corridor process"):
            migrate(pg_target)
    finally:
        ledger.close()
    assert migrate(pg_target).applied == (2,)
    with _connect(pg_target) as db:
        assert db.execute("SELECT corridor_id_numeric(corridor_id(258))").fetchone() == (258,)


def test_a_schema_migrated_by_a_newer_corridor_is_refused(pg_target: str) -> None:
    Ledger.open(pg_target).close()
    with _connect(pg_target) as db:
        db.execute("INSERT INTO schema_migrations (version, name, sha256) VALUES (99, 'x', 'x')")
    with pytest.raises(StoreError, match="upgrade corridor") as refused:
        Ledger.open(pg_target)
    assert refused.value.code == "invalid_database"


def test_a_schema_whose_migration_was_edited_is_refused(pg_target: str) -> None:
    Ledger.open(pg_target).close()
    with _connect(pg_target) as db:
        db.execute("UPDATE schema_migrations SET sha256 = 'edited' WHERE version = 1")
    with pytest.raises(StoreError, match="different SQL"):
        Ledger.open(pg_target)


def test_a_schema_holding_something_else_is_refused_and_left_alone(pg_target: str) -> None:
    with _connect(pg_target) as db:
        db.execute("CREATE TABLE orders (id integer)")
    with pytest.raises(StoreError, match="something else"):
        Ledger.open(pg_target)
    with _connect(pg_target) as db:
        tables = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    assert tables == [("orders",)]


def test_a_second_writer_is_refused_with_the_holder_named(pg_target: str) -> None:
    with Ledger.open(pg_target):
        with pytest.raises(WriterBusy, match="server process") as refused:
            Ledger.open(pg_target)
        assert refused.value.code == "database_busy"
        assert verify(pg_target).ok  # readers are welcome beside the writer
    Ledger.open(pg_target).close()  # closing released the lock at once


def test_ledgers_in_two_schemas_of_one_database_have_a_writer_each(
    pg_target: str,
) -> None:
    other = pg_target.replace("search_path%3D", "search_path%3Dx")
    with _connect(pg_target) as db:
        schema = db.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        db.execute(f'CREATE SCHEMA "x{schema[0]}"')
    try:
        with Ledger.open(pg_target) as first, Ledger.open(other) as second:
            first.create_accounts([Account(id=1, ledger=LEDGER, code=1)])
            assert second.lookup_accounts([1]) == []
    finally:
        with _connect(pg_target) as db:
            db.execute(f'DROP SCHEMA "x{schema[0]}" CASCADE')


def test_a_killed_writer_process_leaves_its_lock_to_the_next_writer(pg_target: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from corridor.ledger import Ledger\n"
         "ledger = Ledger.open(sys.argv[1])\n"
         "print('open', flush=True)\n"
         "time.sleep(60)\n",
         pg_target],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "open"
        with pytest.raises(WriterBusy):
            Ledger.open(pg_target)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                Ledger.open(pg_target).close()
                break
            except WriterBusy:
                assert time.monotonic() < deadline, "the killed writer's lock was never released"
                time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_a_failed_commit_stops_the_writer_and_loses_nothing_acknowledged(pg_target: str) -> None:
    ledger = Ledger.open(pg_target)
    ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in (1, 2)])
    assert ledger.create_transfers([_transfer(10, 1, 2)]) == [OK]
    blocker = _connect(pg_target)
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE transfers IN ACCESS EXCLUSIVE MODE")  # the next commit waits
    ledger.store._writer.execute("SET lock_timeout = '50ms'")  # type: ignore[attr-defined]
    with pytest.raises(LedgerUnavailable):
        ledger.create_transfers([_transfer(11, 1, 2)])
    with pytest.raises(LedgerUnavailable):
        ledger.create_transfers([_transfer(12, 1, 2)])
    blocker.execute("ROLLBACK")
    blocker.close()
    ledger.close()
    with Ledger.open(pg_target) as reopened:
        assert [t.id for t in reopened.lookup_transfers([10, 11, 12])] == [10]
        assert reopened.create_transfers([_transfer(11, 1, 2)]) == [OK]
    assert verify(pg_target).ok


def test_every_read_sees_one_committed_snapshot_while_the_writer_runs(pg_target: str) -> None:
    ids = list(range(1, 9))
    with Ledger.open(pg_target) as ledger:
        ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in ids])
        stop = threading.Event()
        seen: list[int] = []
        errors: list[BaseException] = []

        def read() -> None:
            try:
                while not stop.is_set():
                    accounts = ledger.lookup_accounts(ids)
                    debits = sum(a.debits_posted for a in accounts)
                    assert debits == sum(a.credits_posted for a in accounts)
                    seen.append(debits)
            except BaseException as error:
                errors.append(error)

        readers = [threading.Thread(target=read) for _ in range(12)]  # more than READERS_MAX
        for reader in readers:
            reader.start()
        for batch in range(30):
            ledger.create_transfers(
                [_transfer(batch * 100 + k, 1 + k % 8, 1 + (k + 3) % 8, 1 + k) for k in range(50)]
            )
        stop.set()
        for reader in readers:
            reader.join(timeout=30)
        assert not errors, errors[0]
        assert len(set(seen)) > 1, "the readers never saw the writer make progress"


def test_the_id_conversion_functions_give_the_ids_the_ledger_stored(pg_target: str) -> None:
    with Ledger.open(pg_target) as ledger:
        ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in (1, BIG)])
        ledger.create_transfers([_transfer(12345, 1, BIG), _transfer(BIG, BIG, 1)])
    with _connect(pg_target) as db:
        rows = db.execute(
            "SELECT corridor_id_numeric(id), corridor_id_numeric(credit_account_id)"
            " FROM transfers ORDER BY timestamp"
        ).fetchall()
        assert [tuple(int(v) for v in row) for row in rows] == [(12345, BIG), (BIG, 1)]
        found = db.execute(
            "SELECT amount FROM transfers WHERE id = corridor_id(%s::numeric)", (str(BIG),)
        ).fetchone()
        assert found == (10,)
        with pytest.raises(psycopg.errors.RaiseException, match="not a 128-bit"):
            db.execute("SELECT corridor_id(-1)")


def test_verify_on_postgresql_names_a_tampered_balance(pg_target: str) -> None:
    with Ledger.open(pg_target) as ledger:
        ledger.create_accounts([Account(id=i, ledger=LEDGER, code=1) for i in (1, 2)])
        ledger.create_transfers([_transfer(10, 1, 2, 50)])
    assert verify(pg_target).ok
    with _connect(pg_target) as db:
        db.execute("UPDATE accounts SET credits_posted = credits_posted + 1")
    report = verify(pg_target)
    assert {p.kind for p in report.problems} == {"balance_mismatch", "unbalanced_ledger"}
    assert report.ledgers[LEDGER]["credits_posted"] == 52


def test_verify_refuses_a_database_without_a_ledger(pg_target: str) -> None:
    with pytest.raises(VerifyError, match="not a corridor ledger") as refused:
        verify(pg_target)
    assert refused.value.code == "not_a_ledger"


def test_an_unreachable_server_is_named_without_its_password() -> None:
    target = "postgresql://corridor:s3cret@127.0.0.1:1/ledger?connect_timeout=2"
    for attempt in (lambda: Ledger.open(target), lambda: verify(target)):
        with pytest.raises(DatabaseUnavailable) as refused:
            attempt()
        assert refused.value.code == "database_unavailable"
        assert "s3cret" not in str(refused.value) and "corridor:***@127.0.0.1:1" in str(
            refused.value
        )


def test_the_side_tables_of_the_switch_have_no_file_on_postgresql(pg_target: str) -> None:
    with Ledger.open(pg_target) as ledger, pytest.raises(StoreError) as refused:
        _ = ledger.store.path
    assert refused.value.code == "unsupported_database"
