"""/v1/participants: the directory's participants and their prefunded liquidity.

Operators register participants and record deposits and withdrawals (money received or
paid out by the hub's settlement bank). A participant key sees only itself; compliance and
auditor keys read every participant and balance.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_own, require_role
from corridor.api.keys import Role
from corridor.switch.money import parse_amount

router = APIRouter(prefix="/v1/participants", tags=["participants"])

_READERS = (Role.OPERATOR, Role.PARTICIPANT, Role.COMPLIANCE, Role.AUDITOR)


def _own(who: Principal, participant_id: str) -> None:
    require_own(who, participant_id, "unknown_participant", f"no participant {participant_id!r}")


@router.post("", response_model=schemas.ParticipantOut, summary="Register a participant")
async def register_participant(body: schemas.ParticipantIn, request: Request) -> Response:
    """Register a participant and create its liquidity accounts (idempotent for the same
    data; other data under the same id is ``duplicate_participant``). Operator only."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="register participants")
    caps = None
    if body.net_debit_caps is not None:
        caps = {code: parse_amount(text, code).amount for code, text in body.net_debit_caps.items()}

    def register() -> schemas.ParticipantOut:
        record = ctx.switch.directory.register_participant(
            body.id,
            kind=body.kind,
            name=body.name,
            country=body.country,
            currencies=body.currencies,
            net_debit_caps=caps,
        )
        return render.participant(record)

    return render.json_response(await run_in_threadpool(register))


@router.get("", response_model=list[schemas.ParticipantOut], summary="List participants")
async def list_participants(request: Request) -> Response:
    """Every participant (a participant key: itself only)."""
    ctx, who = caller(request)
    require_role(who, *_READERS, action="list participants")

    def read() -> list[schemas.ParticipantOut]:
        if who.role is Role.PARTICIPANT:
            assert who.participant_id is not None
            return [render.participant(ctx.switch.directory.participant(who.participant_id))]
        return [render.participant(p) for p in ctx.switch.directory.participants()]

    found = await run_in_threadpool(read)
    body = b"[" + b",".join(p.model_dump_json().encode() for p in found) + b"]"
    return Response(body, media_type=render.JSON)


@router.get("/{participant_id}", response_model=schemas.ParticipantOut, summary="Get a participant")
async def get_participant(participant_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read participants")
    _own(who, participant_id)
    record = await run_in_threadpool(ctx.switch.directory.participant, participant_id)
    return render.json_response(render.participant(record))


@router.get(
    "/{participant_id}/liquidity",
    response_model=schemas.LiquidityOut,
    summary="Liquidity balances of a participant",
)
async def get_liquidity(participant_id: str, request: Request) -> Response:
    """Available, posted, held and incoming liquidity in each of its currencies."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, Role.AUDITOR, action="read liquidity")
    _own(who, participant_id)

    def read() -> schemas.LiquidityOut:
        record = ctx.switch.directory.participant(participant_id)
        return schemas.LiquidityOut(
            participant_id=record.id,
            balances=[
                render.balance(ctx.switch.liquidity.balance(record.id, code))
                for code in record.currencies
            ],
        )

    return render.json_response(await run_in_threadpool(read))


def _movement_route(kind: str) -> None:
    async def move(participant_id: str, body: schemas.MovementIn, request: Request) -> Response:
        ctx, who = caller(request)
        require_role(who, Role.OPERATOR, action=f"record {kind}s")
        amount = render.money_in(body.amount)
        liquidity = ctx.switch.liquidity
        operation = liquidity.deposit if kind == "deposit" else liquidity.withdraw

        def run() -> schemas.MovementOut:
            return render.movement(operation(participant_id, amount, reference=body.reference))

        return render.json_response(await run_in_threadpool(run))

    move.__name__ = f"record_{kind}"
    move.__doc__ = (
        f"Record a {kind} of the participant's liquidity, named by `reference` (a retry with "
        "the same reference and amount moves nothing; another amount is "
        "``modified_request``). Operator only."
    )
    router.post(
        f"/{{participant_id}}/{kind}s",
        response_model=schemas.MovementOut,
        summary=f"Record a {kind}",
    )(move)


_movement_route("deposit")
_movement_route("withdrawal")
