"""The sandbox: a seeded, reproducible corridor with labelled suspicious behaviour."""
