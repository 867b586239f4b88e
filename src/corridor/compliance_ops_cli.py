"""`corridor cases ...` and `corridor reports ...`: compliance officers' commands.

Officers work cases (`corridor.compliance.cases`): list and show them, assign, note, move
them through their states, close them with a disposition, and release or refuse the payments
a REVIEW verdict holds. Regulators get large-value reports
(`corridor.compliance.reports`) as JSON or CSV.

Every command takes ``--db`` (an existing SQLite file). Who did something (``--actor``)
defaults to the login name; it goes into the case's audit trail. Arguments are parsed here,
not by typer, so that every bad input is a `ComplianceError` with a stable code that
`corridor.cli.main` prints as ``error[code]: message`` with exit status 2, no traceback.

``cases release`` / ``cases refuse`` resolve the hold through the payment service
(`corridor.switch.payments.PaymentService`): release commits the payment, refuse aborts it.

This module sits in the interface layer: it may import the switch as well as compliance. It
keeps its own small ``--db`` check instead of importing `corridor.cli`, which imports it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corridor.compliance.cases import (
    LIST_LIMIT_MAX,
    Case,
    CaseBook,
    CaseDetail,
    CaseState,
    Disposition,
    Hold,
    HoldResolver,
)
from corridor.compliance.errors import ComplianceError
from corridor.compliance.reports import large_value_report
from corridor.compliance.types import Alert
from corridor.formats.ecb import EcbError, load_ecb_csv
from corridor.ledger import Ledger
from corridor.switch.directory import Directory
from corridor.switch.fx import EcbRateSource, FxError, QuoteBook
from corridor.switch.money import MoneyError, currency
from corridor.switch.payments import PaymentService

__all__ = ["cases_app", "reports_app"]

DEFAULT_DB: Final = "./corridor.db"
ECB_RATES_ENV: Final = "CORRIDOR_ECB_RATES"
"""Environment variable naming the ECB reference-rates CSV for report conversions."""
SHARED_ECB_RATES: Final = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "fx" / "eurofxref-hist.csv"
)
"""Used when neither ``--rates`` nor the environment variable names a file and it exists."""
NOTE_ARG_CHARS_MAX: Final = 4000
_NOON_UTC_NS: Final = 12 * 3600 * 1_000_000_000
_NS_PER_DAY: Final = 86_400 * 1_000_000_000

cases_app = typer.Typer(
    help="Compliance cases: alerts grouped by subject, worked by officers.",
    no_args_is_help=True,
)
reports_app = typer.Typer(help="Regulatory reports.", no_args_is_help=True)

console = Console(soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who does it, for the audit trail (default: login name)."),
]
CaseArgument = Annotated[
    str | None, typer.Argument(help="The case id (a number).", show_default=False)
]


# --- parsing ---------------------------------------------------------------------------


def _db_path(db: str) -> Path:
    if "://" in db:
        raise ComplianceError(
            "unsupported_database", f"--db {db!r}: compliance commands need a SQLite file path"
        )
    path = Path(db)
    if path.is_dir():
        raise ComplianceError("invalid_database", f"{path} is a directory, not a database file")
    if not path.is_file():
        raise ComplianceError("database_not_found", f"{path}: no such database file")
    return path


def _required(value: str | None, name: str) -> str:
    if value is None:
        kind = "option" if name.startswith("--") else "argument"
        raise ComplianceError(f"missing_{kind}", f"{name} is required")
    return value


def _case_id(text: str | None) -> int:
    text = _required(text, "CASE")
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) <= 0:
        raise ComplianceError("invalid_case_id", f"a case id is a positive number, not {text!r}")
    return int(text)


def _actor(actor: str | None) -> str:
    if actor is not None:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise ComplianceError(
            "actor_required", "cannot tell who you are from the system; pass --actor NAME"
        ) from None


def _limit(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= LIST_LIMIT_MAX:
        raise ComplianceError("invalid_query", f"--limit is 1 to {LIST_LIMIT_MAX}, not {text!r}")
    return int(text)


def _date(text: str, option: str) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ComplianceError(
            "invalid_date", f"{option} is a date YYYY-MM-DD, not {text!r}"
        ) from None


# --- output ----------------------------------------------------------------------------


def _ns_text(ns: int | None) -> str:
    if ns is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _case_json(case: Case) -> dict[str, object]:
    return {
        "case_id": case.case_id,
        "subject": case.subject,
        "state": case.state.value,
        "disposition": None if case.disposition is None else case.disposition.value,
        "assignee": case.assignee,
        "opened_ns": case.opened_ns,
        "updated_ns": case.updated_ns,
        "closed_ns": case.closed_ns,
    }


def _alert_json(alert: Alert) -> dict[str, object]:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "score": alert.score,
        "verdict": alert.verdict.value,
        "payment_id": alert.payment_id,
        "subject": alert.subject,
        "evidence": dict(alert.evidence),
        "at_ns": alert.at_ns,
    }


def _hold_json(hold: Hold) -> dict[str, object]:
    return {
        "payment_id": hold.payment_id,
        "case_id": hold.case_id,
        "state": hold.state.value,
        "resolved_by": hold.resolved_by,
        "resolved_ns": hold.resolved_ns,
    }


def _detail_json(detail: CaseDetail) -> dict[str, object]:
    return {
        "case": _case_json(detail.case),
        "alerts": [_alert_json(a) for a in detail.alerts],
        "holds": [_hold_json(h) for h in detail.holds],
        "notes": [
            {"note_id": n.note_id, "author": n.author, "text": n.text, "at_ns": n.at_ns}
            for n in detail.notes
        ],
        "events": [
            {
                "event_id": e.event_id,
                "at_ns": e.at_ns,
                "actor": e.actor,
                "action": e.action,
                "detail": dict(e.detail),
            }
            for e in detail.events
        ],
    }


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _print_case(case: Case) -> None:
    disposition = f" ({case.disposition.value})" if case.disposition else ""
    console.print(
        f"case [bold]{case.case_id}[/] {escape(case.subject)}: {case.state.value}{disposition},"
        f" assignee {escape(case.assignee or '-')}, updated {_ns_text(case.updated_ns)}"
    )


# --- cases -----------------------------------------------------------------------------


@contextmanager
def _book(db: str, resolver: HoldResolver | None = None) -> Iterator[CaseBook]:
    with CaseBook.open(_db_path(db), resolver=resolver) as book:
        yield book


@cases_app.command("list")
def cases_list(
    db: DbOption = DEFAULT_DB,
    state: Annotated[
        str | None, typer.Option(help="open, investigating, escalated or closed.")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="e.g. customer:alipay-cn/c-001.")] = None,
    assignee: Annotated[str | None, typer.Option(help="The officer the case is assigned to.")] = (
        None
    ),
    limit: Annotated[str, typer.Option(help=f"At most this many (1-{LIST_LIMIT_MAX}).")] = "100",
    as_json: JsonOption = False,
) -> None:
    """List cases, oldest first, by state, subject or assignee."""
    count = _limit(limit)
    with _book(db) as book:
        cases = book.list_cases(state=state, subject=subject, assignee=assignee, limit=count)
    if as_json:
        _print_json([_case_json(c) for c in cases])
        return
    table = Table()
    for column in ("case", "subject", "state", "disposition", "assignee", "updated"):
        table.add_column(column, overflow="fold")
    for case in cases:
        table.add_row(
            str(case.case_id),
            escape(case.subject),
            case.state.value,
            case.disposition.value if case.disposition else "-",
            escape(case.assignee or "-"),
            _ns_text(case.updated_ns),
        )
    console.print(table)
    console.print(f"{len(cases)} case(s)")


@cases_app.command("show")
def cases_show(
    case_id: CaseArgument = None, db: DbOption = DEFAULT_DB, as_json: JsonOption = False
) -> None:
    """A case with its alerts, holds, notes and audit trail."""
    number = _case_id(case_id)
    with _book(db) as book:
        detail = book.get(number)
    if as_json:
        _print_json(_detail_json(detail))
        return
    _print_case(detail.case)
    console.print("[bold]alerts[/]")
    for alert in detail.alerts:
        console.print(
            f"  {escape(alert.alert_id)} {escape(alert.rule)} score {alert.score:.2f}"
            f" {alert.verdict.value} payment {escape(alert.payment_id)} at {_ns_text(alert.at_ns)}"
        )
    console.print("[bold]holds[/]")
    for hold in detail.holds:
        by = f" by {escape(hold.resolved_by)}" if hold.resolved_by else ""
        console.print(f"  payment {escape(hold.payment_id)}: {hold.state.value}{by}")
    console.print("[bold]notes[/]")
    for note in detail.notes:
        console.print(f"  {_ns_text(note.at_ns)} {escape(note.author)}: {escape(note.text)}")
    console.print("[bold]trail[/]")
    for event in detail.events:
        facts = ", ".join(f"{k}={v}" for k, v in sorted(event.detail.items()))
        console.print(
            f"  {_ns_text(event.at_ns)} {escape(event.actor)} {event.action} {escape(facts)}"
        )


@cases_app.command("assign")
def cases_assign(
    case_id: CaseArgument = None,
    assignee: Annotated[str | None, typer.Argument(help="The officer.", show_default=False)] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assign a case to an officer."""
    number = _case_id(case_id)
    officer = _required(assignee, "OFFICER")
    with _book(db) as book:
        case = book.assign(number, officer, actor=_actor(actor))
    if as_json:
        _print_json(_case_json(case))
    else:
        _print_case(case)


