"""Child process for the crash tests, and the batches and model both sides share.

Run as a script it opens a ledger, creates the accounts (again: `exists` is fine after a
crash) and writes batch after batch from `start`, printing `ack N` on stdout, flushed, once
batch N is durably acknowledged. The parent kills it with SIGKILL at a random moment.

    python crash_writer.py DB START END {sequential,concurrent} IN_FLIGHT

Transfer ids are `batch * 1000 + index`, so every row names its batch. Each batch holds
plain transfers (some in linked chains), pending transfers posted, voided or left open in the
same batch, a linked chain that mixes a pending transfer and its post, the post of the
pending transfer the previous batch left open, and a linked chain that must fail as a whole.
A batch applied partially would show as some but not all of its ids, or as balances that the
model below does not give.
"""

from __future__ import annotations

import functools
import os
import random
import sys
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from corridor.ledger import (
    Account,
    CreateAccountResult,
    CreateTransferResult,
    Ledger,
    Transfer,
    TransferFlags,
)

SEED = 20240611
LEDGER = 700
CODE = 1
ACCOUNTS = 12
ACCOUNT_IDS = list(range(1, ACCOUNTS + 1))
MISSING_ACCOUNT = 999
IDS_PER_BATCH = 1000
EXIT_WRONG_RESULT = 3

LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING_TRANSFER)
VOID = int(TransferFlags.VOID_PENDING_TRANSFER)

# Indexes within a batch.
PLAIN_MAX = 40  # plain transfers use 0 .. PLAIN_MAX - 1
PENDING_POSTED, PENDING_VOIDED, PENDING_OPEN = 100, 101, 102
POST_PARTIAL, VOID_SAME_BATCH, POST_PREVIOUS = 110, 111, 120
CHAIN_PENDING, CHAIN_POST, CHAIN_PLAIN = 200, 201, 202
FAILING_CHAIN = (900, 901, 902)


@dataclass(frozen=True)
class Event:
    transfer: Transfer
    applies: bool
    """Whether the ledger must accept it (else the whole event, and its chain, fails)."""


def tid(batch: int, index: int) -> int:
    return batch * IDS_PER_BATCH + index


def accounts() -> list[Account]:
    return [Account(id=i, ledger=LEDGER, code=CODE) for i in ACCOUNT_IDS]


def _pair(rng: random.Random) -> tuple[int, int]:
    debit, credit = rng.sample(ACCOUNT_IDS, 2)
    return debit, credit


def batch_events(batch: int) -> list[Event]:
    """The events of batch `batch` (>= 1), the same every time they are asked for."""
    assert batch >= 1
    rng = random.Random(SEED * 1_000_003 + batch)
    events: list[Event] = []

    def add(index: int, applies: bool = True, **fields: int) -> None:
        fields.setdefault("ledger", LEDGER)
        fields.setdefault("code", CODE)
        events.append(Event(Transfer(id=tid(batch, index), **fields), applies))

    # Plain transfers, cut into linked chains of 1 to 4 events.
    plain = rng.randint(8, PLAIN_MAX)
    index = 0
    while index < plain:
        chain = min(rng.randint(1, 4), plain - index)
        for k in range(chain):
            debit, credit = _pair(rng)
            flags = LINKED if k < chain - 1 else 0
            add(
                index,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=rng.randint(1, 1000),
                flags=flags,
            )
            index += 1

    # Pending transfers: one posted in part, one voided, one left for the next batch.
    for index in (PENDING_POSTED, PENDING_VOIDED, PENDING_OPEN):
        debit, credit = _pair(rng)
        add(
            index,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=rng.randint(100, 1000),
            flags=PENDING,
        )
    # A linked chain: a pending transfer, its post and a plain transfer.
    debit, credit = _pair(rng)
    add(
        CHAIN_PENDING,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=rng.randint(100, 1000),
        flags=PENDING | LINKED,
    )
    add(CHAIN_POST, pending_id=tid(batch, CHAIN_PENDING), amount=0, flags=POST | LINKED)
    debit, credit = _pair(rng)
    add(CHAIN_PLAIN, debit_account_id=debit, credit_account_id=credit, amount=rng.randint(1, 99))

    add(POST_PARTIAL, pending_id=tid(batch, PENDING_POSTED), amount=rng.randint(1, 99), flags=POST)
    add(VOID_SAME_BATCH, pending_id=tid(batch, PENDING_VOIDED), flags=VOID)
    if batch > 1:
        add(POST_PREVIOUS, pending_id=tid(batch - 1, PENDING_OPEN), amount=0, flags=POST)

    # A linked chain whose last event names a missing account: none of it may exist.
    first, second, last = FAILING_CHAIN
    debit, credit = _pair(rng)
    add(first, False, debit_account_id=debit, credit_account_id=credit, amount=5, flags=LINKED)
    add(second, False, debit_account_id=credit, credit_account_id=debit, amount=7, flags=LINKED)
    add(last, False, debit_account_id=debit, credit_account_id=MISSING_ACCOUNT, amount=9)
    return events


