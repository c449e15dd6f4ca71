"""Real servers on loopback for tests: a throwaway PostgreSQL cluster, a throwaway RabbitMQ
node, a throwaway Redis, free ports.

`postgres_server()` runs initdb + pg_ctl from the machine's PostgreSQL in a scratch directory as
the `postgres` OS user (PostgreSQL refuses to run as root), listening only on 127.0.0.1, and
always stops the cluster and removes the directory, even when the body fails.

`rabbitmq_server()` runs Debian's rabbitmq-server as the current user with every path, port and
name of its own (data, logs, config, Erlang cookie, node name, AMQP, distribution and epmd ports),
so it neither needs nor disturbs a system broker, and several can run side by side.

`redis_server()` runs Debian's redis-server with a password, on 127.0.0.1 only, without
persistence, in a scratch directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("SCAFFOLD_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"
PG_SUPERUSER = "postgres"
START_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A test server could not be started."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: Sequence[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_OS_USER, "--", *args]
    return list(args)


def _run(args: Sequence[str], *, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        _as_postgres(args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if proc.returncode != 0:
        raise ServerError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user=PG_OS_USER, group=PG_OS_USER)


@dataclass
class PostgresCluster:
    """A running throwaway cluster: the URL of its database, and stop/start to take it away and
    bring it back on the same port (the URL stays valid)."""

    url: str
    data: Path
    log: Path
    options: str

    def stop(self) -> None:
        _stop(self.data)

    def start(self) -> None:
        _run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                self.options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )


@contextmanager
def postgres_server(database: str = "app", user: str = "app") -> Iterator[str]:
    """Start a PostgreSQL 15 cluster on 127.0.0.1; yield a `postgresql+psycopg://` URL to a new
    database owned by a new password-authenticated `user`; stop and delete everything after."""
    with postgres_cluster(database, user) as cluster:
        yield cluster.url


@contextmanager
def postgres_cluster(database: str = "app", user: str = "app") -> Iterator[PostgresCluster]:
    """postgres_server(), yielding the cluster itself (to stop and start it during a test)."""
    for tool in ("initdb", "pg_ctl", "psql"):
        if not (PG_BIN / tool).exists():
            raise ServerError(f"{PG_BIN / tool} not found: install PostgreSQL 15 (postgresql-15)")
    # Not under pytest's tmp_path: those directories are private to root, the cluster's user
    # must own and traverse this one.
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-pg-"))
    data, sockets, log = scratch / "data", scratch / "sock", scratch / "server.log"
    started = False
    try:
        os.chmod(scratch, 0o700)
        sockets.mkdir()
        _chown_to_postgres(scratch)
        _chown_to_postgres(sockets)
        superuser_password = secrets.token_hex(16)
        password_file = scratch / "pwfile"
        password_file.write_text(superuser_password + "\n")
        _chown_to_postgres(password_file)
        _run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_SUPERUSER,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        port = 0
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={port} "
                f"-c unix_socket_directories={sockets} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run(
                    [
                        str(PG_BIN / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
                started = True
                break
            except ServerError:
                # Another process may have taken the port between free_port() and the bind.
                if attempt == START_ATTEMPTS:
                    server_log = log.read_text() if log.exists() else "(no server log)"
                    raise ServerError(f"PostgreSQL did not start:\n{server_log}") from None
        password = secrets.token_hex(16)
        _run(
            [
                str(PG_BIN / "psql"),
                "-h",
                str(sockets),
                "-p",
                str(port),
                "-U",
                PG_SUPERUSER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'",
                "-c",
                f'CREATE DATABASE "{database}" OWNER "{user}"',
            ]
        )
        yield PostgresCluster(f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port}/{database}", data, log, options)
    finally:
        if started:
            _stop(data)
        shutil.rmtree(scratch, ignore_errors=True)


def _stop(data: Path) -> None:
    """Stop the cluster: politely, then immediately, then by killing the postmaster."""
    for mode in ("fast", "immediate"):
        try:
            _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "30", "stop"])
            return
        except (ServerError, subprocess.TimeoutExpired):
            continue
    pid_file = data / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


RABBITMQ_BIN = Path(os.environ.get("SCAFFOLD_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
EPMD = os.environ.get("SCAFFOLD_EPMD", "/usr/bin/epmd")
RABBITMQ_START_TIMEOUT_S = 90


def _rabbitmq_env(scratch: Path, nodename: str, ports: dict[str, int]) -> dict[str, str]:
    return {
        **os.environ,
        # The Erlang cookie is created in, and read from, $HOME.
        "HOME": str(scratch),
        "RABBITMQ_CONF_ENV_FILE": str(scratch / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(scratch / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(scratch / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(scratch / "mnesia"),
        "RABBITMQ_LOG_BASE": str(scratch / "log"),
        "RABBITMQ_PID_FILE": str(scratch / "rabbitmq.pid"),
        "RABBITMQ_NODENAME": nodename,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ports["amqp"]),
        "RABBITMQ_DIST_PORT": str(ports["dist"]),
        "ERL_EPMD_PORT": str(ports["epmd"]),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }


def _rabbitmqctl(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", env["RABBITMQ_NODENAME"], *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _amqp_port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def rabbitmq_server(user: str = "app") -> Iterator[str]:
    """Start a RabbitMQ node on 127.0.0.1; yield an `amqp://` URL for a password-authenticated
    `user` (administrator of the default vhost); stop the node and its epmd, delete everything."""
    for tool in (RABBITMQ_BIN / "rabbitmq-server", RABBITMQ_BIN / "rabbitmqctl", Path(EPMD)):
        if not tool.exists():
            raise ServerError(f"{tool} not found: install RabbitMQ (apt-get install rabbitmq-server)")
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-mq-"))
    ports = {"amqp": free_port(), "dist": free_port(), "epmd": free_port()}
    password = secrets.token_hex(16)
    env = _rabbitmq_env(scratch, f"scaffold-{secrets.token_hex(4)}@localhost", ports)
    (scratch / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf
    (scratch / "enabled_plugins").write_text("[].\n")  # no management plugin: no extra listeners
    (scratch / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{ports['amqp']}\n"
        f"default_user = {user}\n"
        f"default_pass = {password}\n"
        "default_user_tags.administrator = true\n"
        "loopback_users = none\n"
    )
    log = scratch / "server.out"
    process: subprocess.Popen[bytes] | None = None
    try:
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + RABBITMQ_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise ServerError(f"rabbitmq-server exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise ServerError(f"RabbitMQ did not start in {RABBITMQ_START_TIMEOUT_S} s:\n{log.read_text()}")
            # await_startup returns once the broker application runs (it fails while the node boots).
            if _rabbitmqctl(env, "await_startup", "--timeout", "5").returncode == 0 and _amqp_port_open(ports["amqp"]):
                break
            time.sleep(0.5)
        yield f"amqp://{user}:{password}@127.0.0.1:{ports['amqp']}/"
    finally:
        if process is not None:
            _stop_rabbitmq(env, process)
        subprocess.run([EPMD, "-port", str(ports["epmd"]), "-kill"], capture_output=True, timeout=30, env=env)
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_rabbitmq(env: dict[str, str], process: subprocess.Popen[bytes]) -> None:
    """`rabbitmqctl stop`, then SIGTERM, then SIGKILL to the node's process group."""
    if process.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            _rabbitmqctl(env, "stop", timeout=60)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
    process.wait()


