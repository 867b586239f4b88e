"""Process-wide runtime settings for long-running corridor processes (server, benchmarks).

CPython's cyclic garbage collector runs a full collection every so many allocations and
walks every tracked object, and a switch process holds millions of them (the ledger's account
states, recent transfer rows, directory caches, quotes): profiling `corridor bench payments`
showed a quarter of the payment path's time in collections that found nothing to free. The
hot path allocates no reference cycles on purpose, so `tune_gc` moves what is already loaded
out of the collector's sight (`gc.freeze`) and makes collections rarer. It is called once,
after the state is loaded, by `corridor serve`, `corridor demo` and the benchmarks; a library
user embedding corridor decides for their own process.
"""

from __future__ import annotations

import gc
from typing import Final

GC_GEN0_ALLOCATIONS: Final = 100_000
"""Allocations (net) between young collections (CPython's default is 700)."""
GC_GEN1_RATIO: Final = 50
GC_GEN2_RATIO: Final = 100


def tune_gc() -> None:
    """Freeze what is loaded and make cyclic collections rarer (see the module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_ALLOCATIONS, GC_GEN1_RATIO, GC_GEN2_RATIO)
