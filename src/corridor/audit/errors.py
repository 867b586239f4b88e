"""Errors of the audit log's operator, witness and receipt tools, each with a stable code.

Everything the audit commands refuse (a missing key, a rollback, a forged checkpoint, a
tampered receipt...) is an `AuditError` whose `code` is a short, stable, machine-readable
word: the CLI prints it as ``error[code]: message`` and scripts or the HTTP API branch on it,
so codes are never renamed. The subclasses only group the errors by who raises them; the
code is what identifies the failure.

Discrepancies found by `corridor audit verify` are not exceptions: they are the result of a
successful check (see `corridor.audit.verify`).
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "LogKeyError",
    "ReceiptError",
    "WitnessError",
]


class AuditError(Exception):
    """An audit operation cannot be done or its input is refused; `code` says why."""

    code: str = "audit_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LogKeyError(AuditError):
    """The log's signing key or its setup is missing, unreadable or does not match."""


class WitnessError(AuditError):
    """A witness refuses a checkpoint: rollback, fork, bad signature, bad proof..."""


class ReceiptError(AuditError):
    """A receipt is malformed or does not verify."""
