"""Settlement windows: OPEN → CLOSED → SETTLED, with multilateral net positions.

Payments move prefunded liquidity between participants as they happen. Real money moves
between the participants' banks later, once per window, by multilateral net settlement: each
participant pays in (or is paid) only its net position per currency. This module keeps the
windows, computes the positions and records settlement in the ledger.

Windows
-------
There is always exactly one OPEN window. A window covers the ledger transfers whose
timestamp ``t`` satisfies ``after_timestamp < t <= through_timestamp``: ledger timestamps are
strictly increasing and committed in order, so each transfer belongs to exactly one window.

- **close** (OPEN → CLOSED) takes the database's write lock (so no ledger batch commits
  meanwhile), sets ``through_timestamp`` to the last committed transfer's timestamp, computes
  and stores every position, and opens the next window (``after_timestamp`` = that same
  timestamp), all in one transaction.
- **settle** (CLOSED → SETTLED) records the settlement in the ledger (below) and marks the
  window SETTLED. Windows are settled in order: a window cannot be settled while an earlier
  one is still CLOSED.

Net positions
-------------
For each participant and currency: ``credits`` = what its liquidity account received and
``debits`` = what it paid through payment and refund transfers posted in the window (codes
10-12 and 13-15; pending holds count when they are posted, in the window of the post), and
``net = credits - debits``. The hub's fee account takes part as participant ``hub``, so that
every transfer counted has both of its accounts in the report and **the nets of a currency
sum to zero**, which is asserted before anything is stored.

Settlement transfers
--------------------
Settling a window writes one linked chain of ledger transfers (code 20), with ids derived
from the window, participant and currency (``SHA-256("corridor/settlement-transfer/v1" ‖
0x00 ‖ window ‖ 0x00 ‖ participant ‖ 0x00 ‖ currency)``, first 16 bytes), so a retry
never settles twice:

- a net **debtor** (net < 0) pays its |net| in at the settlement bank: hub settlement →
  its liquidity, |net| (its prefunding is restored);
- a net **creditor** (net > 0) is paid out: its liquidity → hub settlement, net (the hub
  wires it to the participant's bank).

The hub's own position (its fee income, ``hub``) is reported but not moved: fees stay in the
hub's fee account, where later refunds of fees are paid from, and the cash stays at the
settlement bank, so per currency the hub settlement account ends up changed by exactly the
hub's net fee income of the window. Debtors come first in the chain, so the hub settlement
account's credits never exceed its debits mid-chain. A creditor that has withdrawn what it
received meanwhile makes the chain fail (``insufficient_liquidity``, naming it); the window
stays CLOSED until it is funded.

Reports are JSON or CSV (`SettlementReport.to_json` / `to_csv`), amounts in minor units and
as exact decimal strings.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from corridor.ledger import ID_MAX, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import (
    immediate_transaction,
    open_side_connection,
    read_transaction,
)
from corridor.switch.directory import (
    Directory,
    hub_fees_account_id,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money, currency, format_amount
from corridor.switch.positions import NetPositions

__all__ = [
    "HUB_PARTICIPANT",
    "POSITION_TRANSFER_CODES",
    "SETTLEMENT_SCHEMA",
    "TRANSFER_CODE_SETTLEMENT",
    "Position",
    "SettlementReport",
    "SettlementService",
    "WindowState",
    "settlement_transfer_id",
]

TRANSFER_CODE_SETTLEMENT: Final = 20
"""Ledger transfer code of a settlement transfer."""
POSITION_TRANSFER_CODES: Final = (10, 11, 12, 13, 14, 15)
"""Payment legs (10-12) and refund legs (13-15): the transfers that make net positions."""
HUB_PARTICIPANT: Final = "hub"
"""The participant id under which the hub's fee account appears in positions."""
SETTLEMENT_TRANSFER_DOMAIN: Final = b"corridor/settlement-transfer/v1"
WINDOWS_LIST_MAX: Final = 1000

SETTLEMENT_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS settlement_windows (
    window_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    after_timestamp INTEGER NOT NULL,
    through_timestamp INTEGER,
    opened_ns INTEGER NOT NULL,
    closed_ns INTEGER,
    settled_ns INTEGER
);

CREATE UNIQUE INDEX IF NOT EXISTS settlement_one_open_window
    ON settlement_windows (state) WHERE state = 'open';

