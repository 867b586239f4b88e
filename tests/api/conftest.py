"""A small corridor behind the HTTP API, with a key for every role and participant.

Two wallets (CN, KR) pay Japanese merchants of two acquirers through one FX provider; a
bank takes part too. The audit log is initialized, so checkpoints and receipts work.
Compliance is off unless a test asks for it (`make_api(compliance=True)`): these tests pin
the API's behaviour, and monitoring rules would send some payments to review.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient

from corridor.api import close_app, create_app
from corridor.api.keys import ApiKeyStore
from corridor.api.ratelimit import RateLimits
from corridor.audit.log import init_log
from corridor.switch.fx import FeeSchedule, PairPrice
from corridor.switch.money import Money
from corridor.switch.service import FxPricing, Switch

WALLET: Final = "alipay-cn"
WALLET_KR: Final = "kakao-kr"
PROVIDER: Final = "fx-tokyo"
ACQUIRER: Final = "kyoto-acq"
ACQUIRER_2: Final = "osaka-acq"
BANK: Final = "mizuho-bank"
MERCHANT: Final = "m-kyoto-tea"
MERCHANT_2: Final = "m-osaka-ramen"
CUSTOMER: Final = "c-wang"
CUSTOMER_KR: Final = "c-kim"
PRICES: Final = (
    PairPrice("CNY", "JPY", Decimal("20"), Decimal("20.2")),
    PairPrice("JPY", "KRW", Decimal("9"), Decimal("9.1")),
    PairPrice("USD", "CNY", Decimal("7.1"), Decimal("7.2")),
    PairPrice("USD", "JPY", Decimal("149"), Decimal("150")),
    PairPrice("USD", "KRW", Decimal("1330"), Decimal("1340")),
)


def build_corridor(switch: Switch) -> None:
    d = switch.directory
    d.register_participant(WALLET, kind="wallet", name="Alipay", country="CN", currencies=["CNY"])
    d.register_participant(WALLET_KR, kind="wallet", name="Kakao", country="KR", currencies=["KRW"])
    d.register_participant(
        PROVIDER,
        kind="fx_provider",
        name="Tokyo FX",
        country="JP",
        currencies=["CNY", "JPY", "KRW"],
    )
    for acquirer in (ACQUIRER, ACQUIRER_2):
        d.register_participant(
            acquirer, kind="acquirer", name=acquirer, country="JP", currencies=["JPY"]
        )
    d.register_participant(BANK, kind="bank", name="Mizuho", country="JP", currencies=["JPY"])
    d.register_customer(
        CUSTOMER,
        wallet_id=WALLET,
        name_native="王小明",
        name_romanized="Wang Xiaoming",
        country="CN",
        date_of_birth="1990-05-01",
        kyc_tier="T1",
    )
    d.register_customer(
        CUSTOMER_KR,
        wallet_id=WALLET_KR,
        name_native="김민준",
        name_romanized="Kim Minjun",
        country="KR",
        date_of_birth="1988-02-11",
        kyc_tier="T1",
    )
    d.register_merchant(
        MERCHANT,
        acquirer_id=ACQUIRER,
        name="Kyoto Tea",
        name_native="京都茶房",
        mcc="5812",
        city="Kyoto",
        region="JP-26",
        currency="JPY",
    )
    d.register_merchant(
        MERCHANT_2,
        acquirer_id=ACQUIRER_2,
        name="Osaka Ramen",
        mcc="5812",
        city="Osaka",
        region="JP-27",
        currency="JPY",
    )
    switch.set_fx_pricing(FxPricing(PROVIDER, "prices", prices=PRICES, fees=FeeSchedule(bps=50)))
    switch.liquidity.deposit(WALLET, Money.of(10_000_000, "CNY"), reference="prefund")
    switch.liquidity.deposit(WALLET_KR, Money.of(10_000_000, "KRW"), reference="prefund")
    switch.liquidity.deposit(PROVIDER, Money.of(100_000_000, "JPY"), reference="prefund")


@dataclass
class Api:
    """A running app over a fresh corridor, with one key per role and per participant."""

    client: TestClient
    switch: Switch
    db: Path
    keys: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        """Stop the app and its switch (idempotent), e.g. to reopen the database."""
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)
            close_app(self.client.app)  # type: ignore[arg-type]
            self.switch.close()

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[who]}", **extra}

    def get(self, who: str, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def post(self, who: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = self.headers(who, **kwargs.pop("headers", {}))
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def quote(self, who: str = WALLET, yen: int = 1200, source: str = "CNY") -> str:
        response = self.post(
            who,
            "/v1/quotes",
            {
                "provider_id": PROVIDER,
                "source_currency": source,
                "target_amount": {"amount": str(yen), "currency": "JPY"},
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["quote_id"])

    def pay(
        self, payment_id: str, *, who: str = WALLET, merchant: str = MERCHANT, yen: int = 1200
    ) -> Any:
        wallet, customer, source = (
            (WALLET, CUSTOMER, "CNY") if who != WALLET_KR else (WALLET_KR, CUSTOMER_KR, "KRW")
        )
        quote_id = self.quote(who if who in (WALLET, WALLET_KR) else WALLET, yen, source)
        return self.post(
            who,
            "/v1/payments",
            {
                "payment_id": payment_id,
                "wallet_id": wallet,
                "customer_id": customer,
                "merchant_id": merchant,
                "quote_id": quote_id,
            },
        )


MakeApi = Callable[..., Api]

ROLE_KEYS: Final = ("operator", "compliance", "auditor")
PARTICIPANT_KEYS: Final = (WALLET, WALLET_KR, PROVIDER, ACQUIRER, ACQUIRER_2, BANK)


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[MakeApi]:
    opened: list[Api] = []

    def make(
        *,
        compliance: bool = False,
        rate_limits: RateLimits | None = None,
        writers: int = 1,
        name: str = "corridor.db",
        fresh: bool = True,
        lanes: bool = True,
    ) -> Api:
        db = tmp_path / name
        if fresh:
            init_log(db)  # before the switch: it opens the database as a writer
        switch = Switch.open(db, compliance=compliance)
        keys: dict[str, str] = {}
        if fresh:
            build_corridor(switch)
            with ApiKeyStore.open(db) as store:
                for role in ROLE_KEYS:
                    keys[role] = store.create(role).secret
                for participant in PARTICIPANT_KEYS:
                    keys[participant] = store.create(
                        "participant", participant_id=participant
                    ).secret
        app = create_app(switch, rate_limits=rate_limits, writers=writers, lanes=lanes)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        made = Api(client, switch, db, keys)
        opened.append(made)
        return made

    yield make
    for made in reversed(opened):
        made.close()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api()
