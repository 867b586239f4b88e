"""`serve`: run the HTTP API with uvicorn over one database, until interrupted.

The process opens the switch (it becomes the database's single writer), builds the app and
serves it on one event loop. One process per database: a second `corridor serve` on the
same file is refused by the ledger's writer lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import uvicorn

from corridor.api.app import close_app, create_app
from corridor.api.batching import BATCH_WINDOW_S_DEFAULT, WRITERS_DEFAULT
from corridor.api.ratelimit import RateLimits
from corridor.runtime import tune_gc
from corridor.switch.service import Switch
from corridor.web.routes import router as dashboard_router

__all__ = ["ServeConfig", "serve"]

BACKLOG: Final = 2048
"""Connections the listening socket queues (uvicorn's default of 2048)."""


@dataclass(frozen=True)
class ServeConfig:
    db: Path
    host: str = "127.0.0.1"
    port: int = 8000
    rate_limits: RateLimits = field(default_factory=RateLimits)
    batch_window_s: float = BATCH_WINDOW_S_DEFAULT
    writers: int = WRITERS_DEFAULT
    log_key_file: Path | None = None
    log_level: str = "warning"


def serve(config: ServeConfig) -> None:
    """Serve until SIGINT or SIGTERM; queued payments are answered and the switch closed on
    the way out."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    with Switch.open(config.db) as switch:
        app = create_app(
            switch,
            rate_limits=config.rate_limits,
            batch_window_s=config.batch_window_s,
            writers=config.writers,
            log_key_file=config.log_key_file,
            extra_routers=(dashboard_router,),
        )
        tune_gc()  # the switch's state is loaded: freeze it out of the collector's sight
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                log_level=config.log_level,
                access_log=False,
                backlog=BACKLOG,
                server_header=False,
                date_header=False,
            )
        )
        try:
            server.run()
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the SIGINT it stopped on: a requested stop, not an error
        finally:
            close_app(app)
