"""KYC limits: refuse a payment that would take a customer past the limits of their tier.

The payer's jurisdiction is the payer's country (`corridor.compliance.profiles`; the FATF
default profile, which has no tiers, for a country without a profile of its own); the tier is
`PartyInfo.kyc_tier`, matched to the profile's tier ids and aliases, and held to the profile's
strictest tier when missing or unknown. Each tier limits, in its currency:

- **per payment**: the payment itself;
- **daily**: the payments of the rolling 24 hours ending at the payment (``(at − 24 h, at]``);
- **annual**: the same over a rolling 365 days;

and the tier's funds-transfer caps (JP Payment Services Act Type II / III, KR small-sum
remittance) limit per transfer, daily and annually the same way, in the cap's currency. A
payment is counted at what the payer's wallet pays (source amount, fee included) when the
limit's currency is the source currency, else its target amount or its US-dollar equivalent
(`profiles.event_amount`). A recorded payment priced in none of the limit's currencies is
converted at the rate implied by the payment being checked (half-even); a payment that cannot
be priced in the limit's currency at all is refused (``kyc.<j>.unpriced``).

The switch calls, for one payment id:

- `check` before quoting and before reserving: every refusal is a BLOCK `Reason` naming the
  rule and the figure ("CN T3 daily limit CNY 2,000.00: 1,950.00 used, 100.00 requested");
- `record` once the payment is reserved: it now counts against the windows;
- `release` if it is aborted or expires: it no longer counts.

Refunds are never limited and never counted. Recording twice counts once; releasing an
unknown payment does nothing. The customer's balance limit is in the profile, but a payment
event carries no balance (the wallet holds it), so it is the wallet's to enforce on top-up.

Usage is kept in memory (per customer, sorted by time) and written through to the
``kyc_limit_usage`` table in the ledger's SQLite file (a connection of its own, short
``BEGIN IMMEDIATE`` transactions, like `corridor.switch.directory`), reloaded on `open`.
Rows older than the annual window are dropped as the customer's newer payments are recorded.
Time is the event's ``at_ns``, never the wall clock.
"""

from __future__ import annotations

import bisect
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from corridor.compliance.profiles import (
    Profiles,
    Tier,
    default_profiles,
    event_amount,
    format_minor,
)
from corridor.compliance.types import PartyInfo, PaymentEvent, Reason, Verdict
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection

__all__ = [
    "ANNUAL_WINDOW_S",
    "DAILY_WINDOW_S",
    "LIMITS_SCHEMA",
    "Limits",
]

DAILY_WINDOW_S: Final = 24 * 3600
ANNUAL_WINDOW_S: Final = 365 * 24 * 3600
_NS_PER_S: Final = 1_000_000_000
_DAILY_NS: Final = DAILY_WINDOW_S * _NS_PER_S
_ANNUAL_NS: Final = ANNUAL_WINDOW_S * _NS_PER_S
UNLIMITED_KINDS: Final = frozenset({"refund"})
"""Payment kinds that are never limited nor counted."""

