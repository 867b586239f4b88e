"""`corridor bench ledger`: durable transfer throughput of the ledger on one database.

Accounts are created first; then N transfers between random accounts (optionally a share of
them on a few hot accounts) are generated up front, so the clock measures the ledger and not
the generator, and submitted in requests of `batch` events with `in_flight` requests
outstanding, the way several concurrent clients would. Every request waits for its durable
commit; latency is per request, from submit to acknowledgement.

`db` is a SQLite file or a ``postgresql://`` URL (an empty database). With `baseline` N, N
more transfers follow the timed run one request at a time, each its own transaction, each
waited for: the one-transfer-per-call figure (`baseline_ops_per_s`) beside the batched one.
"""

from __future__ import annotations

import random
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.bench.common import machine, percentile_ms
from corridor.ledger import BATCH_EVENTS_MAX, Account, Ledger, Transfer
from corridor.ledger.types import CreateTransferResult
from corridor.store import describe_target, is_postgres_url

LEDGER_JPY: Final = 392
TRANSFER_CODE: Final = 1
ACCOUNT_CODE: Final = 1
AMOUNT_MAX_BENCH: Final = 100_000
BASELINE_TRANSFERS_MAX: Final = 100_000


class BenchError(Exception):
    code = "bench_invalid"


@dataclass(frozen=True)
class LedgerBenchConfig:
    db: Path | str
    transfers: int = 1_000_000
    accounts: int = 10_000
    batch: int = BATCH_EVENTS_MAX
    hot_percent: float = 0.0
    hot_accounts: int = 10
    in_flight: int = 8
    seed: int = 42
    id_order: str = "sequential"
    baseline: int = 0

    def check(self) -> None:
        if self.transfers < 1:
            raise BenchError("--transfers must be at least 1")
        if self.accounts < 2:
            raise BenchError("--accounts must be at least 2")
        if not 1 <= self.batch <= BATCH_EVENTS_MAX:
            raise BenchError(f"--batch must be between 1 and {BATCH_EVENTS_MAX}")
        if not 0 <= self.hot_percent <= 100:
            raise BenchError("--hot-percent must be between 0 and 100")
        if not 2 <= self.hot_accounts <= self.accounts:
            raise BenchError("--hot-accounts must be between 2 and --accounts")
        if not 1 <= self.in_flight <= 64:
            raise BenchError("--in-flight must be between 1 and 64")
        if self.id_order not in ("sequential", "random"):
            raise BenchError("--id-order must be sequential or random")
        if not 0 <= self.baseline <= BASELINE_TRANSFERS_MAX:
            raise BenchError(f"--baseline must be between 0 and {BASELINE_TRANSFERS_MAX}")


def _transfers(config: LedgerBenchConfig) -> list[list[Transfer]]:
    rng = random.Random(config.seed)
    ids = list(range(1, config.transfers + 1))
    if config.id_order == "random":
        ids = [rng.getrandbits(127) | 1 for _ in ids]
    hot_share = config.hot_percent / 100
    batches: list[list[Transfer]] = []
    batch: list[Transfer] = []
    for id in ids:
        pool = config.hot_accounts if rng.random() < hot_share else config.accounts
        debit = rng.randrange(1, pool + 1)
        credit = rng.randrange(1, pool)
        if credit >= debit:
            credit += 1
        batch.append(
            Transfer(
                id=id,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=rng.randrange(1, AMOUNT_MAX_BENCH),
                ledger=LEDGER_JPY,
                code=TRANSFER_CODE,
            )
        )
        if len(batch) == config.batch:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def run(config: LedgerBenchConfig) -> dict[str, object]:
    config.check()
    setup_started = time.perf_counter()
    with Ledger.open(config.db) as ledger:
        if ledger.lookup_accounts([1]):
            raise BenchError(f"{config.db} already holds accounts; benchmark a new database")
        for start in range(1, config.accounts + 1, BATCH_EVENTS_MAX):
            end = min(start + BATCH_EVENTS_MAX, config.accounts + 1)
            ledger.create_accounts(
                [Account(id=i, ledger=LEDGER_JPY, code=ACCOUNT_CODE) for i in range(start, end)]
            )
        batches = _transfers(config)
        setup_s = time.perf_counter() - setup_started

        latencies: list[float] = []
        outstanding: deque[tuple[float, Future[list[object]]]] = deque()
        ok = 0

        def settle() -> int:
            submitted, future = outstanding.popleft()
            results = future.result()
            latencies.append(time.perf_counter() - submitted)
            return sum(1 for r in results if r is CreateTransferResult.OK)

        started = time.perf_counter()
        for batch in batches:
            if len(outstanding) >= config.in_flight:
                ok += settle()
            outstanding.append((time.perf_counter(), ledger.submit_transfers(batch)))
        while outstanding:
            ok += settle()
        seconds = time.perf_counter() - started
        baseline = _baseline(ledger, config)
        durability, server = _durability(ledger, config.db)
    return {
        "bench": "ledger",
        "ops": config.transfers,
        "seconds": round(seconds, 3),
        "ops_per_s": round(config.transfers / seconds),
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "transfers_ok": ok,
        "accounts": config.accounts,
        "batch": config.batch,
        "hot_percent": config.hot_percent,
        "hot_accounts": config.hot_accounts,
        "in_flight": config.in_flight,
        "id_order": config.id_order,
        "seed": config.seed,
        **baseline,
        "durability": durability,
        "setup_seconds": round(setup_s, 3),
        "db": describe_target(config.db),
        "machine": machine() | server,
    }


def _baseline(ledger: Ledger, config: LedgerBenchConfig) -> dict[str, object]:
    """One transfer per request, each waited for: one storage transaction per transfer."""
    if not config.baseline:
        return {}
    rng = random.Random(config.seed + 1)
    first_id = (1 << 127) + config.transfers  # above every id of the timed run, either order
    transfers = []
    for id in range(first_id, first_id + config.baseline):
        debit, credit = rng.sample(range(1, config.accounts + 1), 2)
        amount = rng.randrange(1, AMOUNT_MAX_BENCH)
        transfers.append(
            Transfer(
                id=id,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                ledger=LEDGER_JPY,
                code=TRANSFER_CODE,
            )
        )
    latencies: list[float] = []
    ok = 0
    started = time.perf_counter()
    for transfer in transfers:
        submitted = time.perf_counter()
        (result,) = ledger.create_transfers([transfer])
        latencies.append(time.perf_counter() - submitted)
        ok += result is CreateTransferResult.OK
    seconds = time.perf_counter() - started
    return {
        "baseline_ops": config.baseline,
        "baseline_seconds": round(seconds, 3),
        "baseline_ops_per_s": round(config.baseline / seconds),
        "baseline_p50_ms": percentile_ms(latencies, 0.50),
        "baseline_p99_ms": percentile_ms(latencies, 0.99),
        "baseline_transfers_ok": ok,
    }


def _durability(ledger: Ledger, db: Path | str) -> tuple[str, dict[str, object]]:
    """How commits are made durable, and the server's version (PostgreSQL)."""
    if not is_postgres_url(db):
        return "sqlite WAL, synchronous=FULL, one transaction per group commit", {}
    from corridor.store.postgres import PostgresStore

    store = ledger.store
    assert isinstance(store, PostgresStore)
    settings = store.settings
    described = (
        f"postgresql synchronous_commit={settings.get('synchronous_commit')},"
        f" fsync={settings.get('fsync')}, wal_sync_method={settings.get('wal_sync_method')},"
        f" full_page_writes={settings.get('full_page_writes')},"
        " one transaction per group commit"
    )
    return described, {"postgresql": settings.get("server_version")}