REDIS_SERVER = Path("/usr/bin/redis-server")  # Debian's redis-server


@contextmanager
def redis_server() -> Iterator[str]:
    """Start Redis on 127.0.0.1 with a password and nothing saved to disk; yield a `redis://` URL
    for it; stop it and delete its directory after."""
    if not REDIS_SERVER.exists():
        raise ServerError(f"{REDIS_SERVER} not found: `apt-get install redis-server` (make system-packages)")
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-redis-"))
    port = free_port()
    password = secrets.token_hex(16)
    # The configuration on stdin ("-"): the password never appears in the process list.
    config = (
        f"bind 127.0.0.1\nport {port}\nrequirepass {password}\ndir {scratch}\n"
        'save ""\nappendonly no\ndaemonize no\nprotected-mode yes\n'
    )
    log = (scratch / "redis.log").open("wb")
    process = subprocess.Popen(
        [str(REDIS_SERVER), "-"], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        assert process.stdin is not None
        process.stdin.write(config.encode())
        process.stdin.close()
        wait_for_port(port, process)
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        stop(process)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, *, timeout: float = 30) -> None:
    """Wait until something accepts connections on 127.0.0.1:port (and `process` is still running)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if process is not None and process.poll() is not None:
            raise ServerError(f"the server exited with {process.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise ServerError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate a server, kill it when it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")  # Debian's prometheus-alertmanager


@contextmanager
def alertmanager_server(config: Path) -> Iterator[str]:
    """Debian's Alertmanager with `config` on 127.0.0.1 (no HA cluster port); yield its base URL;
    stop it and delete its data after."""
    if not ALERTMANAGER.exists():
        raise ServerError(f"{ALERTMANAGER} not found: `apt-get install prometheus-alertmanager` (make test does it)")
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-am-"))
    port = free_port()
    log = (scratch / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            str(ALERTMANAGER),
            f"--config.file={config}",
            f"--storage.path={scratch / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)
