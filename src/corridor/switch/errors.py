"""Errors of the switch's services, each with a stable, machine-readable code.

Everything the switch refuses (an unknown participant, a malformed merchant, a withdrawal
beyond the balance...) is a `SwitchError` whose `code` is a short word that the CLI prints as
``error[code]: message`` and the HTTP API returns in its problem+json body. Callers branch on
the code, never on the message, so codes are never renamed; a new failure gets a new code.
A refused request changes nothing.

Codes:

- ``invalid_participant``: a participant's id, kind, name, country, currencies or net debit
  caps are malformed.
- ``duplicate_participant``: the participant id is registered with different data.
- ``unknown_participant``: no participant has this id.
- ``invalid_party``: a customer or merchant field is malformed, or its participant is of the
  wrong kind or does not operate in the merchant's currency.
- ``duplicate_party``: the customer or merchant id is registered with different data.
- ``unknown_customer``: the wallet has no customer with this id.
- ``unknown_merchant``: no merchant has this id.
- ``invalid_qr``: a QR payload is refused; the message starts with the `QRError` code
  (``bad_crc: ...``) or with ``not_a_corridor_merchant``, ``currency_mismatch`` or
  ``country_mismatch``.
- ``currency_not_supported``: the participant does not operate in this currency.
- ``invalid_amount``: an amount is not a positive `Money` within the ledger's range.
- ``invalid_transfer_id``: a transfer id or reference is malformed (or both or neither given).
- ``modified_request``: the transfer id or reference was already used with another request.
- ``insufficient_liquidity``: the participant's available liquidity does not cover it.
- ``ledger_rejected``: the ledger refused an event for a reason the switch does not expect
  (an account closed by an operator, a broken invariant); the message names the result code.
- ``invalid_payment``: a payment id, hold timeout or other payment field is malformed, or the
  payer is not a wallet / the quote's provider not an FX provider.
- ``unknown_payment``: no payment has this id.
- ``payment_not_reserved``: the payment cannot be committed or aborted in its state (the
  message names it).
- ``payment_expired``: the payment's holds expired before it was committed.
- ``unknown_quote``: no quote has this id (or it was forgotten).
- ``quote_expired``: the quote expired before the payment used it.
- ``quote_used``: another payment already used the quote.
- ``quote_mismatch``: the quote does not fit the payment (its target currency is not the
  merchant's).
- ``limit_exceeded``: the payment or refund would take a participant's net debit exposure in
  the open settlement window beyond its net debit cap.
- ``compliance_blocked``: compliance decided BLOCK; the message gives every reason.
- ``payment_under_review``: compliance holds the payment for review; its case releases it.
- ``compliance_unavailable``: compliance cannot decide (no USD rate for the currency).
- ``invalid_refund``: a refund id, amount or other refund field is malformed.
- ``unknown_refund``: no refund has this id.
- ``payment_not_committed``: only a committed payment can be refunded.
- ``refund_exceeds_payment``: the refund is more than what is left to refund of the payment.
- ``invalid_window``: a settlement window argument is malformed.
- ``unknown_window``: no settlement window has this id.
- ``window_not_closed``: the window is still open; close it before settling it.
- ``window_out_of_order``: an earlier window is still closed and unsettled.
- ``invalid_fx_pricing``: an FX provider's pricing configuration is malformed.
- ``unknown_fx_provider``: the participant has no FX pricing configured.
- ``quote_refused``: the quote cannot be priced (no rate, same currency, amount too large...);
  the message starts with the FX code.
- ``invalid_quote_request``: a quote request names neither or both amounts.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SWITCH_ERROR_CODES", "SwitchError"]

SWITCH_ERROR_CODES: Final = frozenset(
    {
        "invalid_participant",
        "duplicate_participant",
        "unknown_participant",
        "invalid_party",
        "duplicate_party",
        "unknown_customer",
        "unknown_merchant",
        "invalid_qr",
        "currency_not_supported",
        "invalid_amount",
        "invalid_transfer_id",
        "modified_request",
        "insufficient_liquidity",
        "ledger_rejected",
        "invalid_payment",
        "unknown_payment",
        "payment_not_reserved",
        "payment_expired",
        "unknown_quote",
        "quote_expired",
        "quote_used",
        "quote_mismatch",
        "limit_exceeded",
        "compliance_blocked",
        "payment_under_review",
        "compliance_unavailable",
        "invalid_refund",
        "unknown_refund",
        "payment_not_committed",
        "refund_exceeds_payment",
        "invalid_window",
        "unknown_window",
        "window_not_closed",
        "window_out_of_order",
        "invalid_fx_pricing",
        "unknown_fx_provider",
        "quote_refused",
        "invalid_quote_request",
    }
)
"""Every code a `SwitchError` may carry."""


class SwitchError(Exception):
    """A switch operation is refused; `code` (one of `SWITCH_ERROR_CODES`) says why."""

    code: str = "switch_error"

    def __init__(self, code: str, message: str) -> None:
        # A code outside the documented set is a bug in the switch, not a user error.
        assert code in SWITCH_ERROR_CODES, code
        super().__init__(message)
        self.code = code
