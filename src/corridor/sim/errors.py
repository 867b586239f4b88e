"""Errors of the sandbox (`corridor simulate`, `corridor demo`), each with a stable code.

Bad arguments (a tourist count out of range, a start date outside the ECB file, a database
that already holds payments) are refused before anything is written, with a code the CLI
prints as ``error[code]: message``.
"""

from __future__ import annotations

__all__ = ["SimError"]


class SimError(Exception):
    """The sandbox refuses a request; `code` says why (a short stable word)."""

    code: str = "sim_error"

    def __init__(self, code: str, message: str) -> None:
        assert code and code.replace("_", "").isalnum() and code.islower(), code
        super().__init__(message)
        self.code = code
