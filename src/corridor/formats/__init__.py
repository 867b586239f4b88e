"""Pure parsers and serializers for the formats corridor exchanges with the outside world.

Nothing here touches storage, the ledger or the network: bytes and strings in, immutable
values out (and back). Merchant-presented QR payloads live in `corridor.formats.emvqr`.
"""
