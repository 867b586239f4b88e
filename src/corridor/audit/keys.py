"""Key files of the audit log and its witnesses: created owner-only, never overwritten.

The log's Ed25519 signing key (a C2SP signer key string, ``PRIVATE+KEY+<name>+...``) lives
in a file next to the database (``<db>.key`` by default) and a witness's cosigning key in a
file of its own. Whoever reads such a file can sign checkpoints in the log's or the witness's
name, so the file is created with mode 0600 in one step (``O_CREAT | O_EXCL``: an existing
file is never overwritten, even by a concurrent `corridor init`), and a key file that group
or others may read is refused rather than used, as ssh does.

The public halves are C2SP verifier key strings (``<name>+<hash>+<base64>``); they are what
auditors, witnesses and receipt holders are given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from corridor.audit.errors import LogKeyError
from corridor.audit.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteError,
    load_cosignature_verifier,
    load_cosigner,
    load_signer,
    load_verifier,
)

__all__ = [
    "KEY_FILE_MODE",
    "default_key_file",
    "parse_log_vkey",
    "parse_witness_vkey",
    "read_log_key",
    "read_witness_key",
    "write_key_file",
]

KEY_FILE_MODE = 0o600
"""Owner read/write only."""


def default_key_file(db: Path) -> Path:
    """Where `corridor init` puts the log key of database `db`: ``<db>.key``."""
    return db.with_name(db.name + ".key")


def write_key_file(path: Path, secret: str) -> None:
    """Create `path` with mode 0600 holding `secret` and a newline; refuse if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:
        raise LogKeyError(
            "key_exists", f"{path} already exists; refusing to overwrite a key file"
        ) from None
    except OSError as error:
        raise LogKeyError("key_file", f"cannot create key file {path}: {error}") from None
    try:
        os.fchmod(fd, KEY_FILE_MODE)  # in case the file system ignored the create mode
        os.write(fd, (secret + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_secret(path: Path, what: str) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LogKeyError("key_not_found", f"{what} file {path} does not exist") from None
    except OSError as error:
        raise LogKeyError("key_file", f"cannot read {what} file {path}: {error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise LogKeyError("key_file", f"{what} file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise LogKeyError(
            "key_permissions",
            f"{what} file {path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o});"
            f" run: chmod 600 {path}",
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LogKeyError("key_file", f"cannot read {what} file {path}: {error}") from None
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise LogKeyError("bad_key", f"{what} file {path} is not a key string") from None


def read_log_key(path: Path) -> Ed25519Signer:
    """Load the log's Ed25519 signer from a key file (owner-only, C2SP signer key string)."""
    secret = _read_secret(path, "log key")
    try:
        return load_signer(secret)
    except NoteError as error:
        raise LogKeyError("bad_key", f"{path} is not an Ed25519 signer key: {error}") from None


def read_witness_key(path: Path) -> CosignatureSigner:
    """Load a witness's cosigning key from a key file (owner-only, type 0x04 signer key)."""
    secret = _read_secret(path, "witness key")
    try:
        return load_cosigner(secret)
    except NoteError as error:
        raise LogKeyError(
            "bad_key", f"{path} is not a witness (cosignature) signer key: {error}"
        ) from None


def parse_log_vkey(vkey: str) -> Ed25519Verifier:
    """Parse the log's verifier key string (type 0x01); `bad_key` if it is not one."""
    try:
        return load_verifier(vkey.strip())
    except NoteError as error:
        raise LogKeyError("bad_key", f"not a log verifier key: {error}") from None


def parse_witness_vkey(vkey: str) -> CosignatureVerifier:
    """Parse a witness verifier key string (type 0x04); `bad_key` if it is not one."""
    try:
        return load_cosignature_verifier(vkey.strip())
    except NoteError as error:
        raise LogKeyError("bad_key", f"not a witness verifier key: {error}") from None
