"""/v1/api-keys: the operator creates, lists and revokes API keys over HTTP.

The same as ``corridor api-key create|list|revoke`` on the command line. A new key's secret
is in the creation response only; it is stored as a hash. Revocation takes effect at once.
Operator only (and recorded in the audit trail, like every operator change).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from corridor.api import render, schemas
from corridor.api.auth import caller, require_role
from corridor.api.keys import KEYS_LIST_MAX, ApiKey, Role

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


def key_out(key: ApiKey) -> schemas.ApiKeyOut:
    return schemas.ApiKeyOut(
        key_id=key.key_id,
        role=key.role.value,
        participant_id=key.participant_id,
        label=key.label,
        created_ns=key.created_ns,
        created_by=key.created_by,
        revoked_ns=key.revoked_ns,
        active=key.active,
    )


@router.post("", response_model=schemas.CreatedKeyOut, summary="Create an API key")
async def create_key(body: schemas.ApiKeyIn, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="create API keys")
    created = await run_in_threadpool(
        lambda: ctx.keys.create(
            body.role,
            participant_id=body.participant_id,
            label=body.label,
            created_by=f"key:{who.key_id}",
        )
    )
    return render.json_response(
        schemas.CreatedKeyOut(key=key_out(created.key), secret=created.secret)
    )


@router.get("", response_model=schemas.ApiKeyList, summary="List API keys")
async def list_keys(
    request: Request, limit: Annotated[int, Query(ge=1, le=KEYS_LIST_MAX)] = 100
) -> Response:
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="list API keys")
    keys = await run_in_threadpool(lambda: ctx.keys.list(limit=limit))
    return render.json_response(schemas.ApiKeyList(keys=[key_out(k) for k in keys]))


@router.post("/{key_id}/revoke", response_model=schemas.ApiKeyOut, summary="Revoke an API key")
async def revoke_key(key_id: str, request: Request) -> Response:
    ctx, who = caller(request)
    require_role(who, Role.OPERATOR, action="revoke API keys")
    key = await run_in_threadpool(ctx.keys.revoke, key_id)
    return render.json_response(key_out(key))
