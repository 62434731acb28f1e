"""The services of a simulated cluster, each a process in the services namespace: PostgreSQL,
Redis, moto's S3 server, RabbitMQ, the emulator, and a delaying proxy that stands for a slow link.

Addresses (last octets of the network's subnet): PostgreSQL, S3 and the emulator on ``.1``, Redis
on ``.2``, RabbitMQ on ``.4`` (so a host can be cut from the broker alone); the delaying proxy on
``.3`` forwards every service's port to its real address.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psycopg
import redis

from tests.cluster.network import Network
from tests.services import FIX

MAIN, REDIS, PROXY, RABBIT = 1, 2, 3, 4
POSTGRES_PORT, REDIS_PORT, S3_PORT, EMULATOR_PORT, RABBIT_PORT = 5432, 6379, 9000, 8765, 5672
PORTS = {POSTGRES_PORT: MAIN, REDIS_PORT: REDIS, S3_PORT: MAIN, EMULATOR_PORT: MAIN, RABBIT_PORT: RABBIT}  # fmt: skip
START_TIMEOUT_S = 60.0
SLOW_LINK_MS = 150  # the delaying proxy's delay, each way
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def wait_until(answers: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def port_answers(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


@dataclass
class Services:
    """The services of ``network``, started on demand; ``folder`` holds their data and logs."""

    network: Network
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    proxy: subprocess.Popen[bytes] | None = None
    rabbitmq: bool = False

    def url(self, port: int, via_proxy: bool = False) -> str:
        """``host:port`` of the service on ``port``, straight or through the delaying proxy."""
        return f"{self.network.address(PROXY if via_proxy else PORTS[port])}:{port}"

    @property
    def postgres_server(self) -> str:
        """The maintenance database's libpq URL."""
        return f"postgresql://postgres@{self.url(POSTGRES_PORT)}/postgres"

    def start(
        self, log_name: str, command: list[str], as_user: str | None = None
    ) -> subprocess.Popen[bytes]:
        """``command`` in the services namespace, its output in ``log_name``."""
        user = ["runuser", "-u", as_user, "--"] if as_user else []
        with open(self.folder / log_name, "ab") as log:
            process = subprocess.Popen(
                [*self.network.in_namespace(self.network.services), *user, *command],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
            )  # fmt: skip
        self.processes.append(process)
        return process

    def start_postgres(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise RuntimeError(f"PostgreSQL is not installed: {FIX}")
        data = self.folder / "pg"
        data.mkdir()
        shutil.chown(data, "postgres")
        initdb = ["runuser", "-u", "postgres", "--", str(bins[-1]), "-D", str(data)]
        subprocess.run(
            [*initdb, "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
        )
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.network.address(0)}/24 trust\n")
        address = self.network.address(MAIN)
        process = self.start("postgres.log", [
            str(bins[-1].parent / "postgres"), "-D", str(data), "-k", str(data),
            "-c", f"listen_addresses={address}", "-c", "fsync=off", "-c", "max_connections=400",
        ], as_user="postgres")  # fmt: skip
        wait_until(
            lambda: _postgres_answers(self.postgres_server), process, self.folder / "postgres.log"
        )

    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"Redis is not installed: {FIX}")
        address = self.network.address(REDIS)
        process = self.start(
            "redis.log",
            [
                binary,
                "--bind",
                address,
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--protected-mode",
                "no",
            ],
        )
        wait_until(lambda: port_answers(address, REDIS_PORT), process, self.folder / "redis.log")

    def start_s3(self) -> None:
        address = self.network.address(MAIN)
        moto = str(Path(sys.executable).parent / "moto_server")
        process = self.start("s3.log", [moto, "-H", address, "-p", str(S3_PORT)])
        wait_until(lambda: port_answers(address, S3_PORT), process, self.folder / "s3.log")

    def start_rabbitmq(self) -> None:
        """A RabbitMQ node of its own (data, logs and Erlang port mapper inside the namespace)."""
        if shutil.which("rabbitmq-server") is None:
            raise RuntimeError("RabbitMQ is not installed: apt-get install rabbitmq-server")
        home = self.folder / "rabbitmq"
        home.mkdir()
        address = self.network.address(RABBIT)
        config = home / "rabbitmq.conf"
        config.write_text(
            f"loopback_users = none\nlisteners.tcp.default = {address}:{RABBIT_PORT}\n"
        )
        shutil.chown(home, "rabbitmq")
        shutil.chown(config, "rabbitmq")
        env = [
            "env", f"HOME={home}", f"RABBITMQ_CONFIG_FILE={config}",
            f"RABBITMQ_MNESIA_BASE={home / 'mnesia'}", f"RABBITMQ_LOG_BASE={home / 'log'}",
            f"RABBITMQ_ENABLED_PLUGINS_FILE={home / 'plugins'}", "RABBITMQ_NODENAME=rabbit@localhost",
            "ERL_EPMD_ADDRESS=127.0.0.1",
        ]  # fmt: skip
        process = self.start("rabbitmq.log", [*env, "rabbitmq-server"])
        wait_until(
            lambda: port_answers(address, RABBIT_PORT), process, self.folder / "rabbitmq.log"
        )
        self.rabbitmq = True

    def start_delay_proxy(self) -> None:
        """The delaying proxy: no delay until it is sent SIGUSR1, none again after SIGUSR2."""
        routes = [f"{self.network.address(PROXY)}:{port}={self.url(port)}" for port in PORTS]
        process = self.start(
            "proxy.log",
            [
                sys.executable,
                str(Path(__file__).with_name("delay_proxy.py")),
                "--delay-ms",
                str(SLOW_LINK_MS),
                *routes,
            ],
        )
        wait_until(
            lambda: port_answers(self.network.address(PROXY), REDIS_PORT),
            process,
            self.folder / "proxy.log",
        )
        self.proxy = process

    def slow_down(self, on: bool) -> None:
        """Start (or end) the delaying proxy's delay."""
        assert self.proxy is not None
        self.proxy.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    @contextmanager
    def emulator(self, *args: str) -> Iterator[str]:
        """A fresh emulator (an empty ledger), its URL."""
        address = self.network.address(MAIN)
        command = [
            sys.executable,
            "-m",
            "audiobatch",
            "emulator",
            "--host",
            address,
            "--port",
            str(EMULATOR_PORT),
            *args,
        ]
        process = self.start("emulator.log", command)
        try:
            wait_until(
                lambda: port_answers(address, EMULATOR_PORT), process, self.folder / "emulator.log"
            )
            yield f"http://{self.url(EMULATOR_PORT)}"
        finally:
            process.terminate()
            process.wait()

    def fresh_database(self) -> str:
        """A new database's SQLAlchemy URL."""
        name = f"cluster_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.postgres_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@{self.url(POSTGRES_PORT)}/{name}"

    def fresh_bucket(self) -> str:
        name = f"cluster-{uuid.uuid4().hex[:10]}"
        boto3.client(
            "s3", endpoint_url=f"http://{self.url(S3_PORT)}", region_name="us-east-1"
        ).create_bucket(Bucket=name)
        return name

    def flushed_redis(self) -> str:
        """The Redis URL (database 0), emptied."""
        url = f"redis://{self.url(REDIS_PORT)}/0"
        redis.Redis.from_url(url).flushdb()
        return url

    def stop(self) -> None:
        for process in self.processes:
            with suppress(ProcessLookupError):
                process.kill()
            process.wait()
        self.processes.clear()


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def cluster_services(network: Network) -> Iterator[Services]:
    """PostgreSQL, Redis, S3 and the delaying proxy running in ``network``'s services namespace."""
    for name, value in CREDENTIALS.items():  # for boto3 in this process, as moto takes any
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix="audiobatch-cluster-") as folder:
        Path(folder).chmod(0o755)  # PostgreSQL and RabbitMQ run as their own users
        services = Services(network, Path(folder))
        try:
            services.start_postgres()
            services.start_redis()
            services.start_s3()
            services.start_delay_proxy()
            yield services
        finally:
            services.stop()
