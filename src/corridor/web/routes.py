"""The dashboard's routes: its pages, and the read-only JSON it needs beyond the /v1 API.

Pages (no key needed: they hold no data, only code; the data comes from /v1 with the key
the user logs in with, kept in the tab's sessionStorage and sent as ``Bearer``):

- ``GET /`` and ``GET /dashboard`` redirect to ``/dashboard/``, the single page;
- ``GET /dashboard/static/{file}``: its ES modules, style sheet and vendored assets.

JSON under ``/v1/dashboard`` (authenticated by the API's middleware like every /v1 path;
nothing here changes anything, and every action the dashboard takes goes through the API's
own endpoints):

- ``GET /v1/dashboard/me``: the key's role and participant, and the views and actions the
  page should offer it (the API enforces them either way);
- ``GET /v1/dashboard/reports`` and ``.../reports/{name}``: the sandbox's SQL reports
  (`corridor.analytics.reports`), narrowed to a participant key's own rows
  (`corridor.web.scope`);
- ``GET /v1/dashboard/prefectures``: the 47 prefectures with volume and payments, laid out
  as a tile grid (`corridor.web.tiles`);
- ``GET /v1/dashboard/payments``: payment search (id, party, merchant, region, day, state);
  ``GET /v1/dashboard/payments/{id}``: a payment's merchant, alerts and hold;
- ``POST /v1/dashboard/receipts/verify``: `verify_receipt` on a receipt the page fetched,
  with the log's key and registered witnesses (the page also checks it on its own);
- ``GET /v1/dashboard/audit``: checkpoints with their cosigners, and each witness's status;
- ``GET /v1/dashboard/detection``: recall and precision of the monitoring rules against the
  sandbox's labels (`corridor.sim.scoring`), when the database was simulated.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import pycountry
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.analytics.reports import (
    JST_OFFSET_S,
    MCC_TITLES,
    REPORTS,
    ReportError,
    ReportResult,
    run_report,
    tables,
)
from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_role
from corridor.api.context import LIST_LIMIT_MAX, ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role
from corridor.api.routes_payments import visible_payment
from corridor.audit.errors import ReceiptError
from corridor.audit.keys import parse_log_vkey, parse_witness_vkey
from corridor.audit.receipt import Receipt, verify_receipt
from corridor.audit.registry import AuditStore
from corridor.switch.errors import SwitchError
from corridor.web.assets import SECURITY_HEADERS, StaticAssets
from corridor.web.scope import PARTICIPANT_REPORTS, open_scoped
from corridor.web.tiles import GRID_COLUMNS, GRID_ROWS, prefectures

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
DASHBOARD_PATH: Final = "/dashboard/"
SEARCH_LIMIT_DEFAULT: Final = 50
SEARCH_OFFSET_MAX: Final = 1_000_000
"""Deepest page of a payment search (narrow the search rather than page further)."""
CHECKPOINTS_SHOWN_MAX: Final = 100
"""Newest checkpoints the audit view lists."""
ALERTS_PER_PAYMENT_MAX: Final = 100
QUERY_CHARS_MAX: Final = 64

_ALL: Final = (Role.OPERATOR, Role.PARTICIPANT, Role.COMPLIANCE, Role.AUDITOR)
_COMPLIANCE_READERS: Final = (Role.OPERATOR, Role.COMPLIANCE, Role.AUDITOR)
_EVERY_VIEW: Final = (
    "overview",
    "prefectures",
    "payments",
    "cases",
    "settlement",
    "audit",
    "detection",
)
_VIEWS: Final[dict[Role, tuple[str, ...]]] = {
    Role.OPERATOR: _EVERY_VIEW,
    Role.COMPLIANCE: _EVERY_VIEW,
    Role.AUDITOR: _EVERY_VIEW,
    Role.PARTICIPANT: ("overview", "prefectures", "payments", "settlement", "audit"),
}
"""The views the page offers each role (the API refuses the rest anyway)."""
_ACTIONS: Final[dict[Role, tuple[str, ...]]] = {
    Role.OPERATOR: (
        "work_cases",
        "resolve_holds",
        "close_windows",
        "settle_windows",
        "sign_checkpoints",
    ),
    Role.COMPLIANCE: ("work_cases", "resolve_holds"),
    Role.AUDITOR: (),
    Role.PARTICIPANT: (),
}
"""The buttons the page shows each role; they call the API's own endpoints."""
_REPORT_STATUS: Final = {
    "unknown_report": 404,
    "report_unavailable": 409,
    "database_not_found": 503,
    "invalid_database": 503,
}

