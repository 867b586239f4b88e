"""/v1/payments and /v1/refunds: one-shot and two-phase payments, and refunds.

- ``POST /v1/payments`` pays at once (reserve and commit): the request joins the next
  group-committed batch (`corridor.api.batching`) and is answered once its payment is
  durable, or refused with the switch's code;
- ``POST /v1/payments/reservations`` holds the payment (two-phase), then
  ``POST /v1/payments/{id}/commit`` or ``.../abort``;
- ``POST /v1/payments/scan`` is scan-and-pay from a QR payload in one call;
- ``POST /v1/payments/{id}/refunds`` refunds a committed payment (its acquirer).

The client chooses the payment id, so a retry never pays twice (the switch refuses the same
id with another body: ``modified_request``). A wallet key pays only for itself, with its own
quotes; a participant sees the payments it is the wallet, acquirer or FX provider of.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_role
from corridor.api.context import LIST_LIMIT_MAX, ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role
from corridor.api.routes_fx import check_quote_owner
from corridor.switch.errors import SwitchError
from corridor.switch.payments import Payment, PaymentRequest, PaymentState

router = APIRouter(tags=["payments"])

State = Literal["received", "reserved", "committed", "aborted", "expired"]


def _act_for(who: Principal, participant_id: str) -> None:
    """A participant key acts only for itself (403 ``forbidden``)."""
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="make payments")
    if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
        raise ApiError(
            "forbidden",
            f"this key acts for {who.participant_id}, not for {participant_id}",
            security=True,
        )


def visible_payment(ctx: ApiContext, who: Principal, payment_id: str) -> Payment:
    """The payment, if the key may see it (else 404 ``unknown_payment``, as if absent)."""
    payment = ctx.switch.payments.get(payment_id)
    if who.role is Role.PARTICIPANT and who.participant_id not in (
        payment.wallet_id,
        payment.acquirer_id,
        payment.provider_id,
    ):
        raise ApiError("unknown_payment", f"no payment {payment_id!r}", status=404, security=True)
    return payment


def _payer_payment(ctx: ApiContext, who: Principal, payment_id: str) -> Payment:
    payment = visible_payment(ctx, who, payment_id)
    _act_for(who, payment.wallet_id)
    return payment


@router.post(
    "/v1/payments",
    response_model=schemas.PaymentOut,
    summary="Pay (one-shot)",
    responses={
        202: {
            "model": schemas.PaymentOut,
            "description": "Held for compliance review (state `reserved`): its case releases"
            " or refuses it; GET the payment for the outcome.",
        }
    },
)
async def pay(body: schemas.PayIn, request: Request) -> Response:
    """Reserve and commit in one call, group-committed with concurrent payments. Answers
    once the payment is durable: 200 ``committed``; 202 when compliance holds it for review;
    or a problem with the switch's code (``insufficient_liquidity``, ``quote_expired``,
    ``compliance_blocked``, ``modified_request``...)."""
    ctx, who = caller(request)
    return await pay_response(ctx, who, body)


async def pay_response(ctx: ApiContext, who: Principal, body: schemas.PayIn) -> Response:
    """`POST /v1/payments` once the body is valid (also the middleware's lane for it)."""
    _act_for(who, body.wallet_id)
    check_quote_owner(ctx, who, body.quote_id)
    outcome = await ctx.batcher.pay(
        PaymentRequest(
            body.payment_id, body.wallet_id, body.customer_id, body.merchant_id, body.quote_id
        )
    )
    if isinstance(outcome, SwitchError):
        raise outcome
    held = outcome.state is not PaymentState.COMMITTED
    return render.json_response(render.payment(outcome), status=202 if held else 200)


@router.post(
    "/v1/payments/reservations", response_model=schemas.PaymentOut, summary="Reserve a payment"
)
async def reserve(body: schemas.ReserveIn, request: Request) -> Response:
    """Hold every leg in the ledger for `hold_timeout_s` (two-phase); then commit or abort."""
    ctx, who = caller(request)
    _act_for(who, body.wallet_id)
    check_quote_owner(ctx, who, body.quote_id)

    def run() -> Payment:
        return ctx.switch.payments.reserve(
            body.payment_id,
            wallet_id=body.wallet_id,
            customer_id=body.customer_id,
            merchant_id=body.merchant_id,
            quote_id=body.quote_id,
            hold_timeout_s=body.hold_timeout_s,
        )

    return render.json_response(
        render.payment(await ctx.batcher.run_with_quote(body.quote_id, run))
    )


@router.post(
    "/v1/payments/scan", response_model=schemas.PaymentOut, summary="Scan and pay a QR code"
)
async def scan_and_pay(body: schemas.ScanPayIn, request: Request) -> Response:
    """Find the merchant from its QR payload, quote and pay in one call (a static QR needs
    `amount`, in the merchant's currency)."""
    ctx, who = caller(request)
    _act_for(who, body.wallet_id)
    amount = None if body.amount is None else render.money_in(body.amount)

    def run() -> Payment:
        return ctx.switch.scan_and_pay(
            body.payment_id,
            qr_payload=body.qr_payload,
            wallet_id=body.wallet_id,
            customer_id=body.customer_id,
            provider_id=body.provider_id,
            amount=amount,
        )

    return render.json_response(render.payment(await ctx.batcher.run_with_quote(None, run)))


@router.post(
    "/v1/payments/{payment_id}/commit",
    response_model=schemas.PaymentOut,
    summary="Commit a reserved payment",
)
async def commit(payment_id: str, request: Request) -> Response:
    """Post every held leg (idempotent); ``payment_expired`` if the holds expired."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="commit payments")

    def run() -> Payment:
        _payer_payment(ctx, who, payment_id)
        return ctx.switch.payments.commit(payment_id)

    return render.json_response(render.payment(await run_in_threadpool(run)))


@router.post(
    "/v1/payments/{payment_id}/abort",
    response_model=schemas.PaymentOut,
    summary="Abort a reserved payment",
)
async def abort(payment_id: str, request: Request) -> Response:
    """Void every held leg (idempotent); a committed payment is ``payment_not_reserved``."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="abort payments")

    def run() -> Payment:
        _payer_payment(ctx, who, payment_id)
        return ctx.switch.payments.abort(payment_id)

    return render.json_response(render.payment(await run_in_threadpool(run)))


@router.get("/v1/payments/{payment_id}", response_model=schemas.PaymentOut, summary="Get a payment")
async def get_payment(payment_id: str, request: Request) -> Response:
    """A payment, brought in line with the ledger (a reserved payment whose holds expired
    reads ``expired``)."""

    ctx, who = caller(request)

    def run() -> Payment:
        visible_payment(ctx, who, payment_id)
        return ctx.switch.payments.sync(payment_id)

    return render.json_response(render.payment(await run_in_threadpool(run)))


@router.get("/v1/payments", response_model=schemas.PaymentList, summary="List payments")
async def list_payments(
    request: Request,
    state: Annotated[State | None, Query()] = None,
    wallet_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 100,
) -> Response:
    """Newest first. A participant key lists the payments it takes part in."""

    ctx, who = caller(request)

    def run() -> list[Payment]:
        if who.role is Role.PARTICIPANT:
            assert who.participant_id is not None
            if wallet_id is not None and wallet_id != who.participant_id:
                return []
            ids = ctx.queries.payment_ids_of(who.participant_id, state=state, limit=limit)
            return [ctx.switch.payments.get(i) for i in ids]
        return ctx.switch.payments.list(state=state, wallet_id=wallet_id, limit=limit)

    payments = await run_in_threadpool(run)
    return render.json_response(schemas.PaymentList(payments=[render.payment(p) for p in payments]))


# -- refunds -----------------------------------------------------------------------------


@router.post(
    "/v1/payments/{payment_id}/refunds",
    response_model=schemas.RefundOut,
    summary="Refund a committed payment",
)
async def refund(payment_id: str, body: schemas.RefundIn, request: Request) -> Response:
    """Refund all or part of the amount the merchant received, in the merchant's currency,
    at the payment's own rate. The merchant's acquirer (or the operator) refunds."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="refund payments")
    amount = render.money_in(body.amount)

    def run() -> schemas.RefundOut:
        payment = visible_payment(ctx, who, payment_id)
        if who.role is Role.PARTICIPANT and who.participant_id != payment.acquirer_id:
            raise ApiError(
                "forbidden", "only the merchant's acquirer refunds a payment", security=True
            )
        return render.refund(
            ctx.switch.refunds.refund(body.refund_id, payment_id=payment_id, amount=amount)
        )

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/v1/payments/{payment_id}/refunds",
    response_model=schemas.RefundList,
    summary="Refunds of a payment",
)
async def payment_refunds(payment_id: str, request: Request) -> Response:
    ctx, who = caller(request)

    def run() -> schemas.RefundList:
        visible_payment(ctx, who, payment_id)
        found = ctx.switch.refunds.for_payment(payment_id)
        return schemas.RefundList(refunds=[render.refund(r) for r in found[:LIST_LIMIT_MAX]])

    return render.json_response(await run_in_threadpool(run))


@router.get("/v1/refunds/{refund_id}", response_model=schemas.RefundOut, summary="Get a refund")
async def get_refund(refund_id: str, request: Request) -> Response:
    ctx, who = caller(request)

    def run() -> schemas.RefundOut:
        found = ctx.switch.refunds.get(refund_id)
        try:
            visible_payment(ctx, who, found.payment_id)
        except ApiError as error:
            raise ApiError(
                "unknown_refund", f"no refund {refund_id!r}", status=404, security=True
            ) from error
        return render.refund(found)

    return render.json_response(await run_in_threadpool(run))
