"""Compliance inline on every payment: the switch's side of `corridor.compliance`.

Before a payment reaches the ledger the payment service asks the gate (`assess`) and gets a
`Decision` per payment:

- **KYC limits** (`Limits.check`): the payer's tier limits per payment, rolling day and year
  (BLOCK, naming the rule and the figure);
- **travel rule** (`TravelRule.check`): at or above the payer jurisdiction's threshold the
  originator data must be complete (BLOCK otherwise);
- **sanctions screening**: the best stored screening score of the payer and the merchant
  (parties are screened when lists are loaded, and on first sight here if they are new), fed to
- **monitoring** (`Monitor.evaluate`): every typology rule, with the screening score and the
  travel-rule outcome, giving alerts and ALLOW / REVIEW / BLOCK.

The strictest verdict wins. BLOCK: the payment is recorded ABORTED (``compliance_blocked``,
every reason in the message) and nothing reaches the ledger. REVIEW: the payment is reserved
as holds (two-phase) for at least `payments.REVIEW_HOLD_TIMEOUT_S` and its alerts open a case with a
hold; a compliance officer releases (commits) or refuses (aborts) it from the case, and the
participant cannot commit it meanwhile (``payment_under_review``). ALLOW: the one-shot path.

Within a batch the payments are assessed in order and each one that may go ahead counts at
once (in memory) in the limits and the monitor's aggregates, so a customer's later payment in
the same batch sees the earlier ones. After the ledger, `admitted` persists the limits' usage,
stores travel-rule payloads and alerts, and `rejected` forgets the payments the ledger refused
(monitoring keeps them: attempts are evidence too).

Values in USD (thresholds written in USD) come from the switch's `usd_rate` (an FX provider's
rate to USD), applied to what the payer is debited, rounded half-even to the cent.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from corridor.compliance.cases import CaseBook, HoldResolver, HoldState
from corridor.compliance.limits import Limits
from corridor.compliance.lists import SanctionsStore
from corridor.compliance.monitoring import Monitor
from corridor.compliance.travelrule import TravelRule
from corridor.compliance.types import Decision, PartyInfo, PaymentEvent, Reason, Verdict
from corridor.switch.directory import Customer, Directory, Merchant
from corridor.switch.payments import Payment
from corridor.switch.refunds import Refund

__all__ = ["ComplianceGate", "customer_party", "merchant_party"]

SCREENED_PARTIES_CACHED_MAX: Final = 1_000_000
PARTIES_CACHED_MAX: Final = 65_536
"""Compliance views of customers and merchants kept (both are immutable records)."""

UsdRate = Callable[[str, int], Decimal]
"""USD per one unit of a currency at a time (ns); raises SwitchError when it has none."""


@functools.lru_cache(maxsize=PARTIES_CACHED_MAX)
def customer_party(customer: Customer) -> PartyInfo:
    return PartyInfo(
        party_id=f"customer:{customer.wallet_id}/{customer.customer_id}",
        name=customer.name_romanized,
        name_native=customer.name_native,
        country=customer.country,
        kind="individual",
        kyc_tier=customer.kyc_tier,
        date_of_birth=customer.date_of_birth.isoformat(),
        created_ns=customer.created_ns,
    )


@functools.lru_cache(maxsize=PARTIES_CACHED_MAX)
def merchant_party(merchant: Merchant) -> PartyInfo:
    return PartyInfo(
        party_id=f"merchant:{merchant.id}",
        name=merchant.name,
        name_native=merchant.name_native,
        country=merchant.country,
        kind="entity",
        created_ns=merchant.created_ns,
        region=merchant.region,
        mcc=merchant.mcc,
    )


class ComplianceGate:
    """Limits, travel rule, screening and monitoring for the payment service. Thread-safe."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        directory: Directory,
        usd_rate: UsdRate,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._directory = directory
        self._usd_rate = usd_rate
        self._clock = clock
        self._lock = threading.Lock()
        self.limits = Limits.open(path)
        self.monitor = Monitor.open(path)
        self.travel_rule = TravelRule.open(path, rates=self._rate, clock=clock)
        self.cases = CaseBook.open(path, clock=clock)
        self.sanctions = SanctionsStore(path, clock=clock)
        self._scores: dict[str, tuple[float, str] | None] = {}
        self._lists_version: tuple[tuple[str, str], ...] | None = None

    def close(self) -> None:
        self.monitor.close()
        for part in (self.limits, self.travel_rule, self.cases, self.sanctions):
            part.close()

    def set_resolver(self, resolver: HoldResolver) -> None:
        """Who commits or aborts payments released or refused from their case."""
        self.cases._resolver = (
            resolver  # The case book takes it at open; the switch is built after.
        )

    def _rate(self, source: str, target: str, at_ns: int) -> Decimal:
        if target == "USD":
            return self._usd_rate(source, at_ns)
        return self._usd_rate(source, at_ns) / self._usd_rate(target, at_ns)

    # -- events ------------------------------------------------------------------------

    def event(self, payment: Payment) -> PaymentEvent:
        """The compliance view of a payment."""
        p = payment
        customer = self._directory.customer(p.wallet_id, p.customer_id)
        merchant = self._directory.merchant(p.merchant_id)
        debit = p.debit_total
        target = p.target
        at_ns = p.created_ns
        rate = self._usd_rate(debit.currency.code, at_ns)
        cents = (Decimal(debit.amount) / (10**debit.currency.minor_units) * rate * 100).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return PaymentEvent(
            payment_id=p.payment_id,
            at_ns=at_ns,
            payer=customer_party(customer),
            payee=merchant_party(merchant),
            wallet_id=p.wallet_id,
            acquirer_id=p.acquirer_id,
            source_currency=debit.currency.code,
            source_amount=debit.amount,
            target_currency=target.currency.code,
            target_amount=target.amount,
            usd_cents=int(cents),
            kind="purchase",
        )

    # -- screening -----------------------------------------------------------------------

    def _refresh_lists(self) -> None:
        """Forget cached scores when a list was loaded (checked once per batch)."""
        version = tuple((i.list, i.version) for i in self.sanctions.lists())
        with self._lock:
            if version != self._lists_version:
                self._scores.clear()
                self._lists_version = version

    def _screening(self, party: PartyInfo) -> tuple[float, str] | None:
        """(best score, party id) of a party against the stored lists; None without lists."""
        with self._lock:
            if party.party_id in self._scores:
                return self._scores[party.party_id]
            version = self._lists_version
        if not version:
            result: tuple[float, str] | None = None
        else:
            stored = self.sanctions.screening_results(party.party_id)
            if stored:
                result = (max(r.score for r in stored), party.party_id)
            else:
                hits = self.sanctions.index().screen_party(party).hits
                result = (max(h.score for h in hits), party.party_id) if hits else (0.0, "")
        with self._lock:
            if len(self._scores) >= SCREENED_PARTIES_CACHED_MAX:
                self._scores.clear()
            self._scores[party.party_id] = result
        return result

    # -- the decision --------------------------------------------------------------------

    def assess(self, payments: Sequence[Payment]) -> list[tuple[PaymentEvent, Decision]]:
        """The decision on each payment, in order; those that may go ahead count at once."""
        out: list[tuple[PaymentEvent, Decision]] = []
        self._refresh_lists()
        for payment in payments:
            event = self.event(payment)
            reasons: list[Reason] = list(self.limits.check(event))
            travel = self.travel_rule.check(event)
            reasons.extend(travel)
            payer_hit = self._screening(event.payer)
            payee_hit = self._screening(event.payee)
            hits = [h for h in (payer_hit, payee_hit) if h is not None]
            best = max(hits, default=None)
            monitored = self.monitor.evaluate(
                event,
                screening_score=None if best is None else best[0],
                screened_party_id=None if best is None or not best[1] else best[1],
                travel_rule_ok=not travel,
            )
            decision = Decision.of(tuple(reasons) + monitored.reasons, monitored.alerts)
            if decision.verdict is not Verdict.BLOCK:
                self.limits.record_many([event], persist=False)
                self.monitor.record(event)
            out.append((event, decision))
        return out

    def admitted(self, assessed: Sequence[tuple[PaymentEvent, Decision]]) -> None:
        """These payments reached the ledger (committed, or held for review)."""
        events = [event for event, _ in assessed]
        self.limits.persist(events)
        self.travel_rule.record_many([e for e in events if self.travel_rule.applies(e)])
        self._store_alerts(assessed)

    def blocked(self, assessed: Sequence[tuple[PaymentEvent, Decision]]) -> None:
        """These payments were blocked: keep their alerts (they are the evidence)."""
        self._store_alerts(assessed)

    def rejected(self, events: Sequence[PaymentEvent]) -> None:
        """These payments did not go through after all (ledger refusal, abort, expiry)."""
        for event in events:
            self.limits.release(event)

    def _store_alerts(self, assessed: Sequence[tuple[PaymentEvent, Decision]]) -> None:
        alerts = [alert for _, decision in assessed for alert in decision.alerts]
        if alerts:
            self.cases.add_alerts(alerts)

    def refunded(self, refund: Refund, payment: Payment) -> None:
        """A refund went through: the monitor counts it (money back to the customer is the
        inflow of pass-through and the evidence of repeated refunds)."""
        original = self.event(payment)
        rate = self._usd_rate(refund.source.currency.code, refund.created_ns)
        credit = refund.credit_total
        cents = (Decimal(credit.amount) / (10**credit.currency.minor_units) * rate * 100).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        event = PaymentEvent(
            payment_id=f"refund:{refund.refund_id}",
            at_ns=refund.created_ns,
            payer=original.payer,
            payee=original.payee,
            wallet_id=original.wallet_id,
            acquirer_id=original.acquirer_id,
            source_currency=credit.currency.code,
            source_amount=credit.amount,
            target_currency=refund.target.currency.code,
            target_amount=refund.target.amount,
            usd_cents=int(cents),
            kind="refund",
        )
        decision = self.monitor.evaluate(event)
        self.monitor.record(event)
        if decision.alerts:
            # The refund is done: its alerts go to the case queue, but there is nothing to hold.
            self.cases.add_alerts(
                [
                    dataclasses.replace(
                        alert,
                        verdict=Verdict.ALLOW,
                        evidence={
                            **alert.evidence,
                            "rule_verdict": alert.verdict.value,
                            "note": "a completed refund cannot be held",
                        },
                    )
                    for alert in decision.alerts
                ]
            )

    def under_review(self, payment_id: str) -> bool:
        """Whether a case holds this payment pending review."""
        hold = self.cases.hold(payment_id)
        return hold is not None and hold.state is HoldState.PENDING

    def flush(self) -> None:
        """Persist the monitor's aggregates (call now and then, and before closing)."""
        self.monitor.flush()