router = APIRouter()
_assets = StaticAssets(STATIC_DIR)


# -- models ----------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MeOut(_Out):
    key_id: str
    role: str
    participant_id: str | None
    participant_name: str | None
    participant_kind: str | None
    views: list[str]
    actions: list[str]


class ReportInfoOut(_Out):
    name: str
    title: str
    description: str


class ReportListOut(_Out):
    reports: list[ReportInfoOut]


class ReportOut(_Out):
    report: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    scope: str = Field(description="`all`, or the participant whose rows alone are counted.")


class PrefectureOut(_Out):
    code: str
    name: str
    column: int
    row: int
    merchants: int
    payments: int
    volume: int = Field(description="Committed volume received, in JPY (minor units = yen).")
    volume_decimal: str
    share_percent: str


class RegionOut(_Out):
    code: str
    name: str
    currency: str
    merchants: int
    payments: int
    volume: int
    volume_decimal: str


class PrefecturesOut(_Out):
    currency: str
    columns: int
    rows: int
    prefectures: list[PrefectureOut]
    abroad: list[RegionOut] = Field(description="Merchants' regions outside Japan.")
    scope: str


class PaymentRowOut(_Out):
    payment: schemas.PaymentOut
    merchant_name: str | None
    region: str | None


class PaymentSearchOut(_Out):
    total: int = Field(description="Payments that match, of which `payments` are the newest.")
    payments: list[PaymentRowOut]


class MerchantInfoOut(_Out):
    merchant_id: str
    name: str
    name_native: str | None
    mcc: str
    category: str
    city: str
    region: str
    region_name: str
    acquirer_id: str


class PaymentAlertOut(_Out):
    alert_id: str
    rule: str
    score: float
    verdict: str
    subject: str
    at_ns: int
    case_id: int | None


class PaymentHoldOut(_Out):
    case_id: int
    state: str
    resolved_by: str | None
    resolved_ns: int | None


class PaymentContextOut(_Out):
    payment_id: str
    merchant: MerchantInfoOut | None
    alerts: list[PaymentAlertOut] | None = Field(
        description="Null when the key may not read alerts."
    )
    hold: PaymentHoldOut | None


class VerifyIn(_In):
    receipt: dict[str, Any] = Field(description="A receipt as GET .../receipts returned it.")
    transfer_id: str | None = Field(
        default=None,
        max_length=34,
        description="If given, the receipt's leaf must be this transfer (32 hex digits).",
    )


class VerifyOut(_Out):
    ok: bool
    code: str | None = Field(description="Why it failed (`bad_proof`, `bad_signature`...).")
    message: str
    origin: str
    log_vkey: str
    tree_size: int | None
    root: str | None
    leaf_index: int | None
    kind: str | None
    leaf: dict[str, int | str] | None
    cosigners: list[str]
    quorum: int
    witnessed: bool


class WitnessStatusOut(_Out):
    name: str
    vkey: str
    added: int
    last_cosigned_size: int | None
    cosigned_latest: bool


class CheckpointRowOut(_Out):
    size: int
    root: str
    created: int
    cosigners: list[str]
    witnessed: bool


