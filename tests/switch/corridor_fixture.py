"""A small corridor behind the `Switch` facade, with an injected clock, for switch tests.

CN wallet (CNY) and KR wallet (KRW) pay Japanese merchants through one FX provider quoting
its own bid/ask with a 50 bps fee; amounts are chosen so that every figure is exact.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Final

from corridor.switch.fx import FeeSchedule, PairPrice
from corridor.switch.money import Money
from corridor.switch.payments import Payment
from corridor.switch.service import FxPricing, Switch

NS: Final = 1_000_000_000
START_NS: Final = int(dt.datetime(2024, 3, 15, 12, tzinfo=dt.UTC).timestamp()) * NS
WALLET: Final = "alipay-cn"
WALLET_KR: Final = "kakao-kr"
ACQUIRER: Final = "kyoto-acq"
PROVIDER: Final = "fx-tokyo"
MERCHANT: Final = "m-kyoto-tea"
CUSTOMER: Final = "c-wang"
CUSTOMER_KR: Final = "c-kim"
PRICES: Final = (
    PairPrice("CNY", "JPY", Decimal("20"), Decimal("20.2")),
    PairPrice("JPY", "KRW", Decimal("9"), Decimal("9.1")),
    # USD pairs price nothing here: compliance uses them for its USD thresholds.
    PairPrice("USD", "CNY", Decimal("7.1"), Decimal("7.2")),
    PairPrice("USD", "JPY", Decimal("149"), Decimal("150")),
    PairPrice("USD", "KRW", Decimal("1330"), Decimal("1340")),
)


class FakeClock:
    def __init__(self, now: int = START_NS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


def open_corridor(
    path: Path,
    clock: FakeClock,
    *,
    wallet_cny: int = 500_000,
    provider_jpy: int = 1_000_000,
    caps: dict[str, dict[str, int]] | None = None,
    compliance: bool = False,
) -> Switch:
    """A switch with participants, parties, pricing and prefunding (idempotent on reopen).

    Compliance is off unless asked for: these tests pin the switch's mechanics, and
    monitoring rules would send some of their payments to review.
    """
    caps = caps or {}
    switch = Switch.open(path, clock=clock, compliance=compliance)
    d = switch.directory
    d.register_participant(
        WALLET,
        kind="wallet",
        name="Alipay",
        country="CN",
        currencies=["CNY"],
        net_debit_caps=caps.get(WALLET),
    )
    d.register_participant(
        WALLET_KR,
        kind="wallet",
        name="Kakao",
        country="KR",
        currencies=["KRW"],
        net_debit_caps=caps.get(WALLET_KR),
    )
    d.register_participant(
        ACQUIRER,
        kind="acquirer",
        name="Kyoto Acquiring",
        country="JP",
        currencies=["JPY"],
        net_debit_caps=caps.get(ACQUIRER),
    )
    d.register_participant(
        PROVIDER,
        kind="fx_provider",
        name="Tokyo FX",
        country="JP",
        currencies=["CNY", "JPY", "KRW"],
        net_debit_caps=caps.get(PROVIDER),
    )
    d.register_merchant(
        MERCHANT,
        acquirer_id=ACQUIRER,
        name="Kyoto Tea House",
        mcc="5812",
        city="Kyoto",
        region="JP-26",
        currency="JPY",
    )
    d.register_customer(
        CUSTOMER,
        wallet_id=WALLET,
        name_native="王小明",
        name_romanized="Wang Xiaoming",
        country="CN",
        date_of_birth="1990-05-01",
        kyc_tier="T2",
    )
    d.register_customer(
        CUSTOMER_KR,
        wallet_id=WALLET_KR,
        name_native="김민준",
        name_romanized="Kim Minjun",
        country="KR",
        date_of_birth="1992-07-11",
        kyc_tier="T2",
    )
    switch.liquidity.deposit(WALLET, Money.of(wallet_cny, "CNY"), reference="fund-wallet")
    switch.liquidity.deposit(WALLET_KR, Money.of(50_000_000, "KRW"), reference="fund-wallet")
    switch.liquidity.deposit(PROVIDER, Money.of(provider_jpy, "JPY"), reference="fund-provider")
    switch.set_fx_pricing(FxPricing(PROVIDER, "prices", prices=PRICES, fees=FeeSchedule(bps=50)))
    return switch


def pay(switch: Switch, payment_id: str, jpy: int, *, wallet: str = WALLET) -> Payment:
    """A one-shot payment of `jpy` yen to the tea house from `wallet`'s customer."""
    source = "CNY" if wallet == WALLET else "KRW"
    customer = CUSTOMER if wallet == WALLET else CUSTOMER_KR
    quote = switch.quote(provider_id=PROVIDER, source_currency=source, target=Money.of(jpy, "JPY"))
    return switch.payments.pay(
        payment_id,
        wallet_id=wallet,
        customer_id=customer,
        merchant_id=MERCHANT,
        quote_id=quote.quote_id,
    )
