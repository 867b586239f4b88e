"""The switch: the services that move a payment through the corridor.

Currencies and amounts (`corridor.switch.money`) live here; participants, parties, quotes,
payments, refunds and settlement build on them.
"""
