"""The API's front door, as plain ASGI: metrics, keys, rate limits, bodies, idempotency.

Every HTTP request passes here before any route, in this order:

1. metrics: the request is timed and counted by route template and status (all paths);
2. for /v1 paths, authentication: ``Authorization: Bearer <key>``, else 401
   ``unauthenticated`` (logged in the access log);
3. the key's rate limit (`corridor.api.ratelimit`), else 429 ``rate_limited`` with
   ``Retry-After``;
4. for requests with a body: at most `BODY_BYTES_MAX` bytes (413 ``payload_too_large``) of
   JSON (415 ``unsupported_media_type``);
5. for a POST with ``Idempotency-Key``: replay, refuse or run (`corridor.api.idempotency`);
6. the route runs; its response is held back until the idempotency record and, for an
   operator key, the audit-trail row are durable, then sent.

The two hot routes, ``POST /v1/quotes`` and ``POST /v1/payments``, run in a `Lane`: the body
is validated with the route's own model and the route's own function is called here, without
FastAPI's routing, request objects and response machinery (about 60% of the event loop's time
per request in a profile of `corridor bench http`). Refusals are rendered by the app's own
`refusal` function, so both ways answer byte for byte alike (tests/api/test_lanes.py). A body
the model refuses goes the ordinary way, so that the app answers it with its usual 400.

An exception that escapes a route is answered as 500 ``internal_error`` (the traceback goes
to the server log, never to the client).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import pydantic
from starlette.responses import Response

from corridor.api.auth import Principal
from corridor.api.context import BODY_BYTES_MAX, ApiContext
from corridor.api.errors import PROBLEM_CONTENT_TYPE, ApiError, problem_body
from corridor.api.idempotency import Mismatch, Proceed, Replay, fingerprint, valid_idempotency_key
from corridor.api.journal import AccessLogRow, AuditTrailRow
from corridor.api.keys import Role
from corridor.api.ratelimit import ANONYMOUS

__all__ = ["ApiMiddleware", "Lane", "Refusal"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX: Final = "/v1/"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_log = logging.getLogger("corridor.api")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


@dataclass(frozen=True, slots=True)
class Lane:
    """A hot route run by the middleware itself: its body model, its function, its route."""

    model: type[pydantic.BaseModel]
    handler: Callable[[ApiContext, Principal, Any], Awaitable[Response]]
    route: object
    """The app's route, for the metrics' route label."""


Refusal = Callable[[ApiContext, Scope, "Principal | None", Exception], Awaitable[Response | None]]
"""The app's problem response for an error (None: not a refusal, answered as a 500)."""


