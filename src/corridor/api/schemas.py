"""The JSON the HTTP API reads and writes, as pydantic models (they make /openapi.json).

Conventions, the same everywhere:

- Money is ``{"amount": "1234.50", "currency": "CNY"}``: the amount is exact decimal text in
  the currency's major unit (never a float); responses add ``minor``, the integer count of
  minor units the ledger holds (CNY 1234.50 is 123450).
- 128-bit ledger ids (accounts, transfers) are 32 lowercase hex digits.
- Times are integers of nanoseconds since the Unix epoch (``*_ns``) unless named otherwise.
- Request bodies refuse unknown fields and values of the wrong JSON type (400
  ``invalid_request``); the services check the content (codes such as ``invalid_payment``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountOut",
    "ApiKeyIn",
    "ApiKeyOut",
    "BalanceOut",
    "CheckpointOut",
    "ConsistencyOut",
    "CosignaturesIn",
    "CosignaturesOut",
    "CreatedKeyOut",
    "CustomerIn",
    "CustomerOut",
    "FxPricingIn",
    "FxPricingOut",
    "HealthOut",
    "LiquidityOut",
    "MerchantIn",
    "MerchantOut",
    "MoneyIn",
    "MoneyOut",
    "MovementIn",
    "MovementOut",
    "ParticipantIn",
    "ParticipantOut",
    "PayIn",
    "PaymentList",
    "PaymentOut",
    "PaymentReceiptsOut",
    "Problem",
    "QrOut",
    "QuoteIn",
    "QuoteOut",
    "RefundIn",
    "RefundOut",
    "ReserveIn",
    "ScanIn",
    "ScanOut",
    "ScanPayIn",
    "TransferOut",
    "WindowOut",
]

ID_CHARS_MAX = 128
TEXT_CHARS_MAX = 256
HEX_ID_PATTERN = "^[0-9a-f]{32}$"
AMOUNT_PATTERN = r"^-?[0-9]{1,40}(\.[0-9]{1,20})?$"
CURRENCY_PATTERN = "^[A-Z]{3}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _id() -> Any:
    return Field(min_length=1, max_length=ID_CHARS_MAX)


# --- common -----------------------------------------------------------------------------


class Problem(_Out):
    """An RFC 9457 problem: every refusal, with its stable `code`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:corridor:problem:insufficient_liquidity",
                    "title": "Insufficient liquidity",
                    "status": 422,
                    "detail": "payment p-1: the liquidity of wallet alipay-cn (CNY) does not"
                    " cover it",
                    "code": "insufficient_liquidity",
                    "instance": "/v1/payments",
                }
            ]
        },
    )

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class MoneyIn(_In):
    amount: str = Field(pattern=AMOUNT_PATTERN, max_length=64, examples=["1200"])
    currency: str = Field(pattern=CURRENCY_PATTERN, examples=["JPY"])


class MoneyOut(_Out):
    amount: str = Field(examples=["58.27"])
    currency: str = Field(examples=["CNY"])
    minor: int = Field(examples=[5827], description="Integer count of minor units.")


class HealthOut(_Out):
    status: Literal["ok"]
    log_size: int


# --- participants and liquidity ----------------------------------------------------------


class ParticipantIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "alipay-cn",
                    "kind": "wallet",
                    "name": "Alipay (China)",
                    "country": "CN",
                    "currencies": ["CNY"],
                    "net_debit_caps": {"CNY": "5000000.00"},
                }
            ]
        },
    )

    id: str = _id()
    kind: Literal["wallet", "acquirer", "bank", "fx_provider"]
    name: str = Field(min_length=1, max_length=TEXT_CHARS_MAX)
    country: str = Field(max_length=8)
    currencies: list[str] = Field(min_length=1, max_length=8)
    net_debit_caps: dict[str, str] | None = Field(
        default=None,
        max_length=8,
        description="Net debit cap per currency, decimal text in the major unit.",
    )


class ParticipantOut(_Out):
    id: str
    kind: str
    name: str
    country: str
    currencies: list[str]
    net_debit_caps: dict[str, MoneyOut]
    created_ns: int


class MovementIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"amount": {"amount": "1000000.00", "currency": "CNY"}, "reference": "stmt-0042"}
            ]
        },
    )

    amount: MoneyIn
    reference: str = Field(
        min_length=1,
        max_length=ID_CHARS_MAX,
        description="Names the movement (a bank statement line...): a retry moves nothing twice.",
    )


class MovementOut(_Out):
    transfer_id: str
    participant_id: str
    kind: Literal["deposit", "withdrawal"]
    amount: MoneyOut
    replayed: bool


class BalanceOut(_Out):
    currency: str
    available: MoneyOut
    posted: MoneyOut
    held: MoneyOut
    incoming: MoneyOut
    net_debit_cap: MoneyOut | None
    account_id: str


class LiquidityOut(_Out):
    participant_id: str
    balances: list[BalanceOut]


# --- parties -------------------------------------------------------------------------------


class CustomerIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "wallet_id": "alipay-cn",
                    "customer_id": "c-000001",
                    "name_native": "王小明",
                    "name_romanized": "Wang Xiaoming",
                    "country": "CN",
                    "date_of_birth": "1990-05-01",
                    "kyc_tier": "T2",
                }
            ]
        },
    )

    wallet_id: str = _id()
    customer_id: str = _id()
    name_native: str = Field(min_length=1, max_length=TEXT_CHARS_MAX)
    name_romanized: str = Field(min_length=1, max_length=TEXT_CHARS_MAX)
    country: str = Field(max_length=8)
    date_of_birth: str = Field(max_length=16, examples=["1990-05-01"])
    kyc_tier: str = Field(min_length=1, max_length=32)


class CustomerOut(_Out):
    wallet_id: str
    customer_id: str
    name_native: str
    name_romanized: str
    country: str
    date_of_birth: str
    kyc_tier: str
    created_ns: int


class MerchantIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "merchant_id": "m-kiyomizu",
                    "acquirer_id": "kyoto-bank",
                    "name": "Kiyomizu Tea House",
                    "name_native": "清水茶屋",
                    "mcc": "5812",
                    "city": "Kyoto",
                    "region": "JP-26",
                    "currency": "JPY",
                }
            ]
        },
    )

    merchant_id: str = _id()
    acquirer_id: str = _id()
    name: str = Field(min_length=1, max_length=TEXT_CHARS_MAX)
    name_native: str | None = Field(default=None, max_length=TEXT_CHARS_MAX)
    mcc: str = Field(max_length=8)
    city: str = Field(min_length=1, max_length=TEXT_CHARS_MAX)
    region: str = Field(max_length=8)
    currency: str = Field(max_length=8)


class MerchantOut(_Out):
    merchant_id: str
    acquirer_id: str
    name: str
    name_native: str | None
    mcc: str
    city: str
    region: str
    country: str
    currency: str
    created_ns: int


class QrOut(_Out):
    merchant_id: str
    payload: str = Field(description="The EMVCo merchant-presented QR payload (CRC included).")
    amount: MoneyOut | None
    dynamic: bool


class ScanIn(_In):
    payload: str = Field(min_length=1, max_length=1024)


class ScanOut(_Out):
    merchant_id: str
    name: str
    city: str
    region: str
    currency: str
    mcc: str
    amount: MoneyOut | None
    dynamic: bool


# --- FX ------------------------------------------------------------------------------------


class PairPriceIn(_In):
    base: str = Field(max_length=8)
    quote: str = Field(max_length=8)
    bid: str = Field(max_length=64)
    ask: str = Field(max_length=64)


class FeesIn(_In):
    bps: int = 0
    fixed: dict[str, str] = Field(default_factory=dict, max_length=8)


class FxPricingIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "participant_id": "fx-tokyo",
                    "source": "prices",
                    "prices": [
                        {"base": "CNY", "quote": "JPY", "bid": "20.60", "ask": "20.80"},
                        {"base": "JPY", "quote": "KRW", "bid": "9.10", "ask": "9.20"},
                        {"base": "USD", "quote": "CNY", "bid": "7.10", "ask": "7.20"},
                        {"base": "USD", "quote": "JPY", "bid": "149", "ask": "150"},
                        {"base": "USD", "quote": "KRW", "bid": "1330", "ask": "1340"},
                    ],
                    "fees": {"bps": 30, "fixed": {}},
                }
            ]
        },
    )

    participant_id: str = _id()
    source: Literal["ecb", "prices"]
    ecb_file: str | None = Field(default=None, max_length=4096)
    spread_bps: int = 0
    prices: list[PairPriceIn] = Field(default_factory=list, max_length=64)
    fees: FeesIn = Field(default_factory=FeesIn)


class PairPriceOut(_Out):
    base: str
    quote: str
    bid: str
    ask: str


class FeesOut(_Out):
    bps: int
    fixed: dict[str, int]


class FxPricingOut(_Out):
    participant_id: str
    source: str
    ecb_file: str | None
    spread_bps: int
    prices: list[PairPriceOut]
    fees: FeesOut


class QuoteIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "provider_id": "fx-tokyo",
                    "source_currency": "CNY",
                    "target_amount": {"amount": "1200", "currency": "JPY"},
                }
            ]
        },
    )

    provider_id: str = _id()
    source_currency: str | None = Field(
        default=None, max_length=8, description="With target_amount: pay this much, in this."
    )
    target_amount: MoneyIn | None = None
    source_amount: MoneyIn | None = Field(
        default=None, description="With target_currency: convert this much into it."
    )
    target_currency: str | None = Field(default=None, max_length=8)


class QuoteOut(_Out):
    quote_id: str
    provider_id: str
    source: MoneyOut
    target: MoneyOut
    fee: MoneyOut
    debit_total: MoneyOut
    rate: str = Field(description="Target units per source unit (major units), exact.")
    fixed_side: Literal["source", "target"]
    created_ns: int
    expires_ns: int


# --- payments ------------------------------------------------------------------------------


_PAY_EXAMPLE: dict[str, Any] = {
    "payment_id": "p-20240501-0001",
    "wallet_id": "alipay-cn",
    "customer_id": "c-000001",
    "merchant_id": "m-kiyomizu",
    "quote_id": "quote-1",
}


class PayIn(_In):
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [_PAY_EXAMPLE]}
    )

    payment_id: str = Field(
        min_length=1, max_length=ID_CHARS_MAX, description="Chosen by the client: idempotent."
    )
    wallet_id: str = _id()
    customer_id: str = _id()
    merchant_id: str = _id()
    quote_id: str = _id()


class ReserveIn(PayIn):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{**_PAY_EXAMPLE, "hold_timeout_s": 300}]},
    )

    hold_timeout_s: int = Field(default=300, description="How long the holds last, seconds.")


class ScanPayIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "payment_id": "p-20240501-0002",
                    "qr_payload": "00020101021226...6304ABCD",
                    "wallet_id": "alipay-cn",
                    "customer_id": "c-000001",
                    "provider_id": "fx-tokyo",
                    "amount": {"amount": "1200", "currency": "JPY"},
                }
            ]
        },
    )

    payment_id: str = Field(min_length=1, max_length=ID_CHARS_MAX)
    qr_payload: str = Field(min_length=1, max_length=1024)
    wallet_id: str = _id()
    customer_id: str = _id()
    provider_id: str = _id()
    amount: MoneyIn | None = Field(default=None, description="Only for a static QR.")


class ErrorOut(_Out):
    code: str
    message: str


class PaymentOut(_Out):
    payment_id: str
    state: Literal["received", "reserved", "committed", "aborted", "expired"]
    flow: Literal["direct", "two_phase"] = Field(
        description="`direct`: one-shot, posted at once; `two_phase`: held, then posted or voided."
    )
    wallet_id: str
    customer_id: str
    merchant_id: str
    acquirer_id: str
    provider_id: str
    quote_id: str
    source: MoneyOut
    target: MoneyOut
    fee: MoneyOut
    debit_total: MoneyOut
    rate: str
    hold_timeout_s: int
    transfer_ids: list[str]
    created_ns: int
    updated_ns: int
    error: ErrorOut | None


