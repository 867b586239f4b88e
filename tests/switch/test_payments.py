"""Tests for corridor.switch.payments: reserve, commit, abort, expiry, idempotency, crashes.

What they pin: a reserve holds exactly the quote's amounts on the right accounts (wallet →
FX provider in CNY, FX provider → acquirer in JPY, wallet → hub fees in CNY) as one linked
pending chain; commit posts them and abort/expiry release them, and `ledger verify` stays
clean with every currency summing to zero; ledger refusals leave the payment ABORTED with
nothing held; refused requests change nothing; retries with the same body never write twice,
with another body they are ``modified_request``; a crash between the ledger write and the
table update converges on retry without moving money again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from corridor.formats.ecb import load_ecb_csv
from corridor.ledger import Account, Ledger, TransferFlags
from corridor.ledger.verify import verify
from corridor.switch.directory import (
    Directory,
    hub_fees_account_id,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.fx import (
    EcbRateSource,
    FeeSchedule,
    FxProvider,
    PairPrice,
    ProviderRateSource,
    QuoteBook,
)
from corridor.switch.liquidity import Liquidity
from corridor.switch.money import Money
from corridor.switch.payments import (
    PAYMENT_TRANSFER_DOMAIN,
    TRANSFER_CODE_PAYMENT_FEE,
    TRANSFER_CODE_PAYMENT_SOURCE,
    TRANSFER_CODE_PAYMENT_TARGET,
    Payment,
    PaymentService,
    PaymentState,
    payment_reference,
    payment_transfer_id,
)

NS = 1_000_000_000
ECB_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fx" / "eurofxref-hist.csv"
START_NS = int(dt.datetime(2024, 3, 15, 12, tzinfo=dt.UTC).timestamp()) * NS
WALLET = "alipay-cn"
ACQUIRER = "kyoto-acq"
PROVIDER = "fx-tokyo"
MERCHANT = "m-kyoto-tea"
CUSTOMER = "c-wang"
WALLET_CNY = 500_000  # CNY 5,000.00
PROVIDER_JPY = 1_000_000  # JPY 1,000,000
# CNY→JPY at the bid, 20: JPY 10,000 costs CNY 500.00; the fee is 50 bps = CNY 2.50.
PRICES = [
    PairPrice("CNY", "JPY", Decimal("20"), Decimal("20.2")),
    PairPrice("CNY", "KRW", Decimal("190"), Decimal("191")),
]


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


@dataclass
class Corridor:
    path: Path
    clock: FakeClock
    ledger: Ledger
    directory: Directory
    liquidity: Liquidity
    quotes: QuoteBook
    provider: FxProvider
    service: PaymentService

    def quote(self, jpy: int = 10_000, provider: FxProvider | None = None) -> str:
        quote = self.quotes.quote_for_target(
            Money.of(jpy, "JPY"), "CNY", provider or self.provider, now_ns=self.clock()
        )
        return quote.quote_id

    def reserve(self, payment_id: str, quote_id: str, **changes: Any) -> Payment:
        request: dict[str, Any] = {
            "wallet_id": WALLET,
            "customer_id": CUSTOMER,
            "merchant_id": MERCHANT,
            "quote_id": quote_id,
        }
        request.update(changes)
        return self.service.reserve(payment_id, **request)

    def account(self, account_id: int) -> Account:
        (account,) = self.ledger.lookup_accounts([account_id])
        return account

    def liq(self, participant: str, code: str) -> Account:
        return self.account(liquidity_account_id(participant, code))

    def fees(self, code: str = "CNY") -> Account:
        return self.account(hub_fees_account_id(code))

    def snapshot(self) -> list[tuple[int, int, int, int]]:
        accounts = [
            self.liq(WALLET, "CNY"),
            self.liq(PROVIDER, "CNY"),
            self.liq(PROVIDER, "JPY"),
            self.liq(ACQUIRER, "JPY"),
            self.fees("CNY"),
            self.fees("JPY"),
        ]
        return [
            (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
            for a in accounts
        ]

    def assert_sums_to_zero(self) -> None:
        """Per currency: Σ liquidity + hub fees (credit balances) = hub settlement (debit)."""
        holders = {"CNY": [WALLET, PROVIDER], "JPY": [PROVIDER, ACQUIRER]}
        for code, participants in holders.items():
            credit_accounts = [self.liq(p, code) for p in participants] + [self.fees(code)]
            settlement = self.account(hub_settlement_account_id(code))
            posted = sum(a.credits_posted - a.debits_posted for a in credit_accounts)
            pending = sum(a.credits_pending - a.debits_pending for a in credit_accounts)
            assert posted == settlement.debits_posted - settlement.credits_posted
            assert pending == settlement.debits_pending - settlement.credits_pending == 0
        report = verify(self.path)
        assert report.ok, report


@pytest.fixture
def corridor(tmp_path: Path) -> Iterator[Corridor]:
    path = tmp_path / "corridor.db"
    clock = FakeClock(START_NS)
    with Ledger.open(path, clock=clock) as ledger, Directory.open(ledger, clock=clock) as directory:
        directory.register_participant(
            WALLET, kind="wallet", name="Alipay", country="CN", currencies=["CNY"]
        )
        directory.register_participant(
            ACQUIRER, kind="acquirer", name="Kyoto Acquiring", country="JP", currencies=["JPY"]
        )
        directory.register_participant(
            PROVIDER,
            kind="fx_provider",
            name="Tokyo FX",
            country="JP",
            currencies=["CNY", "JPY", "KRW", "USD"],
        )
        directory.register_merchant(
            MERCHANT,
            acquirer_id=ACQUIRER,
            name="Kyoto Tea House",
            mcc="5812",
            city="Kyoto",
            region="JP-26",
            currency="JPY",
        )
        directory.register_customer(
            CUSTOMER,
            wallet_id=WALLET,
            name_native="王小明",
            name_romanized="Wang Xiaoming",
            country="CN",
            date_of_birth="1990-05-01",
            kyc_tier="T2",
        )
        liquidity = Liquidity(directory)
        liquidity.deposit(WALLET, Money.of(WALLET_CNY, "CNY"), reference="fund-wallet")
        liquidity.deposit(PROVIDER, Money.of(PROVIDER_JPY, "JPY"), reference="fund-provider")
        quotes = QuoteBook()
        provider = FxProvider(PROVIDER, ProviderRateSource(PRICES), FeeSchedule(bps=50))
        with PaymentService(ledger, directory, quotes, clock=clock) as service:
            yield Corridor(path, clock, ledger, directory, liquidity, quotes, provider, service)


def _code(error: pytest.ExceptionInfo[SwitchError]) -> str:
    return error.value.code


# --- the happy path --------------------------------------------------------------------


def test_reserve_holds_the_exact_amounts_as_one_linked_pending_chain(corridor: Corridor) -> None:
    payment = corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=120)

    assert payment.state is PaymentState.RESERVED
    assert payment.source == Money.of(50_000, "CNY")
    assert payment.target == Money.of(10_000, "JPY")
    assert payment.fee == Money.of(250, "CNY")
    assert payment.debit_total == Money.of(50_250, "CNY")
    assert (payment.acquirer_id, payment.provider_id) == (ACQUIRER, PROVIDER)
    assert payment.error_code is None

    wallet, provider_cny = corridor.liq(WALLET, "CNY"), corridor.liq(PROVIDER, "CNY")
    provider_jpy, acquirer = corridor.liq(PROVIDER, "JPY"), corridor.liq(ACQUIRER, "JPY")
    assert (wallet.debits_pending, wallet.debits_posted) == (50_250, 0)
    assert (provider_cny.credits_pending, provider_cny.credits_posted) == (50_000, 0)
    assert (provider_jpy.debits_pending, provider_jpy.debits_posted) == (10_000, 0)
    assert (acquirer.credits_pending, acquirer.credits_posted) == (10_000, 0)
    assert corridor.fees().credits_pending == 250
    assert corridor.liquidity.balance(WALLET, "CNY").available.amount == WALLET_CNY - 50_250

    transfers = corridor.ledger.lookup_transfers(list(payment.transfer_ids))
    assert [t.id for t in transfers] == [
        payment_transfer_id("pay-1", leg, "reserve") for leg in ("source", "target", "fee")
    ]
    assert [t.code for t in transfers] == [
        TRANSFER_CODE_PAYMENT_SOURCE,
        TRANSFER_CODE_PAYMENT_TARGET,
        TRANSFER_CODE_PAYMENT_FEE,
    ]
    assert [t.amount for t in transfers] == [50_000, 10_000, 250]
    assert [t.ledger for t in transfers] == [156, 392, 156]
    assert [t.debit_account_id for t in transfers] == [wallet.id, provider_jpy.id, wallet.id]
    assert [t.credit_account_id for t in transfers] == [
        provider_cny.id,
        acquirer.id,
        hub_fees_account_id("CNY"),
    ]
    assert [t.flags for t in transfers] == [
        TransferFlags.PENDING | TransferFlags.LINKED,
        TransferFlags.PENDING | TransferFlags.LINKED,
        TransferFlags.PENDING,
    ]
    assert {t.timeout for t in transfers} == {120}
    assert {t.user_data_128 for t in transfers} == {payment_reference("pay-1")}
    corridor.assert_sums_to_zero()


def test_commit_posts_every_leg(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote())
    payment = corridor.service.commit("pay-1")

    assert payment.state is PaymentState.COMMITTED
    assert corridor.service.get("pay-1") == payment
    assert corridor.liquidity.balance(WALLET, "CNY").posted.amount == WALLET_CNY - 50_250
    assert corridor.liquidity.balance(PROVIDER, "CNY").posted.amount == 50_000
    assert corridor.liquidity.balance(PROVIDER, "JPY").posted.amount == PROVIDER_JPY - 10_000
    assert corridor.liquidity.balance(ACQUIRER, "JPY").posted.amount == 10_000
    assert corridor.fees().credits_posted == 250
    assert all(row[0] == row[2] == 0 for row in corridor.snapshot())  # nothing pending
    posts = corridor.ledger.lookup_transfers(
        [payment_transfer_id("pay-1", leg, "post") for leg in ("source", "target", "fee")]
    )
    assert [t.amount for t in posts] == [50_000, 10_000, 250]
    assert [t.pending_id for t in posts] == list(payment.transfer_ids)
    corridor.assert_sums_to_zero()


def test_pay_is_reserve_then_commit(corridor: Corridor) -> None:
    payment = corridor.service.pay(
        "scan-1",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=corridor.quote(),
    )
    assert payment.state is PaymentState.COMMITTED
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000
    corridor.assert_sums_to_zero()


def test_abort_releases_every_hold(corridor: Corridor) -> None:
    before = corridor.snapshot()
    corridor.reserve("pay-1", corridor.quote())
    payment = corridor.service.abort("pay-1")

    assert payment.state is PaymentState.ABORTED
    assert payment.error_code is None
    after = corridor.snapshot()
    assert [(dp, dpo, cp, cpo) for dp, dpo, cp, cpo in after] == before
    assert corridor.liquidity.balance(WALLET, "CNY").available.amount == WALLET_CNY
    assert corridor.service.abort("pay-1") == payment  # idempotent
    with pytest.raises(SwitchError) as error:
        corridor.service.commit("pay-1")
    assert _code(error) == "payment_not_reserved"
    assert corridor.snapshot() == before
    corridor.assert_sums_to_zero()


def test_a_committed_payment_cannot_be_aborted(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote())
    committed = corridor.service.commit("pay-1")
    with pytest.raises(SwitchError) as error:
        corridor.service.abort("pay-1")
    assert _code(error) == "payment_not_reserved"
    assert corridor.service.get("pay-1") == committed


def test_zero_fee_payment_has_two_legs(corridor: Corridor) -> None:
    free = FxProvider(PROVIDER, ProviderRateSource(PRICES))
    payment = corridor.reserve("pay-free", corridor.quote(provider=free))
    assert payment.fee == Money.of(0, "CNY")
    assert len(payment.transfer_ids) == 2
    assert corridor.liq(WALLET, "CNY").debits_pending == 50_000
    committed = corridor.service.commit("pay-free")
    assert committed.state is PaymentState.COMMITTED
    assert corridor.fees().credits_posted == 0
    corridor.assert_sums_to_zero()


# --- expiry ----------------------------------------------------------------------------


def test_expired_holds_make_the_payment_expired(corridor: Corridor) -> None:
    before = corridor.snapshot()
    corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=30)
    corridor.clock.advance(31)
    corridor.ledger.pulse()
    assert corridor.snapshot() == before  # the ledger released the holds

    with pytest.raises(SwitchError) as error:
        corridor.service.commit("pay-1")
    assert _code(error) == "payment_expired"
    payment = corridor.service.get("pay-1")
    assert payment.state is PaymentState.EXPIRED
    assert payment.error_code == "payment_expired"
    with pytest.raises(SwitchError) as again:
        corridor.service.commit("pay-1")
    assert _code(again) == "payment_expired"
    assert corridor.service.abort("pay-1") == payment
    assert corridor.snapshot() == before
    corridor.assert_sums_to_zero()


def test_commit_after_the_hold_instant_fails_without_a_pulse(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=30)
    corridor.clock.advance(30.001)  # the holds' ledger timestamps are a few ns past START_NS
    with pytest.raises(SwitchError) as error:
        corridor.service.commit("pay-1")
    assert _code(error) == "payment_expired"
    assert corridor.service.get("pay-1").state is PaymentState.EXPIRED
    corridor.ledger.pulse()
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 0
    corridor.assert_sums_to_zero()


def test_abort_of_expired_holds_returns_the_expired_payment(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=5)
    corridor.clock.advance(6)
    corridor.ledger.pulse()
    assert corridor.service.abort("pay-1").state is PaymentState.EXPIRED


def test_sync_notices_expired_holds(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=5)
    assert corridor.service.sync("pay-1").state is PaymentState.RESERVED
    corridor.clock.advance(6)
    corridor.ledger.pulse()
    assert corridor.service.sync("pay-1").state is PaymentState.EXPIRED


def test_commit_just_before_the_hold_expires_succeeds(corridor: Corridor) -> None:
    corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=30)
    corridor.clock.advance(29)
    assert corridor.service.commit("pay-1").state is PaymentState.COMMITTED
    corridor.clock.advance(10)
    corridor.ledger.pulse()
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000
    corridor.assert_sums_to_zero()


# --- ledger refusals -------------------------------------------------------------------


def test_a_short_wallet_is_insufficient_liquidity_and_reserves_nothing(
    corridor: Corridor,
) -> None:
    before = corridor.snapshot()
    quote_id = corridor.quote(jpy=120_000)  # CNY 6,000.00 > CNY 5,000.00
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-big", quote_id)
    assert _code(error) == "insufficient_liquidity"
    assert WALLET in str(error.value)
    assert corridor.snapshot() == before
    payment = corridor.service.get("pay-big")
    assert payment.state is PaymentState.ABORTED
    assert payment.error_code == "insufficient_liquidity"

    # The same body again: the same failure, nothing new, even once funds have arrived.
    corridor.liquidity.deposit(WALLET, Money.of(500_000, "CNY"), reference="top-up")
    funded = corridor.snapshot()
    with pytest.raises(SwitchError) as again:
        corridor.reserve("pay-big", quote_id)
    assert (_code(again), str(again.value)) == ("insufficient_liquidity", str(error.value))
    assert corridor.snapshot() == funded
    corridor.assert_sums_to_zero()


def test_a_wallet_that_covers_the_amount_but_not_the_fee_is_short(corridor: Corridor) -> None:
    # JPY 99,800 costs CNY 4,990.00, plus CNY 24.95 fee: above CNY 5,000.00.
    before = corridor.snapshot()
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-fee", corridor.quote(jpy=99_800))
    assert _code(error) == "insufficient_liquidity"
    assert corridor.snapshot() == before


def test_a_short_fx_provider_is_insufficient_liquidity(corridor: Corridor) -> None:
    corridor.liquidity.withdraw(PROVIDER, Money.of(995_000, "JPY"), reference="sweep")
    before = corridor.snapshot()
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", corridor.quote())  # JPY 10,000 > JPY 5,000
    assert _code(error) == "insufficient_liquidity"
    assert PROVIDER in str(error.value)
    assert corridor.snapshot() == before
    assert corridor.service.get("pay-1").state is PaymentState.ABORTED
    corridor.assert_sums_to_zero()


# --- refused requests ------------------------------------------------------------------


def test_an_expired_quote_is_refused_and_records_nothing(corridor: Corridor) -> None:
    quote_id = corridor.quote()
    corridor.clock.advance(corridor.quotes.ttl_s)
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", quote_id)
    assert _code(error) == "quote_expired"
    with pytest.raises(SwitchError) as missing:
        corridor.service.get("pay-1")
    assert _code(missing) == "unknown_payment"


def test_a_used_quote_is_refused(corridor: Corridor) -> None:
    quote_id = corridor.quote()
    corridor.reserve("pay-1", quote_id)
    before = corridor.snapshot()
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-2", quote_id)
    assert _code(error) == "quote_used"
    assert corridor.snapshot() == before


def test_an_unknown_quote_is_refused(corridor: Corridor) -> None:
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", "quote-404")
    assert _code(error) == "unknown_quote"


def test_a_quote_in_another_currency_than_the_merchants_is_refused(corridor: Corridor) -> None:
    krw = corridor.quotes.quote_for_target(
        Money.of(100_000, "KRW"), "CNY", corridor.provider, now_ns=corridor.clock()
    )
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", krw.quote_id)
    assert _code(error) == "quote_mismatch"
    assert not corridor.quotes.is_used(krw.quote_id)  # a refused request uses nothing


def test_a_quote_from_a_participant_that_is_not_an_fx_provider_is_refused(
    corridor: Corridor,
) -> None:
    impostor = FxProvider(ACQUIRER, ProviderRateSource(PRICES))
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", corridor.quote(provider=impostor))
    assert _code(error) == "invalid_payment"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"customer_id": "c-nobody"}, "unknown_customer"),
        ({"merchant_id": "m-nowhere"}, "unknown_merchant"),
        ({"wallet_id": "ghost-wallet"}, "unknown_participant"),
        ({"wallet_id": ACQUIRER}, "invalid_payment"),
        ({"hold_timeout_s": 0}, "invalid_payment"),
        ({"hold_timeout_s": True}, "invalid_payment"),
        ({"hold_timeout_s": 10**9}, "invalid_payment"),
        ({"customer_id": ""}, "invalid_payment"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    corridor: Corridor, changes: dict[str, Any], code: str
) -> None:
    before = corridor.snapshot()
    quote_id = corridor.quote()
    with pytest.raises(SwitchError) as error:
        corridor.reserve("pay-1", quote_id, **changes)
    assert _code(error) == code
    assert corridor.snapshot() == before
    assert not corridor.quotes.is_used(quote_id)
    assert corridor.service.list() == []


@pytest.mark.parametrize("payment_id", ["", " pay", "-pay", "pay/1", "p" * 65, 7, None])
def test_bad_payment_ids_are_refused(corridor: Corridor, payment_id: Any) -> None:
    with pytest.raises(SwitchError) as error:
        corridor.reserve(payment_id, corridor.quote())
    assert _code(error) == "invalid_payment"


def test_unknown_payments(corridor: Corridor) -> None:
    for call in (corridor.service.get, corridor.service.commit, corridor.service.abort):
        with pytest.raises(SwitchError) as error:
            call("pay-none")
        assert _code(error) == "unknown_payment"


# --- idempotency -----------------------------------------------------------------------


def test_retried_reserve_commit_abort_and_pay_write_nothing_twice(corridor: Corridor) -> None:
    quote_id = corridor.quote()
    first = corridor.reserve("pay-1", quote_id)
    held = corridor.snapshot()
    assert corridor.reserve("pay-1", quote_id) == first
    assert corridor.snapshot() == held

    committed = corridor.service.commit("pay-1")
    posted = corridor.snapshot()
    assert corridor.service.commit("pay-1") == committed
    assert corridor.reserve("pay-1", quote_id) == committed  # a late reserve retry
    assert corridor.snapshot() == posted

    other = corridor.quote()
    corridor.reserve("pay-2", other)
    aborted = corridor.service.abort("pay-2")
    released = corridor.snapshot()
    assert corridor.service.abort("pay-2") == aborted
    assert corridor.reserve("pay-2", other) == aborted
    assert corridor.snapshot() == released

    third = corridor.quote()
    request: dict[str, Any] = {
        "wallet_id": WALLET,
        "customer_id": CUSTOMER,
        "merchant_id": MERCHANT,
        "quote_id": third,
    }
    paid = corridor.service.pay("pay-3", **request)
    settled = corridor.snapshot()
    assert corridor.service.pay("pay-3", **request) == paid
    assert corridor.snapshot() == settled
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 20_000
    corridor.assert_sums_to_zero()


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_id": "m-other"},
        {"hold_timeout_s": 61},
        {"customer_id": "c-other"},
        {"quote_id": "quote-99"},
    ],
)
def test_the_same_payment_id_with_another_body_is_modified_request(
    corridor: Corridor, changes: dict[str, Any]
) -> None:
    payment = corridor.reserve("pay-1", corridor.quote(), hold_timeout_s=60)
    held = corridor.snapshot()
    with pytest.raises(SwitchError) as error:
        request = {"hold_timeout_s": 60, **changes}
        corridor.reserve("pay-1", request.pop("quote_id", payment.quote_id), **request)
    assert _code(error) == "modified_request"
    assert corridor.snapshot() == held
    assert corridor.service.get("pay-1") == payment


# --- crashes between the ledger and the table ------------------------------------------


def _fail_next_transition(monkeypatch: pytest.MonkeyPatch, state: PaymentState) -> None:
    """Make the next table update to `state` raise, as a crash right after the ledger write."""
    original = PaymentService._transition
    armed = [True]

    def crashing(
        self: PaymentService, payment: Payment, to: PaymentState, *args: Any, **kw: Any
    ) -> Payment:
        if armed[0] and to is state:
            armed[0] = False
            raise RuntimeError("crash after the ledger write")
        return original(self, payment, to, *args, **kw)

    monkeypatch.setattr(PaymentService, "_transition", crashing)


def test_a_crash_after_the_reserve_chain_converges_on_retry(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_next_transition(monkeypatch, PaymentState.RESERVED)
    quote_id = corridor.quote()
    with pytest.raises(RuntimeError):
        corridor.reserve("pay-1", quote_id)
    assert corridor.service.get("pay-1").state is PaymentState.RECEIVED
    held = corridor.snapshot()
    assert corridor.liq(WALLET, "CNY").debits_pending == 50_250

    payment = corridor.reserve("pay-1", quote_id)  # the quote is not used again
    assert payment.state is PaymentState.RESERVED
    assert corridor.snapshot() == held
    assert corridor.service.commit("pay-1").state is PaymentState.COMMITTED
    corridor.assert_sums_to_zero()


def test_a_crash_after_the_reserve_chain_then_commit_converges(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_next_transition(monkeypatch, PaymentState.RESERVED)
    with pytest.raises(RuntimeError):
        corridor.reserve("pay-1", corridor.quote())
    assert corridor.service.commit("pay-1").state is PaymentState.COMMITTED
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000
    corridor.assert_sums_to_zero()


def test_a_crash_after_the_post_chain_converges_on_retry(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    corridor.reserve("pay-1", corridor.quote())
    _fail_next_transition(monkeypatch, PaymentState.COMMITTED)
    with pytest.raises(RuntimeError):
        corridor.service.commit("pay-1")
    assert corridor.service.get("pay-1").state is PaymentState.RESERVED
    posted = corridor.snapshot()
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000

    assert corridor.service.commit("pay-1").state is PaymentState.COMMITTED
    assert corridor.snapshot() == posted
    corridor.assert_sums_to_zero()


def test_an_abort_after_a_crashed_commit_finds_the_payment_committed(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    corridor.reserve("pay-1", corridor.quote())
    _fail_next_transition(monkeypatch, PaymentState.COMMITTED)
    with pytest.raises(RuntimeError):
        corridor.service.commit("pay-1")
    posted = corridor.snapshot()
    with pytest.raises(SwitchError) as error:
        corridor.service.abort("pay-1")
    assert _code(error) == "payment_not_reserved"
    assert corridor.service.get("pay-1").state is PaymentState.COMMITTED
    assert corridor.snapshot() == posted


def test_a_crash_after_the_void_chain_converges_on_retry(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = corridor.snapshot()
    corridor.reserve("pay-1", corridor.quote())
    _fail_next_transition(monkeypatch, PaymentState.ABORTED)
    with pytest.raises(RuntimeError):
        corridor.service.abort("pay-1")
    assert corridor.snapshot() == before
    with pytest.raises(SwitchError) as error:
        corridor.service.commit("pay-1")  # the ledger already voided the holds
    assert _code(error) == "payment_not_reserved"
    assert corridor.service.get("pay-1").state is PaymentState.ABORTED
    assert corridor.snapshot() == before


def test_a_crash_before_the_ledger_write_leaves_nothing_held(
    corridor: Corridor, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = corridor.snapshot()

    def crash(self: PaymentService, chain: Any) -> None:
        raise RuntimeError("crash before the ledger write")

    with monkeypatch.context() as patch:
        patch.setattr(PaymentService, "_apply", crash)
        with pytest.raises(RuntimeError):
            corridor.reserve("pay-1", corridor.quote())
        with pytest.raises(RuntimeError):
            corridor.reserve("pay-2", corridor.quote())
    assert corridor.snapshot() == before
    with pytest.raises(SwitchError) as error:
        corridor.service.commit("pay-1")
    assert _code(error) == "payment_not_reserved"
    assert corridor.service.get("pay-1").state is PaymentState.RECEIVED
    assert corridor.service.abort("pay-1").state is PaymentState.ABORTED
    # pay-2 is picked up by a new service (a restart) from its recorded quote data.
    with PaymentService(
        corridor.ledger, corridor.directory, QuoteBook(), clock=corridor.clock
    ) as restarted:
        request = restarted.get("pay-2")
        resumed = restarted.reserve(
            "pay-2",
            wallet_id=WALLET,
            customer_id=CUSTOMER,
            merchant_id=MERCHANT,
            quote_id=request.quote_id,
        )
        assert resumed.state is PaymentState.RESERVED
        assert restarted.commit("pay-2").state is PaymentState.COMMITTED
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000
    corridor.assert_sums_to_zero()


# --- ids, persistence, listing ---------------------------------------------------------


def test_transfer_ids_follow_the_documented_scheme() -> None:
    digest = hashlib.sha256(PAYMENT_TRANSFER_DOMAIN + b"\x00pay-1\x00target\x00post").digest()
    assert payment_transfer_id("pay-1", "target", "post") == int.from_bytes(digest[:16], "big")
    ids = {
        payment_transfer_id(p, leg, action)
        for p in ("pay-1", "pay-2")
        for leg in ("source", "target", "fee")
        for action in ("reserve", "post", "void")
    }
    assert len(ids) == 18


def test_payments_survive_a_new_service_and_list_newest_first(corridor: Corridor) -> None:
    for index in range(3):
        corridor.reserve(f"pay-{index}", corridor.quote())
        corridor.clock.advance(1)
    corridor.service.commit("pay-1")
    with PaymentService(
        corridor.ledger, corridor.directory, corridor.quotes, clock=corridor.clock
    ) as again:
        assert [p.payment_id for p in again.list()] == ["pay-2", "pay-1", "pay-0"]
        assert [p.payment_id for p in again.list(limit=2)] == ["pay-2", "pay-1"]
        assert [p.payment_id for p in again.list(state="committed")] == ["pay-1"]
        assert again.get("pay-0") == corridor.service.get("pay-0")
        with pytest.raises(SwitchError) as error:
            again.list(limit=0)
        assert _code(error) == "invalid_payment"
        with pytest.raises(SwitchError) as bad_state:
            again.list(state="lost")
        assert _code(bad_state) == "invalid_payment"


def test_concurrent_retries_of_one_payment_apply_it_once(corridor: Corridor) -> None:
    quote_id = corridor.quote()
    results: list[Payment] = []
    errors: list[BaseException] = []

    def pay() -> None:
        try:
            results.append(
                corridor.service.pay(
                    "pay-race",
                    wallet_id=WALLET,
                    customer_id=CUSTOMER,
                    merchant_id=MERCHANT,
                    quote_id=quote_id,
                )
            )
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 8 and all(p == results[0] for p in results)
    assert {p.state for p in results} == {PaymentState.COMMITTED}
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 10_000
    assert corridor.liq(WALLET, "CNY").debits_posted == 50_250
    corridor.assert_sums_to_zero()


@pytest.mark.skipif(not ECB_FILE.exists(), reason=f"{ECB_FILE} is absent")
def test_a_payment_at_ecb_rates_pays_the_merchant_exactly_the_quoted_target(
    corridor: Corridor,
) -> None:
    ecb = FxProvider(PROVIDER, EcbRateSource(load_ecb_csv(ECB_FILE)), FeeSchedule(bps=30))
    quote = corridor.quotes.quote_for_target(
        Money.of(12_345, "JPY"), "CNY", ecb, now_ns=corridor.clock()
    )
    payment = corridor.service.pay(
        "pay-ecb",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=quote.quote_id,
    )
    assert (payment.source, payment.target, payment.fee) == (quote.source, quote.target, quote.fee)
    assert corridor.liq(ACQUIRER, "JPY").credits_posted == 12_345
    assert corridor.liquidity.balance(PROVIDER, "CNY").posted == quote.source
    assert corridor.liquidity.balance(PROVIDER, "JPY").posted.amount == PROVIDER_JPY - 12_345
    assert corridor.fees().credits_posted == quote.fee.amount
    assert corridor.liquidity.balance(WALLET, "CNY").posted.amount == (
        WALLET_CNY - quote.debit_total.amount
    )
    corridor.assert_sums_to_zero()
