"""`corridor serve`, `corridor api-key ...` and `corridor bench http`: the API's commands.

`register(app, bench_app)` adds them to the `corridor` command line. Refusals raise errors
with a `code` (`API_CLI_ERRORS`), which `corridor.cli.main` prints as
``error[code]: message`` with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape

from corridor.api.batching import WRITERS_DEFAULT, WRITERS_MAX
from corridor.api.keys import ApiKey, ApiKeyError, ApiKeyStore
from corridor.bench.http import HttpBenchConfig, HttpBenchError

__all__ = ["API_CLI_ERRORS", "register"]

DEFAULT_DB: Final = "./corridor.db"
API_CLI_ERRORS: Final = (ApiKeyError, HttpBenchError)

api_key_app = typer.Typer(
    help="API keys for the HTTP API: create (shown once), list, revoke.", no_args_is_help=True
)
console = Console(soft_wrap=True, highlight=False)

DbOption = Annotated[
    str, typer.Option("--db", help="Database file (default ./corridor.db).", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add `serve`, `api-key` and `bench http` to the `corridor` app."""
    app.command("serve")(serve_command)
    app.add_typer(api_key_app, name="api-key")
    bench_app.command("http")(bench_http_command)


def _db_path(db: str) -> Path:
    if "://" in db:
        raise ApiKeyError("unsupported_database", f"--db {db!r}: the API needs a SQLite file path")
    path = Path(db)
    if not path.is_file():
        raise ApiKeyError("database_not_found", f"{path}: no such database file")
    return path


def _key_json(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "role": key.role.value,
        "participant_id": key.participant_id,
        "label": key.label,
        "created_ns": key.created_ns,
        "created_by": key.created_by,
        "revoked_ns": key.revoked_ns,
        "active": key.active,
    }


def serve_command(
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    rate_per_s: Annotated[
        float, typer.Option("--rate-per-s", help="Requests per second per API key.")
    ] = 2000.0,
    burst: Annotated[int, typer.Option(help="Requests at once per API key.")] = 4000,
    batch_window_ms: Annotated[
        float,
        typer.Option("--batch-window-ms", help="How long a lone payment waits for company."),
    ] = 1.0,
    writers: Annotated[
        int, typer.Option(help="Payment batches that may run at once (1-8).")
    ] = WRITERS_DEFAULT,
    log_key_file: Annotated[
        Path | None,
        typer.Option("--log-key-file", help="The audit log's signing key (default: from init)."),
    ] = None,
) -> None:
    """Serve the HTTP API (/v1, /openapi.json, /healthz, /metrics) until interrupted."""
    from corridor.api.ratelimit import RateLimits
    from corridor.api.server import ServeConfig, serve

    path = _db_path(db)
    if not 0 < port < 65536:
        raise ApiKeyError("invalid_port", f"--port {port} is not 1-65535")
    try:
        limits = RateLimits(rate_per_s=rate_per_s, burst=burst)
    except ValueError as error:
        raise ApiKeyError("invalid_rate_limit", str(error)) from None
    if not 0 <= batch_window_ms <= 1000:
        raise ApiKeyError("invalid_batch_window", "--batch-window-ms is 0 to 1000")
    if not 1 <= writers <= WRITERS_MAX:
        raise ApiKeyError("invalid_writers", f"--writers is 1 to {WRITERS_MAX}")
    serve(
        ServeConfig(
            db=path,
            host=host,
            port=port,
            rate_limits=limits,
            batch_window_s=batch_window_ms / 1000,
            writers=writers,
            log_key_file=log_key_file,
        )
    )


@api_key_app.command("create")
def create_command(
    role: Annotated[
        str,
        typer.Option(help="operator, participant, compliance or auditor.", show_default=False),
    ],
    db: DbOption = DEFAULT_DB,
    participant: Annotated[
        str | None, typer.Option("--participant", help="The participant of a participant key.")
    ] = None,
    label: Annotated[str, typer.Option(help="A note on what the key is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    with ApiKeyStore.open(_db_path(db)) as store:
        created = store.create(role, participant_id=participant, label=label, created_by="cli")
    if as_json:
        print(json.dumps({"key": _key_json(created.key), "secret": created.secret}, indent=2))
        return
    key = created.key
    who = f" for {escape(key.participant_id)}" if key.participant_id else ""
    console.print(f"created {key.role.value} key {key.key_id}{who}; it is shown only now:")
    print(created.secret)


@api_key_app.command("list")
def list_command(db: DbOption = DEFAULT_DB, as_json: JsonOption = False) -> None:
    """Keys, newest first (never their secrets)."""
    with ApiKeyStore.open(_db_path(db)) as store:
        keys = store.list()
    if as_json:
        print(json.dumps([_key_json(k) for k in keys], indent=2))
        return
    for key in keys:
        state = "active" if key.active else "revoked"
        console.print(
            f"{key.key_id}  {key.role.value:<11} {escape(key.participant_id or '-'):<16} "
            f"{state:<8} {escape(key.label)}"
        )


@api_key_app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key id (12 hex digits).", show_default=False)],
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key; a running server refuses it within a second."""
    with ApiKeyStore.open(_db_path(db)) as store:
        key = store.revoke(key_id)
    if as_json:
        print(json.dumps(_key_json(key), indent=2))
    else:
        console.print(f"revoked {key.key_id}")


def bench_http_command(
    db: Annotated[
        str, typer.Option("--db", help="Database file to create (replaced).")
    ] = "./bench-http.db",
    payments: Annotated[int, typer.Option(help="One-shot payments to make (timed).")] = 20_000,
    warmup: Annotated[int, typer.Option(help="Payments made first, not timed.")] = 1000,
    connections: Annotated[int, typer.Option(help="Concurrent client connections.")] = 64,
    customers: Annotated[int, typer.Option(help="Customers to register.")] = 10_000,
    merchants: Annotated[int, typer.Option(help="Merchants to register.")] = 500,
    batch_window_ms: Annotated[
        float, typer.Option("--batch-window-ms", help="The server's batch window.")
    ] = 1.0,
    writers: Annotated[
        int, typer.Option(help="The server's concurrent payment batches.")
    ] = WRITERS_DEFAULT,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    as_json: JsonOption = False,
) -> None:
    """One-shot cross-currency payments over HTTP on loopback (quote + pay), durable."""
    from corridor.bench import http as bench

    if "://" in db:
        raise HttpBenchError("--db is a SQLite file path")
    result = bench.run(
        HttpBenchConfig(
            db=Path(db),
            payments=payments,
            warmup=warmup,
            connections=connections,
            customers=customers,
            merchants=merchants,
            batch_window_ms=batch_window_ms,
            writers=writers,
            seed=seed,
        )
    )
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"http: {result['ops']} payments in {result['seconds']} s = "
            f"[bold]{result['ops_per_s']}[/] payments/s; per payment (quote + pay) p50 "
            f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms ({result['payments_ok']} ok)"
        )
