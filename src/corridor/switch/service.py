"""`Switch`: the whole payment switch of one database behind one object.

This is the Python API the CLI, the HTTP API and the sandbox use. `Switch.open(path)` opens
the ledger and every service over it (directory, liquidity, quotes, payments, refunds,
settlement), sharing one clock and one `NetPositions` tracker for net debit caps, which it
rebuilds from storage at open (see `corridor.switch.positions`). Close it when done.

FX providers' pricing is configuration kept in the database (table ``fx_pricing``), so that
every process that opens the switch quotes alike: per FX provider participant, either
``ecb`` (mid rates from an ECB reference CSV, optionally widened by a spread) or ``prices``
(the provider's own bid/ask per pair), plus its fee schedule. `set_fx_pricing` replaces a
provider's configuration.

Quotes live in memory (`QuoteBook`): a quote is issued and used within one process, which is
how scan-and-pay works (the wallet asks, then pays seconds later through the same switch).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from corridor.formats.ecb import EcbError, EcbRates, load_ecb_csv
from corridor.ledger import Ledger
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection
from corridor.switch.compliance_gate import ComplianceGate
from corridor.switch.directory import Directory, ParticipantKind
from corridor.switch.errors import SwitchError
from corridor.switch.fx import (
    NO_FEES,
    EcbRateSource,
    FeeSchedule,
    FxError,
    FxProvider,
    PairPrice,
    ProviderRateSource,
    Quote,
    QuoteBook,
    RateSource,
)
from corridor.switch.liquidity import Liquidity
from corridor.switch.money import Currency, Money, currency, parse_amount
from corridor.switch.payments import Payment, PaymentService, PaymentState
from corridor.switch.positions import Hold, NetPositions, Posting
from corridor.switch.refunds import RefundService
from corridor.switch.settlement import SettlementService

__all__ = ["FX_PRICING_SCHEMA", "FxPricing", "Switch"]

FX_PRICING_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS fx_pricing (
    participant_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
);
"""
SPREAD_BPS_MAX: Final = 5_000
_NS_PER_S: Final = 1_000_000_000
_NS_PER_DAY: Final = 86_400 * _NS_PER_S
USD_RATES_CACHED_MAX: Final = 10_000


class _ReviewResolver:
    """Releases (commits) or refuses (aborts) payments held for review, for their cases."""

    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments

    def release(self, payment_id: str) -> object:
        return self._payments.release_from_review(payment_id)

    def refuse(self, payment_id: str) -> object:
        return self._payments.abort(payment_id)


