"""Errors of the compliance layer, each with a stable, machine-readable code.

Everything compliance refuses as *input* (a malformed list file, an unknown case, a profile
that fails validation) is a `ComplianceError` whose `code` the CLI prints as
``error[code]: message`` and the HTTP API returns in its problem+json body. A payment that
compliance *decides against* is not an error here: it is a `Decision` with reasons; the switch
turns a BLOCK into its own error.
"""

from __future__ import annotations

__all__ = ["ComplianceError"]


class ComplianceError(Exception):
    """A compliance operation is refused; `code` says why (a short stable word)."""

    code: str = "compliance_error"

    def __init__(self, code: str, message: str) -> None:
        assert code and code.replace("_", "").isalnum() and code.islower(), code
        super().__init__(message)
        self.code = code
