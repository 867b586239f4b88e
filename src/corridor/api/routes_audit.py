"""/v1/audit and payment receipts: the verifiable log over HTTP.

- ``GET /v1/audit/checkpoint``: the latest signed checkpoint (C2SP signed note) with the
  cosignatures collected and whether a quorum of witnesses has cosigned it;
- ``POST /v1/audit/checkpoints``: the operator signs the log at its current size;
- ``GET /v1/audit/consistency``: an RFC 9162 consistency proof between two sizes, for
  witnesses that run elsewhere;
- ``POST /v1/audit/cosignatures``: a witness submits its cosignature (the note with its
  line appended); only registered witnesses' valid cosignatures are kept;
- ``GET /v1/payments/{id}/receipts``: for each ledger transfer of a payment, a receipt
  (leaf, inclusion proof, signed checkpoint) anyone can check offline with the log's key.

Every key may read the log's evidence: it holds no party data, only hashes and signatures.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import caller, require_role
from corridor.api.context import ApiContext
from corridor.api.keys import Role
from corridor.api.routes_payments import visible_payment
from corridor.audit.errors import AuditError
from corridor.audit.log import accept_cosignatures, checkpoint_log, cosigned_note, prove_transfer
from corridor.audit.registry import AuditStore, CheckpointRecord
from corridor.switch.payments import payment_transfer_id

router = APIRouter(tags=["audit"])

LOG_SIZE_MAX = 1 << 62


def _checkpoint(
    store: AuditStore, record: CheckpointRecord, new: bool | None
) -> schemas.CheckpointOut:
    info = store.require_log_info()
    names, quorum = store.witnessing(record.size)
    known = len(store.witnesses())
    return schemas.CheckpointOut(
        origin=info.origin,
        size=record.size,
        root=render.b64(record.root),
        note=cosigned_note(store, record),
        created=record.created,
        new=new,
        witnessed=known > 0 and len(names) >= quorum,
        cosigners=names,
        quorum=quorum,
        witnesses=known,
    )


def _store(ctx: ApiContext, *, writable: bool = False) -> AuditStore:
    return AuditStore.open(ctx.db_path, writable=writable)


@router.get(
    "/v1/audit/checkpoint", response_model=schemas.CheckpointOut, summary="Latest checkpoint"
)
async def latest_checkpoint(request: Request) -> Response:
    ctx, _ = caller(request)  # every key may read the evidence

    def run() -> schemas.CheckpointOut:
        with _store(ctx) as store, store.snapshot():
            latest = store.latest_checkpoint()
            if latest is None:
                raise AuditError(
                    "not_checkpointed", "no checkpoint is signed yet: POST /v1/audit/checkpoints"
                )
            return _checkpoint(store, latest, None)

    return render.json_response(await run_in_threadpool(run))


@router.post(
    "/v1/audit/checkpoints", response_model=schemas.CheckpointOut, summary="Sign a checkpoint"
)
async def sign_checkpoint(request: Request) -> Response:
    """Sign a checkpoint of the durable log at its current size (once per size). Operator
    only; needs the log's key (``corridor init``)."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="sign checkpoints")

    def run() -> schemas.CheckpointOut:
        result = checkpoint_log(ctx.db_path, key_file=ctx.log_key_file)
        with _store(ctx) as store, store.snapshot():
            return _checkpoint(store, result.record, result.new)

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/v1/audit/consistency", response_model=schemas.ConsistencyOut, summary="Consistency proof"
)
async def consistency(
    request: Request,
    first: Annotated[int, Query(ge=1, le=LOG_SIZE_MAX)],
    second: Annotated[int, Query(ge=1, le=LOG_SIZE_MAX)],
) -> Response:
    """The proof that the log at size `second` extends the log at size `first`."""

    ctx, _ = caller(request)  # every key may read the evidence

    def run() -> schemas.ConsistencyOut:
        with _store(ctx) as store, store.snapshot():
            size = store.log_size()
            if not first <= second <= size:
                raise AuditError(
                    "bad_proof", f"sizes must satisfy 1 <= first <= second <= {size} (log size)"
                )
            try:
                proof = store.tile_reader(size).consistency_proof(first, second)
            except (LookupError, ValueError) as error:
                raise AuditError(
                    "log_mismatch", f"the stored tree cannot prove it: {error}"
                ) from None
        return schemas.ConsistencyOut(first=first, second=second, proof=[h.hex() for h in proof])

    return render.json_response(await run_in_threadpool(run))


@router.get("/v1/audit/witnesses", response_model=schemas.WitnessList, summary="Witnesses")
async def witnesses(request: Request) -> Response:
    ctx, _ = caller(request)  # every key may read the evidence

    def run() -> schemas.WitnessList:
        with _store(ctx) as store:
            return schemas.WitnessList(
                quorum=store.quorum(),
                witnesses=[schemas.WitnessOut(name=w.name, vkey=w.vkey) for w in store.witnesses()],
            )

    return render.json_response(await run_in_threadpool(run))


@router.post(
    "/v1/audit/cosignatures",
    response_model=schemas.CosignaturesOut,
    summary="Submit a witness cosignature",
)
async def submit_cosignatures(body: schemas.CosignaturesIn, request: Request) -> Response:
    """Store the cosignatures of registered witnesses found on a checkpoint note."""
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, Role.PARTICIPANT, Role.AUDITOR, action="submit cosignatures")

    def run() -> schemas.CosignaturesOut:
        with _store(ctx, writable=True) as store:
            stored = accept_cosignatures(store, body.note)
            size = stored[0].size
            names, quorum = store.witnessing(size)
            return schemas.CosignaturesOut(
                size=size,
                accepted=[c.witness for c in stored],
                witnessed=len(store.witnesses()) > 0 and len(names) >= quorum,
                cosigners=names,
                quorum=quorum,
            )

    return render.json_response(await run_in_threadpool(run))


@router.get(
    "/v1/payments/{payment_id}/receipts",
    response_model=schemas.PaymentReceiptsOut,
    summary="Receipts of a payment's ledger transfers",
)
async def payment_receipts(payment_id: str, request: Request) -> Response:
    """A receipt for every ledger transfer of the payment: its posted legs (one-shot), or
    its holds and, once resolved, their posts or voids (two-phase). ``not_checkpointed``
    until a checkpoint covers them."""

    ctx, who = caller(request)

    def run() -> schemas.PaymentReceiptsOut:
        payment = visible_payment(ctx, who, payment_id)
        first = "direct" if payment.flow == "direct" else "reserve"
        wanted = [
            (leg, first, transfer_id)
            for leg, transfer_id in zip(payment.legs, payment.transfer_ids, strict=True)
        ]
        for action in ("post", "void") if first == "reserve" else ():
            ids = [payment_transfer_id(payment_id, leg, action) for leg in payment.legs]
            found = {t.id for t in ctx.switch.ledger.lookup_transfers(ids)}
            wanted += [
                (leg, action, i) for leg, i in zip(payment.legs, ids, strict=True) if i in found
            ]
        receipts: list[schemas.TransferReceiptOut] = []
        with _store(ctx) as store:
            for leg, action, transfer_id in wanted:
                receipts.append(
                    schemas.TransferReceiptOut(
                        transfer_id=render.hex_id(transfer_id),
                        leg=leg,
                        action=action,
                        receipt=render.receipt(prove_transfer(store, transfer_id)),
                    )
                )
        return schemas.PaymentReceiptsOut(payment_id=payment_id, receipts=receipts)

    return render.json_response(await run_in_threadpool(run))
