"""Kill a writing process with SIGKILL, reopen, and find every acknowledged batch and no half.

A child process (tests/ledger/crash_writer.py) writes batches of transfers and prints
`ack N` once batch N is durable. The parent kills it at a seeded random moment, reopens the
database and checks that:

- `verify` finds nothing wrong;
- every acknowledged batch is there in full;
- every batch is all there or not there at all, and the batches there are 1..m with no gap
  (commits are in submission order);
- no transfer of a chain that had to fail exists, and no stray transfer exists;
- every account's balances equal the model's for batches 1..m;
- stored transfers carry the fields that were submitted.

Then the child restarts from batch m + 1 on the same database, for several rounds. A last
step reopens in-process, resubmits batch m (nothing may apply twice) and writes batch m + 1,
which posts the pending transfer batch m left open, so recovery must have restored it.

It runs on both backends (`db_target`). On PostgreSQL the writer process is killed, not the
server: the server aborts the open transaction and drops the writer's advisory lock when it
sees the connection close, which can take a moment after the kill, so reopening retries
`WriterBusy` briefly.
"""

from __future__ import annotations

import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from corridor.ledger import CreateTransferResult, Ledger
from corridor.ledger.verify import verify
from corridor.store import WriterBusy
from tests.ledger import crash_writer as cw

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

WRITER = Path(cw.__file__)
ROUNDS = 8
LINE_TIMEOUT_S = 20.0
ACKS_BEFORE_KILL_MAX = 6
KILL_DELAY_S_MAX = 0.03
LOCK_RELEASE_WAIT_S = 10.0


class Child:
    """The writer process and a thread that turns its stdout into a queue of lines."""

    def __init__(self, db: Path | str, start: int, mode: str, in_flight: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                str(db),
                str(start),
                str(start + 500),
                mode,
                str(in_flight),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str | None:
        """The next line, or None at end of output (the child exited)."""
        try:
            return self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"the writer printed nothing for {LINE_TIMEOUT_S} s")

    def kill(self) -> list[str]:
        """SIGKILL, wait, and return the lines printed but not yet read."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=LINE_TIMEOUT_S)
        self._reader.join(timeout=LINE_TIMEOUT_S)
        rest: list[str] = []
        while (line := self.lines.get_nowait()) is not None:
            rest.append(line)
        return rest

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _acked(line: str) -> int:
    kind, _, number = line.partition(" ")
    assert kind == "ack", f"unexpected line from the writer: {line!r}"
    return int(number)


def run_round(
    db: Path | str, start: int, mode: str, in_flight: int, rng: random.Random
) -> list[int]:
    """Start the writer from `start`, kill it at a random moment; the batches it acked."""
    child = Child(db, start, mode, in_flight)
    try:
        acks_wanted = rng.randint(0, ACKS_BEFORE_KILL_MAX)
        delay = rng.uniform(0, KILL_DELAY_S_MAX)
        first = child.next_line()
        if first != "ready":
            pytest.fail(f"writer did not start: {first!r}; stderr: {child.stderr()}")
        acked: list[int] = []
        while len(acked) < acks_wanted:
            line = child.next_line()
            if line is None:
                pytest.fail(f"writer exited ({child.process.wait()}): {child.stderr()}")
            acked.append(_acked(line))
        time.sleep(delay)
        rest = child.kill()
        acked.extend(_acked(line) for line in rest)
        # Killed, not exited on its own (a wrong result exits 3 with a message).
        assert child.process.returncode == -signal.SIGKILL, child.stderr()
        assert acked == list(range(start, start + len(acked))), "acks out of order"
        return acked
    finally:
        child.cleanup()


def open_after_kill(db: Path | str) -> Ledger:
    """Ledger.open, waiting while the killed writer's lock is still being released."""
    deadline = time.monotonic() + LOCK_RELEASE_WAIT_S
    while True:
        try:
            return Ledger.open(db)
        except WriterBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def check_database(db: Path | str, highest_possible: int, acked: set[int]) -> int:
    """Everything the module docstring promises; returns m, the last batch present."""
    report = verify(db)
    assert report.ok, report.problems

    present: list[int] = []
    expected_rows = 0
    with open_after_kill(db) as ledger:
        for batch in range(1, highest_possible + 1):
            events = cw.batch_events(batch)
            must = [e.transfer for e in events if e.applies]
            never = [e.transfer for e in events if not e.applies]
            assert ledger.lookup_transfers([t.id for t in never]) == []
            found = ledger.lookup_transfers([t.id for t in must])
            if not found:
                assert batch not in acked, f"acknowledged batch {batch} is lost"
                continue
            assert len(found) == len(must), (
                f"batch {batch} is partially applied: {len(found)} of {len(must)} transfers"
            )
            for stored, sent in zip(found, must, strict=True):
                assert stored.id == sent.id
                assert stored.flags == sent.flags
                assert stored.pending_id == sent.pending_id
                assert stored.ledger == cw.LEDGER
                assert stored.timestamp > 0
                if not sent.pending_id:
                    assert stored.debit_account_id == sent.debit_account_id
                    assert stored.credit_account_id == sent.credit_account_id
                    assert stored.amount == sent.amount
            present.append(batch)
            expected_rows += len(must)
        last = len(present)
        assert present == list(range(1, last + 1)), f"batches present have a gap: {present}"
        assert acked <= set(present)

        model = cw.model_balances(present)
        for account in ledger.lookup_accounts(cw.ACCOUNT_IDS):
            want = model[account.id]
            got = cw.Balance(
                account.debits_pending,
                account.debits_posted,
                account.credits_pending,
                account.credits_posted,
            )
            assert got == want, f"account {account.id} after batches 1..{last}"

    assert report.transfers == expected_rows, "transfers outside the batches written"
    return last


def resume_in_process(db: Path | str, last: int) -> None:
    """Resubmit batch `last` (nothing applies again), then write batch `last + 1`."""
    with Ledger.open(db) as ledger:
        before = ledger.lookup_accounts(cw.ACCOUNT_IDS)
        if last:
            again = ledger.create_transfers([e.transfer for e in cw.batch_events(last)])
            assert CreateTransferResult.OK not in again
            assert ledger.lookup_accounts(cw.ACCOUNT_IDS) == before
        ledger.create_accounts(cw.accounts())
        results = ledger.create_transfers([e.transfer for e in cw.batch_events(last + 1)])
        assert cw.wrong_results(last + 1, results) is None, results
    assert check_database(db, last + 3, {last + 1}) == last + 1


@pytest.mark.parametrize(
    ("mode", "in_flight", "seed"),
    [("sequential", 1, 7), ("concurrent", 4, 11)],
)
def test_sigkill_never_loses_acknowledged_batches_nor_applies_half(
    db_target: Path | str, mode: str, in_flight: int, seed: int
) -> None:
    db = db_target
    rng = random.Random(seed)
    acked: set[int] = set()
    last = 0
    for _ in range(ROUNDS):
        start = last + 1
        acked.update(run_round(db, start, mode, in_flight, rng))
        # The writer may have submitted up to in_flight batches past its last ack.
        highest_possible = max([start, *acked]) + in_flight + 3
        last = check_database(db, highest_possible, acked)
        assert last >= start - 1
    assert acked, "no batch was ever acknowledged; the test proved nothing"
    resume_in_process(db, last)