@cases_app.command("note")
def cases_note(
    case_id: CaseArgument = None,
    text: Annotated[str | None, typer.Argument(help="The note.", show_default=False)] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a note to a case."""
    number = _case_id(case_id)
    body = _required(text, "TEXT")
    with _book(db) as book:
        note = book.note(number, body, author=_actor(actor))
    if as_json:
        _print_json(
            {
                "note_id": note.note_id,
                "case_id": note.case_id,
                "author": note.author,
                "text": note.text,
                "at_ns": note.at_ns,
            }
        )
    else:
        console.print(f"note {note.note_id} added to case {note.case_id}")


@cases_app.command("transition")
def cases_transition(
    case_id: CaseArgument = None,
    state: Annotated[
        str | None, typer.Argument(help="investigating, escalated or closed.", show_default=False)
    ] = None,
    disposition: Annotated[
        str | None, typer.Option(help="Needed to close: " + ", ".join(d.value for d in Disposition))
    ] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a case to another state."""
    number = _case_id(case_id)
    target = _required(state, "STATE")
    with _book(db) as book:
        case = book.transition(number, target, actor=_actor(actor), disposition=disposition)
    if as_json:
        _print_json(_case_json(case))
    else:
        _print_case(case)


@cases_app.command("close")
def cases_close(
    case_id: CaseArgument = None,
    disposition: Annotated[
        str | None,
        typer.Option(help=", ".join(d.value for d in Disposition), show_default=False),
    ] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close a case with a disposition (its holds must be resolved first)."""
    number = _case_id(case_id)
    chosen = _required(disposition, "--disposition")
    with _book(db) as book:
        case = book.transition(number, CaseState.CLOSED, actor=_actor(actor), disposition=chosen)
    if as_json:
        _print_json(_case_json(case))
    else:
        _print_case(case)


class _PaymentResolver:
    """Holds resolved by the payment service: release commits, refuse aborts."""

    def __init__(self, service: PaymentService) -> None:
        self._service = service

    def release(self, payment_id: str) -> object:
        return self._service.commit(payment_id)

    def refuse(self, payment_id: str) -> object:
        return self._service.abort(payment_id)


@contextmanager
def _payment_resolver(path: Path) -> Iterator[HoldResolver]:
    with (
        Ledger.open(path) as ledger,
        Directory.open(ledger) as directory,
        PaymentService(ledger, directory, QuoteBook()) as service,
    ):
        yield _PaymentResolver(service)


def _resolve(
    case_id: str | None, payment_id: str, db: str, actor: str | None, release: bool
) -> Hold:
    number = _case_id(case_id)
    who = _actor(actor)
    path = _db_path(db)
    with CaseBook.open(path) as book:
        # Refuse what the case book would refuse before opening the ledger (its writer).
        book.case(number)
        hold = book.hold(payment_id)
        if hold is None or hold.case_id != number:
            raise ComplianceError("unknown_hold", f"case {number} holds no payment {payment_id!r}")
    with _payment_resolver(path) as resolver, CaseBook.open(path, resolver=resolver) as book:
        if release:
            return book.release(number, payment_id, actor=who)
        return book.refuse(number, payment_id, actor=who)


def _print_hold(hold: Hold, as_json: bool) -> None:
    if as_json:
        _print_json(_hold_json(hold))
    else:
        console.print(
            f"payment {escape(hold.payment_id)} of case {hold.case_id}: {hold.state.value}"
            f" by {escape(hold.resolved_by or '-')}"
        )


@cases_app.command("release")
def cases_release(
    case_id: CaseArgument = None,
    payment_id: Annotated[
        str | None, typer.Argument(help="The held payment.", show_default=False)
    ] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release a payment the case holds: the payment is committed."""
    _print_hold(
        _resolve(case_id, _required(payment_id, "PAYMENT"), db, actor, release=True), as_json
    )


@cases_app.command("refuse")
def cases_refuse(
    case_id: CaseArgument = None,
    payment_id: Annotated[
        str | None, typer.Argument(help="The held payment.", show_default=False)
    ] = None,
    db: DbOption = DEFAULT_DB,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refuse a payment the case holds: the payment is aborted and its holds released."""
    _print_hold(
        _resolve(case_id, _required(payment_id, "PAYMENT"), db, actor, release=False), as_json
    )


# --- reports ---------------------------------------------------------------------------


class _EcbRates:
    """ECB reference rates from a CSV file, loaded on first use (cross rates via EUR)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._source: EcbRateSource | None = None

    def __call__(self, source: str, target: str, day: dt.date) -> Decimal:
        if self._path is None:
            raise ComplianceError(
                "no_rate",
                f"converting {source} to {target} needs ECB rates: pass --rates FILE or set"
                f" {ECB_RATES_ENV}",
            )
        if self._source is None:
            try:
                self._source = EcbRateSource(load_ecb_csv(self._path))
            except (EcbError, OSError) as error:
                raise ComplianceError("invalid_rates", f"{self._path}: {error}") from None
        at_ns = (day - dt.date(1970, 1, 1)).days * _NS_PER_DAY + _NOON_UTC_NS
        try:
            return self._source.rate(currency(source), currency(target), at_ns)
        except (FxError, MoneyError) as error:
            raise ComplianceError("no_rate", f"{source}→{target} on {day}: {error}") from None


def _rates_path(option: str | None) -> Path | None:
    chosen = option or os.environ.get(ECB_RATES_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ComplianceError("invalid_rates", f"{path}: no such rates file")
        return path
    return SHARED_ECB_RATES if SHARED_ECB_RATES.is_file() else None


@reports_app.command("large-value")
def reports_large_value(
    jurisdiction: Annotated[
        str | None, typer.Option(help="CN, JP or KR (see compliance/rules/reporting.toml).")
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option("--from", help="First reporting day, YYYY-MM-DD.", show_default=False),
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last reporting day (included).", show_default=False)
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    rates: Annotated[
        str | None,
        typer.Option(help=f"ECB reference-rates CSV (default: ${ECB_RATES_ENV} or shared data)."),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Large-value report of a jurisdiction for a date range, as JSON or CSV on stdout."""
    if output_format not in ("json", "csv"):
        raise ComplianceError("invalid_format", f"--format is json or csv, not {output_format!r}")
    code = _required(jurisdiction, "--jurisdiction")
    start = _date(_required(date_from, "--from"), "--from")
    end = _date(_required(date_to, "--to"), "--to")
    path = _db_path(db)
    report = large_value_report(
        path,
        jurisdiction=code,
        start=start,
        end=end,
        rates=_EcbRates(_rates_path(rates)),
    )
    if output_format == "json":
        _print_json(report.to_json())
    else:
        sys.stdout.write(report.to_csv())
