"""`create_app`: the FastAPI application over one switch.

The app is thin: routes parse, authorize, call a service and render. Around them:
`corridor.api.middleware` (metrics, API keys, rate limits, body limits, idempotency, audit
trail), problem+json for every refusal (`corridor.api.errors`), and the group-commit stage
for one-shot payments (`corridor.api.batching`). OpenAPI 3 is at ``/openapi.json`` (every
/v1 operation documents the bearer key, its problem responses and, for POST, the
``Idempotency-Key`` header); ``/healthz`` and ``/metrics`` (Prometheus) need no key. There
is no interactive documentation page: it would load scripts from a CDN.

The caller owns the switch: the app never closes it. When the app's lifespan ends, the
payments still queued are answered; `close_app` then releases its own threads and
connections (the lifespan does not, so that a test harness may run it more than once).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.api import (
    render,
    routes_audit,
    routes_compliance,
    routes_fx,
    routes_keys,
    routes_ledger,
    routes_participants,
    routes_parties,
    routes_payments,
    routes_settlement,
    schemas,
)
from corridor.api.auth import BEARER_SCHEME, Principal
from corridor.api.batching import BATCH_WINDOW_S_DEFAULT, WRITERS_DEFAULT, PayBatcher
from corridor.api.context import ApiContext, QuoteOwners
from corridor.api.errors import (
    PROBLEM_CONTENT_TYPE,
    ApiError,
    problem_body,
    problem_for_exception,
)
from corridor.api.idempotency import IDEMPOTENCY_KEY_CHARS_MAX, Idempotency
from corridor.api.journal import ApiJournal
from corridor.api.keys import ApiKeyError, ApiKeyStore
from corridor.api.metrics import Metrics
from corridor.api.middleware import ApiMiddleware, Lane, log_access
from corridor.api.queries import ReadQueries
from corridor.api.ratelimit import RateLimiter, RateLimits
from corridor.api.schemas import HealthOut, Problem
from corridor.audit.errors import AuditError
from corridor.compliance.errors import ComplianceError
from corridor.ledger import LedgerError
from corridor.switch.errors import SwitchError
from corridor.switch.fx import FxError
from corridor.switch.money import MoneyError
from corridor.switch.service import Switch

__all__ = ["API_VERSION", "close_app", "create_app"]

API_VERSION: Final = "1.0.0"
_PROBLEM_STATUSES: Final = {
    "400": "Bad request: malformed input (`invalid_request`, `malformed_json`, `invalid_*`).",
    "401": "No active API key (`unauthenticated`).",
    "403": "The key's role or participant may not do this (`forbidden`).",
    "404": "Not found, or not the key's participant's (`unknown_*`, `not_found`).",
    "409": "Conflicts with the state or an earlier request (`modified_request`, ...).",
    "422": "Well-formed but refused (`insufficient_liquidity`, `limit_exceeded`, ...).",
    "429": "Rate limited (`rate_limited`); see Retry-After.",
    "503": "The server cannot serve it now (`unavailable`, `ledger_unavailable`, ...).",
}
_BODY_STATUSES: Final = {
    "413": "The body is over 64 KiB (`payload_too_large`).",
    "415": "The body is not JSON (`unsupported_media_type`).",
}
_SERVICE_ERRORS: Final = (
    SwitchError,
    LedgerError,
    AuditError,
    ComplianceError,
    MoneyError,
    FxError,
    ApiKeyError,
)


def create_app(
    switch: Switch,
    *,
    rate_limits: RateLimits | None = None,
    batch_window_s: float = BATCH_WINDOW_S_DEFAULT,
    writers: int = WRITERS_DEFAULT,
    log_key_file: Path | None = None,
    extra_routers: tuple[Any, ...] = (),
    lanes: bool = True,
) -> FastAPI:
    """The HTTP API over `switch` (whose database also keeps the API's keys and logs).

    `lanes` runs the hot routes in the middleware (`corridor.api.middleware.Lane`); without
    them every request goes through FastAPI (the tests compare both).
    """
    db_path = Path(switch.ledger.store.path)
    metrics = Metrics()
    journal = ApiJournal(db_path)
    keys = ApiKeyStore.open(db_path)
    ctx = ApiContext(
        switch=switch,
        keys=keys,
        journal=journal,
        idempotency=Idempotency(journal),
        limiter=RateLimiter(rate_limits or RateLimits()),
        metrics=metrics,
        batcher=PayBatcher(switch.payments, metrics, window_s=batch_window_s, writers=writers),
        quotes=QuoteOwners(),
        queries=ReadQueries(db_path),
        db_path=db_path,
        log_key_file=log_key_file,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await ctx.batcher.drain()  # answer what is queued; `close_app` releases the rest

    app = FastAPI(
        title="corridor",
        version=API_VERSION,
        summary="Cross-border payments for the China-Japan-Korea corridor.",
        description=(
            "Participants, parties, FX quotes, one-shot and two-phase payments, refunds, "
            "settlement, the audit log and the ledger. Every refusal is "
            "application/problem+json with a stable `code`; see docs/API.md."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # /metrics is ours; OpenTelemetry's per-request checks cost more than our handlers.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.ctx = ctx
    # Routes are matched in order: the hot paths (quotes, payments) first.
    for module in (
        routes_fx,
        routes_payments,
        routes_participants,
        routes_parties,
        routes_settlement,
        routes_audit,
        routes_ledger,
        routes_keys,
        routes_compliance,
    ):
        _add_routes(app, module.router)
    for router in extra_routers:
        _add_routes(app, router)
    _add_operational_routes(app, ctx)
    _add_exception_handlers(app, ctx)
    app.add_middleware(
        ApiMiddleware, context=ctx, lanes=_lanes(app) if lanes else None, refusal=_refusal
    )
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def close_app(app: FastAPI) -> None:
    """Release the app's threads and connections, once it serves no more (idempotent)."""
    ctx = app.state.ctx
    assert isinstance(ctx, ApiContext)
    if not getattr(app.state, "closed", False):
        app.state.closed = True
        ctx.close()


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add a router's routes to the app itself, not as an included router: FastAPI matches
    an included router's routes twice per request (to choose it, then to dispatch), which
    cost more than a quote (measured)."""
    app.router.routes.extend(router.routes)
    app.router._mark_routes_changed()


def _add_operational_routes(app: FastAPI, ctx: ApiContext) -> None:
    started = time.monotonic()

    @app.get("/healthz", response_model=HealthOut, tags=["operations"], summary="Liveness")
    def healthz() -> Response:
        """The process answers and its ledger's log is readable."""
        return render.json_response(
            HealthOut(status="ok", log_size=ctx.switch.ledger.store.log_size())
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        text = ctx.metrics.expose()
        text += (
            "# HELP corridor_uptime_seconds Seconds since the API started.\n"
            "# TYPE corridor_uptime_seconds gauge\n"
            f"corridor_uptime_seconds {time.monotonic() - started:.3f}\n"
        )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _problem_response(
    request: Request, status: int, body: bytes, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


async def _refusal(
    ctx: ApiContext, scope: MutableMapping[str, Any], who: Principal | None, error: Exception
) -> Response | None:
    """The problem response for a refused request; None for an error that is not ours."""
    path = scope["path"]
    if isinstance(error, ApiError):
        ctx.metrics.refusals.inc(error.code)
        if error.security:
            await log_access(ctx, scope, who, error)
        status, body = problem_for_exception(error, path)
        return Response(
            body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=error.headers
        )
    if isinstance(error, _SERVICE_ERRORS):
        status, body = problem_for_exception(error, path)
        ctx.metrics.refusals.inc(str(getattr(error, "code", "internal_error")))
        return Response(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE)
    return None


def _lanes(app: FastAPI) -> dict[tuple[str, str], Lane]:
    """The hot routes the middleware runs itself (see `corridor.api.middleware`)."""
    hot: dict[tuple[str, str], tuple[type[BaseModel], Callable[..., Awaitable[Response]]]] = {
        ("POST", "/v1/quotes"): (schemas.QuoteIn, routes_fx.quote_response),
        ("POST", "/v1/payments"): (schemas.PayIn, routes_payments.pay_response),
    }
    lanes: dict[tuple[str, str], Lane] = {}
    for route in app.routes:
        path = getattr(route, "path", "")
        for method in getattr(route, "methods", None) or ():
            found = hot.get((method, path))
            if found is not None:
                model, handler = found
                lanes[(method, path)] = Lane(model, handler, route)
    assert len(lanes) == len(hot), "a hot route is missing from the app"
    return lanes


def _add_exception_handlers(app: FastAPI, ctx: ApiContext) -> None:
    async def api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        principal = request.scope.get("state", {}).get("principal")
        refused = await _refusal(ctx, request.scope, principal, error)
        assert refused is not None
        return refused

    async def service_error(request: Request, error: Exception) -> Response:
        refused = await _refusal(ctx, request.scope, None, error)
        assert refused is not None
        return refused

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        details = [
            {
                "loc": [str(part) for part in item.get("loc", ())],
                "message": str(item.get("msg", "")),
                "type": str(item.get("type", "")),
            }
            for item in error.errors()[:20]
        ]
        malformed = any(d["type"] == "json_invalid" for d in details)
        code = "malformed_json" if malformed else "invalid_request"
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details[:5])
        ctx.metrics.refusals.inc(code)
        body = problem_body(
            code,
            400,
            ("the body is not valid JSON: " if malformed else "invalid request: ") + summary,
            instance=request.url.path,
            errors=details,
        )
        return _problem_response(request, 400, body)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code)
        status = error.status_code if code is not None else 400
        code = code or "invalid_request"
        ctx.metrics.refusals.inc(code)
        detail = str(error.detail) if error.detail else code.replace("_", " ")
        body = problem_body(code, status, detail, instance=request.url.path)
        return _problem_response(request, status, body, dict(error.headers or {}))

    app.add_exception_handler(ApiError, api_error)
    for kind in _SERVICE_ERRORS:
        app.add_exception_handler(kind, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {})["securitySchemes"] = {"ApiKey": dict(BEARER_SCHEME)}
        components = schema["components"].setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not path.startswith("/v1/"):
                    continue
                operation["security"] = [{"ApiKey": []}]
                statuses = dict(_PROBLEM_STATUSES)
                if method in ("post", "put", "patch"):
                    statuses.update(_BODY_STATUSES)
                responses = operation.setdefault("responses", {})
                for status, description in statuses.items():
                    responses[status] = {"description": description, **problem}
                if method == "post":
                    operation.setdefault("parameters", []).append(
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Retry safely: the same key and body get the same"
                            " response; the same key with another body is 409"
                            " `modified_request`.",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": IDEMPOTENCY_KEY_CHARS_MAX,
                                "pattern": "^[!-~]+$",
                            },
                            "example": "3f8a6c1e-7b1d-4a2f-9e0c-5d6b7a8c9d0e",
                        }
                    )
        app.openapi_schema = schema
        return schema

    return build