class _Captured:
    """A response held back: status, headers and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    @property
    def content_type(self) -> str:
        for key, value in self.headers:
            if key.lower() == b"content-type":
                return value.decode("latin-1")
        return "application/octet-stream"


class ApiMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        context: ApiContext,
        lanes: Mapping[tuple[str, str], Lane] | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        self.app = app
        self.ctx = context
        self.lanes = dict(lanes or {}) if refusal is not None else {}
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            if scope["path"].startswith(API_PREFIX):
                await self._api(scope, receive, counted_send)
            else:
                await self.app(scope, receive, counted_send)
        except Exception:
            _log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status[0] == 500:  # nothing sent yet (or a 500 already): answer it
                await self._problem(
                    counted_send, scope, ApiError("internal_error", "the server failed")
                )
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                scope["path"] if not scope["path"].startswith(API_PREFIX) else "unmatched"
            )
            metrics = self.ctx.metrics
            metrics.requests.inc(scope["method"], template, str(status[0]))
            metrics.duration.observe(time.perf_counter() - began, template)

    # -- /v1 ---------------------------------------------------------------------------------

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = self.ctx
        method = scope["method"]
        who = self._authenticate(scope)
        wait_s = ctx.limiter.take(ANONYMOUS if who is None else who.key_id)
        if wait_s > 0:
            retry = ctx.limiter.retry_after_s(wait_s)
            await self._problem(
                send,
                scope,
                ApiError(
                    "rate_limited",
                    f"too many requests for this key; retry in {retry} s",
                    headers={"retry-after": str(retry)},
                ),
            )
            return
        if who is None:
            error = ApiError(
                "unauthenticated",
                "an active API key is required: Authorization: Bearer ck_...",
                headers={"www-authenticate": "Bearer"},
                security=True,
            )
            await self._log_access(scope, None, error)
            await self._problem(send, scope, error)
            return
        scope.setdefault("state", {})["principal"] = who

        if method not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        idempotency_key = _header(scope, b"idempotency-key") if method == "POST" else None
        request_sha = fingerprint(method, scope["path"], body)
        token: Proceed | None = None
        if idempotency_key is not None:
            if not valid_idempotency_key(idempotency_key):
                await self._problem(
                    send,
                    scope,
                    ApiError(
                        "invalid_idempotency_key",
                        "an Idempotency-Key is 1-255 printable ASCII characters without spaces",
                    ),
                )
                return
            outcome = await ctx.idempotency.begin(who.key_id, idempotency_key, request_sha)
            if isinstance(outcome, Replay):
                ctx.metrics.replays.inc()
                stored = outcome.response
                await self._send(
                    send,
                    stored.status,
                    [
                        (b"content-type", stored.content_type.encode("latin-1")),
                        (b"idempotent-replayed", b"true"),
                    ],
                    stored.body,
                )
                return
            if isinstance(outcome, Mismatch):
                await self._problem(
                    send,
                    scope,
                    ApiError(
                        "modified_request",
                        f"Idempotency-Key {idempotency_key!r} was used with another request",
                    ),
                )
                return
            token = outcome

        captured = _Captured()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = int(message["status"])
                captured.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                captured.body += message.get("body", b"")

        lane = self.lanes.get((method, scope["path"]))
        try:
            if lane is None or not await self._run_lane(lane, scope, who, body, capture):
                await self.app(scope, replay_body, capture)
        except BaseException:
            if token is not None:
                ctx.idempotency.abandon(token)
            raise
        body_out = bytes(captured.body)
        if token is not None:
            if captured.status >= 500:
                ctx.idempotency.abandon(token)
            else:
                await ctx.idempotency.finish(
                    token,
                    method=method,
                    path=scope["path"],
                    status=captured.status,
                    content_type=captured.content_type,
                    body=body_out,
                )
        if who.role is Role.OPERATOR:
            await self._audit(scope, who, idempotency_key, request_sha, captured)
        headers = [(k, v) for k, v in captured.headers if k.lower() not in (b"content-length",)]
        await self._send(send, captured.status, headers, body_out)

    async def _run_lane(
        self, lane: Lane, scope: Scope, who: Principal, body: bytes, send: Send
    ) -> bool:
        """Answer through the lane; False (nothing sent) when the body is not valid."""
        try:
            parsed = lane.model.model_validate(msgspec.json.decode(body))
        except (msgspec.DecodeError, pydantic.ValidationError):
            return False  # The app answers it, with its own 400.
        scope["route"] = lane.route
        try:
            response = await lane.handler(self.ctx, who, parsed)
        except Exception as error:
            assert self.refusal is not None
            refused = await self.refusal(self.ctx, scope, who, error)
            if refused is None:
                raise
            response = refused
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": bytes(response.body)})
        return True

    def _authenticate(self, scope: Scope) -> Principal | None:
        header = _header(scope, b"authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        key = self.ctx.keys.authenticate(token.strip())
        if key is None:
            return None
        return Principal(key.key_id, key.role, key.participant_id)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body within the limit, or None once a refusal has been sent."""
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > BODY_BYTES_MAX:
            await self._problem(send, scope, _too_large())
            return None
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks += message.get("body", b"")
            if len(chunks) > BODY_BYTES_MAX:
                await self._problem(send, scope, _too_large())
                return None
            if not message.get("more_body", False):
                break
        if chunks and not _is_json(_header(scope, b"content-type")):
            await self._problem(
                send,
                scope,
                ApiError("unsupported_media_type", "request bodies are application/json"),
            )
            return None
        return bytes(chunks)

    # -- records -----------------------------------------------------------------------------

    async def _log_access(self, scope: Scope, who: Principal | None, error: ApiError) -> None:
        await log_access(self.ctx, scope, who, error)

    async def _audit(
        self,
        scope: Scope,
        who: Principal,
        idempotency_key: str | None,
        request_sha: str,
        captured: _Captured,
    ) -> None:
        code = None
        if captured.status >= 400 and captured.content_type.startswith(PROBLEM_CONTENT_TYPE):
            code = _problem_code(bytes(captured.body))
        row = AuditTrailRow(
            time.time_ns(),
            who.key_id,
            scope["method"],
            scope["path"],
            idempotency_key,
            request_sha,
            captured.status,
            code,
        )
        await _durable(self.ctx, row)

    # -- sending -----------------------------------------------------------------------------

    async def _problem(self, send: Send, scope: Scope, error: ApiError) -> None:
        self.ctx.metrics.refusals.inc(error.code)
        body = problem_body(error.code, error.status, str(error), instance=scope["path"])
        headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode())]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
        await self._send(send, error.status, headers, body)

    @staticmethod
    async def _send(
        send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _too_large() -> ApiError:
    return ApiError("payload_too_large", f"request bodies are at most {BODY_BYTES_MAX} bytes")


def _problem_code(body: bytes) -> str | None:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


async def _durable(ctx: ApiContext, row: AccessLogRow | AuditTrailRow) -> None:
    try:
        await asyncio.wrap_future(ctx.journal.append(row))
    except Exception as error:  # the log failing must not turn a refusal into a 500
        _log.error("could not record %s: %s", type(row).__name__, error)


async def log_access(ctx: ApiContext, scope: Scope, who: Principal | None, error: ApiError) -> None:
    """Write a refused access to the access log (durably; a failure is only logged)."""
    row = AccessLogRow(
        time.time_ns(),
        None if who is None else who.key_id,
        None if who is None else who.role.value,
        None if who is None else who.participant_id,
        scope["method"],
        scope["path"][:512],
        error.status,
        error.code,
        str(error)[:512],
    )
    await _durable(ctx, row)
