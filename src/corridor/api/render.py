"""Domain records to API models, and API input to domain values (money, ids).

Pure functions, one per record kind, so that every route writes a record the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Final

from fastapi.responses import Response
from pydantic import BaseModel

from corridor.api import schemas
from corridor.api.errors import ApiError
from corridor.audit.receipt import Receipt
from corridor.ledger import Account, Transfer
from corridor.switch.directory import Customer, Merchant, Participant, liquidity_account_id
from corridor.switch.fx import Quote
from corridor.switch.liquidity import LiquidityBalance, Movement
from corridor.switch.money import Money, format_amount, parse_amount
from corridor.switch.payments import Payment
from corridor.switch.refunds import Refund
from corridor.switch.service import FxPricing
from corridor.switch.settlement import SettlementReport

__all__ = [
    "json_response",
    "money",
    "money_in",
    "parse_ledger_id",
]

JSON: Final = "application/json"
_ID_MAX: Final = (1 << 128) - 1


def json_response(model: BaseModel, status: int = 200) -> Response:
    """A JSON response of an API model (serialized once, by pydantic)."""
    return Response(model.model_dump_json().encode(), status_code=status, media_type=JSON)


def money(value: Money) -> schemas.MoneyOut:
    return schemas.MoneyOut(
        amount=format_amount(value), currency=value.currency.code, minor=value.amount
    )


def money_in(value: schemas.MoneyIn) -> Money:
    """Exact decimal text and a currency to Money (MoneyError codes on refusal)."""
    return parse_amount(value.amount, value.currency)


def hex_id(value: int) -> str:
    return f"{value:032x}"


def parse_ledger_id(text: str) -> int:
    """A 128-bit id from 32 hex digits (or 0x-prefixed hex, or decimal); ``invalid_id``."""
    try:
        if len(text) == 32:
            value = int(text, 16)
        elif text.startswith(("0x", "0X")):
            value = int(text[2:], 16)
        elif text.isdigit() and len(text) <= 39:
            value = int(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise ApiError("invalid_id", f"{text[:80]!r} is not a 128-bit id (32 hex digits)") from None
    if not 0 < value < _ID_MAX:
        raise ApiError("invalid_id", f"{text[:80]!r} is not a valid ledger id")
    return value


def participant(record: Participant) -> schemas.ParticipantOut:
    return schemas.ParticipantOut(
        id=record.id,
        kind=record.kind.value,
        name=record.name,
        country=record.country,
        currencies=list(record.currencies),
        net_debit_caps={
            code: money(Money.of(cap, code)) for code, cap in record.net_debit_caps.items()
        },
        created_ns=record.created_ns,
    )


def balance(record: LiquidityBalance) -> schemas.BalanceOut:
    cap = record.net_debit_cap
    return schemas.BalanceOut(
        currency=record.available.currency.code,
        available=money(record.available),
        posted=money(record.posted),
        held=money(record.held),
        incoming=money(record.incoming),
        net_debit_cap=None if cap is None else money(cap),
        account_id=hex_id(
            liquidity_account_id(record.participant_id, record.available.currency.code)
        ),
    )


def movement(record: Movement) -> schemas.MovementOut:
    return schemas.MovementOut(
        transfer_id=hex_id(record.transfer_id),
        participant_id=record.participant_id,
        kind=record.kind.value,
        amount=money(record.amount),
        replayed=record.replayed,
    )


def customer(record: Customer) -> schemas.CustomerOut:
    return schemas.CustomerOut(
        wallet_id=record.wallet_id,
        customer_id=record.customer_id,
        name_native=record.name_native,
        name_romanized=record.name_romanized,
        country=record.country,
        date_of_birth=record.date_of_birth.isoformat(),
        kyc_tier=record.kyc_tier,
        created_ns=record.created_ns,
    )


def merchant(record: Merchant) -> schemas.MerchantOut:
    return schemas.MerchantOut(
        merchant_id=record.id,
        acquirer_id=record.acquirer_id,
        name=record.name,
        name_native=record.name_native,
        mcc=record.mcc,
        city=record.city,
        region=record.region,
        country=record.country,
        currency=record.currency,
        created_ns=record.created_ns,
    )


def fx_pricing(record: FxPricing) -> schemas.FxPricingOut:
    return schemas.FxPricingOut.model_validate(record.to_json())


def quote(record: Quote) -> schemas.QuoteOut:
    return schemas.QuoteOut(
        quote_id=record.quote_id,
        provider_id=record.provider_id,
        source=money(record.source),
        target=money(record.target),
        fee=money(record.fee),
        debit_total=money(record.debit_total),
        rate=str(record.rate),
        fixed_side=record.fixed_side.value,
        created_ns=record.created_at_ns,
        expires_ns=record.expires_at_ns,
    )


def _error(code: str | None, message: str | None) -> schemas.ErrorOut | None:
    return None if code is None else schemas.ErrorOut(code=code, message=message or "")


def payment(record: Payment) -> schemas.PaymentOut:
    return schemas.PaymentOut(
        payment_id=record.payment_id,
        state=record.state.value,
        flow=record.flow,  # type: ignore[arg-type]
        wallet_id=record.wallet_id,
        customer_id=record.customer_id,
        merchant_id=record.merchant_id,
        acquirer_id=record.acquirer_id,
        provider_id=record.provider_id,
        quote_id=record.quote_id,
        source=money(record.source),
        target=money(record.target),
        fee=money(record.fee),
        debit_total=money(record.debit_total),
        rate=str(record.rate),
        hold_timeout_s=record.hold_timeout_s,
        transfer_ids=[hex_id(i) for i in record.transfer_ids],
        created_ns=record.created_ns,
        updated_ns=record.updated_ns,
        error=_error(record.error_code, record.error_message),
    )


def refund(record: Refund) -> schemas.RefundOut:
    return schemas.RefundOut(
        refund_id=record.refund_id,
        payment_id=record.payment_id,
        state=record.state,
        target=money(record.target),
        source=money(record.source),
        fee=money(record.fee),
        credit_total=money(record.credit_total),
        created_ns=record.created_ns,
        updated_ns=record.updated_ns,
        error=_error(record.error_code, record.error_message),
    )


def window(report: SettlementReport, *, only: str | None = None) -> schemas.WindowOut:
    """A settlement report; with `only`, just that participant's positions."""
    data = report.to_json()
    if only is not None:
        data["positions"] = [p for p in data["positions"] if p["participant_id"] == only]
    return schemas.WindowOut.model_validate(data)


