"""Errors of the HTTP API as RFC 9457 problem details, each with a stable `code`.

Every refusal the API answers, whether it comes from the API itself (authentication,
permissions, limits, idempotency) or from a service below it (the switch, the ledger, the
audit log, compliance), is one ``application/problem+json`` body::

    {"type": "urn:corridor:problem:unknown_payment", "title": "Unknown payment",
     "status": 404, "detail": "no payment 'p-1'", "code": "unknown_payment",
     "instance": "/v1/payments/p-1"}

Clients branch on `code` (the same word the CLI prints as ``error[code]``), never on the
detail text. A code keeps its HTTP status for ever. Services keep their own codes; this
module only maps them to statuses (`status_for`). Nothing ever answers with a stack trace:
an unexpected exception is ``internal_error`` (500), logged on the server side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from corridor.api.keys import ApiKeyError
from corridor.audit.errors import AuditError
from corridor.compliance.errors import ComplianceError
from corridor.ledger import LedgerError
from corridor.switch.errors import SwitchError
from corridor.switch.fx import FxError
from corridor.switch.money import MoneyError

__all__ = [
    "API_ERROR_STATUS",
    "PROBLEM_CONTENT_TYPE",
    "ApiError",
    "problem_body",
    "problem_for_exception",
    "status_for",
]

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:corridor:problem:"
DETAIL_CHARS_MAX: Final = 2000
"""Longest detail text sent (longer service messages are cut)."""

API_ERROR_STATUS: Final[Mapping[str, int]] = {
    # Authentication and permissions.
    "unauthenticated": 401,
    "forbidden": 403,
    # Request shape.
    "not_found": 404,
    "method_not_allowed": 405,
    "invalid_request": 400,
    "malformed_json": 400,
    "invalid_idempotency_key": 400,
    "invalid_id": 400,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    # Limits and replays.
    "rate_limited": 429,
    "modified_request": 409,
    # The server.
    "internal_error": 500,
    "unavailable": 503,
}
"""The API's own codes and their statuses."""

_SWITCH_STATUS: Final[Mapping[str, int]] = {
    "modified_request": 409,
    "duplicate_participant": 409,
    "duplicate_party": 409,
    "insufficient_liquidity": 422,
    "limit_exceeded": 422,
    "compliance_blocked": 422,
    "payment_under_review": 409,
    "compliance_unavailable": 503,
    "currency_not_supported": 422,
    "quote_refused": 422,
    "quote_mismatch": 422,
    "ledger_rejected": 422,
    "refund_exceeds_payment": 422,
    "quote_expired": 409,
    "quote_used": 409,
    "payment_not_reserved": 409,
    "payment_expired": 409,
    "payment_not_committed": 409,
    "window_not_closed": 409,
    "window_out_of_order": 409,
}
"""Switch codes whose status does not follow from their prefix (``unknown_*`` → 404,
``invalid_*`` → 400)."""

_MONEY_STATUS: Final[Mapping[str, int]] = {
    "unknown_quote": 404,
    "quote_expired": 409,
    "quote_used": 409,
}
"""Money and FX codes that are not plain bad input (400)."""

_LEDGER_STATUS: Final[Mapping[str, int]] = {
    "batch_too_large": 400,
    "invalid_request": 400,
    "ledger_closed": 503,
    "ledger_unavailable": 503,
}

_COMPLIANCE_STATUS: Final[Mapping[str, int]] = {
    "invalid_transition": 409,
    "case_closed": 409,
    "holds_pending": 409,
    "hold_resolved": 409,
    "hold_resolution_failed": 409,
    "alert_conflict": 409,
    "disposition_required": 400,
    "corrupt_lists": 503,
    "invalid_database": 503,
}


def status_for(error: BaseException) -> int:
    """The HTTP status of a service error with a `code` (4xx unless the server is at fault)."""
    code = getattr(error, "code", "")
    if isinstance(error, ApiError):
        return error.status
    if isinstance(error, SwitchError):
        return _by_prefix(code, _SWITCH_STATUS)
    if isinstance(error, LedgerError):
        return _LEDGER_STATUS.get(code, 400)
    if isinstance(error, AuditError):
        if code.startswith(("log_", "key_")):
            return 503  # the operator's log or key is broken or missing: not the caller's fault
        if code.startswith("not_"):
            return 409  # not_initialized, not_checkpointed: the log is not there yet
        return _by_prefix(code, {})
    if isinstance(error, ApiKeyError):
        return _by_prefix(code, {})
    if isinstance(error, ComplianceError):
        return _by_prefix(code, _COMPLIANCE_STATUS)
    if isinstance(error, MoneyError | FxError):
        return _MONEY_STATUS.get(code, 400)
    return 500


def _by_prefix(code: str, table: Mapping[str, int]) -> int:
    if code in table:
        return table[code]
    if code.startswith("unknown_") or code.endswith("_not_found"):
        return 404
    return 400


class ApiError(Exception):
    """A refusal by the API layer itself: `code` (see `API_ERROR_STATUS`) and a status.

    `security` marks a refusal of access (an unknown key, a role that may not, another
    participant's resource): those are written to the API access log.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        security: bool = False,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        if status is None:
            status = API_ERROR_STATUS[code]
        assert 400 <= status < 600, status
        self.code = code
        self.status = status
        self.security = security
        self.headers = dict(headers or {})
        self.errors = list(errors or [])


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem_body(
    code: str,
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> bytes:
    """The problem+json document for one refusal, as bytes."""
    if len(detail) > DETAIL_CHARS_MAX:
        detail = detail[: DETAIL_CHARS_MAX - 1] + "…"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": _title(code),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return msgspec.json.encode(body)


def problem_for_exception(error: BaseException, instance: str | None = None) -> tuple[int, bytes]:
    """Status and problem body for a service error; 500 ``internal_error`` for anything else."""
    code = getattr(error, "code", None)
    if not isinstance(error, _KNOWN_ERRORS) or not isinstance(code, str):
        return 500, problem_body(
            "internal_error",
            500,
            "the server failed; the request may be retried",
            instance=instance,
        )
    status = status_for(error)
    errors = error.errors if isinstance(error, ApiError) else None
    return status, problem_body(code, status, str(error), instance=instance, errors=errors)


_KNOWN_ERRORS: Final = (
    ApiError,
    ApiKeyError,
    SwitchError,
    LedgerError,
    AuditError,
    ComplianceError,
    MoneyError,
    FxError,
)
