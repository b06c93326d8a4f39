"""A throwaway PostgreSQL cluster on loopback, for tests, benchmarks and `make test-postgres`.

Debian's `postgresql` server binaries (initdb, pg_ctl) run a private cluster in a temporary
directory on a free port, with trust authentication on 127.0.0.1 only, and the cluster is removed
when it stops. PostgreSQL refuses to run as root, so as root the cluster belongs to the
`postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them out of PATH), or None."""
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    return Path(versions[-1]) if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` — a fresh cluster and database, gone afterwards.

    Raises RuntimeError (saying what to install) when the server binaries are missing.
    """

    def __init__(self, database: str = "dagster", port: int = 0) -> None:
        self.database = database
        self.port = port or _free_port()
        self._root: Path | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *command: str) -> None:
        if self._user:
            command = ("runuser", "-u", self._user, "--", *command)
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> LocalPostgres:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found: install Debian's `postgresql` package "
                "(sudo apt-get install postgresql)"
            )
        self._root = Path(tempfile.mkdtemp(prefix="pii-postgres-"))
        if os.geteuid() == 0:
            self._user = "postgres"
            owner = pwd.getpwnam(self._user)
            os.chown(self._root, owner.pw_uid, owner.pw_gid)
        data = self._root / "data"
        self._run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        self._run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self._root / "server.log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200",
            "start",
        )
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-q",
                "-c",
                f'CREATE DATABASE "{self.database}"',
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self

    def stop(self) -> None:
        if self._root is None:
            return
        bin_dir = postgres_bin_dir()
        if bin_dir is not None:
            subprocess.run(
                [
                    *(["runuser", "-u", self._user, "--"] if self._user else []),
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(self._root / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