def window_csv(report: SettlementReport, *, only: str | None = None) -> str:
    text = report.to_csv()
    if only is None:
        return text
    header, *rows = text.splitlines(keepends=True)
    return header + "".join(r for r in rows if r.split(",")[2] == only)


def receipt(record: Receipt) -> schemas.ReceiptOut:
    return schemas.ReceiptOut.model_validate(record.to_json())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def account(record: Account) -> schemas.AccountOut:
    return schemas.AccountOut(
        id=hex_id(record.id),
        ledger=record.ledger,
        code=record.code,
        flags=int(record.flags),
        debits_pending=record.debits_pending,
        debits_posted=record.debits_posted,
        credits_pending=record.credits_pending,
        credits_posted=record.credits_posted,
        user_data_128=hex_id(record.user_data_128),
        user_data_64=record.user_data_64,
        user_data_32=record.user_data_32,
        timestamp=record.timestamp,
    )


def transfer(record: Transfer) -> schemas.TransferOut:
    return schemas.TransferOut(
        id=hex_id(record.id),
        debit_account_id=hex_id(record.debit_account_id),
        credit_account_id=hex_id(record.credit_account_id),
        amount=record.amount,
        pending_id=hex_id(record.pending_id),
        user_data_128=hex_id(record.user_data_128),
        user_data_64=record.user_data_64,
        user_data_32=record.user_data_32,
        timeout=record.timeout,
        ledger=record.ledger,
        code=record.code,
        flags=int(record.flags),
        timestamp=record.timestamp,
    )


def date_text(value: dt.date) -> str:
    return value.isoformat()