class AuditOut(_Out):
    origin: str
    vkey: str
    log_size: int
    quorum: int
    witnesses: list[WitnessStatusOut]
    checkpoint_count: int
    checkpoints: list[CheckpointRowOut] = Field(description="Newest first.")


class SimRunOut(_Out):
    run_id: int
    seed: int
    tourists: int
    days: int
    start_date: str
    created_ns: int


class DetectionOut(_Out):
    available: bool
    reason: str | None
    run: SimRunOut | None
    labels: dict[str, Any] | None = Field(description="What the run labelled, per typology.")
    scores: dict[str, Any] | None = Field(description="`corridor.sim.scoring` output.")


# -- helpers ---------------------------------------------------------------------------------


def _scope_of(who: Principal) -> str | None:
    return who.participant_id if who.role is Role.PARTICIPANT else None


@contextmanager
def _reading(ctx: ApiContext, who: Principal) -> Iterator[sqlite3.Connection]:
    """A read-only connection narrowed to what `who` may see; report errors as problems."""
    try:
        connection = open_scoped(ctx.db_path, _scope_of(who))
    except ReportError as error:
        raise _report_problem(error) from None
    try:
        yield connection
    finally:
        connection.close()


def _report_problem(error: ReportError) -> ApiError:
    return ApiError(error.code, str(error), status=_REPORT_STATUS.get(error.code, 409))


def _check_report(who: Principal, name: str) -> None:
    if name not in REPORTS:
        raise ApiError("unknown_report", f"no report {name!r}", status=404)
    if who.role is Role.PARTICIPANT and name not in PARTICIPANT_REPORTS:
        raise ApiError(
            "forbidden", f"a participant key may not run the report {name}", security=True
        )


def _run(connection: sqlite3.Connection, name: str) -> ReportResult:
    try:
        return run_report(connection, name)
    except ReportError as error:
        raise _report_problem(error) from None


# -- pages -----------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def root() -> Response:
    return RedirectResponse(DASHBOARD_PATH, status_code=307)


@router.get("/dashboard", include_in_schema=False)
async def dashboard_redirect() -> Response:
    return RedirectResponse(DASHBOARD_PATH, status_code=307)


@router.get(DASHBOARD_PATH, include_in_schema=False)
async def dashboard(request: Request) -> Response:
    return _asset_response(request, "index.html")


