"""The data compliance works on and answers with, shared by its parts and by the switch.

A `PaymentEvent` is what the switch knows about a payment when it asks compliance (before
reserving it) and again when it is committed; a `Decision` is the answer: the verdict and
every reason behind it, each reason naming its rule and the figure. Alerts raised by
monitoring carry their rule, score and evidence and are grouped into cases.

Money is int minor units with an ISO 4217 code (as everywhere in corridor); the USD
equivalent is computed by the switch from the quote's rates (half-even, to the cent) so that
thresholds written in USD can be compared across currencies.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "Alert",
    "Decision",
    "PartyInfo",
    "PaymentEvent",
    "Reason",
    "Verdict",
]


class Verdict(enum.StrEnum):
    """What compliance decides for a payment, from mildest to strictest."""

    ALLOW = "allow"
    REVIEW = "review"
    """Hold the payment pending (its ledger holds stay reserved) until a case resolves it."""
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Verdict.ALLOW: 0, Verdict.REVIEW: 1, Verdict.BLOCK: 2}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a decision: which rule, what it says, and the figures."""

    rule: str
    """Stable rule id, e.g. ``kyc.cn.t3.per_payment`` or ``monitoring.structuring``."""
    verdict: Verdict
    message: str
    """Human-readable, naming the figure: "CN T3 per-payment limit CNY 2,000.00 exceeded"."""
    figures: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Machine-readable figures (limit, observed, window...), values as strings."""


@dataclass(frozen=True, slots=True)
class Alert:
    """A monitoring rule that fired on a payment."""

    alert_id: str
    rule: str
    score: float
    """0..1: how strongly the rule fired."""
    verdict: Verdict
    payment_id: str
    subject: str
    """Whom the alert is about, e.g. ``customer:wallet-cn/c-001`` or ``merchant:m-17``."""
    evidence: Mapping[str, str] = field(hash=False)
    at_ns: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on a payment and every reason behind it (strictest verdict wins)."""

    verdict: Verdict
    reasons: tuple[Reason, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @staticmethod
    def of(reasons: tuple[Reason, ...], alerts: tuple[Alert, ...] = ()) -> Decision:
        verdict = max((r.verdict for r in reasons), key=lambda v: v.rank, default=Verdict.ALLOW)
        return Decision(verdict, reasons, alerts)


@dataclass(frozen=True, slots=True)
class PartyInfo:
    """A natural or legal person on one side of a payment, as compliance needs it."""

    party_id: str
    """``customer:<wallet>/<customer>`` or ``merchant:<merchant id>``."""
    name: str
    """Romanized / Latin name."""
    name_native: str | None
    country: str
    """ISO 3166-1 alpha-2."""
    kind: str
    """``individual`` or ``entity``."""
    kyc_tier: str | None = None
    date_of_birth: str | None = None
    """ISO 8601 date, individuals only."""
    created_ns: int | None = None
    """When the party was registered (new-account rules)."""
    region: str | None = None
    """ISO 3166-2 subdivision (merchants)."""
    mcc: str | None = None
    """ISO 18245 merchant category code (merchants)."""
    address: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A payment as compliance sees it (before reserve, and again at commit)."""

    payment_id: str
    at_ns: int
    """Nanoseconds since the Unix epoch (the switch's clock)."""
    payer: PartyInfo
    payee: PartyInfo
    wallet_id: str
    acquirer_id: str
    source_currency: str
    source_amount: int
    """What the payer's wallet pays, minor units of `source_currency` (fee included)."""
    target_currency: str
    target_amount: int
    """What the merchant receives, minor units of `target_currency`."""
    usd_cents: int
    """The payment's value in US cents (ECB cross rate through EUR, half-even)."""
    kind: str = "purchase"
    """``purchase``, ``hold`` (deposit / pre-authorization) or ``refund``."""
