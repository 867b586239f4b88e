"""The dashboard's static files: an index built once, served with validators and headers.

Only files that were under ``static/`` when the index was built can be served: a request
names a key of the index, never a path on disk, so ``..`` or an absolute path finds
nothing. Every response carries a strict Content-Security-Policy (scripts, styles and
connections from this origin only, no inline script), so that even a merchant name with
markup in it can never run as code, and an ETag so that browsers revalidate cheaply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["ASSET_BYTES_MAX", "SECURITY_HEADERS", "Asset", "StaticAssets"]

ASSET_BYTES_MAX: Final = 2 * 1024 * 1024
"""Largest static file indexed, in bytes (a bigger file is a mistake, not an asset)."""
ASSETS_MAX: Final = 500

MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
"""Suffixes the index serves; other files under static/ are left out."""

SECURITY_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
        " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}
"""Headers of every page and asset (`no-cache`: revalidate with the ETag each time)."""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


class StaticAssets:
    """The files under one directory, read into memory once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._assets: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            media_type = MEDIA_TYPES.get(path.suffix.lower())
            if media_type is None or not path.is_file():
                continue
            body = path.read_bytes()
            assert len(body) <= ASSET_BYTES_MAX, f"{path} is over {ASSET_BYTES_MAX} bytes"
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            self._assets[path.relative_to(root).as_posix()] = Asset(body, media_type, etag)
        assert len(self._assets) <= ASSETS_MAX, f"more than {ASSETS_MAX} files under {root}"

    def get(self, name: str) -> Asset | None:
        """The asset at `name` (a relative posix path), or None."""
        return self._assets.get(name)

    def names(self) -> list[str]:
        return sorted(self._assets)