def wrong_results(batch: int, results: Sequence[object]) -> str | None:
    """Why `results` are not what batch `batch` must get, or None if they are."""
    events = batch_events(batch)
    if len(results) != len(events):
        return f"batch {batch}: {len(results)} results for {len(events)} events"
    for event, result in zip(events, results, strict=True):
        ok = result is CreateTransferResult.OK
        if ok != event.applies:
            return f"batch {batch}: transfer {event.transfer.id} got {result}"
    return None


@dataclass
class Balance:
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


def model_balances(batches: Iterable[int]) -> dict[int, Balance]:
    """Balances after applying the given batches, in order, by the plain rules."""
    balances = {id: Balance() for id in ACCOUNT_IDS}
    pending: dict[int, Transfer] = {}
    for batch in batches:
        for event in batch_events(batch):
            if not event.applies:
                continue
            t = event.transfer
            if t.flags & PENDING:
                pending[t.id] = t
                balances[t.debit_account_id].debits_pending += t.amount
                balances[t.credit_account_id].credits_pending += t.amount
            elif t.flags & (POST | VOID):
                p = pending.pop(t.pending_id)
                balances[p.debit_account_id].debits_pending -= p.amount
                balances[p.credit_account_id].credits_pending -= p.amount
                if t.flags & POST:
                    amount = t.amount or p.amount
                    balances[p.debit_account_id].debits_posted += amount
                    balances[p.credit_account_id].credits_posted += amount
            else:
                balances[t.debit_account_id].debits_posted += t.amount
                balances[t.credit_account_id].credits_posted += t.amount
    return balances


# -- the child process -------------------------------------------------------------------


_print_lock = threading.Lock()


def _say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _die(message: str) -> None:
    with _print_lock:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    os._exit(EXIT_WRONG_RESULT)


def _run(path: str, start: int, end: int, mode: str, in_flight: int) -> None:
    ledger = Ledger.open(path)
    for result in ledger.create_accounts(accounts()):
        if result not in (CreateAccountResult.OK, CreateAccountResult.EXISTS):
            _die(f"create_accounts: {result}")
    _say("ready")
    if mode == "sequential":
        for batch in range(start, end):
            results = ledger.create_transfers([e.transfer for e in batch_events(batch)])
            problem = wrong_results(batch, results)
            if problem:
                _die(problem)
            _say(f"ack {batch}")
    else:
        outstanding: deque[Future[list[object]]] = deque()

        def acknowledge(batch: int, future: Future[list[object]]) -> None:
            error = future.exception()
            if error is not None:
                _die(f"batch {batch}: {error!r}")
            problem = wrong_results(batch, future.result())
            if problem:
                _die(problem)
            _say(f"ack {batch}")

        for batch in range(start, end):
            if len(outstanding) >= in_flight:
                outstanding.popleft().result()
            future = ledger.submit_transfers([e.transfer for e in batch_events(batch)])
            future.add_done_callback(functools.partial(acknowledge, batch))
            outstanding.append(future)
        while outstanding:
            outstanding.popleft().result()
    ledger.close()
    _say("done")


if __name__ == "__main__":
    db, first, last, how, window = sys.argv[1:]
    _run(db, int(first), int(last), how, int(window))
