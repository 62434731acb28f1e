"""A simulated network: a services namespace with a bridge, one namespace per host, and the faults
a network has.

Every host has one link, a veth pair whose far end is a port of the services namespace's bridge;
the test's own (root) namespace has one too, to reach the services. Faults are made with ``ip``
alone (this kernel may lack ``netem`` and the machine ``iptables``):

- cut: the host's bridge port goes down; every packet either way is dropped in silence, as on a
  pulled cable (established connections hang until they time out, new ones get no answer);
- cut from one address: the host routes it, and the address routes its replies to the host, via a
  gateway whose hardware address nobody has, so they too vanish in silence.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

NOWHERE_MAC = "02:00:00:00:00:fe"  # a gateway nobody answers for: what is sent there is lost
NOWHERE_TABLE = "100"


class NetworkSetupError(RuntimeError):
    """The namespaces could not be made (not root, no ``ip``)."""


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetworkSetupError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


@dataclass
class Network:
    """The namespaces of one run, named uniquely (``ab<run>-svc``, ``ab<run>-h1``...) on a
    10.x.y.0/24 subnet of their own: two runs on one machine do not meet."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: str = field(
        default_factory=lambda: f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    )
    hosts: list[str] = field(default_factory=list)
    _namespaces: list[str] = field(default_factory=list)
    _root_link: str | None = None

    @property
    def services(self) -> str:
        """The services namespace's name."""
        return f"ab{self.run}-svc"

    def address(self, last: int) -> str:
        return f"{self.subnet}.{last}"

    def host_address(self, host: str) -> str:
        return self.address(10 + self.hosts.index(host) + 1)

    def create(self, services_addresses: Sequence[int]) -> None:
        """The services namespace, its bridge holding ``services_addresses`` (last octets), and
        a link from this (root) namespace to it."""
        if shutil.which("ip") is None:
            raise NetworkSetupError("`ip` (iproute2) is not installed")
        self._add_namespace(self.services)
        ip("-n", self.services, "link", "add", "br0", "type", "bridge")
        ip("-n", self.services, "link", "set", "br0", "up")
        for last in services_addresses:
            ip("-n", self.services, "addr", "add", f"{self.address(last)}/24", "dev", "br0")
        ip("-n", self.services, "neigh", "replace", self.address(250), "lladdr", NOWHERE_MAC,
           "dev", "br0", "nud", "permanent")  # fmt: skip
        self._root_link = f"ab{self.run}r"
        self._link(None, self._root_link, self.address(254))

    def add_host(self, name: str) -> str:
        """A host namespace linked to the bridge; its name."""
        self.hosts.append(name)
        namespace = self.namespace(name)
        self._add_namespace(namespace)
        self._link(namespace, "eth0", self.host_address(name))
        ip("-n", namespace, "neigh", "replace", self.address(250), "lladdr", NOWHERE_MAC,
           "dev", "eth0", "nud", "permanent")  # fmt: skip
        return namespace

    def namespace(self, host: str) -> str:
        return f"ab{self.run}-{host}"

    def cut(self, host: str) -> None:
        """Drop every packet to and from ``host``."""
        ip("-n", self.services, "link", "set", self._port(host), "down")

    def heal(self, host: str) -> None:
        ip("-n", self.services, "link", "set", self._port(host), "up")

    def cut_from(self, host: str, last: int) -> None:
        """Drop every packet between ``host`` and the services' address ``last``."""
        target, source = self.address(last), self.host_address(host)
        ip("-n", self.namespace(host), "route", "add", f"{target}/32", "via", self.address(250))
        ip("-n", self.services, "route", "add", f"{source}/32", "via", self.address(250),
           "dev", "br0", "table", NOWHERE_TABLE)  # fmt: skip
        # only what the address sends: the host still reaches the services' other addresses
        ip("-n", self.services, "rule", "add", "from", target, "to", source, "lookup",
           NOWHERE_TABLE, "priority", "50")  # fmt: skip

    def heal_from(self, host: str, last: int) -> None:
        target, source = self.address(last), self.host_address(host)
        ip("-n", self.namespace(host), "route", "del", f"{target}/32")
        ip("-n", self.services, "rule", "del", "from", target, "to", source, "lookup",
           NOWHERE_TABLE, "priority", "50")  # fmt: skip
        ip("-n", self.services, "route", "del", f"{source}/32", "table", NOWHERE_TABLE)

    def in_namespace(self, namespace: str, hostname: str | None = None) -> list[str]:
        """The command prefix that runs a program in ``namespace`` (as host ``hostname``)."""
        prefix = ["ip", "netns", "exec", namespace]
        if hostname is None:
            return prefix
        return [*prefix, "unshare", "--uts", "sh", "-c", f'hostname {hostname} && exec "$0" "$@"']

    def destroy(self) -> None:
        """Kill whatever still runs in the namespaces, then remove them and the root link."""
        for namespace in self._namespaces:
            listed = subprocess.run(
                ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
            )
            for pid in listed.stdout.split():
                subprocess.run(["kill", "-9", pid], capture_output=True, check=False)
        for namespace in self._namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        if self._root_link is not None:
            subprocess.run(["ip", "link", "del", self._root_link], capture_output=True, check=False)
        self._namespaces.clear()

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self._namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def _port(self, host: str) -> str:
        return f"p{self.run}{self.hosts.index(host) + 1}"

    def _link(self, namespace: str | None, name: str, address: str) -> None:
        """A veth pair: ``name`` in ``namespace`` (None: this one) holding ``address``, its peer a
        port of the bridge."""
        port = f"p{self.run}{len(self.hosts) if namespace else 0}"
        temporary = f"t{self.run}{len(self.hosts) if namespace else 0}"
        ip("link", "add", temporary, "type", "veth", "peer", "name", port)
        ip("link", "set", port, "netns", self.services)
        ip("-n", self.services, "link", "set", port, "master", "br0")
        ip("-n", self.services, "link", "set", port, "up")
        here = [] if namespace is None else ["-n", namespace]
        if namespace is not None:
            ip("link", "set", temporary, "netns", namespace)
        ip(*here, "link", "set", temporary, "name", name)
        ip(*here, "addr", "add", f"{address}/24", "dev", name)
        ip(*here, "link", "set", name, "up")
