"""Throwaway ledger databases for the tests, on SQLite and on PostgreSQL.

`temporary_target(backend)` yields what `Ledger.open` takes: a file path in a temporary
directory, or the URL of a fresh PostgreSQL schema (one per test, in one database created for
the test session), and removes it afterwards. `temporary_database()` yields a whole fresh
database, for tests of the default `public` schema and of migrations.

Where the PostgreSQL server comes from, first that works:

1. ``CORRIDOR_TEST_PG_DSN`` (a ``postgresql://`` URL of a role that may create databases);
2. a server on 127.0.0.1:5432 with trust authentication (user ``postgres``, then the OS user);
3. a throwaway cluster: ``initdb`` into a temporary directory and ``pg_ctl start`` on a free
   port, from the newest /usr/lib/postgresql/*/bin (run as user ``postgres`` when the tests
   run as root, which initdb refuses).

When none works, PostgreSQL tests skip with the reasons each step failed. Set
``CORRIDOR_TEST_PG=cluster`` to skip steps 1 and 2 (to test step 3 itself), or
``CORRIDOR_TEST_PG=none`` to run the SQLite half alone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import psycopg
import pytest

ENV_DSN: Final = "CORRIDOR_TEST_PG_DSN"
ENV_MODE: Final = "CORRIDOR_TEST_PG"
LOCAL_HOST: Final = "127.0.0.1"
LOCAL_PORT: Final = 5432
CONNECT_TIMEOUT_S: Final = 3
CLUSTER_START_TIMEOUT_S: Final = 60
BACKENDS: Final = ("sqlite", "postgresql")


def url(params: dict[str, str]) -> str:
    """A ``postgresql://`` URL carrying every connection parameter in its query string."""
    return "postgresql://?" + urlencode({k: v for k, v in params.items() if v})


def _try(params: dict[str, str]) -> str | None:
    """None if an admin connection with `params` works, else why not."""
    try:
        with psycopg.connect(url(params), connect_timeout=CONNECT_TIMEOUT_S, autocommit=True):
            return None
    except psycopg.Error as error:
        return " ".join(str(error).split())


