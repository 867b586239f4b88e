"""A small real corridor for the cases, reports and CLI tests: participants, parties, payments.

Everything goes through the switch's own services (directory, liquidity, quotes, payment
service) so that the tables compliance reads are exactly what the switch writes. The FX
provider charges no fee, so a quote for an exact source amount makes the payer pay exactly
that; a quote for an exact target amount pays the merchant exactly that.

Participants: wallets alipay-cn (CN, CNY), kakao-kr (KR, KRW), paypay-jp (JP, JPY); acquirers
kyoto-acq (JP, JPY), shanghai-acq (CN, CNY); FX provider fx-hub (all). Customers: c-wang and
c-li of alipay-cn, c-kim of kakao-kr, c-sato of paypay-jp. Merchants: m-kyoto-tea (Kyoto,
JPY) and m-shanghai-silk (Shanghai, CNY).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from corridor.ledger import Ledger
from corridor.switch.directory import Directory
from corridor.switch.fx import FxProvider, PairPrice, ProviderRateSource, QuoteBook
from corridor.switch.liquidity import Liquidity
from corridor.switch.money import Money
from corridor.switch.payments import Payment, PaymentService

NS = 1_000_000_000
PROVIDER = "fx-hub"
PRICES = [
    PairPrice("CNY", "JPY", Decimal("20"), Decimal("20.2")),
    PairPrice("KRW", "JPY", Decimal("0.11"), Decimal("0.111")),
    PairPrice("CNY", "KRW", Decimal("190"), Decimal("191")),
]
CUSTOMERS = {
    "c-wang": ("alipay-cn", "王小明", "Wang Xiaoming", "CN", "1990-05-01"),
    "c-li": ("alipay-cn", "李华", "Li Hua", "CN", "1985-11-20"),
    "c-kim": ("kakao-kr", "김민준", "Kim Minjun", "KR", "1992-02-14"),
    "c-sato": ("paypay-jp", "佐藤花子", "Sato Hanako", "JP", "1988-07-07"),
}
WALLET_OF = {customer: values[0] for customer, values in CUSTOMERS.items()}


def ns_at(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    path: Path
    clock: Clock
    ledger: Ledger
    directory: Directory
    quotes: QuoteBook
    provider: FxProvider
    service: PaymentService

    def pay(
        self,
        payment_id: str,
        *,
        customer: str,
        merchant: str,
        at: dt.datetime,
        source: Money | None = None,
        target: Money | None = None,
        commit: bool = True,
        hold_timeout_s: int = 300,
    ) -> Payment:
        """A payment at `at`, fixing either what the payer pays or what the merchant gets."""
        self.clock.now = ns_at(at)
        merchant_currency = self.directory.merchant(merchant).currency
        wallet = WALLET_OF[customer]
        wallet_currency = self.directory.participant(wallet).currencies[0]
        if source is not None:
            quote = self.quotes.quote_for_source(
                source, merchant_currency, self.provider, now_ns=self.clock.now
            )
        else:
            assert target is not None
            quote = self.quotes.quote_for_target(
                target, wallet_currency, self.provider, now_ns=self.clock.now
            )
        self.service.reserve(
            payment_id,
            wallet_id=wallet,
            customer_id=customer,
            merchant_id=merchant,
            quote_id=quote.quote_id,
            hold_timeout_s=hold_timeout_s,
        )
        if commit:
            return self.service.commit(payment_id)
        return self.service.get(payment_id)


@contextmanager
def corridor_world(path: Path, start: dt.datetime) -> Iterator[World]:
    clock = Clock(ns_at(start))
    with Ledger.open(path, clock=clock) as ledger, Directory.open(ledger, clock=clock) as directory:
        register = directory.register_participant
        register("alipay-cn", kind="wallet", name="Alipay", country="CN", currencies=["CNY"])
        register("kakao-kr", kind="wallet", name="Kakao Pay", country="KR", currencies=["KRW"])
        register("paypay-jp", kind="wallet", name="PayPay", country="JP", currencies=["JPY"])
        register(
            "kyoto-acq", kind="acquirer", name="Kyoto Acquiring", country="JP", currencies=["JPY"]
        )
        register(
            "shanghai-acq",
            kind="acquirer",
            name="Shanghai Acquiring",
            country="CN",
            currencies=["CNY"],
        )
        register(
            PROVIDER,
            kind="fx_provider",
            name="FX Hub",
            country="JP",
            currencies=["CNY", "JPY", "KRW", "USD"],
        )
        directory.register_merchant(
            "m-kyoto-tea",
            acquirer_id="kyoto-acq",
            name="Kyoto Tea House",
            name_native="京都茶房",
            mcc="5812",
            city="Kyoto",
            region="JP-26",
            currency="JPY",
        )
        directory.register_merchant(
            "m-shanghai-silk",
            acquirer_id="shanghai-acq",
            name="Shanghai Silk",
            name_native="上海丝绸",
            mcc="5651",
            city="Shanghai",
            region="CN-SH",
            currency="CNY",
        )
        for customer, (wallet, native, romanized, country, birth) in CUSTOMERS.items():
            directory.register_customer(
                customer,
                wallet_id=wallet,
                name_native=native,
                name_romanized=romanized,
                country=country,
                date_of_birth=birth,
                kyc_tier="T1",
            )
        liquidity = Liquidity(directory)
        funds = {"CNY": 10**12, "JPY": 10**13, "KRW": 10**14}
        for wallet in ("alipay-cn", "kakao-kr", "paypay-jp"):
            code = directory.participant(wallet).currencies[0]
            liquidity.deposit(wallet, Money.of(funds[code], code), reference=f"fund-{wallet}")
        for code, amount in funds.items():
            liquidity.deposit(PROVIDER, Money.of(amount, code), reference=f"fund-fx-{code}")
        quotes = QuoteBook()
        provider = FxProvider(PROVIDER, ProviderRateSource(PRICES))
        with PaymentService(ledger, directory, quotes, clock=clock) as service:
            yield World(path, clock, ledger, directory, quotes, provider, service)