@dataclass(frozen=True, slots=True)
class FxPricing:
    """How an FX provider prices: ``ecb`` (file + spread) or ``prices`` (bid/ask per pair)."""

    participant_id: str
    source: str
    ecb_file: str | None = None
    spread_bps: int = 0
    prices: tuple[PairPrice, ...] = ()
    fees: FeeSchedule = NO_FEES

    def to_json(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "source": self.source,
            "ecb_file": self.ecb_file,
            "spread_bps": self.spread_bps,
            "prices": [
                {"base": p.base, "quote": p.quote, "bid": str(p.bid), "ask": str(p.ask)}
                for p in self.prices
            ],
            "fees": {"bps": self.fees.bps, "fixed": dict(self.fees.fixed)},
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> FxPricing:
        """Validate a pricing configuration; ``invalid_fx_pricing`` names what is wrong."""
        try:
            participant_id = str(data["participant_id"])
            source = str(data.get("source", ""))
            spread = data.get("spread_bps", 0)
            if not isinstance(spread, int) or isinstance(spread, bool):
                raise ValueError("spread_bps is an int")
            if not 0 <= spread <= SPREAD_BPS_MAX:
                raise ValueError(f"spread_bps is 0 to {SPREAD_BPS_MAX}")
            fees = FeeSchedule.from_mapping(data.get("fees") or {})
            if source == "ecb":
                ecb_file = data.get("ecb_file")
                if not isinstance(ecb_file, str) or not ecb_file:
                    raise ValueError("ecb pricing names its ecb_file")
                return FxPricing(
                    participant_id, "ecb", ecb_file=ecb_file, spread_bps=spread, fees=fees
                )
            if source == "prices":
                raw_prices = data.get("prices")
                if not isinstance(raw_prices, list) or not raw_prices:
                    raise ValueError("prices pricing lists at least one pair")
                prices = tuple(
                    PairPrice(
                        str(p["base"]),
                        str(p["quote"]),
                        Decimal(str(p["bid"])),
                        Decimal(str(p["ask"])),
                    )
                    for p in raw_prices
                )
                return FxPricing(participant_id, "prices", prices=prices, fees=fees)
            raise ValueError("source is 'ecb' or 'prices'")
        except (KeyError, TypeError, ValueError, InvalidOperation, FxError) as error:
            raise SwitchError("invalid_fx_pricing", f"FX pricing: {error}") from None


class _SpreadRateSource:
    """Another rate source's rates, worsened for the customer by `spread_bps`."""

    def __init__(self, inner: RateSource, spread_bps: int) -> None:
        self._inner = inner
        self._factor = (Decimal(10_000) - spread_bps) / Decimal(10_000)

    def rate(self, source: Currency, target: Currency, at_ns: int) -> Decimal:
        return self._inner.rate(source, target, at_ns) * self._factor


class Switch:
    """The ledger and every switch service of one database."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        clock: Callable[[], int] = time.time_ns,
        quote_ttl_s: int | None = None,
        compliance: bool = True,
    ) -> None:
        self.clock = clock
        self.ledger = ledger
        self.positions = NetPositions()
        self.directory = Directory.open(ledger, clock=clock)
        self.liquidity = Liquidity(self.directory)
        self.quotes = QuoteBook() if quote_ttl_s is None else QuoteBook(ttl_s=quote_ttl_s)
        self._usd_rates: dict[tuple[str, int], Decimal] = {}
        self.compliance = (
            ComplianceGate(ledger.store.path, self.directory, self.usd_rate, clock=clock)
            if compliance
            else None
        )
        self.payments = PaymentService(
            ledger,
            self.directory,
            self.quotes,
            clock=clock,
            positions=self.positions,
            compliance=self.compliance,
        )
        if self.compliance is not None:
            self.compliance.set_resolver(_ReviewResolver(self.payments))
        self.refunds = RefundService(
            ledger,
            self.directory,
            self.payments,
            positions=self.positions,
            clock=clock,
            on_refund=None if self.compliance is None else self.compliance.refunded,
        )
        self.settlement = SettlementService(
            ledger, self.directory, positions=self.positions, clock=clock
        )
        self._config = open_side_connection(
            ledger.store.path, FX_PRICING_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
        )
        self._lock = threading.RLock()
        self._providers: dict[str, FxProvider] = {}
        self._ecb_cache: dict[str, EcbRates] = {}
        self._rebuild_positions()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], int] = time.time_ns,
        quote_ttl_s: int | None = None,
        compliance: bool = True,
    ) -> Switch:
        """Open the switch of the database at `path` (created if missing).

        With `compliance` (the default) every payment is decided by
        `corridor.switch.compliance_gate` before it reaches the ledger.
        """
        ledger = Ledger.open(Path(path), clock=clock)
        try:
            return cls(ledger, clock=clock, quote_ttl_s=quote_ttl_s, compliance=compliance)
        except BaseException:
            ledger.close()
            raise

    def close(self) -> None:
        if self.compliance is not None:
            self.compliance.close()
        for service in (self.settlement, self.refunds, self.payments, self.directory):
            service.close()
        with self._lock:
            self._config.close()
        self.ledger.close()

    def __enter__(self) -> Switch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- positions -----------------------------------------------------------------------

    def _rebuild_positions(self) -> None:
        window = self.settlement.open_window()
        window_net = {(p.participant_id, p.currency): p.net for p in window.positions}
        now = self.clock()
        holds: list[Hold] = []
        for state in (PaymentState.RESERVED, PaymentState.RECEIVED):
            for payment in self.payments.list_all(state=state):
                statuses = {self.ledger.store.pending_status_code(i) for i in payment.transfer_ids}
                if statuses == {"pending"}:
                    holds.append(_hold(payment, now))
        self.positions.reset(window.window_id, window_net, holds)

    # -- FX ------------------------------------------------------------------------------

    def usd_rate(self, currency_code: str, at_ns: int) -> Decimal:
        """USD per unit of `currency_code` on the UTC day of `at_ns`, from the first FX
        provider whose pricing has it; ``compliance_unavailable`` if none has."""
        if currency_code == "USD":
            return Decimal(1)
        key = (currency_code, at_ns // _NS_PER_DAY)
        with self._lock:
            cached = self._usd_rates.get(key)
            providers = (
                [
                    str(r[0])
                    for r in self._config.execute(
                        "SELECT participant_id FROM fx_pricing ORDER BY participant_id"
                    )
                ]
                if cached is None
                else []
            )
        if cached is not None:
            return cached
        for provider_id in providers:
            try:
                rate = self.fx_provider(provider_id).rates.rate(
                    currency(currency_code), currency("USD"), at_ns
                )
            except (FxError, SwitchError):
                continue
            with self._lock:
                if len(self._usd_rates) >= USD_RATES_CACHED_MAX:
                    self._usd_rates.clear()
                self._usd_rates[key] = rate
            return rate
        raise SwitchError(
            "compliance_unavailable",
            f"no FX provider prices {currency_code} in USD, which compliance needs for its"
            " USD thresholds: add a USD pair to a provider's pricing",
        )

    def set_fx_pricing(self, pricing: FxPricing) -> FxPricing:
        """Store an FX provider's pricing (replacing any before) and use it from now on."""
        participant = self.directory.participant(pricing.participant_id)
        if participant.kind is not ParticipantKind.FX_PROVIDER:
            raise SwitchError(
                "invalid_fx_pricing",
                f"{participant.id} is a {participant.kind}, not an fx_provider",
            )
        provider = self._provider_from(pricing)
        with self._lock, immediate_transaction(self._config):
            self._config.execute(
                "INSERT INTO fx_pricing (participant_id, config, updated_ns) VALUES (?, ?, ?)"
                " ON CONFLICT (participant_id) DO UPDATE SET config = excluded.config,"
                " updated_ns = excluded.updated_ns",
                (
                    pricing.participant_id,
                    json.dumps(pricing.to_json(), sort_keys=True),
                    self.clock(),
                ),
            )
            self._providers[pricing.participant_id] = provider
            self._usd_rates.clear()
        return pricing

    def fx_pricing(self, participant_id: str) -> FxPricing:
        with self._lock:
            row = self._config.execute(
                "SELECT config FROM fx_pricing WHERE participant_id = ?", (participant_id,)
            ).fetchone()
        if row is None:
            raise SwitchError("unknown_fx_provider", f"{participant_id!r} has no FX pricing")
        return FxPricing.from_json(json.loads(str(row[0])))

    def fx_provider(self, participant_id: str) -> FxProvider:
        with self._lock:
            provider = self._providers.get(participant_id)
        if provider is None:
            provider = self._provider_from(self.fx_pricing(participant_id))
            with self._lock:
                self._providers[participant_id] = provider
        return provider

    def _provider_from(self, pricing: FxPricing) -> FxProvider:
        rates: RateSource
        if pricing.source == "ecb":
            assert pricing.ecb_file is not None
            with self._lock:
                ecb = self._ecb_cache.get(pricing.ecb_file)
            if ecb is None:
                try:
                    ecb = load_ecb_csv(pricing.ecb_file)
                except (EcbError, OSError) as error:
                    raise SwitchError("invalid_fx_pricing", f"ECB file: {error}") from None
                with self._lock:
                    self._ecb_cache[pricing.ecb_file] = ecb
            rates = EcbRateSource(ecb)
            if pricing.spread_bps:
                rates = _SpreadRateSource(rates, pricing.spread_bps)
        else:
            rates = ProviderRateSource(pricing.prices)
        return FxProvider(pricing.participant_id, rates, pricing.fees)

    def quote(
        self,
        *,
        provider_id: str,
        source_currency: str | None = None,
        target: Money | None = None,
        source: Money | None = None,
        target_currency: str | None = None,
    ) -> Quote:
        """A quote from the provider: for a `target` amount (paid in `source_currency`) or
        for a `source` amount (converted into `target_currency`)."""
        provider = self.fx_provider(provider_id)
        now = self.clock()
        try:
            if target is not None and source_currency is not None and source is None:
                return self.quotes.quote_for_target(
                    target, currency(source_currency), provider, now_ns=now
                )
            if source is not None and target_currency is not None and target is None:
                return self.quotes.quote_for_source(
                    source, currency(target_currency), provider, now_ns=now
                )
        except FxError as error:
            raise SwitchError("quote_refused", f"{error.code}: {error}") from None
        raise SwitchError(
            "invalid_quote_request",
            "ask for a target amount with a source currency, or a source amount with a"
            " target currency",
        )

    # -- scan and pay --------------------------------------------------------------------

    def scan_and_pay(
        self,
        payment_id: str,
        *,
        qr_payload: str,
        wallet_id: str,
        customer_id: str,
        provider_id: str,
        amount: Money | None = None,
    ) -> Payment:
        """Scan-and-pay: find the merchant from its QR, quote, reserve and commit.

        A dynamic QR fixes the amount (tag 54); a static one needs `amount`, in the
        merchant's currency. The payer pays in its wallet's first currency that is not the
        merchant's.
        """
        scanned = self.directory.merchant_from_qr(qr_payload)
        merchant = scanned.merchant
        wallet = self.directory.participant(wallet_id)
        qr_amount = (
            None
            if scanned.qr.transaction_amount is None
            else parse_amount(scanned.qr.transaction_amount, merchant.currency)
        )
        if qr_amount is not None and amount is not None and amount != qr_amount:
            raise SwitchError("invalid_payment", "the QR fixes the amount; do not give another")
        target = amount if amount is not None else qr_amount
        if target is None:
            raise SwitchError("invalid_payment", "a static QR needs an amount")
        source_ccy = next((c for c in wallet.currencies if c != merchant.currency), None)
        if source_ccy is None:
            raise SwitchError(
                "currency_not_supported",
                f"wallet {wallet.id} has no currency other than the merchant's",
            )
        quote = self.quote(provider_id=provider_id, source_currency=source_ccy, target=target)
        return self.payments.pay(
            payment_id,
            wallet_id=wallet_id,
            customer_id=customer_id,
            merchant_id=merchant.id,
            quote_id=quote.quote_id,
        )


def _hold(payment: Payment, now_ns: int) -> Hold:
    remaining_ns = max(0, payment.created_ns + payment.hold_timeout_s * _NS_PER_S - now_ns)
    return Hold(
        payment.payment_id,
        (
            Posting(payment.wallet_id, payment.source.currency.code, payment.debit_total.amount),
            Posting(payment.provider_id, payment.target.currency.code, payment.target.amount),
        ),
        now_ns + remaining_ns + _NS_PER_S,
    )