class _Cluster:
    """A PostgreSQL cluster in a temporary directory, stopped and deleted on close."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
        initdb = binaries[0] if binaries else shutil.which("initdb")
        if initdb is None:
            raise RuntimeError("no initdb in /usr/lib/postgresql/*/bin nor on PATH")
        bin_dir = Path(initdb).parent
        self._prefix: list[str] = []
        self._directory = Path(tempfile.mkdtemp(prefix="corridor-pg-"))
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and no 'postgres' user to run initdb") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root and no runuser to run initdb as postgres")
            self._prefix = [runuser, "-u", "postgres", "--"]
            os.chown(self._directory, account.pw_uid, account.pw_gid)
        self._data = self._directory / "data"
        self._pg_ctl = str(bin_dir / "pg_ctl")
        with socket.socket() as probe:
            probe.bind((LOCAL_HOST, 0))
            self.port = probe.getsockname()[1]
        self._run([str(bin_dir / "initdb"), "-D", str(self._data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-sync"])  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses={LOCAL_HOST} "
            f"-c unix_socket_directories={self._directory}"
        )
        self._run([self._pg_ctl, "-D", str(self._data), "-o", options, "-w",
                   "-t", str(CLUSTER_START_TIMEOUT_S), "-l", str(self._directory / "log"),
                   "start"])  # fmt: skip

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            self._prefix + command, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run([self._pg_ctl, "-D", str(self._data), "-m", "immediate", "stop"])
        shutil.rmtree(self._directory, ignore_errors=True)


class PostgresForTests:
    """A server reachable with admin rights and a database created for this test session."""

    def __init__(self) -> None:
        self._cluster: _Cluster | None = None
        self.admin = self._find_server()
        self._session_database: str | None = None
        self._owns_session_database = False
        self._lock = threading.Lock()

    def _find_server(self) -> dict[str, str]:
        reasons: list[str] = []
        mode = os.environ.get(ENV_MODE, "")
        if mode == "none":
            raise RuntimeError(f"{ENV_MODE}=none")
        dsn = os.environ.get(ENV_DSN)
        if dsn and mode != "cluster":
            params = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(dsn).items()}
            problem = _try(params)
            if problem is None:
                return params
            reasons.append(f"{ENV_DSN}: {problem}")
        if mode != "cluster":
            for user in dict.fromkeys(["postgres", pwd.getpwuid(os.getuid()).pw_name]):
                params = {"host": LOCAL_HOST, "port": str(LOCAL_PORT), "user": user,
                          "dbname": "postgres"}  # fmt: skip
                problem = _try(params)
                if problem is None:
                    return params
                reasons.append(f"{LOCAL_HOST}:{LOCAL_PORT} as {user}: {problem}")
        try:
            self._cluster = _Cluster()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            reasons.append(f"throwaway cluster: {error}")
            raise RuntimeError("; ".join(reasons)) from None
        params = {"host": LOCAL_HOST, "port": str(self._cluster.port), "user": "postgres",
                  "dbname": "postgres"}  # fmt: skip
        problem = _try(params)
        if problem is not None:
            self._cluster.close()
            raise RuntimeError(f"throwaway cluster started but refused: {problem}")
        return params

    def _admin(self, dbname: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        params = dict(self.admin, dbname=dbname or self.admin.get("dbname", "postgres"))
        return psycopg.connect(url(params), connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)

    def create_database(self) -> str:
        name = f"corridor_test_{secrets.token_hex(6)}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def session_database(self) -> str:
        """The database this session's schemas live in (created on first use)."""
        with self._lock:
            if self._session_database is None:
                try:
                    self._session_database = self.create_database()
                except psycopg.Error:
                    # No right to create databases: schemas in the given database will do.
                    self._session_database = self.admin.get("dbname", "postgres")
                    self._owns_session_database = False
                else:
                    self._owns_session_database = True
            return self._session_database

    @contextlib.contextmanager
    def schema(self) -> Iterator[str]:
        """The URL of a fresh, empty schema; dropped afterwards."""
        database = self.session_database()
        name = f"t_{secrets.token_hex(6)}"
        with self._admin(database) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield url(dict(self.admin, dbname=database, options=f"-csearch_path={name}"))
        finally:
            with self._admin(database) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """The URL of a fresh database (its `public` schema); dropped afterwards."""
        name = self.create_database()
        try:
            yield url(dict(self.admin, dbname=name))
        finally:
            self.drop_database(name)

    def close(self) -> None:
        if self._session_database is not None and self._owns_session_database:
            with contextlib.suppress(psycopg.Error):
                self.drop_database(self._session_database)
        if self._cluster is not None:
            self._cluster.close()


_shared: PostgresForTests | None = None
_unavailable: str | None = None
_shared_lock = threading.Lock()


def postgres() -> PostgresForTests:
    """The session's PostgreSQL, started on first use; skips the test when there is none."""
    global _shared, _unavailable
    with _shared_lock:
        if _shared is None and _unavailable is None:
            try:
                _shared = PostgresForTests()
            except RuntimeError as error:
                _unavailable = str(error)
        if _shared is None:
            pytest.skip(
                f"PostgreSQL unavailable ({_unavailable}); set {ENV_DSN} to a postgresql:// URL "
                "of a role that may create databases"
            )
        return _shared


def close_postgres() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


@contextlib.contextmanager
def temporary_target(backend: str) -> Iterator[Path | str]:
    """What `Ledger.open` takes, for a new empty ledger on `backend`."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield Path(directory) / "ledger.db"
    elif backend == "postgresql":
        with postgres().schema() as target:
            yield target
    else:
        raise ValueError(f"unknown backend {backend!r}")