CREATE TABLE IF NOT EXISTS settlement_positions (
    window_id INTEGER NOT NULL REFERENCES settlement_windows (window_id),
    participant_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    debits INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    net INTEGER NOT NULL,
    PRIMARY KEY (window_id, participant_id, currency)
) WITHOUT ROWID;
"""

_POSITIONS_SQL: Final = f"""
SELECT account, SUM(debits), SUM(credits) FROM (
    SELECT debit_account_id AS account, amount AS debits, 0 AS credits FROM transfers
     WHERE timestamp > ?1 AND timestamp <= ?2 AND (flags & 10) = 0
       AND code IN ({", ".join(map(str, POSITION_TRANSFER_CODES))})
    UNION ALL
    SELECT credit_account_id, 0, amount FROM transfers
     WHERE timestamp > ?1 AND timestamp <= ?2 AND (flags & 10) = 0
       AND code IN ({", ".join(map(str, POSITION_TRANSFER_CODES))})
) GROUP BY account
"""
# (flags & 10) = 0: neither pending (2) nor void (8): a direct transfer or a post.


class WindowState:
    OPEN: Final = "open"
    CLOSED: Final = "closed"
    SETTLED: Final = "settled"


@dataclass(frozen=True, slots=True)
class Position:
    """A participant's net position in one currency for one window."""

    participant_id: str
    currency: str
    debits: int
    credits: int

    @property
    def net(self) -> int:
        return self.credits - self.debits

    def to_json(self) -> dict[str, Any]:
        unit = currency(self.currency)
        return {
            "participant_id": self.participant_id,
            "currency": self.currency,
            "debits": self.debits,
            "credits": self.credits,
            "net": self.net,
            "net_decimal": format_amount(Money(self.net, unit)),
        }


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """A window with its positions (empty while OPEN) and settlement transfer ids."""

    window_id: int
    state: str
    after_timestamp: int
    through_timestamp: int | None
    opened_ns: int
    closed_ns: int | None
    settled_ns: int | None
    positions: tuple[Position, ...]
    settlement_transfer_ids: tuple[int, ...]

    def totals(self) -> dict[str, int]:
        """Σ net per currency: zero for every currency of a closed window."""
        sums: dict[str, int] = defaultdict(int)
        for position in self.positions:
            sums[position.currency] += position.net
        return dict(sorted(sums.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "window_id": self.window_id,
            "state": self.state,
            "after_timestamp": self.after_timestamp,
            "through_timestamp": self.through_timestamp,
            "opened_ns": self.opened_ns,
            "closed_ns": self.closed_ns,
            "settled_ns": self.settled_ns,
            "positions": [p.to_json() for p in self.positions],
            "net_sum_by_currency": self.totals(),
            "settlement_transfer_ids": [f"{i:032x}" for i in self.settlement_transfer_ids],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "window_id",
                "state",
                "participant_id",
                "currency",
                "debits",
                "credits",
                "net",
                "net_decimal",
            ]
        )
        for p in self.positions:
            row = p.to_json()
            writer.writerow(
                [
                    self.window_id,
                    self.state,
                    p.participant_id,
                    p.currency,
                    p.debits,
                    p.credits,
                    p.net,
                    row["net_decimal"],
                ]
            )
        return out.getvalue()


def settlement_transfer_id(window_id: int, participant_id: str, currency_code: str) -> int:
    """The ledger id of the settlement transfer of one position (see the module docstring)."""
    message = b"\x00".join(
        [
            SETTLEMENT_TRANSFER_DOMAIN,
            str(window_id).encode(),
            participant_id.encode(),
            currency_code.encode(),
        ]
    )
    digest = hashlib.sha256(message).digest()
    retry = 0
    while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
        retry += 1
        digest = hashlib.sha256(message + b"\x00" + str(retry).encode()).digest()
    return value


