"""Interface layer: the HTTP API (FastAPI) over the switch, compliance and the audit log.

`create_app(switch)` builds the application; `corridor serve` runs it with uvicorn. See
docs/API.md for authentication, roles, idempotency, errors, limits and batching.
"""

from corridor.api.app import close_app, create_app

__all__ = ["close_app", "create_app"]
