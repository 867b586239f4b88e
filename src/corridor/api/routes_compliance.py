"""/v1/compliance: alerts, cases and sanctions screening, for compliance officers.

Compliance runs inline in the switch (`corridor.switch.compliance_gate`): monitoring raises
alerts, alerts open cases, and a REVIEW verdict holds its payment until an officer releases
(commits) or refuses (aborts) it from the case. These routes expose that work queue and the
sanctions screening index:

- ``GET /v1/compliance/alerts``, ``GET /v1/compliance/cases``, ``GET .../cases/{id}`` (with
  alerts, holds, notes and the case's own audit trail);
- ``POST .../cases/{id}/assign``, ``.../notes``, ``.../transition`` (``closed`` needs a
  disposition), ``.../holds/{payment_id}/release`` and ``.../refuse``;
- ``POST /v1/compliance/screening``: screen a name (any script) against the loaded lists;
  ``GET /v1/compliance/screening/lists`` and ``.../results`` (stored party hits).

Compliance and operator keys work cases; auditor keys read them; participant keys may not.
Every change names its actor in the case trail as ``api:<key id>``. Kept in a module of its
own so that compliance can grow its endpoints without touching the switch's.
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.api import render
from corridor.api.auth import Principal, caller, require_role
from corridor.api.context import LIST_LIMIT_MAX, ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role
from corridor.compliance.cases import Case, CaseBook, CaseDetail
from corridor.compliance.lists import SanctionsStore
from corridor.compliance.screening import DEFAULT_THRESHOLD, QUERY_CHARS_MAX
from corridor.compliance.types import Alert

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])

CaseId = Annotated[int, Path(ge=1, le=2**62)]
_WORKERS = (Role.OPERATOR, Role.COMPLIANCE)
_READERS = (Role.OPERATOR, Role.COMPLIANCE, Role.AUDITOR)
TIME_NS_MAX = (1 << 63) - 1


# -- models ----------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertOut(_Out):
    alert_id: str
    rule: str
    score: float
    verdict: str
    payment_id: str
    subject: str
    evidence: dict[str, str]
    at_ns: int


class AlertList(_Out):
    alerts: list[AlertOut]


class CaseOut(_Out):
    case_id: int
    subject: str
    state: str
    disposition: str | None
    assignee: str | None
    opened_ns: int
    updated_ns: int
    closed_ns: int | None


class CaseList(_Out):
    cases: list[CaseOut]


class HoldOut(_Out):
    payment_id: str
    case_id: int
    state: str
    resolved_by: str | None
    resolved_ns: int | None


class NoteOut(_Out):
    note_id: int
    case_id: int
    author: str
    text: str
    at_ns: int


class CaseEventOut(_Out):
    event_id: int
    case_id: int
    at_ns: int
    actor: str
    action: str
    detail: dict[str, str]


class CaseDetailOut(_Out):
    case: CaseOut
    alerts: list[AlertOut]
    holds: list[HoldOut]
    notes: list[NoteOut]
    events: list[CaseEventOut]


class AssignIn(_In):
    assignee: str = Field(min_length=1, max_length=128, examples=["officer-tanaka"])


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=8192, examples=["Called the wallet; KYC ok."])


class TransitionIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"state": "closed", "disposition": "false_positive"}]},
    )

    state: Literal["open", "investigating", "escalated", "closed"]
    disposition: (
        Literal["false_positive", "no_action", "suspicious_reported", "duplicate"] | None
    ) = None


class ScreenIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"name": "习近平", "country": "CN"}]},
    )

    name: str = Field(min_length=1, max_length=QUERY_CHARS_MAX)
    date_of_birth: str | None = Field(default=None, max_length=10, examples=["1953-06-15"])
    country: str | None = Field(default=None, max_length=2)
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)


class HitOut(_Out):
    list: str
    entity_id: str
    name: str
    score: float
    matched: str


class ScreenOut(_Out):
    query: str
    threshold: float
    hits: list[HitOut]


class ListInfoOut(_Out):
    list: str
    version: str
    loaded_ns: int
    source_sha256: str
    entry_count: int
    sources: builtins.list[dict[str, Any]]


class ListsOut(_Out):
    lists: list[ListInfoOut]


class StoredResultOut(_Out):
    party_id: str
    list: str
    entity_id: str
    score: float
    matched: str
    screened_ns: int


class StoredResultList(_Out):
    results: list[StoredResultOut]


# -- helpers ---------------------------------------------------------------------------------


def _gate(ctx: ApiContext) -> tuple[CaseBook, SanctionsStore]:
    gate = getattr(ctx.switch, "compliance", None)
    if gate is None:
        raise ApiError("unavailable", "compliance is off in this switch", status=503)
    return gate.cases, gate.sanctions


def _actor(who: Principal) -> str:
    return f"api:{who.key_id}"


def _alert(alert: Alert) -> AlertOut:
    return AlertOut(
        alert_id=alert.alert_id,
        rule=alert.rule,
        score=alert.score,
        verdict=alert.verdict.value,
        payment_id=alert.payment_id,
        subject=alert.subject,
        evidence=dict(alert.evidence),
        at_ns=alert.at_ns,
    )


def _case(case: Case) -> CaseOut:
    return CaseOut(
        case_id=case.case_id,
        subject=case.subject,
        state=case.state.value,
        disposition=None if case.disposition is None else case.disposition.value,
        assignee=case.assignee,
        opened_ns=case.opened_ns,
        updated_ns=case.updated_ns,
        closed_ns=case.closed_ns,
    )


def _detail(detail: CaseDetail) -> CaseDetailOut:
    return CaseDetailOut(
        case=_case(detail.case),
        alerts=[_alert(a) for a in detail.alerts],
        holds=[
            HoldOut(
                payment_id=h.payment_id,
                case_id=h.case_id,
                state=h.state.value,
                resolved_by=h.resolved_by,
                resolved_ns=h.resolved_ns,
            )
            for h in detail.holds
        ],
        notes=[
            NoteOut(
                note_id=n.note_id, case_id=n.case_id, author=n.author, text=n.text, at_ns=n.at_ns
            )
            for n in detail.notes
        ],
        events=[
            CaseEventOut(
                event_id=e.event_id,
                case_id=e.case_id,
                at_ns=e.at_ns,
                actor=e.actor,
                action=e.action,
                detail=dict(e.detail),
            )
            for e in detail.events
        ],
    )


# -- alerts and cases ------------------------------------------------------------------------


@router.get("/alerts", response_model=AlertList, summary="Monitoring alerts")
async def list_alerts(
    request: Request,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    since_ns: Annotated[int | None, Query(ge=0, le=TIME_NS_MAX)] = None,
    until_ns: Annotated[int | None, Query(ge=0, le=TIME_NS_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
) -> Response:
    """Alerts by time, optionally of one rule, with since_ns ≤ at_ns < until_ns."""
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read alerts")
    cases, _ = _gate(ctx)
    found = await run_in_threadpool(
        lambda: cases.list_alerts(rule=rule, since_ns=since_ns, until_ns=until_ns, limit=limit)
    )
    return render.json_response(AlertList(alerts=[_alert(a) for a in found]))


@router.get("/cases", response_model=CaseList, summary="Cases (a work queue)")
async def list_cases(
    request: Request,
    state: Annotated[
        Literal["open", "investigating", "escalated", "closed"] | None, Query()
    ] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
) -> Response:
    """Cases oldest first, filtered by state, subject and assignee."""
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read cases")
    cases, _ = _gate(ctx)
    found = await run_in_threadpool(
        lambda: cases.list_cases(state=state, subject=subject, assignee=assignee, limit=limit)
    )
    return render.json_response(CaseList(cases=[_case(c) for c in found]))


@router.get("/cases/{case_id}", response_model=CaseDetailOut, summary="A case in full")
async def get_case(request: Request, case_id: CaseId) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read cases")
    cases, _ = _gate(ctx)
    detail = await run_in_threadpool(cases.get, case_id)
    return render.json_response(_detail(detail))


@router.post("/cases/{case_id}/assign", response_model=CaseOut, summary="Assign a case")
async def assign_case(request: Request, case_id: CaseId, body: AssignIn) -> Response:
    ctx, who = caller(request)
    require_role(who, *_WORKERS, action="work cases")
    cases, _ = _gate(ctx)
    case = await run_in_threadpool(lambda: cases.assign(case_id, body.assignee, actor=_actor(who)))
    return render.json_response(_case(case))


@router.post("/cases/{case_id}/notes", response_model=NoteOut, summary="Add a note to a case")
async def add_note(request: Request, case_id: CaseId, body: NoteIn) -> Response:
    ctx, who = caller(request)
    require_role(who, *_WORKERS, action="work cases")
    cases, _ = _gate(ctx)
    note = await run_in_threadpool(lambda: cases.note(case_id, body.text, author=_actor(who)))
    return render.json_response(
        NoteOut(
            note_id=note.note_id,
            case_id=note.case_id,
            author=note.author,
            text=note.text,
            at_ns=note.at_ns,
        )
    )


@router.post("/cases/{case_id}/transition", response_model=CaseOut, summary="Move a case")
async def transition_case(request: Request, case_id: CaseId, body: TransitionIn) -> Response:
    """Move the case to another state; closing needs a disposition and no pending hold."""
    ctx, who = caller(request)
    require_role(who, *_WORKERS, action="work cases")
    cases, _ = _gate(ctx)
    case = await run_in_threadpool(
        lambda: cases.transition(
            case_id, body.state, actor=_actor(who), disposition=body.disposition
        )
    )
    return render.json_response(_case(case))


def _hold_route(action: Literal["release", "refuse"]) -> None:
    async def resolve(request: Request, case_id: CaseId, payment_id: str) -> Response:
        ctx, who = caller(request)
        require_role(who, *_WORKERS, action="resolve holds")
        cases, _ = _gate(ctx)
        operation = cases.release if action == "release" else cases.refuse
        hold = await run_in_threadpool(lambda: operation(case_id, payment_id, actor=_actor(who)))
        return render.json_response(
            HoldOut(
                payment_id=hold.payment_id,
                case_id=hold.case_id,
                state=hold.state.value,
                resolved_by=hold.resolved_by,
                resolved_ns=hold.resolved_ns,
            )
        )

    resolve.__name__ = f"{action}_hold"
    resolve.__doc__ = (
        "Let the held payment go ahead (it is committed)."
        if action == "release"
        else "Refuse the held payment (it is aborted, its holds voided)."
    ) + " Idempotent."
    router.post(
        f"/cases/{{case_id}}/holds/{{payment_id}}/{action}",
        response_model=HoldOut,
        summary=f"{action.capitalize()} a held payment",
    )(resolve)


_hold_route("release")
_hold_route("refuse")


# -- screening --------------------------------------------------------------------------------


@router.post("/screening", response_model=ScreenOut, summary="Screen a name")
async def screen(request: Request, body: ScreenIn) -> Response:
    """Hits on the loaded sanctions lists for a name in any script, best first."""
    ctx, who = caller(request)
    require_role(who, *_WORKERS, action="screen names")
    _, sanctions = _gate(ctx)

    def run() -> ScreenOut:
        result = sanctions.index().screen(
            body.name,
            threshold=body.threshold,
            date_of_birth=body.date_of_birth,
            country=body.country,
        )
        return ScreenOut.model_validate(result.to_json())

    return render.json_response(await run_in_threadpool(run))


@router.get("/screening/lists", response_model=ListsOut, summary="Loaded sanctions lists")
async def lists(request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read sanctions lists")
    _, sanctions = _gate(ctx)
    found = await run_in_threadpool(sanctions.lists)
    return render.json_response(
        ListsOut(lists=[ListInfoOut.model_validate(i.to_json()) for i in found])
    )


@router.get("/screening/results", response_model=StoredResultList, summary="Stored party hits")
async def results(
    request: Request,
    party_id: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
) -> Response:
    """Parties' stored screening hits (of one party, or all), best first per party."""
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read screening results")
    _, sanctions = _gate(ctx)
    found = await run_in_threadpool(sanctions.screening_results, party_id)
    return render.json_response(
        StoredResultList(
            results=[
                StoredResultOut(
                    party_id=r.party_id,
                    list=r.list,
                    entity_id=r.entity_id,
                    score=r.score,
                    matched=r.matched,
                    screened_ns=r.screened_ns,
                )
                for r in found[:limit]
            ]
        )
    )
