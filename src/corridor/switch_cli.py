"""Operator commands of the payment switch: QR codes, participants, parties, liquidity, FX
pricing, payments, refunds and settlement windows.

Every command opens the switch of one database (`--db`, default ./corridor.db), does one
thing and prints a line for people or JSON with `--json`. Failures raise `SwitchError` (or a
ledger/store error), which `corridor.cli.main` prints as ``error[code]: message`` with exit
status 2; nothing is changed by a refused command.

Quotes live in a process's memory, so a payment from the command line is a scan-and-pay in
one command (`corridor payments pay`): quote, reserve and commit together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console

from corridor.formats import emvqr
from corridor.switch.directory import Customer, Merchant, Participant, merchant_qr
from corridor.switch.errors import SwitchError
from corridor.switch.fx import FeeSchedule, FxError, PairPrice
from corridor.switch.money import Money, MoneyError, format_amount, parse_amount
from corridor.switch.payments import Payment
from corridor.switch.refunds import Refund
from corridor.switch.service import FxPricing, Switch
from corridor.switch.settlement import SettlementReport

__all__ = ["SwitchCliError", "register"]

DEFAULT_DB: Final = "./corridor.db"
LIST_LIMIT_DEFAULT: Final = 50

console = Console(soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

qr_app = typer.Typer(help="EMVCo merchant-presented QR codes.", no_args_is_help=True)
participants_app = typer.Typer(help="Participants of the corridor.", no_args_is_help=True)
customers_app = typer.Typer(help="Wallets' customers.", no_args_is_help=True)
merchants_app = typer.Typer(help="Acquirers' merchants.", no_args_is_help=True)
liquidity_app = typer.Typer(help="Prefunded liquidity.", no_args_is_help=True)
fx_app = typer.Typer(help="FX providers' pricing.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments.", no_args_is_help=True)
refunds_app = typer.Typer(help="Refunds of committed payments.", no_args_is_help=True)
settlement_app = typer.Typer(help="Settlement windows.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the switch's command groups to the `corridor` app."""
    app.add_typer(qr_app, name="qr")
    app.add_typer(participants_app, name="participants")
    app.add_typer(customers_app, name="customers")
    app.add_typer(merchants_app, name="merchants")
    app.add_typer(liquidity_app, name="liquidity")
    app.add_typer(fx_app, name="fx")
    app.add_typer(payments_app, name="payments")
    app.add_typer(refunds_app, name="refunds")
    app.add_typer(settlement_app, name="settlement")


@contextmanager
def _switch(db: str, *, must_exist: bool = True) -> Iterator[Switch]:
    if "://" in db:
        raise SwitchCliError(
            "unsupported_database", f"--db {db!r}: the switch needs a SQLite file path"
        )
    path = Path(db)
    if path.is_dir():
        raise SwitchCliError("invalid_database", f"{path} is a directory, not a database file")
    if must_exist and not path.is_file():
        raise SwitchCliError("database_not_found", f"{path}: no such database file")
    with Switch.open(path) as switch:
        yield switch


class SwitchCliError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _print(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _money(text: str, code: str) -> Money:
    try:
        return parse_amount(text, code)
    except MoneyError as error:
        raise SwitchError("invalid_amount", str(error)) from None


# -- JSON views ----------------------------------------------------------------------------


def participant_json(p: Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind.value,
        "name": p.name,
        "country": p.country,
        "currencies": list(p.currencies),
        "net_debit_caps": {
            code: format_amount(Money.of(cap, code)) for code, cap in p.net_debit_caps.items()
        },
        "created_ns": p.created_ns,
    }


def customer_json(c: Customer) -> dict[str, Any]:
    data = dataclasses.asdict(c)
    data["date_of_birth"] = c.date_of_birth.isoformat()
    return data


def merchant_json(m: Merchant) -> dict[str, Any]:
    return dataclasses.asdict(m)


def money_json(money: Money) -> dict[str, Any]:
    return {"amount": format_amount(money), "currency": money.currency.code, "minor": money.amount}


def payment_json(p: Payment) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "state": p.state.value,
        "wallet_id": p.wallet_id,
        "customer_id": p.customer_id,
        "merchant_id": p.merchant_id,
        "acquirer_id": p.acquirer_id,
        "provider_id": p.provider_id,
        "quote_id": p.quote_id,
        "source": money_json(p.source),
        "target": money_json(p.target),
        "fee": money_json(p.fee),
        "debit_total": money_json(p.debit_total),
        "rate": str(p.rate),
        "hold_timeout_s": p.hold_timeout_s,
        "transfer_ids": [f"{i:032x}" for i in p.transfer_ids],
        "created_ns": p.created_ns,
        "updated_ns": p.updated_ns,
        "error_code": p.error_code,
        "error_message": p.error_message,
    }


