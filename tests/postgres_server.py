"""A real PostgreSQL server for the tests: Debian's ``postgresql``, run from a scratch folder.

``initdb`` makes a cluster in a fresh folder, ``pg_ctl`` starts it on a free localhost port
(trust authentication: nobody else can reach a loopback port of a throw-away cluster that
lives for one test session). The server refuses to run as root, so as root both run as
``nobody`` (``setpriv``). ``tools/system-deps.sh`` installs the package.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

NOBODY = 65534


def server_binary(name):
    """``name`` (initdb, pg_ctl) of the newest installed PostgreSQL, or None."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``start()`` a cluster, ``create_database(name)`` -> its URL, ``stop()``."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="nn-postgres-"))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.port = free_port()
        self.as_nobody = os.geteuid() == 0

    def _run(self, *argv, timeout=120):
        become = (["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
                  if self.as_nobody else [])
        return subprocess.run([*become, *argv], capture_output=True, text=True, timeout=timeout,
                              check=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              cwd=self.folder)

    def start(self):
        initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed (tools/system-deps.sh installs it)")
        os.chmod(self.folder, 0o755)
        if self.as_nobody:
            os.chown(self.folder, NOBODY, NOBODY)
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
                   "-c fsync=off -c full_page_writes=off")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")
        return self

    def url(self, database):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        try:
            self._run(server_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TypeError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
