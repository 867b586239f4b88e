"""Net positions within the open settlement window, and the net debit caps they are held to.

A participant's **net position** in a currency, for a settlement window, is what it received
minus what it paid through payments and refunds posted in that window (deposits,
withdrawals and settlement transfers are not positions: they move prefunding). A participant
with a **net debit cap** may not let its net *debit* exposure in the open window exceed the
cap::

    exposure = held - window_net + amount   <=   cap

where ``window_net`` is its posted net position since the window opened, ``held`` what its
unresolved payment holds debit, and ``amount`` the new debit. A payment or refund that would
go beyond is refused with ``limit_exceeded`` before anything reaches the ledger. The cap is a
risk limit on top of prefunding: the ledger's own rule (a liquidity account's debits never
exceed its credits) still refuses what the prefunding does not cover.

`NetPositions` keeps these figures in memory for the payment service, so that the check costs
no query. It is rebuilt from storage when the service starts and whenever it sees that a
settlement window was closed (also by another process): ``window_net`` from the posted
payment and refund transfers after the window's first ledger timestamp, ``held`` from the
payments still RESERVED. A hold stops counting once its timeout has passed (the ledger voids
it then, and a post after that is refused), measured conservatively from just after the
reservation returned, so a hold is released late, never early.

Closing a window takes the `gate` exclusively, while commits hold it shared from the ledger
post until the position is updated, so that a commit is counted in exactly one window.
"""

from __future__ import annotations

import heapq
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

__all__ = ["Hold", "NetPositions", "Posting", "SharedGate"]

Key = tuple[str, str]
"""(participant id, currency code)."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg's effect on one participant: positive = received, negative = paid."""

    participant_id: str
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class Hold:
    """What an unresolved payment holds: the debits of each participant, until `expires_ns`."""

    payment_id: str
    debits: tuple[Posting, ...]
    """Positive amounts debited from each participant (one entry per participant and currency)."""
    expires_ns: int


class SharedGate:
    """A readers-writer lock: many holders in `shared`, one in `exclusive`, writer preferred."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._shared = 0
        self._exclusive = False
        self._waiting_writers = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            while self._exclusive or self._waiting_writers:
                self._condition.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._condition:
                self._shared -= 1
                if not self._shared:
                    self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._waiting_writers += 1
            while self._exclusive or self._shared:
                self._condition.wait()
            self._waiting_writers -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._condition:
                self._exclusive = False
                self._condition.notify_all()


HOLDS_MAX: Final = 10_000_000
"""Unresolved holds tracked at once (each is a few hundred bytes)."""


class NetPositions:
    """Open-window net positions and unresolved holds, per participant and currency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.gate = SharedGate()
        self.window_id = 0
        self._window_net: dict[Key, int] = defaultdict(int)
        self._held: dict[Key, int] = defaultdict(int)
        self._holds: dict[str, Hold] = {}
        self._expiry: list[tuple[int, str]] = []

    def reset(self, window_id: int, window_net: Mapping[Key, int], holds: Sequence[Hold]) -> None:
        """Replace everything: the open window's id and net positions, and the live holds."""
        with self._lock:
            self.window_id = window_id
            self._window_net = defaultdict(int, window_net)
            self._held = defaultdict(int)
            self._holds = {}
            self._expiry = []
            for hold in holds:
                self._add(hold)

    def reset_window(self, window_id: int, window_net: Mapping[Key, int]) -> None:
        """A new window opened: its net positions replace the old window's; holds stay."""
        with self._lock:
            self.window_id = window_id
            self._window_net = defaultdict(int, window_net)

    def exposure(self, participant_id: str, currency: str, now_ns: int) -> int:
        """The participant's net debit exposure in `currency` now (negative: net creditor)."""
        with self._lock:
            self._expire(now_ns)
            key = (participant_id, currency)
            return self._held[key] - self._window_net[key]

    def window_net(self, participant_id: str, currency: str) -> int:
        with self._lock:
            return self._window_net[(participant_id, currency)]

    def try_hold(
        self, hold: Hold, caps: Mapping[Key, int], now_ns: int
    ) -> tuple[Posting, int, int] | None:
        """Record `hold` unless it takes a capped participant beyond its cap.

        Returns None when recorded, else the offending debit, its cap and the exposure
        before it (nothing recorded).
        """
        with self._lock:
            self._expire(now_ns)
            for debit in hold.debits:
                key = (debit.participant_id, debit.currency)
                cap = caps.get(key)
                if cap is None:
                    continue
                exposure = self._held[key] - self._window_net[key]
                if exposure + debit.amount > cap:
                    return debit, cap, exposure
            if len(self._holds) >= HOLDS_MAX:
                raise RuntimeError(f"more than {HOLDS_MAX} unresolved holds")
            self._add(hold)
            return None

    def check_debits(
        self, debits: Sequence[Posting], caps: Mapping[Key, int], now_ns: int
    ) -> tuple[Posting, int, int] | None:
        """Like `try_hold` for debits posted at once (refunds); records nothing."""
        with self._lock:
            self._expire(now_ns)
            for debit in debits:
                key = (debit.participant_id, debit.currency)
                cap = caps.get(key)
                if cap is not None:
                    exposure = self._held[key] - self._window_net[key]
                    if exposure + debit.amount > cap:
                        return debit, cap, exposure
            return None

    def is_held(self, payment_id: str) -> bool:
        with self._lock:
            return payment_id in self._holds

    def release(self, payment_ids: Sequence[str]) -> None:
        """The holds of these payments are gone (aborted, expired, refused)."""
        with self._lock:
            for payment_id in payment_ids:
                self._drop(payment_id)

    def post(self, payment_ids: Sequence[str], postings: Sequence[Posting]) -> None:
        """These payments' holds are posted (or, with no ids, postings made at once)."""
        with self._lock:
            for payment_id in payment_ids:
                self._drop(payment_id)
            for posting in postings:
                self._window_net[(posting.participant_id, posting.currency)] += posting.amount

    def _add(self, hold: Hold) -> None:
        self._drop(hold.payment_id)
        self._holds[hold.payment_id] = hold
        for debit in hold.debits:
            self._held[(debit.participant_id, debit.currency)] += debit.amount
        heapq.heappush(self._expiry, (hold.expires_ns, hold.payment_id))

    def _drop(self, payment_id: str) -> None:
        hold = self._holds.pop(payment_id, None)
        if hold is None:
            return
        for debit in hold.debits:
            self._held[(debit.participant_id, debit.currency)] -= debit.amount

    def _expire(self, now_ns: int) -> None:
        while self._expiry and self._expiry[0][0] <= now_ns:
            expires_ns, payment_id = heapq.heappop(self._expiry)
            hold = self._holds.get(payment_id)
            if hold is not None and hold.expires_ns == expires_ns:
                self._drop(payment_id)