def refund_json(r: Refund) -> dict[str, Any]:
    return {
        "refund_id": r.refund_id,
        "payment_id": r.payment_id,
        "state": r.state,
        "target": money_json(r.target),
        "source": money_json(r.source),
        "fee": money_json(r.fee),
        "created_ns": r.created_ns,
        "error_code": r.error_code,
        "error_message": r.error_message,
    }


def qr_json(qr: emvqr.MerchantQR) -> dict[str, Any]:
    def plain(value: object) -> object:
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return value

    data = plain(qr)
    assert isinstance(data, dict)
    data["currency"] = qr.currency_code
    data["dynamic"] = qr.is_dynamic
    data["corridor_merchant_id"] = qr.corridor_merchant_id
    return data


# -- qr ------------------------------------------------------------------------------------


@qr_app.command("make")
def qr_make(
    merchant_id: str,
    amount: Annotated[
        str | None, typer.Option(help="Amount in the merchant's currency: a dynamic QR.")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="Reference label (ID 62-05).")] = None,
    png: Annotated[Path | None, typer.Option(help="Also write the QR as PNG here.")] = None,
    svg: Annotated[Path | None, typer.Option(help="Also write the QR as SVG here.")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Print the EMVCo payload of a merchant's QR (static, or dynamic with --amount)."""
    with _switch(db) as switch:
        merchant = switch.directory.merchant(merchant_id)
        money = None if amount is None else _money(amount, merchant.currency)
        payload = emvqr.encode(merchant_qr(merchant, amount=money, reference=reference))
    if png is not None:
        emvqr.render_png(payload, png)
    if svg is not None:
        svg.write_text(emvqr.render_svg(payload))
    print(payload)


@qr_app.command("parse")
def qr_parse(payload: str, as_json: JsonOption = False) -> None:
    """Decode and check an EMVCo payload (CRC, lengths, currency) and print its fields."""
    try:
        qr = emvqr.decode(payload)
    except emvqr.QRError as error:
        raise SwitchError("invalid_qr", f"{error.code}: {error}") from None
    data = qr_json(qr)
    if as_json:
        _print(data)
        return
    for key, value in data.items():
        if value not in (None, {}, ""):
            console.print(f"{key}: {value}")


# -- participants and parties --------------------------------------------------------------


@participants_app.command("add")
def participants_add(
    participant_id: str,
    kind: Annotated[str, typer.Option(help="wallet, acquirer, bank or fx_provider.")],
    name: Annotated[str, typer.Option()],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2.")],
    currency: Annotated[list[str], typer.Option(help="A currency it operates in (repeat).")],
    cap: Annotated[
        list[str] | None, typer.Option(help="Net debit cap CCY=AMOUNT, e.g. JPY=5000000.")
    ] = None,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Register a participant and create its liquidity accounts."""
    caps: dict[str, int] = {}
    for item in cap or []:
        code, _, text = item.partition("=")
        if not text:
            raise SwitchError("invalid_participant", f"--cap is CCY=AMOUNT, not {item!r}")
        caps[code] = _money(text, code).amount
    with _switch(db, must_exist=False) as switch:
        participant = switch.directory.register_participant(
            participant_id,
            kind=kind,
            name=name,
            country=country,
            currencies=currency,
            net_debit_caps=caps or None,
        )
    if as_json:
        _print(participant_json(participant))
    else:
        console.print(f"participant {participant.id} ({participant.kind.value})")


@participants_app.command("list")
def participants_list(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """Every participant."""
    with _switch(db) as switch:
        found = [participant_json(p) for p in switch.directory.participants()]
    if as_json:
        _print(found)
        return
    for p in found:
        console.print(f"{p['id']:<24} {p['kind']:<12} {p['country']} {','.join(p['currencies'])}")


@participants_app.command("show")
def participants_show(participant_id: str, db: DbOption = DEFAULT_DB) -> None:
    """One participant with its liquidity in each currency (JSON)."""
    with _switch(db) as switch:
        participant = switch.directory.participant(participant_id)
        data = participant_json(participant)
        data["liquidity"] = {
            code: _balance_json(switch, participant.id, code) for code in participant.currencies
        }
    _print(data)


@customers_app.command("add")
def customers_add(
    customer_id: str,
    wallet: Annotated[str, typer.Option(help="The wallet participant.")],
    name_native: Annotated[str, typer.Option(help="Name in its native script.")],
    name_romanized: Annotated[str, typer.Option(help="Name in Latin script.")],
    country: Annotated[str, typer.Option()],
    date_of_birth: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
    kyc_tier: Annotated[str, typer.Option()],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Register a wallet's customer (JSON)."""
    with _switch(db) as switch:
        customer = switch.directory.register_customer(
            customer_id,
            wallet_id=wallet,
            name_native=name_native,
            name_romanized=name_romanized,
            country=country,
            date_of_birth=date_of_birth,
            kyc_tier=kyc_tier,
        )
    _print(customer_json(customer))


@merchants_app.command("add")
def merchants_add(
    merchant_id: str,
    acquirer: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    mcc: Annotated[str, typer.Option(help="ISO 18245 category code.")],
    city: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="ISO 3166-2, e.g. JP-26.")],
    currency: Annotated[str, typer.Option()],
    name_native: Annotated[str | None, typer.Option()] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Register an acquirer's merchant (JSON)."""
    with _switch(db) as switch:
        merchant = switch.directory.register_merchant(
            merchant_id,
            acquirer_id=acquirer,
            name=name,
            mcc=mcc,
            city=city,
            region=region,
            currency=currency,
            name_native=name_native,
        )
    _print(merchant_json(merchant))


@merchants_app.command("show")
def merchants_show(merchant_id: str, db: DbOption = DEFAULT_DB) -> None:
    """One merchant (JSON)."""
    with _switch(db) as switch:
        _print(merchant_json(switch.directory.merchant(merchant_id)))


# -- liquidity -----------------------------------------------------------------------------


def _balance_json(switch: Switch, participant_id: str, code: str) -> dict[str, Any]:
    balance = switch.liquidity.balance(participant_id, code)
    return {
        "available": format_amount(balance.available),
        "posted": format_amount(balance.posted),
        "held": format_amount(balance.held),
        "incoming": format_amount(balance.incoming),
        "net_debit_cap": None
        if balance.net_debit_cap is None
        else format_amount(balance.net_debit_cap),
    }


def _movement(
    kind: str, participant_id: str, amount: str, currency: str, reference: str, db: str
) -> None:
    with _switch(db) as switch:
        money = _money(amount, currency)
        move = switch.liquidity.deposit if kind == "deposit" else switch.liquidity.withdraw
        movement = move(participant_id, money, reference=reference)
        _print(
            {
                "transfer_id": f"{movement.transfer_id:032x}",
                "participant_id": participant_id,
                "kind": kind,
                "amount": money_json(money),
                "replayed": movement.replayed,
                "balance": _balance_json(switch, participant_id, currency),
            }
        )


ReferenceOption = Annotated[
    str, typer.Option(help="Bank statement line or ticket: names the movement (idempotent).")
]


@liquidity_app.command("deposit")
def liquidity_deposit(
    participant_id: str,
    amount: str,
    currency: str,
    reference: ReferenceOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Record funds the hub received from a participant."""
    _movement("deposit", participant_id, amount, currency, reference, db)


@liquidity_app.command("withdraw")
def liquidity_withdraw(
    participant_id: str,
    amount: str,
    currency: str,
    reference: ReferenceOption,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Record funds paid back to a participant."""
    _movement("withdrawal", participant_id, amount, currency, reference, db)


@liquidity_app.command("balance")
def liquidity_balance(participant_id: str, currency: str, db: DbOption = DEFAULT_DB) -> None:
    """A participant's liquidity in one currency (JSON)."""
    with _switch(db) as switch:
        _print(_balance_json(switch, participant_id, currency))


# -- FX ------------------------------------------------------------------------------------


@fx_app.command("set-pricing")
def fx_set_pricing(
    provider_id: str,
    ecb_file: Annotated[Path | None, typer.Option(help="Price from this ECB CSV.")] = None,
    spread_bps: Annotated[int, typer.Option(help="With --ecb-file: spread in bps.")] = 0,
    price: Annotated[
        list[str] | None, typer.Option(help="BASE/QUOTE=BID:ASK, e.g. CNY/JPY=20.6:20.8.")
    ] = None,
    fee_bps: Annotated[int, typer.Option(help="Fee in bps of the source amount.")] = 0,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Set how an FX provider prices: ECB reference rates or its own bid/ask (JSON)."""
    if (ecb_file is None) == (not price):
        raise SwitchError("invalid_fx_pricing", "give either --ecb-file or --price")
    try:
        fees = FeeSchedule(bps=fee_bps)
        if ecb_file is not None:
            pricing = FxPricing(
                provider_id,
                "ecb",
                ecb_file=str(ecb_file.resolve()),
                spread_bps=spread_bps,
                fees=fees,
            )
        else:
            prices = []
            for item in price or []:
                pair, _, quotes = item.partition("=")
                base, _, quote = pair.partition("/")
                bid, _, ask = quotes.partition(":")
                prices.append(PairPrice(base, quote, Decimal(bid), Decimal(ask)))
            pricing = FxPricing(provider_id, "prices", prices=tuple(prices), fees=fees)
    except (FxError, InvalidOperation, ValueError) as error:
        raise SwitchError("invalid_fx_pricing", f"FX pricing: {error}") from None
    pricing = FxPricing.from_json(pricing.to_json())
    with _switch(db) as switch:
        _print(switch.set_fx_pricing(pricing).to_json())


# -- payments and refunds ------------------------------------------------------------------


@payments_app.command("pay")
def payments_pay(
    payment_id: str,
    qr: Annotated[str, typer.Option(help="The merchant's QR payload, as scanned.")],
    wallet: Annotated[str, typer.Option()],
    customer: Annotated[str, typer.Option()],
    provider: Annotated[str, typer.Option(help="The FX provider.")],
    amount: Annotated[
        str | None, typer.Option(help="Amount in the merchant's currency (static QR).")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Scan-and-pay: quote, reserve and commit one payment (JSON)."""
    with _switch(db) as switch:
        money = None
        if amount is not None:
            merchant = switch.directory.merchant_from_qr(qr).merchant
            money = _money(amount, merchant.currency)
        payment = switch.scan_and_pay(
            payment_id,
            qr_payload=qr,
            wallet_id=wallet,
            customer_id=customer,
            provider_id=provider,
            amount=money,
        )
        _print(payment_json(payment))


@payments_app.command("show")
def payments_show(payment_id: str, db: DbOption = DEFAULT_DB) -> None:
    """One payment (JSON), brought in line with the ledger if its holds expired."""
    with _switch(db) as switch:
        _print(payment_json(switch.payments.sync(payment_id)))


@payments_app.command("list")
def payments_list(
    state: Annotated[str | None, typer.Option()] = None,
    wallet: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = LIST_LIMIT_DEFAULT,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Payments, newest first."""
    with _switch(db) as switch:
        found = switch.payments.list(state=state, wallet_id=wallet, limit=limit)
    if as_json:
        _print([payment_json(p) for p in found])
        return
    for p in found:
        console.print(
            f"{p.payment_id:<28} {p.state.value:<10} {format_amount(p.debit_total):>14} "
            f"{p.source.currency.code} -> {format_amount(p.target):>12} {p.target.currency.code}"
            f"  {p.merchant_id}"
        )


@payments_app.command("abort")
def payments_abort(payment_id: str, db: DbOption = DEFAULT_DB) -> None:
    """Void a reserved payment's holds (JSON)."""
    with _switch(db) as switch:
        _print(payment_json(switch.payments.abort(payment_id)))


@payments_app.command("commit")
def payments_commit(payment_id: str, db: DbOption = DEFAULT_DB) -> None:
    """Post a reserved payment (JSON)."""
    with _switch(db) as switch:
        _print(payment_json(switch.payments.commit(payment_id)))


@refunds_app.command("create")
def refunds_create(
    refund_id: str,
    payment: Annotated[str, typer.Option(help="The committed payment.")],
    amount: Annotated[str, typer.Option(help="In the merchant's currency.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Refund part or all of a committed payment at its original rate (JSON)."""
    with _switch(db) as switch:
        paid = switch.payments.get(payment)
        money = _money(amount, paid.target.currency.code)
        _print(refund_json(switch.refunds.refund(refund_id, payment_id=payment, amount=money)))


@refunds_app.command("show")
def refunds_show(refund_id: str, db: DbOption = DEFAULT_DB) -> None:
    with _switch(db) as switch:
        _print(refund_json(switch.refunds.get(refund_id)))


# -- settlement ----------------------------------------------------------------------------


def _report(report: SettlementReport, output: str) -> None:
    if output == "csv":
        print(report.to_csv(), end="")
    elif output == "json":
        _print(report.to_json())
    else:
        raise SwitchError("invalid_window", f"--format is json or csv, not {output!r}")


FormatOption = Annotated[str, typer.Option("--format", help="json or csv.")]


@settlement_app.command("close")
def settlement_close(db: DbOption = DEFAULT_DB, output: FormatOption = "json") -> None:
    """Close the open window (its report), opening the next."""
    with _switch(db) as switch:
        _report(switch.settlement.close_window(), output)


@settlement_app.command("settle")
def settlement_settle(
    window_id: int, db: DbOption = DEFAULT_DB, output: FormatOption = "json"
) -> None:
    """Record a closed window's settlement transfers in the ledger."""
    with _switch(db) as switch:
        _report(switch.settlement.settle_window(window_id), output)


@settlement_app.command("show")
def settlement_show(
    window_id: Annotated[int | None, typer.Argument(help="Default: the open window.")] = None,
    db: DbOption = DEFAULT_DB,
    output: FormatOption = "json",
) -> None:
    """A window's report: positions, Σ per currency, settlement transfer ids."""
    with _switch(db) as switch:
        report = (
            switch.settlement.open_window()
            if window_id is None
            else switch.settlement.window(window_id)
        )
        _report(report, output)


@settlement_app.command("list")
def settlement_list(
    limit: Annotated[int, typer.Option()] = LIST_LIMIT_DEFAULT,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Windows, newest first."""
    with _switch(db) as switch:
        windows = switch.settlement.windows(limit=limit)
    if as_json:
        _print([{k: v for k, v in w.to_json().items() if k != "positions"} for w in windows])
        return
    for w in windows:
        console.print(f"window {w.window_id:<6} {w.state:<8} through {w.through_timestamp}")
