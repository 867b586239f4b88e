"""Benchmarks run by `corridor bench NAME`; each returns one JSON-ready result."""