class SettlementService:
    """Settlement windows of one database. Thread-safe; close it when done."""

    def __init__(
        self,
        ledger: Ledger,
        directory: Directory,
        *,
        positions: NetPositions | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._ledger = ledger
        self._directory = directory
        self._positions = positions
        self._clock = clock
        self._db = open_side_connection(
            ledger.store.path, SETTLEMENT_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
        )
        self._lock = threading.RLock()
        with self._write():
            self._ensure_open_window()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SettlementService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    def _ensure_open_window(self) -> int:
        row = self._db.execute(
            "SELECT window_id FROM settlement_windows WHERE state = 'open'"
        ).fetchone()
        if row is not None:
            return int(row[0])
        last = self._db.execute("SELECT max(through_timestamp) FROM settlement_windows").fetchone()[
            0
        ]
        cursor = self._db.execute(
            "INSERT INTO settlement_windows (state, after_timestamp, opened_ns)"
            " VALUES ('open', ?, ?)",
            (0 if last is None else int(last), self._clock()),
        )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    # -- reads -------------------------------------------------------------------------

    def open_window(self) -> SettlementReport:
        """The OPEN window, with its positions so far (computed, not stored)."""
        with self._lock, read_transaction(self._db):
            window_id = int(
                self._db.execute(
                    "SELECT window_id FROM settlement_windows WHERE state = 'open'"
                ).fetchone()[0]
            )
            return self._report(window_id)

    def window(self, window_id: int) -> SettlementReport:
        """The window with this id; ``unknown_window`` if none."""
        if not isinstance(window_id, int) or isinstance(window_id, bool):
            raise SwitchError("unknown_window", f"no settlement window {window_id!r}")
        with self._lock, read_transaction(self._db):
            return self._report(window_id)

    def windows(self, *, limit: int = 100) -> list[SettlementReport]:
        """The newest windows first, at most `limit` (1-1000)."""
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 0 < limit <= WINDOWS_LIST_MAX
        ):
            raise SwitchError("invalid_window", f"limit is 1 to {WINDOWS_LIST_MAX}, not {limit!r}")
        with self._lock, read_transaction(self._db):
            ids = [
                int(r[0])
                for r in self._db.execute(
                    "SELECT window_id FROM settlement_windows ORDER BY window_id DESC LIMIT ?",
                    (limit,),
                )
            ]
            return [self._report(i) for i in ids]

    def _report(self, window_id: int) -> SettlementReport:
        row = self._db.execute(
            "SELECT state, after_timestamp, through_timestamp, opened_ns, closed_ns, settled_ns"
            " FROM settlement_windows WHERE window_id = ?",
            (window_id,),
        ).fetchone()
        if row is None:
            raise SwitchError("unknown_window", f"no settlement window {window_id}")
        state, after, through, opened, closed, settled = row
        if state == WindowState.OPEN:
            positions = self._compute_positions(int(after), None)
        else:
            positions = tuple(
                Position(str(p), str(c), int(d), int(cr))
                for p, c, d, cr in self._db.execute(
                    "SELECT participant_id, currency, debits, credits FROM settlement_positions"
                    " WHERE window_id = ? ORDER BY currency, participant_id",
                    (window_id,),
                )
            )
        transfer_ids = tuple(
            settlement_transfer_id(window_id, p.participant_id, p.currency)
            for p in positions
            if p.net != 0 and p.participant_id != HUB_PARTICIPANT and state != WindowState.OPEN
        )
        return SettlementReport(
            window_id=window_id,
            state=str(state),
            after_timestamp=int(after),
            through_timestamp=None if through is None else int(through),
            opened_ns=int(opened),
            closed_ns=None if closed is None else int(closed),
            settled_ns=None if settled is None else int(settled),
            positions=positions,
            settlement_transfer_ids=transfer_ids,
        )

    def _account_owners(self) -> dict[bytes, tuple[str, str]]:
        owners: dict[bytes, tuple[str, str]] = {}
        for participant in self._directory.participants():
            for code in participant.currencies:
                key = liquidity_account_id(participant.id, code).to_bytes(16, "big")
                owners[key] = (participant.id, code)
                fees = hub_fees_account_id(code).to_bytes(16, "big")
                owners[fees] = (HUB_PARTICIPANT, code)
        return owners

    def _compute_positions(self, after: int, through: int | None) -> tuple[Position, ...]:
        upper = through if through is not None else (1 << 63) - 1
        owners = self._account_owners()
        positions: list[Position] = []
        for account, debits, credits in self._db.execute(_POSITIONS_SQL, (after, upper)):
            owner = owners.get(bytes(account))
            if owner is None:
                raise SwitchError(
                    "ledger_rejected",
                    f"a payment transfer touches account {bytes(account).hex()}, which is"
                    " no participant's liquidity or hub fee account",
                )
            positions.append(Position(owner[0], owner[1], int(debits), int(credits)))
        positions.sort(key=lambda p: (p.currency, p.participant_id))
        sums: dict[str, int] = defaultdict(int)
        for position in positions:
            sums[position.currency] += position.net
        assert all(total == 0 for total in sums.values()), sums
        return tuple(positions)

    # -- transitions -------------------------------------------------------------------

    def close_window(self) -> SettlementReport:
        """Close the OPEN window (OPEN → CLOSED) and open the next; returns the closed one."""
        gate = self._positions.gate.exclusive() if self._positions else _nothing()
        with gate, self._write():
            window_id, after = self._db.execute(
                "SELECT window_id, after_timestamp FROM settlement_windows WHERE state = 'open'"
            ).fetchone()
            # The write lock keeps the ledger's writer out: this is the last committed one.
            through = self._db.execute("SELECT max(timestamp) FROM transfers").fetchone()[0]
            through = max(int(after), 0 if through is None else int(through))
            positions = self._compute_positions(int(after), through)
            self._db.executemany(
                "INSERT INTO settlement_positions"
                " (window_id, participant_id, currency, debits, credits, net)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (window_id, p.participant_id, p.currency, p.debits, p.credits, p.net)
                    for p in positions
                ],
            )
            now = self._clock()
            self._db.execute(
                "UPDATE settlement_windows SET state = 'closed', through_timestamp = ?,"
                " closed_ns = ? WHERE window_id = ?",
                (through, now, window_id),
            )
            new_window = self._ensure_open_window()
            if self._positions is not None:
                # Nothing is committed after `through` yet: the new window starts empty.
                self._positions.reset_window(new_window, {})
            return self._report(int(window_id))

    def settle_window(self, window_id: int) -> SettlementReport:
        """Record the CLOSED window's settlement in the ledger (CLOSED → SETTLED).

        Settling a SETTLED window returns it unchanged; ``window_not_closed`` for the OPEN
        window; ``window_out_of_order`` while an earlier window is still CLOSED;
        ``insufficient_liquidity`` when a net creditor's liquidity no longer covers its
        position (nothing is settled).
        """
        report = self.window(window_id)
        if report.state == WindowState.SETTLED:
            return report
        if report.state == WindowState.OPEN:
            raise SwitchError(
                "window_not_closed", f"settlement window {window_id} is open; close it first"
            )
        with self._lock:
            earlier = self._db.execute(
                "SELECT min(window_id) FROM settlement_windows"
                " WHERE state = 'closed' AND window_id < ?",
                (window_id,),
            ).fetchone()[0]
        if earlier is not None:
            raise SwitchError(
                "window_out_of_order",
                f"settle window {earlier} before window {window_id}",
            )
        chain = self._settlement_chain(report)
        if chain:
            results = self._ledger.create_transfers(chain)
            failed = [
                (t, r)
                for t, r in zip(chain, results, strict=True)
                if r
                not in (
                    CreateTransferResult.OK,
                    CreateTransferResult.EXISTS,
                    CreateTransferResult.LINKED_EVENT_FAILED,
                )
            ]
            if failed:
                transfer, result = failed[0]
                if result is CreateTransferResult.EXCEEDS_CREDITS:
                    owner = self._account_owners().get(
                        transfer.debit_account_id.to_bytes(16, "big")
                    )
                    who = f"{owner[0]} ({owner[1]})" if owner else "a participant"
                    raise SwitchError(
                        "insufficient_liquidity",
                        f"settlement of window {window_id}: the liquidity of {who} no longer"
                        " covers its net credit position",
                    )
                raise SwitchError(
                    "ledger_rejected",
                    f"settlement of window {window_id} refused by the ledger: {result.value}",
                )
            if any(r is not CreateTransferResult.OK for r in results):
                # A retry: the chain is atomic, so it is applied iff all its ids exist.
                found = self._ledger.lookup_transfers([t.id for t in chain])
                if len(found) != len(chain):
                    raise SwitchError(
                        "ledger_rejected",
                        f"settlement of window {window_id} is only partly in the ledger",
                    )
        with self._write():
            self._db.execute(
                "UPDATE settlement_windows SET state = 'settled', settled_ns = ?"
                " WHERE window_id = ? AND state = 'closed'",
                (self._clock(), window_id),
            )
        return self.window(window_id)

    def _settlement_chain(self, report: SettlementReport) -> list[Transfer]:
        debtors: list[Transfer] = []
        creditors: list[Transfer] = []
        for p in report.positions:
            if p.net == 0 or p.participant_id == HUB_PARTICIPANT:
                continue
            unit = currency(p.currency)
            hub = hub_settlement_account_id(p.currency)
            account = (
                hub_fees_account_id(p.currency)
                if p.participant_id == HUB_PARTICIPANT
                else liquidity_account_id(p.participant_id, p.currency)
            )
            transfer_id = settlement_transfer_id(report.window_id, p.participant_id, p.currency)
            if p.net < 0:
                debtors.append(
                    Transfer(
                        id=transfer_id,
                        debit_account_id=hub,
                        credit_account_id=account,
                        amount=-p.net,
                        ledger=unit.ledger,
                        code=TRANSFER_CODE_SETTLEMENT,
                        user_data_64=report.window_id,
                    )
                )
            else:
                creditors.append(
                    Transfer(
                        id=transfer_id,
                        debit_account_id=account,
                        credit_account_id=hub,
                        amount=p.net,
                        ledger=unit.ledger,
                        code=TRANSFER_CODE_SETTLEMENT,
                        user_data_64=report.window_id,
                    )
                )
        chain = debtors + creditors
        return [t if i == len(chain) - 1 else _linked(t) for i, t in enumerate(chain)]


def _linked(transfer: Transfer) -> Transfer:
    return msgspec.structs.replace(transfer, flags=TransferFlags.LINKED)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