LIMITS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS kyc_limit_usage (
    payment_id TEXT PRIMARY KEY,
    customer TEXT NOT NULL,
    at_ns INTEGER NOT NULL,
    source_currency TEXT NOT NULL,
    source_amount INTEGER NOT NULL,
    target_currency TEXT NOT NULL,
    target_amount INTEGER NOT NULL,
    usd_cents INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kyc_limit_usage_customer ON kyc_limit_usage (customer, at_ns);
"""
"""Payments that count against KYC limits (reserved or committed, not released)."""


@dataclass(frozen=True, slots=True, order=True)
class _Use:
    """A recorded payment as the limits see it."""

    at_ns: int
    payment_id: str
    source_currency: str
    source_amount: int
    target_currency: str
    target_amount: int
    usd_cents: int

    def amount_in(self, currency: str) -> int | None:
        if currency == self.source_currency:
            return self.source_amount
        if currency == self.target_currency:
            return self.target_amount
        if currency == "USD":
            return self.usd_cents
        return None


@dataclass(frozen=True, slots=True)
class _Limit:
    """One set of figures to check: a tier's or a cap's, in one currency."""

    rule: str
    label: str
    currency: str
    per_name: str
    """``per_payment`` for a tier, ``per_transfer`` for a cap."""
    per_payment: int | None
    daily: int | None
    annual: int | None


def _limits_of(jurisdiction: str, tier: Tier, caps: list[_Limit]) -> list[_Limit]:
    prefix = f"kyc.{jurisdiction.lower()}"
    own = _Limit(
        rule=f"{prefix}.{tier.id.lower()}",
        label=f"{jurisdiction} {tier.id}",
        currency=tier.currency,
        per_name="per_payment",
        per_payment=tier.per_payment,
        daily=tier.daily,
        annual=tier.annual,
    )
    return [own, *caps]


class Limits:
    """KYC limit enforcement over rolling windows per customer. Thread-safe."""

    def __init__(
        self, profiles: Profiles | None = None, connection: sqlite3.Connection | None = None
    ) -> None:
        self.profiles = profiles if profiles is not None else default_profiles()
        self._db = connection
        self._lock = threading.RLock()
        self._uses: dict[str, list[_Use]] = {}
        self._customer_of: dict[str, str] = {}
        self._applicable_profiles = self.profiles
        self._applicable_cache: dict[
            tuple[str, str | None], tuple[str, Tier | None, bool, list[_Limit]]
        ] = {}
        if connection is not None:
            self._load(connection)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, profiles: Profiles | None = None) -> Limits:
        """The limits kept in the ledger's SQLite file `path` (table created if missing)."""
        connection = open_side_connection(path, LIMITS_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
        try:
            return cls(profiles, connection)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Limits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self, db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT customer, at_ns, payment_id, source_currency, source_amount,"
            " target_currency, target_amount, usd_cents FROM kyc_limit_usage"
            " ORDER BY customer, at_ns, payment_id"
        ).fetchall()
        for row in rows:
            use = _Use(
                at_ns=int(row[1]),
                payment_id=str(row[2]),
                source_currency=str(row[3]),
                source_amount=int(row[4]),
                target_currency=str(row[5]),
                target_amount=int(row[6]),
                usd_cents=int(row[7]),
            )
            self._uses.setdefault(str(row[0]), []).append(use)
            self._customer_of[use.payment_id] = str(row[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection | None]:
        if self._db is None:
            yield None
            return
        with immediate_transaction(self._db):
            yield self._db

    # -- checking --------------------------------------------------------------------------

    def _applicable(self, payer: PartyInfo) -> tuple[str, Tier | None, bool, list[_Limit]]:
        """The limits of a payer's jurisdiction and tier (kept per profiles, country, tier)."""
        if self._applicable_profiles is not self.profiles:  # replaced: start over
            self._applicable_cache.clear()
            self._applicable_profiles = self.profiles
        key = (payer.country, payer.kyc_tier)
        found = self._applicable_cache.get(key)
        if found is None:
            found = self._applicable_cache[key] = self._applicable_uncached(payer)
        return found

    def _applicable_uncached(self, payer: PartyInfo) -> tuple[str, Tier | None, bool, list[_Limit]]:
        profile = self.profiles.for_country(payer.country)
        tier, assumed = profile.tier(payer.kyc_tier)
        if tier is None:
            return profile.jurisdiction, None, False, []
        caps = [
            _Limit(
                rule=f"kyc.{profile.jurisdiction.lower()}.{cap.id}",
                label=f"{profile.jurisdiction} {cap.id} cap",
                currency=cap.currency,
                per_name="per_transfer",
                per_payment=cap.per_transfer,
                daily=cap.daily,
                annual=cap.annual,
            )
            for cap in (profile.caps[c] for c in tier.caps)
        ]
        return profile.jurisdiction, tier, assumed, _limits_of(profile.jurisdiction, tier, caps)

    def check(self, event: PaymentEvent) -> tuple[Reason, ...]:
        """The refusals `event` meets (BLOCK reasons); empty when within every limit.

        Pure: nothing is recorded. The payment itself is left out of the windows if it was
        already recorded (a re-check of a reserved payment counts it once).
        """
        if event.kind in UNLIMITED_KINDS:
            return ()
        jurisdiction, tier, assumed, limits = self._applicable(event.payer)
        if tier is None:
            return ()
        assumed_note = ""
        base_figures = {"jurisdiction": jurisdiction, "tier": tier.id}
        if assumed:
            given = event.payer.kyc_tier
            assumed_note = f" (KYC tier {given!r} unknown here; held to {tier.id})"
            base_figures["kyc_tier"] = str(given)
            base_figures["tier_assumed"] = "true"
        with self._lock:
            uses = list(self._uses.get(event.payer.party_id, ()))
        uses = [u for u in uses if u.payment_id != event.payment_id]
        reasons: list[Reason] = []
        for limit in limits:
            reasons.extend(self._check_one(event, limit, uses, assumed_note, base_figures))
        return tuple(reasons)

    def _check_one(
        self,
        event: PaymentEvent,
        limit: _Limit,
        uses: list[_Use],
        note: str,
        base: dict[str, str],
    ) -> list[Reason]:
        currency = limit.currency
        amount = event_amount(event, currency)
        if amount is None:
            if limit.per_payment is None and limit.daily is None and limit.annual is None:
                return []
            rule = f"kyc.{base['jurisdiction'].lower()}.unpriced"
            message = (
                f"{limit.label} limits are in {currency}, and the payment is priced in neither"
                f" {currency}, {event.source_currency}, {event.target_currency} nor USD{note}"
            )
            return [Reason(rule, Verdict.BLOCK, message, {**base, "currency": currency})]
        reasons: list[Reason] = []

        def refuse(kind: str, what: str, figure: int, used: int | None, window_s: int) -> None:
            text = f"{limit.label} {what} limit {currency} {format_minor(figure, currency)}: "
            if used is not None:
                text += f"{format_minor(used, currency)} used, "
            text += f"{format_minor(amount, currency)} requested{note}"
            figures = {
                **base,
                "limit": format_minor(figure, currency).replace(",", ""),
                "currency": currency,
                "requested": format_minor(amount, currency).replace(",", ""),
            }
            if used is not None:
                figures["used"] = format_minor(used, currency).replace(",", "")
                figures["window_s"] = str(window_s)
            reasons.append(Reason(f"{limit.rule}.{kind}", Verdict.BLOCK, text, figures))

        if limit.per_payment is not None and amount > limit.per_payment:
            refuse(limit.per_name, limit.per_name.replace("_", "-"), limit.per_payment, None, 0)
        for kind, what, figure, window_ns, window_s in (
            ("daily", "daily", limit.daily, _DAILY_NS, DAILY_WINDOW_S),
            ("annual", "annual", limit.annual, _ANNUAL_NS, ANNUAL_WINDOW_S),
        ):
            if figure is None:
                continue
            used = _used(uses, event, currency, amount, event.at_ns - window_ns)
            if used + amount > figure:
                refuse(kind, what, figure, used, window_s)
        return reasons

    # -- recording -------------------------------------------------------------------------

    def record(self, event: PaymentEvent) -> None:
        """Count a reserved payment against its payer's windows (idempotent)."""
        self.record_many([event])

    def record_many(self, events: Sequence[PaymentEvent], *, persist: bool = True) -> None:
        """`record` for many payments in one transaction (the switch's batches).

        With ``persist=False`` they count in memory only, at once (so that the next check in
        the same batch sees them); `persist` writes them once their payments went through,
        and `release` forgets those that did not.
        """
        with self._lock:
            fresh = [
                e
                for e in events
                if e.kind not in UNLIMITED_KINDS and e.payment_id not in self._customer_of
            ]
            if not fresh:
                return
            uses = [
                (
                    e.payer.party_id,
                    _Use(
                        e.at_ns,
                        e.payment_id,
                        e.source_currency,
                        e.source_amount,
                        e.target_currency,
                        e.target_amount,
                        e.usd_cents,
                    ),
                )
                for e in fresh
            ]
            if persist:
                self._persist(uses)
            for customer, use in uses:
                if use.payment_id in self._customer_of:
                    continue  # Twice in one batch.
                horizon = use.at_ns - _ANNUAL_NS
                held = self._uses.setdefault(customer, [])
                bisect.insort(held, use)
                expired = bisect.bisect_right(held, horizon, key=lambda u: u.at_ns)
                for old in held[:expired]:
                    del self._customer_of[old.payment_id]
                del held[:expired]
                self._customer_of[use.payment_id] = customer

    def persist(self, events: Sequence[PaymentEvent]) -> None:
        """Write payments recorded with ``persist=False`` (those still counted)."""
        with self._lock:
            self._persist(self._uses_of({e.payment_id for e in events}))

    def _uses_of(self, payment_ids: set[str]) -> list[tuple[str, _Use]]:
        customers = {self._customer_of[i] for i in payment_ids if i in self._customer_of}
        return [
            (customer, use)
            for customer in customers
            for use in self._uses.get(customer, [])
            if use.payment_id in payment_ids
        ]

    def _persist(self, uses: Sequence[tuple[str, _Use]]) -> None:
        if not uses:
            return
        with self._write() as db:
            if db is not None:
                db.executemany(
                    "INSERT INTO kyc_limit_usage (payment_id, customer, at_ns,"
                    " source_currency, source_amount, target_currency, target_amount,"
                    " usd_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (payment_id) DO NOTHING",
                    [
                        (
                            u.payment_id,
                            customer,
                            u.at_ns,
                            u.source_currency,
                            u.source_amount,
                            u.target_currency,
                            u.target_amount,
                            u.usd_cents,
                        )
                        for customer, u in uses
                    ],
                )
                db.executemany(
                    "DELETE FROM kyc_limit_usage WHERE customer = ? AND at_ns <= ?",
                    sorted({(c, u.at_ns - _ANNUAL_NS) for c, u in uses}),
                )

    def release(self, event: PaymentEvent) -> None:
        """Stop counting an aborted or expired payment (nothing happens if it was not counted)."""
        with self._lock:
            customer = self._customer_of.get(event.payment_id)
            if customer is None:
                return
            with self._write() as db:
                if db is not None:
                    db.execute(
                        "DELETE FROM kyc_limit_usage WHERE payment_id = ?", (event.payment_id,)
                    )
            uses = self._uses[customer]
            uses[:] = [u for u in uses if u.payment_id != event.payment_id]
            if not uses:
                del self._uses[customer]
            del self._customer_of[event.payment_id]

    def used(self, party_id: str, currency: str, window_s: int, at_ns: int) -> int:
        """What `party_id`'s recorded payments in ``(at − window, at]`` amount to in `currency`.

        Payments not priced in `currency` are left out (for reports and tests; `check`
        prices them at the checked payment's rate).
        """
        with self._lock:
            uses = list(self._uses.get(party_id, ()))
        cutoff = at_ns - window_s * _NS_PER_S
        return sum(
            amount
            for u in uses
            if cutoff < u.at_ns <= at_ns and (amount := u.amount_in(currency)) is not None
        )


def _used(uses: list[_Use], event: PaymentEvent, currency: str, amount: int, cutoff: int) -> int:
    """Sum in `currency` of the uses after `cutoff` (later ones too: replays out of order).

    A use not priced in `currency` is converted through US dollars at `event`'s own rate
    (`amount` of `currency` per ``event.usd_cents``), rounded half-even.
    """
    start = bisect.bisect_right(uses, cutoff, key=lambda u: u.at_ns)
    total = 0
    for use in uses[start:]:
        value = use.amount_in(currency)
        if value is None:
            if event.usd_cents <= 0:
                value = 0
            else:
                exact = Decimal(use.usd_cents) * Decimal(amount) / Decimal(event.usd_cents)
                value = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        total += value
    return total
