"""`corridor bench audit`: appending leaves to the stored Merkle log, and proving inclusion.

Append: transfer-sized leaves (122 bytes) are hashed, added to the tiled tree and the changed
rows written to SQLite (WAL, synchronous=FULL) in one transaction per batch: the log's share
of the ledger's write path, measured alone. Proofs: inclusion proofs for random leaves at the
final size, first each from a fresh reader over the database (cold: nothing cached between
proofs), then all from one long-lived reader that caches stored rows as a server would
(warm); every proof is verified with the RFC 6962 verifier.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.audit.merkle import verify_inclusion
from corridor.audit.tiles import TileAppender, TileReader, leaf_hashes
from corridor.bench.common import machine, percentile_ms

LEAF_BYTES: Final = 122
PROOFS_MAX: Final = 100_000


class AuditBenchError(Exception):
    code = "bench_invalid"


@dataclass(frozen=True)
class AuditBenchConfig:
    db: Path
    leaves: int = 1_000_000
    batch: int = 8189
    proofs: int = 10_000
    seed: int = 42

    def check(self) -> None:
        if self.leaves < 1:
            raise AuditBenchError("--leaves must be at least 1")
        if not 1 <= self.batch <= 1_000_000:
            raise AuditBenchError("--batch must be between 1 and 1,000,000")
        if not 0 <= self.proofs <= PROOFS_MAX:
            raise AuditBenchError(f"--proofs must be between 0 and {PROOFS_MAX}")
        if self.db.exists():
            raise AuditBenchError(f"{self.db} exists; the audit benchmark needs a new file")


def run(config: AuditBenchConfig) -> dict[str, object]:
    config.check()
    rng = random.Random(config.seed)
    leaves = [rng.randbytes(LEAF_BYTES) for _ in range(config.leaves)]
    db = sqlite3.connect(config.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE log_hashes (level INTEGER NOT NULL, row INTEGER NOT NULL,"
        " hashes BLOB NOT NULL, PRIMARY KEY (level, row)) WITHOUT ROWID"
    )
    appender = TileAppender()
    batch_latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, config.leaves, config.batch):
        batch_started = time.perf_counter()
        appender.append(leaf_hashes(leaves[start : start + config.batch]))
        rows = appender.changed_rows()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO log_hashes (level, row, hashes) VALUES (?, ?, ?) ON CONFLICT"
            " (level, row) DO UPDATE SET hashes = excluded.hashes",
            [(level, row, blob) for (level, row), blob in rows.items()],
        )
        db.execute("COMMIT")
        batch_latencies.append(time.perf_counter() - batch_started)
    append_s = time.perf_counter() - started

    def fetch(level: int, row: int) -> bytes | None:
        found = db.execute(
            "SELECT hashes FROM log_hashes WHERE level = ? AND row = ?", (level, row)
        ).fetchone()
        return bytes(found[0]) if found else None

    size = appender.size
    root = TileReader(fetch, size).root()
    proof_latencies: list[float] = []
    hashes_by_index = {}
    indexes = [rng.randrange(size) for _ in range(config.proofs)]
    for index in indexes:
        hashes_by_index[index] = leaf_hashes([leaves[index]])[0]
    warm_reader = TileReader(fetch, size)
    warm_latencies: list[float] = []
    for index in indexes:
        proof_started = time.perf_counter()
        proof = TileReader(fetch, size).inclusion_proof(index, size)
        proof_latencies.append(time.perf_counter() - proof_started)
        if not verify_inclusion(hashes_by_index[index], index, size, proof, root):
            raise AssertionError(f"inclusion proof for leaf {index} does not verify")
    for index in indexes:
        proof_started = time.perf_counter()
        proof = warm_reader.inclusion_proof(index, size)
        warm_latencies.append(time.perf_counter() - proof_started)
        if not verify_inclusion(hashes_by_index[index], index, size, proof, root):
            raise AssertionError(f"inclusion proof for leaf {index} does not verify")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.db}{suffix}").unlink(missing_ok=True)
    return {
        "bench": "audit",
        "ops": config.leaves,
        "seconds": round(append_s, 3),
        "ops_per_s": round(config.leaves / append_s),
        "p50_ms": percentile_ms(batch_latencies, 0.50),
        "p99_ms": percentile_ms(batch_latencies, 0.99),
        "batch": config.batch,
        "proofs": config.proofs,
        "proof_p50_ms": percentile_ms(proof_latencies, 0.50),
        "proof_p99_ms": percentile_ms(proof_latencies, 0.99),
        "proof_warm_p50_ms": percentile_ms(warm_latencies, 0.50),
        "proof_warm_p99_ms": percentile_ms(warm_latencies, 0.99),
        "proofs_verified": len(proof_latencies) + len(warm_latencies),
        "durability": "sqlite WAL, synchronous=FULL, one transaction per batch",
        "pid": os.getpid(),
        "machine": machine(),
    }
