"""Storage layer: one protocol, an embedded SQLite store, and later PostgreSQL."""
