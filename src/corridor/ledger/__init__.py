"""Core layer: a double-entry ledger with TigerBeetle's semantics on embedded storage."""

from corridor.ledger.errors import (
    BatchTooLarge,
    InvalidRequest,
    LedgerClosed,
    LedgerError,
    LedgerUnavailable,
)
from corridor.ledger.ledger import Ledger
from corridor.ledger.types import (
    AMOUNT_MAX,
    BATCH_EVENTS_MAX,
    ID_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)

__all__ = [
    "AMOUNT_MAX",
    "BATCH_EVENTS_MAX",
    "ID_MAX",
    "Account",
    "AccountBalance",
    "AccountFlags",
    "BatchTooLarge",
    "CreateAccountResult",
    "CreateTransferResult",
    "InvalidRequest",
    "Ledger",
    "LedgerClosed",
    "LedgerError",
    "LedgerUnavailable",
    "PendingStatus",
    "Transfer",
    "TransferFlags",
]
