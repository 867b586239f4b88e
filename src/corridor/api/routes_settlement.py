"""/v1/settlement/windows: settlement windows, their net positions and reports.

The operator closes the open window (positions are computed and the next window opens) and
settles closed windows in order. Reports are JSON, or CSV with ``format=csv``. A participant
key reads every window but only its own positions; compliance and auditor keys read all.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_role
from corridor.api.context import LIST_LIMIT_MAX
from corridor.api.keys import Role
from corridor.switch.settlement import SettlementReport

router = APIRouter(prefix="/v1/settlement/windows", tags=["settlement"])

_READERS = (Role.OPERATOR, Role.PARTICIPANT, Role.COMPLIANCE, Role.AUDITOR)
_CSV = "text/csv; charset=utf-8"
WindowId = Annotated[int, Path(ge=1, le=2**62)]


def _only(who: Principal) -> str | None:
    return who.participant_id if who.role is Role.PARTICIPANT else None


def _report(report: SettlementReport, who: Principal, format: str) -> Response:
    if format == "csv":
        return Response(render.window_csv(report, only=_only(who)), media_type=_CSV)
    return render.json_response(render.window(report, only=_only(who)))


_REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The window as JSON, or as CSV with `format=csv`.",
    }
}


@router.get("", response_model=schemas.WindowList, summary="List settlement windows")
async def list_windows(
    request: Request, limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100
) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read settlement windows")
    reports = await run_in_threadpool(lambda: ctx.switch.settlement.windows(limit=limit))
    return render.json_response(
        schemas.WindowList(windows=[render.window(r, only=_only(who)) for r in reports])
    )


@router.get(
    "/open",
    response_model=schemas.WindowOut,
    responses=_REPORT_RESPONSES,
    summary="The open window, positions so far",
)
async def open_window(
    request: Request, format: Annotated[Literal["json", "csv"], Query()] = "json"
) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read settlement windows")
    report = await run_in_threadpool(ctx.switch.settlement.open_window)
    return _report(report, who, format)


@router.get(
    "/{window_id}",
    response_model=schemas.WindowOut,
    responses=_REPORT_RESPONSES,
    summary="A settlement window and its report",
)
async def get_window(
    window_id: WindowId,
    request: Request,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read settlement windows")
    report = await run_in_threadpool(ctx.switch.settlement.window, window_id)
    return _report(report, who, format)


@router.post("/close", response_model=schemas.WindowOut, summary="Close the open window")
async def close_window(request: Request) -> Response:
    """Compute and store every net position of the open window and open the next one.
    Operator only."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="close settlement windows")
    report = await run_in_threadpool(ctx.switch.settlement.close_window)
    return render.json_response(render.window(report))


@router.post(
    "/{window_id}/settle", response_model=schemas.WindowOut, summary="Settle a closed window"
)
async def settle_window(window_id: WindowId, request: Request) -> Response:
    """Record the settlement transfers of a closed window (in order). Operator only."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="settle windows")
    report = await run_in_threadpool(ctx.switch.settlement.settle_window, window_id)
    return render.json_response(render.window(report))
