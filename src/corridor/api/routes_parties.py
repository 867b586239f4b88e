"""/v1/customers, /v1/merchants, /v1/qr: parties to payments and merchant QR codes.

A wallet registers and reads its own customers; an acquirer its own merchants and their QR
codes (EMVCo payload, PNG or SVG). Any participant may scan a QR payload to learn which
merchant it names and in which currency (what a wallet app does before it asks for a
quote). Compliance keys read customers and merchants; operators do everything.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import Principal, caller, require_own, require_role
from corridor.api.context import ApiContext
from corridor.api.keys import Role
from corridor.formats import emvqr
from corridor.switch import directory as directory_module
from corridor.switch.money import Money, parse_amount

router = APIRouter(tags=["parties"])

QR_REFERENCE_CHARS_MAX = 25


@router.post("/v1/customers", response_model=schemas.CustomerOut, summary="Register a customer")
async def register_customer(body: schemas.CustomerIn, request: Request) -> Response:
    """Register a wallet's customer (its KYC data). A wallet key registers its own."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="register customers")
    require_own(who, body.wallet_id, "unknown_participant", f"no participant {body.wallet_id!r}")

    def register() -> schemas.CustomerOut:
        record = ctx.switch.directory.register_customer(
            body.customer_id,
            wallet_id=body.wallet_id,
            name_native=body.name_native,
            name_romanized=body.name_romanized,
            country=body.country,
            date_of_birth=body.date_of_birth,
            kyc_tier=body.kyc_tier,
        )
        return render.customer(record)

    return render.json_response(await run_in_threadpool(register))


@router.get(
    "/v1/customers/{wallet_id}/{customer_id}",
    response_model=schemas.CustomerOut,
    summary="Get a customer",
)
async def get_customer(wallet_id: str, customer_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, Role.COMPLIANCE, action="read customers")
    require_own(
        who, wallet_id, "unknown_customer", f"wallet {wallet_id!r} has no customer {customer_id!r}"
    )
    record = await run_in_threadpool(ctx.switch.directory.customer, wallet_id, customer_id)
    return render.json_response(render.customer(record))


@router.post("/v1/merchants", response_model=schemas.MerchantOut, summary="Register a merchant")
async def register_merchant(body: schemas.MerchantIn, request: Request) -> Response:
    """Register an acquirer's merchant. An acquirer key registers its own."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="register merchants")
    require_own(
        who, body.acquirer_id, "unknown_participant", f"no participant {body.acquirer_id!r}"
    )

    def register() -> schemas.MerchantOut:
        record = ctx.switch.directory.register_merchant(
            body.merchant_id,
            acquirer_id=body.acquirer_id,
            name=body.name,
            name_native=body.name_native,
            mcc=body.mcc,
            city=body.city,
            region=body.region,
            currency=body.currency,
        )
        return render.merchant(record)

    return render.json_response(await run_in_threadpool(register))


def _merchant_for(ctx: ApiContext, who: Principal, merchant_id: str) -> directory_module.Merchant:
    record = ctx.switch.directory.merchant(merchant_id)
    require_own(who, record.acquirer_id, "unknown_merchant", f"no merchant {merchant_id!r}")
    return record


@router.get(
    "/v1/merchants/{merchant_id}", response_model=schemas.MerchantOut, summary="Get a merchant"
)
async def get_merchant(merchant_id: str, request: Request) -> Response:
    """A merchant (an acquirer key: its own merchants only)."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, Role.COMPLIANCE, action="read merchants")
    record = await run_in_threadpool(_merchant_for, ctx, who, merchant_id)
    return render.json_response(render.merchant(record))


@router.get(
    "/v1/merchants/{merchant_id}/qr",
    response_model=schemas.QrOut,
    summary="A merchant's QR code",
    responses={
        200: {
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            },
            "description": "The QR payload as JSON, or the QR code as PNG or SVG (`format`).",
        }
    },
)
async def merchant_qr(
    merchant_id: str,
    request: Request,
    amount: Annotated[
        str | None,
        Query(
            max_length=64, description="For a dynamic QR: the amount, in the merchant's currency."
        ),
    ] = None,
    reference: Annotated[
        str | None, Query(max_length=QR_REFERENCE_CHARS_MAX, description="Reference label.")
    ] = None,
    format: Annotated[Literal["json", "png", "svg"], Query()] = "json",
) -> Response:
    """The merchant's EMVCo QR: static without `amount`, dynamic with one."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="make merchant QR codes")

    def make() -> Response:
        record = _merchant_for(ctx, who, merchant_id)
        value = None if amount is None else parse_amount(amount, record.currency)
        qr = _merchant_qr(record, value, reference)
        payload = emvqr.encode(qr)
        if format == "png":
            out = io.BytesIO()
            emvqr.make_symbol(payload).save(out, kind="png", scale=emvqr.PNG_SCALE_DEFAULT)
            return Response(out.getvalue(), media_type="image/png")
        if format == "svg":
            return Response(emvqr.render_svg(payload), media_type="image/svg+xml")
        return render.json_response(
            schemas.QrOut(
                merchant_id=record.id,
                payload=payload,
                amount=None if value is None else render.money(value),
                dynamic=value is not None,
            )
        )

    return await run_in_threadpool(make)


def _merchant_qr(
    record: directory_module.Merchant, amount: Money | None, reference: str | None
) -> emvqr.MerchantQR:
    return directory_module.merchant_qr(record, amount=amount, reference=reference)


@router.post("/v1/qr/scan", response_model=schemas.ScanOut, summary="Read a scanned QR")
async def scan_qr(body: schemas.ScanIn, request: Request) -> Response:
    """Which corridor merchant a scanned payload names, in which currency, for how much."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, action="scan QR codes")

    def scan() -> schemas.ScanOut:
        scanned = ctx.switch.directory.merchant_from_qr(body.payload)
        merchant = scanned.merchant
        text = scanned.qr.transaction_amount
        value = None if text is None else parse_amount(text, merchant.currency)
        return schemas.ScanOut(
            merchant_id=merchant.id,
            name=merchant.name,
            city=merchant.city,
            region=merchant.region,
            currency=merchant.currency,
            mcc=merchant.mcc,
            amount=None if value is None else render.money(value),
            dynamic=value is not None,
        )

    return render.json_response(await run_in_threadpool(scan))
