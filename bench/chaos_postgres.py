"""A throwaway PostgreSQL cluster for the faults that restart the database (never the shared
server on 5432): initdb as the `postgres` user in a temporary directory, trust auth on
127.0.0.1, removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 5439


@dataclass(frozen=True)
class Cluster:
    """A running cluster of our own."""

    data: Path
    port: int

    def create_database(self, name: str) -> str:
        """A new empty database; its URL for Linli."""
        createdb = [str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), name]
        subprocess.run(["runuser", "-u", "postgres", "--", *createdb], check=True)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this cluster as the postgres user."""
        command = [str(BIN / "pg_ctl"), "-D", str(self.data), "-w", *args]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def restart(self, mode: str) -> float:
        """Restart with -m mode ("fast", or "immediate" for a crash); seconds it took."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.to_thread(self.pg_ctl, "restart", "-m", mode)
        return loop.time() - started


@contextlib.contextmanager
def throwaway_postgres(port: int = PORT) -> Iterator[Cluster]:
    """A fresh cluster, stopped and deleted after the block."""
    base = Path(tempfile.mkdtemp(prefix="linli-chaos-pg-"))
    shutil.chown(base, "postgres", "postgres")
    cluster = Cluster(base / "data", port)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [*as_postgres, str(BIN / "initdb"), "-D", str(cluster.data), "-A", "trust"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c max_connections=200"
        cluster.pg_ctl("-o", options, "-l", str(base / "log"), "start")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(base, ignore_errors=True)
