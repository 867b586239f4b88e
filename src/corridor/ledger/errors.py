"""Exceptions at the edges of the ledger: bad requests and an unavailable write path.

Inside the engine every event gets a result code; these are for whole requests that cannot
be accepted at all. Each carries a stable `code` for the CLI and the HTTP API.
"""

from __future__ import annotations


class LedgerError(Exception):
    code = "ledger_error"


class BatchTooLarge(LedgerError):
    code = "batch_too_large"


class InvalidRequest(LedgerError):
    code = "invalid_request"


class LedgerClosed(LedgerError):
    code = "ledger_closed"

    def __init__(self) -> None:
        super().__init__("the ledger is closed")


class LedgerUnavailable(LedgerError):
    """A commit failed; memory may be ahead of storage, so no more writes are taken."""

    code = "ledger_unavailable"

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            f"the ledger's write path stopped ({cause!r}); nothing unacknowledged was applied; "
            "reopen the database to continue"
        )
        self.cause = cause
