"""Compliance, inline on every payment: KYC limits, sanctions screening, transaction
monitoring, the travel rule, cases and regulatory reports.

The switch asks before it reserves a payment and gets a `Decision` (ALLOW, REVIEW or BLOCK)
with its reasons (`corridor.compliance.types`). Thresholds live in data files per
jurisdiction, never in code.
"""
