"""/v1/fx-pricing and /v1/quotes: how FX providers price, and quotes for payments.

The operator configures each FX provider's pricing (its own bid/ask per pair, or ECB
reference rates with a spread, plus fees). A wallet asks for a quote (for the amount the
merchant wants, paid in the wallet's currency, or for an amount to convert) and pays with it
within its time to live. A quote belongs to the key's participant that asked for it: another
participant cannot see it or pay with it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_own, require_role
from corridor.api.context import OPERATOR_OWNER, ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role
from corridor.switch.directory import ParticipantKind
from corridor.switch.service import FxPricing

router = APIRouter(tags=["fx"])


@router.post(
    "/v1/fx-pricing", response_model=schemas.FxPricingOut, summary="Set an FX provider's pricing"
)
async def set_fx_pricing(body: schemas.FxPricingIn, request: Request) -> Response:
    """Replace the provider's pricing configuration. Operator only."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="set FX pricing")
    pricing = FxPricing.from_json(body.model_dump())
    stored = await run_in_threadpool(ctx.switch.set_fx_pricing, pricing)
    return render.json_response(render.fx_pricing(stored))


@router.get(
    "/v1/fx-pricing/{provider_id}",
    response_model=schemas.FxPricingOut,
    summary="An FX provider's pricing",
)
async def get_fx_pricing(provider_id: str, request: Request) -> Response:
    """The pricing configuration (the operator, or the provider itself)."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, Role.AUDITOR, action="read FX pricing")
    require_own(who, provider_id, "unknown_fx_provider", f"{provider_id!r} has no FX pricing")
    stored = await run_in_threadpool(ctx.switch.fx_pricing, provider_id)
    return render.json_response(render.fx_pricing(stored))


def quote_owner(ctx: ApiContext, who: Principal) -> str:
    """Who a new quote belongs to; only wallets (and the operator) ask for quotes."""
    if who.role is Role.OPERATOR:
        return OPERATOR_OWNER
    require_role(who, Role.PARTICIPANT, action="ask for quotes")
    assert who.participant_id is not None
    if ctx.switch.directory.participant(who.participant_id).kind is not ParticipantKind.WALLET:
        raise ApiError("forbidden", "only wallets ask for quotes", security=True)
    return who.participant_id


@router.post("/v1/quotes", response_model=schemas.QuoteOut, summary="Ask for a quote")
async def create_quote(body: schemas.QuoteIn, request: Request) -> Response:
    """A priced offer: give `target_amount` and `source_currency` (what the merchant gets,
    paid in the wallet's currency), or `source_amount` and `target_currency`. Valid for
    the quote TTL; used by one payment."""
    ctx, who = caller(request)
    return await quote_response(ctx, who, body)


async def quote_response(ctx: ApiContext, who: Principal, body: schemas.QuoteIn) -> Response:
    """`POST /v1/quotes` once the body is valid (also the middleware's lane for it)."""
    owner = quote_owner(ctx, who)
    quote = ctx.switch.quote(
        provider_id=body.provider_id,
        source_currency=body.source_currency,
        target=None if body.target_amount is None else render.money_in(body.target_amount),
        source=None if body.source_amount is None else render.money_in(body.source_amount),
        target_currency=body.target_currency,
    )
    ctx.quotes.add(quote.quote_id, owner)
    return render.json_response(render.quote(quote))


@router.get("/v1/quotes/{quote_id}", response_model=schemas.QuoteOut, summary="Get a quote")
async def get_quote(quote_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="read quotes")
    check_quote_owner(ctx, who, quote_id)
    return render.json_response(render.quote(ctx.switch.quotes.get(quote_id)))


def check_quote_owner(ctx: ApiContext, who: Principal, quote_id: str) -> None:
    """404 ``unknown_quote`` for a participant that did not ask for this quote."""
    if who.role is Role.OPERATOR:
        return
    if ctx.quotes.owner(quote_id) != who.participant_id:
        raise ApiError("unknown_quote", f"no quote {quote_id!r}", status=404, security=True)