class PaymentList(_Out):
    payments: list[PaymentOut]


class RefundIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"refund_id": "r-0001", "amount": {"amount": "600", "currency": "JPY"}}]
        },
    )

    refund_id: str = Field(min_length=1, max_length=ID_CHARS_MAX)
    amount: MoneyIn


class RefundOut(_Out):
    refund_id: str
    payment_id: str
    state: str
    target: MoneyOut
    source: MoneyOut
    fee: MoneyOut
    credit_total: MoneyOut
    created_ns: int
    updated_ns: int
    error: ErrorOut | None


class RefundList(_Out):
    refunds: list[RefundOut]


# --- settlement ----------------------------------------------------------------------------


class PositionOut(_Out):
    participant_id: str
    currency: str
    debits: int
    credits: int
    net: int
    net_decimal: str


class WindowOut(_Out):
    window_id: int
    state: Literal["open", "closed", "settled"]
    after_timestamp: int
    through_timestamp: int | None
    opened_ns: int
    closed_ns: int | None
    settled_ns: int | None
    positions: list[PositionOut]
    net_sum_by_currency: dict[str, int]
    settlement_transfer_ids: list[str]


class WindowList(_Out):
    windows: list[WindowOut]


# --- audit ---------------------------------------------------------------------------------


class CheckpointOut(_Out):
    origin: str
    size: int
    root: str = Field(description="Base64 Merkle tree root.")
    note: str = Field(description="The C2SP signed note, with the cosignatures collected.")
    created: int = Field(description="Unix seconds.")
    new: bool | None = None
    witnessed: bool
    cosigners: list[str]
    quorum: int
    witnesses: int


class ConsistencyOut(_Out):
    first: int
    second: int
    proof: list[str] = Field(description="RFC 9162 consistency proof, hex hashes.")


class ReceiptOut(_Out):
    format: str
    leaf: str
    leaf_index: int
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str


class TransferReceiptOut(_Out):
    transfer_id: str
    leg: str
    action: str
    receipt: ReceiptOut


class PaymentReceiptsOut(_Out):
    payment_id: str
    receipts: list[TransferReceiptOut]


class CosignaturesIn(_In):
    note: str = Field(
        min_length=1,
        max_length=16_384,
        description="The checkpoint note with the witness's cosignature line(s) appended.",
    )


class CosignaturesOut(_Out):
    size: int
    accepted: list[str]
    witnessed: bool
    cosigners: list[str]
    quorum: int


class WitnessOut(_Out):
    name: str
    vkey: str


class WitnessList(_Out):
    quorum: int
    witnesses: list[WitnessOut]


# --- ledger --------------------------------------------------------------------------------


class AccountOut(_Out):
    id: str
    ledger: int
    code: int
    flags: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    user_data_128: str
    user_data_64: int
    user_data_32: int
    timestamp: int


class TransferOut(_Out):
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    pending_id: str
    user_data_128: str
    user_data_64: int
    user_data_32: int
    timeout: int
    ledger: int
    code: int
    flags: int
    timestamp: int


class TransferList(_Out):
    transfers: list[TransferOut]


# --- API keys ------------------------------------------------------------------------------


class ApiKeyIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"role": "participant", "participant_id": "alipay-cn", "label": "prod"}]
        },
    )

    role: Literal["operator", "participant", "compliance", "auditor"]
    participant_id: str | None = Field(default=None, max_length=ID_CHARS_MAX)
    label: str = Field(default="", max_length=128)


class ApiKeyOut(_Out):
    key_id: str
    role: str
    participant_id: str | None
    label: str
    created_ns: int
    created_by: str
    revoked_ns: int | None
    active: bool


class ApiKeyList(_Out):
    keys: list[ApiKeyOut]


class CreatedKeyOut(_Out):
    key: ApiKeyOut
    secret: str = Field(description="The API key. Shown once: it is stored only as a hash.")
