"""Evidence layer: RFC 6962 Merkle log, signed checkpoints, witnesses and receipts."""
