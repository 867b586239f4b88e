"""/v1/ledger: read-only accounts and transfers, as the ledger holds them.

Operators and auditors read every account and transfer; a participant key reads its own
liquidity accounts and the transfers that touch them (anything else is 404, as if absent).
Ids are 32 hex digits. Transfers of an account page by timestamp: pass the last timestamp
seen + 1 as `timestamp_min` (or, with `reversed`, the last - 1 as `timestamp_max`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_role
from corridor.api.context import LIST_LIMIT_MAX, ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role
from corridor.audit.log import prove_transfer
from corridor.audit.registry import AuditStore
from corridor.ledger import Transfer
from corridor.switch.directory import liquidity_account_id

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

_READERS = (Role.OPERATOR, Role.PARTICIPANT, Role.AUDITOR)
TIMESTAMP_MAX = (1 << 63) - 1


def _own_accounts(ctx: ApiContext, who: Principal) -> frozenset[int] | None:
    """The account ids a participant key may read; None for every account."""
    if who.role is not Role.PARTICIPANT:
        return None
    assert who.participant_id is not None
    record = ctx.switch.directory.participant(who.participant_id)
    return frozenset(liquidity_account_id(record.id, code) for code in record.currencies)


def _check_account(ctx: ApiContext, who: Principal, account_id: int) -> None:
    own = _own_accounts(ctx, who)
    if own is not None and account_id not in own:
        raise ApiError(
            "unknown_account", f"no account {account_id:032x}", status=404, security=True
        )


def _visible_transfer(ctx: ApiContext, who: Principal, transfer_id: int) -> Transfer:
    found = ctx.switch.ledger.lookup_transfers([transfer_id])
    own = _own_accounts(ctx, who)
    if not found or (
        own is not None
        and found[0].debit_account_id not in own
        and found[0].credit_account_id not in own
    ):
        raise ApiError(
            "unknown_transfer",
            f"no transfer {transfer_id:032x}",
            status=404,
            security=bool(found),
        )
    return found[0]


@router.get("/accounts/{account_id}", response_model=schemas.AccountOut, summary="An account")
async def get_account(account_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read ledger accounts")
    id = render.parse_ledger_id(account_id)

    def run() -> schemas.AccountOut:
        _check_account(ctx, who, id)
        found = ctx.switch.ledger.lookup_accounts([id])
        if not found:
            raise ApiError("unknown_account", f"no account {id:032x}", status=404)
        return render.account(found[0])

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/accounts/{account_id}/transfers",
    response_model=schemas.TransferList,
    summary="Transfers of an account",
)
async def account_transfers(
    account_id: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
    timestamp_min: Annotated[int, Query(ge=0, le=TIMESTAMP_MAX)] = 0,
    timestamp_max: Annotated[int, Query(ge=0, le=TIMESTAMP_MAX)] = 0,
    reversed: bool = False,
) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read ledger transfers")
    id = render.parse_ledger_id(account_id)

    def run() -> schemas.TransferList:
        _check_account(ctx, who, id)
        found = ctx.switch.ledger.get_account_transfers(
            id,
            timestamp_min=timestamp_min,
            timestamp_max=timestamp_max,
            limit=limit,
            reversed=reversed,
        )
        return schemas.TransferList(transfers=[render.transfer(t) for t in found])

    return render.json_response(await run_in_threadpool(run))


@router.get("/transfers/{transfer_id}", response_model=schemas.TransferOut, summary="A transfer")
async def get_transfer(transfer_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read ledger transfers")
    id = render.parse_ledger_id(transfer_id)
    found = await run_in_threadpool(_visible_transfer, ctx, who, id)
    return render.json_response(render.transfer(found))


@router.get(
    "/transfers/{transfer_id}/receipt",
    response_model=schemas.ReceiptOut,
    summary="A transfer's receipt",
)
async def transfer_receipt(transfer_id: str, request: Request) -> Response:
    """Leaf, inclusion proof and signed checkpoint for one transfer."""
    ctx, who = caller(request)
    require_role(who, *_READERS, action="read receipts")
    id = render.parse_ledger_id(transfer_id)

    def run() -> schemas.ReceiptOut:
        _visible_transfer(ctx, who, id)
        with AuditStore.open(ctx.db_path) as store:
            return render.receipt(prove_transfer(store, id))

    return render.json_response(await run_in_threadpool(run))
