"""Who is asking, and may they: the principal of a request and the permission checks.

The middleware (`corridor.api.middleware`) authenticates every /v1 request before any route
runs and puts its `Principal` in the request state; routes take it with `caller`.
Permissions are checked in the route, with two helpers, so that every route reads the same way:

- `require_role`: the role may not use this endpoint at all → 403 ``forbidden``;
- `require_own`: a participant key asks for another participant's resource → 404 with the
  resource's own ``unknown_*`` code, exactly as if it did not exist (nothing leaks).

Both raise `ApiError` with ``security=True``, so the refusal is written to the access log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import Request

from corridor.api.context import ApiContext
from corridor.api.errors import ApiError
from corridor.api.keys import Role

__all__ = [
    "BEARER_SCHEME",
    "Principal",
    "caller",
    "context",
    "principal",
    "require_own",
    "require_role",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """The key behind a request."""

    key_id: str
    role: Role
    participant_id: str | None

    @property
    def is_participant(self) -> bool:
        return self.role is Role.PARTICIPANT

    def owns(self, participant_id: str) -> bool:
        """True for a participant key of `participant_id`, and for an operator key."""
        return self.role is Role.OPERATOR or self.participant_id == participant_id


BEARER_SCHEME: Final = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (`ck_...`) created by the operator: `Authorization: Bearer ck_...`.",
}
"""The OpenAPI security scheme every /v1 operation uses (added by `corridor.api.app`)."""


def context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx


def principal(request: Request) -> Principal:
    """The key the middleware authenticated (every /v1 request has one)."""
    found = request.scope.get("state", {}).get("principal")
    if not isinstance(found, Principal):
        raise ApiError("unauthenticated", "an API key is required", security=True)
    return found


def caller(request: Request) -> tuple[ApiContext, Principal]:
    """The app's context and the request's principal.

    Plain functions rather than FastAPI dependencies: resolving two dependencies cost more
    per request than the quote it served (measured; see docs/BENCHMARKS.md, HTTP).
    """
    return context(request), principal(request)


def require_role(who: Principal, *roles: Role, action: str) -> None:
    """403 ``forbidden`` unless the key has one of `roles`."""
    if who.role not in roles:
        raise ApiError("forbidden", f"a {who.role.value} key may not {action}", security=True)


def require_own(who: Principal, participant_id: str, code: str, message: str) -> None:
    """For a participant key: 404 `code` unless `participant_id` is its own."""
    if who.role is Role.PARTICIPANT and who.participant_id != participant_id:
        raise ApiError(code, message, status=404, security=True)