@router.get("/dashboard/static/{name:path}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response:
    return _asset_response(request, name)


def _asset_response(request: Request, name: str) -> Response:
    asset = _assets.get(name)
    if asset is None:
        raise ApiError("not_found", f"no dashboard file {name[:200]!r}")
    headers = {**SECURITY_HEADERS, "etag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


# -- who am I --------------------------------------------------------------------------------


@router.get("/v1/dashboard/me", response_model=MeOut, tags=["dashboard"], summary="This key")
async def me(request: Request) -> Response:
    """The key's role and participant, and what the dashboard offers it."""
    ctx, who = caller(request)

    def run() -> MeOut:
        name = kind = None
        if who.participant_id is not None:
            record = ctx.switch.directory.participant(who.participant_id)
            name, kind = record.name, record.kind.value
        return MeOut(
            key_id=who.key_id,
            role=who.role.value,
            participant_id=who.participant_id,
            participant_name=name,
            participant_kind=kind,
            views=list(_VIEWS[who.role]),
            actions=list(_ACTIONS[who.role]),
        )

    return render.json_response(await run_in_threadpool(run))


# -- reports ---------------------------------------------------------------------------------


@router.get(
    "/v1/dashboard/reports",
    response_model=ReportListOut,
    tags=["dashboard"],
    summary="Reports this key may run",
)
async def list_reports(request: Request) -> Response:
    _, who = caller(request)
    names = [n for n in REPORTS if who.role is not Role.PARTICIPANT or n in PARTICIPANT_REPORTS]
    return render.json_response(
        ReportListOut(
            reports=[
                ReportInfoOut(name=n, title=REPORTS[n].title, description=REPORTS[n].description)
                for n in names
            ]
        )
    )


@router.get(
    "/v1/dashboard/reports/{name}",
    response_model=ReportOut,
    tags=["dashboard"],
    summary="Run a report",
)
async def get_report(request: Request, name: str) -> Response:
    """One of the sandbox's SQL reports; a participant key counts only its own rows
    (``report_unavailable`` when the database lacks the report's tables)."""
    ctx, who = caller(request)
    require_role(who, *_ALL, action="run reports")
    _check_report(who, name)

    def run() -> ReportOut:
        with _reading(ctx, who) as connection:
            result = _run(connection, name)
        return ReportOut(
            report=result.name,
            title=result.title,
            columns=list(result.columns),
            rows=result.dicts(),
            scope=_scope_of(who) or "all",
        )

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/v1/dashboard/prefectures",
    response_model=PrefecturesOut,
    tags=["dashboard"],
    summary="Volume per prefecture",
)
async def get_prefectures(request: Request) -> Response:
    """All 47 prefectures (those without merchants at zero) with their tiles, and the
    merchants' regions abroad."""
    ctx, who = caller(request)

    def run() -> PrefecturesOut:
        with _reading(ctx, who) as connection:
            result = _run(connection, "by_prefecture")
        japan: dict[str, dict[str, Any]] = {}
        abroad: list[RegionOut] = []
        for row in result.dicts():
            if row["region"].startswith("JP-") and row["currency"] == "JPY":
                japan[row["region"]] = row
            else:
                abroad.append(
                    RegionOut(
                        code=row["region"],
                        name=row["name"],
                        currency=row["currency"],
                        merchants=row["merchants"],
                        payments=row["payments"],
                        volume=row["volume"],
                        volume_decimal=row["volume_decimal"],
                    )
                )
        out = []
        for prefecture in prefectures():
            row = japan.get(prefecture.code, {})
            out.append(
                PrefectureOut(
                    code=prefecture.code,
                    name=prefecture.name,
                    column=prefecture.column,
                    row=prefecture.row,
                    merchants=row.get("merchants", 0),
                    payments=row.get("payments", 0),
                    volume=row.get("volume", 0),
                    volume_decimal=row.get("volume_decimal", "0"),
                    share_percent=row.get("share_percent", "0.00"),
                )
            )
        return PrefecturesOut(
            currency="JPY",
            columns=GRID_COLUMNS,
            rows=GRID_ROWS,
            prefectures=out,
            abroad=abroad,
            scope=_scope_of(who) or "all",
        )

    return render.json_response(await run_in_threadpool(run))


# -- payments --------------------------------------------------------------------------------

State = Literal["received", "reserved", "committed", "aborted", "expired"]
Text = Annotated[str | None, Query(max_length=QUERY_CHARS_MAX)]


@router.get(
    "/v1/dashboard/payments",
    response_model=PaymentSearchOut,
    tags=["dashboard"],
    summary="Search payments",
)
async def search_payments(
    request: Request,
    q: Annotated[
        str | None,
        Query(
            max_length=QUERY_CHARS_MAX,
            description="A payment id (or its start), a customer id or a merchant id.",
        ),
    ] = None,
    state: Annotated[State | None, Query()] = None,
    wallet_id: Text = None,
    acquirer_id: Text = None,
    merchant_id: Text = None,
    region: Annotated[str | None, Query(max_length=6, pattern=r"^[A-Z]{2}-[0-9A-Z]{1,3}$")] = None,
    day: Annotated[
        str | None,
        Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Created on this day, Japan time."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=SEARCH_OFFSET_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = SEARCH_LIMIT_DEFAULT,
) -> Response:
    """Newest first, `limit` from `offset`; a participant key finds only the payments it
    takes part in."""
    ctx, who = caller(request)
    require_role(who, *_ALL, action="search payments")
    if day is not None:
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise ApiError("invalid_request", f"day {day!r} is not a date") from None
    clauses: list[str] = []
    params: list[object] = []
    if q:
        pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            "(p.payment_id LIKE ? ESCAPE '\\' OR p.customer_id = ? OR p.merchant_id = ?)"
        )
        params += [pattern, q, q]
    for column, value in (
        ("p.state", state),
        ("p.wallet_id", wallet_id),
        ("p.acquirer_id", acquirer_id),
        ("p.merchant_id", merchant_id),
        ("m.region", region),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if day is not None:
        clauses.append(f"date(p.created_ns / 1000000000 + {JST_OFFSET_S}, 'unixepoch') = ?")
        params.append(day)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    source = "payments p LEFT JOIN merchants m ON m.id = p.merchant_id"

    def run() -> PaymentSearchOut:
        with _reading(ctx, who) as connection:
            present = tables(connection)
            if not {"payments", "merchants"} <= present:
                return PaymentSearchOut(total=0, payments=[])
            total = connection.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()
            rows = connection.execute(
                f"SELECT p.payment_id, m.name, m.region FROM {source}{where}"
                " ORDER BY p.created_ns DESC, p.payment_id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        found = []
        for payment_id, merchant_name, merchant_region in rows:
            payment = visible_payment(ctx, who, str(payment_id))
            found.append(
                PaymentRowOut(
                    payment=render.payment(payment),
                    merchant_name=merchant_name,
                    region=merchant_region,
                )
            )
        return PaymentSearchOut(total=int(total[0]), payments=found)

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/v1/dashboard/payments/{payment_id}",
    response_model=PaymentContextOut,
    tags=["dashboard"],
    summary="A payment's merchant, alerts and hold",
)
async def payment_context(request: Request, payment_id: str) -> Response:
    """What the payment page shows beside the payment itself: its merchant, and for keys
    that read compliance data, the alerts on it and the hold of its case."""
    ctx, who = caller(request)

    def run() -> PaymentContextOut:
        payment = visible_payment(ctx, who, payment_id)
        merchant = None
        try:
            record = ctx.switch.directory.merchant(payment.merchant_id)
        except SwitchError as error:  # a payment names a registered merchant; show the gap
            if error.code != "unknown_merchant":
                raise
        else:
            merchant = MerchantInfoOut(
                merchant_id=record.id,
                name=record.name,
                name_native=record.name_native,
                mcc=record.mcc,
                category=MCC_TITLES.get(record.mcc, f"MCC {record.mcc}"),
                city=record.city,
                region=record.region,
                region_name=_region_name(record.region),
                acquirer_id=record.acquirer_id,
            )
        if who.role not in _COMPLIANCE_READERS:
            return PaymentContextOut(
                payment_id=payment_id, merchant=merchant, alerts=None, hold=None
            )
        with _reading(ctx, who) as connection:
            alerts, hold = _compliance_of(connection, payment_id)
        return PaymentContextOut(payment_id=payment_id, merchant=merchant, alerts=alerts, hold=hold)

    return render.json_response(await run_in_threadpool(run))


def _region_name(code: str) -> str:
    found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return str(found.name) if found is not None else code


def _compliance_of(
    connection: sqlite3.Connection, payment_id: str
) -> tuple[list[PaymentAlertOut], PaymentHoldOut | None]:
    present = tables(connection)
    alerts: list[PaymentAlertOut] = []
    if "alerts" in present:
        link = "case_alerts" in present
        rows = connection.execute(
            "SELECT a.alert_id, a.rule, a.score, a.verdict, a.subject, a.at_ns, "
            + ("l.case_id" if link else "NULL")
            + " FROM alerts a"
            + (" LEFT JOIN case_alerts l ON l.alert_id = a.alert_id" if link else "")
            + " WHERE a.payment_id = ? ORDER BY a.at_ns, a.alert_id LIMIT ?",
            (payment_id, ALERTS_PER_PAYMENT_MAX),
        ).fetchall()
        alerts = [
            PaymentAlertOut(
                alert_id=str(r[0]),
                rule=str(r[1]),
                score=float(r[2]),
                verdict=str(r[3]),
                subject=str(r[4]),
                at_ns=int(r[5]),
                case_id=None if r[6] is None else int(r[6]),
            )
            for r in rows
        ]
    hold = None
    if "case_holds" in present:
        found = connection.execute(
            "SELECT case_id, state, resolved_by, resolved_ns FROM case_holds WHERE payment_id = ?",
            (payment_id,),
        ).fetchone()
        if found is not None:
            hold = PaymentHoldOut(
                case_id=int(found[0]),
                state=str(found[1]),
                resolved_by=found[2],
                resolved_ns=found[3],
            )
    return alerts, hold


# -- receipts and the audit log --------------------------------------------------------------


@router.post(
    "/v1/dashboard/receipts/verify",
    response_model=VerifyOut,
    tags=["dashboard"],
    summary="Verify a receipt",
)
async def verify(request: Request, body: VerifyIn) -> Response:
    """Run `verify_receipt` with this log's key on a receipt: the checkpoint's signature,
    its size, the inclusion proof and the leaf; then count the registered witnesses'
    cosignatures on the checkpoint against the quorum. A receipt that fails is answered
    with ``ok: false`` and the failing check's code, not with an error."""
    ctx, who = caller(request)
    require_role(who, *_ALL, action="verify receipts")
    expected = None if body.transfer_id is None else render.parse_ledger_id(body.transfer_id)

    def run() -> VerifyOut:
        with AuditStore.open(ctx.db_path) as store:
            info = store.require_log_info()
            witness_records = store.witnesses()
            quorum = store.quorum()
        failed = VerifyOut(
            ok=False,
            code=None,
            message="",
            origin=info.origin,
            log_vkey=info.vkey,
            tree_size=None,
            root=None,
            leaf_index=None,
            kind=None,
            leaf=None,
            cosigners=[],
            quorum=quorum,
            witnessed=False,
        )
        try:
            receipt = Receipt.from_json(body.receipt)
            verified = verify_receipt(
                receipt,
                parse_log_vkey(info.vkey),
                origin=info.origin,
                witnesses=[parse_witness_vkey(w.vkey) for w in witness_records],
                quorum=0,
            )
        except ReceiptError as error:
            return failed.model_copy(update={"code": error.code, "message": str(error)})
        fields = {
            name: (f"{value:032x}" if isinstance(value, int) and _is_id(name) else value)
            for name, value in verified.leaf.fields.items()
        }
        cosigners = sorted(c.name for c in verified.cosignatures)
        result = VerifyOut(
            ok=True,
            code=None,
            message=(
                f"{verified.leaf.kind} at index {verified.leaf_index} is in the log of "
                f"{verified.checkpoint.origin} at size {verified.checkpoint.size}"
            ),
            origin=verified.checkpoint.origin,
            log_vkey=info.vkey,
            tree_size=verified.checkpoint.size,
            root=render.b64(verified.checkpoint.root),
            leaf_index=verified.leaf_index,
            kind=verified.leaf.kind,
            leaf=fields,
            cosigners=cosigners,
            quorum=quorum,
            witnessed=bool(witness_records) and len(cosigners) >= quorum,
        )
        if expected is not None and verified.leaf.fields.get("id") != expected:
            return result.model_copy(
                update={
                    "ok": False,
                    "code": "receipt_mismatch",
                    "message": f"the receipt proves another leaf, not transfer {expected:032x}",
                }
            )
        return result

    return render.json_response(await run_in_threadpool(run))


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name == "user_data_128"


@router.get(
    "/v1/dashboard/audit",
    response_model=AuditOut,
    tags=["dashboard"],
    summary="Checkpoints and witnesses",
)
async def audit(request: Request) -> Response:
    """The log's key, its checkpoints (newest first) with the registered witnesses that
    cosigned each, and for every witness the last size it cosigned."""
    ctx, who = caller(request)
    require_role(who, *_ALL, action="read the audit log")

    def run() -> AuditOut:
        with AuditStore.open(ctx.db_path) as store, store.snapshot():
            info = store.require_log_info()
            log_size = store.log_size()
            quorum = store.quorum()
            witness_records = store.witnesses()
            checkpoints = store.checkpoints()
            cosignatures = store.cosignatures()
        known = {(w.name, w.vkey) for w in witness_records}
        cosigners: dict[int, set[str]] = {}
        for cosig in cosignatures:
            if (cosig.witness, cosig.vkey) in known:
                cosigners.setdefault(cosig.size, set()).add(cosig.witness)
        latest = max((c.size for c in checkpoints), default=None)
        witnesses = []
        for w in witness_records:
            sizes = [size for size, names in cosigners.items() if w.name in names]
            witnesses.append(
                WitnessStatusOut(
                    name=w.name,
                    vkey=w.vkey,
                    added=w.added,
                    last_cosigned_size=max(sizes, default=None),
                    cosigned_latest=latest is not None and latest in sizes,
                )
            )
        newest = sorted(checkpoints, key=lambda c: c.size, reverse=True)
        rows = [
            CheckpointRowOut(
                size=c.size,
                root=render.b64(c.root),
                created=c.created,
                cosigners=sorted(cosigners.get(c.size, ())),
                witnessed=bool(known) and len(cosigners.get(c.size, ())) >= quorum,
            )
            for c in newest[:CHECKPOINTS_SHOWN_MAX]
        ]
        return AuditOut(
            origin=info.origin,
            vkey=info.vkey,
            log_size=log_size,
            quorum=quorum,
            witnesses=witnesses,
            checkpoint_count=len(checkpoints),
            checkpoints=rows,
        )

    return render.json_response(await run_in_threadpool(run))


# -- detection -------------------------------------------------------------------------------


@router.get(
    "/v1/dashboard/detection",
    response_model=DetectionOut,
    tags=["dashboard"],
    summary="Detection of labelled typologies",
)
async def detection(request: Request) -> Response:
    """Recall and precision of the monitoring rules against the labels of the last
    simulation, from the alerts stored now; ``available: false`` with the reason when the
    database was not simulated or compliance never ran."""
    ctx, who = caller(request)
    require_role(who, *_COMPLIANCE_READERS, action="read detection results")

    def run() -> DetectionOut:
        from corridor.sim.scoring import score_detection

        with _reading(ctx, who) as connection:
            scores = score_detection(connection)
            run_row, labels = _last_run(connection)
        if not scores.get("available"):
            return DetectionOut(
                available=False,
                reason=str(scores.get("reason", "")),
                run=run_row,
                labels=labels,
                scores=None,
            )
        return DetectionOut(available=True, reason=None, run=run_row, labels=labels, scores=scores)

    return render.json_response(await run_in_threadpool(run))


def _last_run(connection: sqlite3.Connection) -> tuple[SimRunOut | None, dict[str, Any] | None]:
    if "sim_runs" not in tables(connection):
        return None, None
    row = connection.execute(
        "SELECT run_id, seed, tourists, days, start_date, created_ns, report FROM sim_runs"
        " ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None, None
    labels = None
    if row[6] is not None:
        try:
            stored = json.loads(row[6])
        except ValueError:
            stored = None
        if isinstance(stored, dict) and isinstance(stored.get("labels"), dict):
            labels = stored["labels"]
    return (
        SimRunOut(
            run_id=int(row[0]),
            seed=int(row[1]),
            tourists=int(row[2]),
            days=int(row[3]),
            start_date=str(row[4]),
            created_ns=int(row[5]),
        ),
        labels,
    )
