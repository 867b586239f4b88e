"""The durable ledger as callers use it: group commit, recovery, lookups, bad requests."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from corridor.ledger import (
    BATCH_EVENTS_MAX,
    Account,
    AccountFlags,
    BatchTooLarge,
    CreateTransferResult,
    InvalidRequest,
    Ledger,
    LedgerClosed,
    LedgerUnavailable,
    Transfer,
    TransferFlags,
)
from corridor.ledger.verify import verify

NS = 1_000_000_000
OK = CreateTransferResult.OK


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def path(db_target: Path | str) -> Path | str:
    """A new ledger on each backend: a SQLite file, then a PostgreSQL schema."""
    return db_target


def _accounts(ledger: Ledger, count: int = 4, flags: int = 0) -> None:
    results = ledger.create_accounts(
        [Account(id=i, ledger=392, code=1, flags=flags) for i in range(1, count + 1)]
    )
    assert all(r.value == "ok" for r in results)


def _transfer(id: int, debit: int = 1, credit: int = 2, amount: int = 10, **kw: int) -> Transfer:
    return Transfer(
        id=id, debit_account_id=debit, credit_account_id=credit, amount=amount, ledger=392,
        code=1, **kw,
    )  # fmt: skip


def test_reopening_recovers_balances_and_answers_retries_with_exists(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        assert ledger.create_transfers([_transfer(10), _transfer(11, 2, 3, 5)]) == [OK, OK]
        before = ledger.lookup_accounts([1, 2, 3])
    with Ledger.open(path) as ledger:
        assert ledger.lookup_accounts([1, 2, 3]) == before
        assert ledger.create_transfers([_transfer(10)]) == [CreateTransferResult.EXISTS]
        assert ledger.create_transfers([_transfer(10, amount=11)]) == [
            CreateTransferResult.EXISTS_WITH_DIFFERENT_AMOUNT
        ]
        assert ledger.create_transfers([_transfer(12)]) == [OK]
    assert verify(path).ok


def test_timestamps_strictly_increase_even_when_the_clock_goes_back(path: Path) -> None:
    clock = FakeClock()
    with Ledger.open(path, clock=clock) as ledger:
        _accounts(ledger)
        ledger.create_transfers([_transfer(10), _transfer(11)])
        clock.now -= 3600 * NS
        ledger.create_transfers([_transfer(12)])
        stamps = [t.timestamp for t in ledger.lookup_transfers([10, 11, 12])]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    with Ledger.open(path, clock=clock) as ledger:
        ledger.create_transfers([_transfer(13)])
        assert ledger.lookup_transfers([13])[0].timestamp > stamps[-1]


def test_a_pending_hold_survives_reopen_and_can_be_posted_partially(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        pending = _transfer(20, amount=100, flags=TransferFlags.PENDING, timeout=3600)
        assert ledger.create_transfers([pending]) == [OK]
    with Ledger.open(path) as ledger:
        post = Transfer(id=21, pending_id=20, amount=60, flags=TransferFlags.POST_PENDING_TRANSFER)
        assert ledger.create_transfers([post]) == [OK]
        debit = ledger.lookup_accounts([1])[0]
        assert (debit.debits_pending, debit.debits_posted) == (0, 60)
    with Ledger.open(path) as ledger:
        again = Transfer(id=22, pending_id=20, flags=TransferFlags.VOID_PENDING_TRANSFER)
        assert ledger.create_transfers([again]) == [
            CreateTransferResult.PENDING_TRANSFER_ALREADY_POSTED
        ]
    assert verify(path).ok


def test_pending_transfers_expire_without_traffic(path: Path) -> None:
    clock = FakeClock()
    with Ledger.open(path, clock=clock) as ledger:
        _accounts(ledger)
        ledger.create_transfers([_transfer(30, amount=7, flags=TransferFlags.PENDING, timeout=1)])
        clock.now += 2 * NS
        deadline = time.monotonic() + 5
        while ledger.lookup_accounts([1])[0].debits_pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ledger.lookup_accounts([1])[0].debits_pending == 0
        post = Transfer(id=31, pending_id=30, flags=TransferFlags.POST_PENDING_TRANSFER)
        assert ledger.create_transfers([post]) == [CreateTransferResult.PENDING_TRANSFER_EXPIRED]
    with Ledger.open(path, clock=clock) as ledger:
        assert ledger.create_transfers([post]) == [CreateTransferResult.PENDING_TRANSFER_EXPIRED]
    assert verify(path).ok


def test_concurrent_callers_share_commits_and_every_transfer_lands_once(path: Path) -> None:
    threads, per_thread = 8, 50
    with Ledger.open(path) as ledger:
        _accounts(ledger, 4)
        results: list[list[CreateTransferResult]] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            for i in range(per_thread):
                id = 1000 + worker * per_thread + i
                out = ledger.create_transfers([_transfer(id, 1 + worker % 2, 3 + i % 2, 1)])
                with lock:
                    results.append(out)

        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert sorted(r[0].value for r in results) == ["ok"] * threads * per_thread
        total = sum(a.debits_posted for a in ledger.lookup_accounts([1, 2, 3, 4]))
        assert total == threads * per_thread
    assert verify(path).ok


def test_account_transfers_page_in_both_directions(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        ledger.create_transfers([_transfer(100 + i, 1 + i % 2, 3) for i in range(10)])
        oldest_first = ledger.get_account_transfers(3, limit=4)
        assert [t.id for t in oldest_first] == [100, 101, 102, 103]
        after = ledger.get_account_transfers(
            3, limit=4, timestamp_min=oldest_first[-1].timestamp + 1
        )
        assert [t.id for t in after] == [104, 105, 106, 107]
        newest_first = ledger.get_account_transfers(3, limit=3, reversed=True)
        assert [t.id for t in newest_first] == [109, 108, 107]
        debits_only = ledger.get_account_transfers(1, limit=100, credits=False)
        assert [t.id for t in debits_only] == [100, 102, 104, 106, 108]
        assert ledger.get_account_transfers(1, limit=100, debits=False) == []
        assert ledger.get_account_transfers(4) == []


def test_balance_history_is_kept_for_accounts_with_the_history_flag(path: Path) -> None:
    with Ledger.open(path) as ledger:
        ledger.create_accounts(
            [
                Account(id=1, ledger=392, code=1, flags=AccountFlags.HISTORY),
                Account(id=2, ledger=392, code=1),
            ]
        )
        ledger.create_transfers([_transfer(1, amount=5), _transfer(2, amount=7)])
        history = ledger.get_account_balances(1)
        assert [(b.debits_posted, b.credits_posted) for b in history] == [(0, 0), (5, 0), (12, 0)]
        assert ledger.get_account_balances(2) == []


def test_oversize_and_malformed_requests_are_refused_whole(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        too_many = [_transfer(10_000 + i) for i in range(BATCH_EVENTS_MAX + 1)]
        with pytest.raises(BatchTooLarge, match="8189"):
            ledger.create_transfers(too_many)
        with pytest.raises(InvalidRequest, match="event 1"):
            ledger.create_transfers([_transfer(5), {"id": 6}])  # type: ignore[list-item]
        with pytest.raises(InvalidRequest):
            ledger.lookup_accounts([-1])
        with pytest.raises(InvalidRequest):
            ledger.get_account_transfers(1, limit=0)
        assert ledger.lookup_transfers([5, 10_000]) == []
        assert ledger.create_transfers([]) == []


@pytest.mark.sqlite_only  # on PostgreSQL: tests/store/test_postgres.py
def test_a_failed_commit_stops_the_writer_and_loses_nothing_acknowledged(path: Path) -> None:
    ledger = Ledger.open(path)
    _accounts(ledger)
    assert ledger.create_transfers([_transfer(10)]) == [OK]
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: the next commit fails
    ledger.store._writer.execute("PRAGMA busy_timeout=50")
    with pytest.raises(LedgerUnavailable):
        ledger.create_transfers([_transfer(11)])
    with pytest.raises(LedgerUnavailable):
        ledger.create_transfers([_transfer(12)])
    blocker.execute("ROLLBACK")
    blocker.close()
    ledger.close()
    with Ledger.open(path) as reopened:
        assert [t.id for t in reopened.lookup_transfers([10, 11, 12])] == [10]
        assert reopened.create_transfers([_transfer(11)]) == [OK]
    assert verify(path).ok


def test_a_closed_ledger_refuses_writes(path: Path) -> None:
    ledger = Ledger.open(path)
    ledger.close()
    with pytest.raises(LedgerClosed):
        ledger.create_transfers([_transfer(1)])


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    from corridor.store.sqlite import StoreError

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Ledger.open(junk)


def test_timestamps_used_by_failed_events_are_never_handed_out_again(path: Path) -> None:
    clock = FakeClock()  # a stopped clock: timestamps come only from the ledger's own counter
    with Ledger.open(path, clock=clock) as ledger:
        _accounts(ledger)
        failing = [_transfer(50 + i, debit=1, credit=99) for i in range(3)]
        assert {r.value for r in ledger.create_transfers(failing)} == {"credit_account_not_found"}
        last_account = ledger.lookup_accounts([4])[0].timestamp
    with Ledger.open(path, clock=clock) as ledger:
        assert ledger.create_transfers([_transfer(60)]) == [OK]
        # Accounts took 4 timestamps, the failed events 3 more: the next one is after all.
        assert ledger.lookup_transfers([60])[0].timestamp == last_account + 4


def test_a_second_writer_on_the_same_database_is_refused(path: Path) -> None:
    from corridor.store.sqlite import WriterBusy

    with Ledger.open(path) as ledger:
        _accounts(ledger)
        with pytest.raises(WriterBusy, match="another corridor process"):
            Ledger.open(path)
        assert verify(path).ok  # readers are welcome alongside the writer
    with Ledger.open(path) as reopened:  # closing released the lock
        assert len(reopened.lookup_accounts([1, 2])) == 2


def test_a_cancelled_future_does_not_stop_the_writer(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        futures = [ledger.submit_transfers([_transfer(700 + i)]) for i in range(20)]
        futures[3].cancel()
        results = [f.result() for i, f in enumerate(futures) if i != 3]
        assert all(r == [OK] for r in results)
        assert ledger.create_transfers([_transfer(800)]) == [OK]


def test_changing_the_list_after_submitting_it_changes_nothing(path: Path) -> None:
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        events = [_transfer(900)]
        future = ledger.submit_transfers(events)
        events.append({"not": "a transfer"})  # type: ignore[arg-type]
        assert future.result() == [OK]
        assert ledger.create_transfers([_transfer(901)]) == [OK]


def test_writes_after_close_are_refused_even_when_racing_it(path: Path) -> None:
    ledger = Ledger.open(path)
    _accounts(ledger)
    stop = threading.Event()
    outcomes: list[str] = []

    def keep_writing() -> None:
        id = 10_000
        while not stop.is_set():
            id += 1
            try:
                ledger.create_transfers([_transfer(id)])
                outcomes.append("ok")
            except LedgerClosed:
                outcomes.append("closed")
                return

    writers = [threading.Thread(target=keep_writing) for _ in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(0.05)
    ledger.close()
    stop.set()
    for writer in writers:
        writer.join(timeout=5)
        assert not writer.is_alive(), "a writer hung after close"
    assert "closed" in outcomes


def test_verify_reads_paths_with_uri_characters(tmp_path: Path) -> None:
    path = tmp_path / "shop#1?x=%41.db"
    with Ledger.open(path) as ledger:
        _accounts(ledger)
        ledger.create_transfers([_transfer(1)])
    assert verify(path).ok
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("shop")) == []


class _FailingClock(FakeClock):
    """A clock that raises once told to, as a broken time source would."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def __call__(self) -> int:
        if self.broken:
            raise OSError("clock source gone")
        return self.now


def test_a_clock_failure_while_idle_stops_the_writer_and_refuses_requests(path: Path) -> None:
    clock = _FailingClock()
    ledger = Ledger.open(path, clock=clock)
    try:
        _accounts(ledger)
        # A pending transfer makes the idle writer read the clock to schedule its expiry.
        pending = _transfer(10, flags=TransferFlags.PENDING, timeout=3600)
        assert ledger.create_transfers([pending]) == [OK]
        clock.broken = True
        time.sleep(1.5)  # the idle writer wakes at least once a second and reads the clock
        outcome: list[BaseException | object] = []
        worker = threading.Thread(
            target=lambda: outcome.append(_outcome(ledger, [_transfer(11)])), daemon=True
        )
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive(), "a request to a stopped writer must not hang"
        assert isinstance(outcome[0], LedgerUnavailable)
    finally:
        clock.broken = False
        ledger.close()
    with Ledger.open(path) as reopened:
        assert [t.id for t in reopened.lookup_transfers([10, 11])] == [10]


def _outcome(ledger: Ledger, transfers: list[Transfer]) -> BaseException | object:
    try:
        return ledger.create_transfers(transfers)
    except BaseException as error:
        return error
