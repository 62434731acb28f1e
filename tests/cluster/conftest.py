"""The simulated cluster's fixture: namespaces and services made once for the module's
scenarios, and removed however they end.

Making namespaces needs root and ``ip``; without them the scenarios fail with what to do, unless
``AUDIOBATCH_TEST_SKIP_CLUSTER=1`` says to leave them out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster
from tests.cluster.network import Network
from tests.cluster.services import cluster_services

OPT_OUT = "AUDIOBATCH_TEST_SKIP_CLUSTER"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = "root" if os.geteuid() != 0 else "`ip` (iproute2)" if not shutil.which("ip") else ""
    if missing:
        if os.environ.get(OPT_OUT) == "1":
            pytest.skip(f"the simulated cluster needs {missing}; {OPT_OUT}=1 leaves it out")
        pytest.fail(
            f"the simulated cluster needs {missing} to make network namespaces: run the tests "
            f"as root (CI does), or set {OPT_OUT}=1 to leave these scenarios out"
        )
    network = Network()
    try:
        network.create(services_addresses=(1, 2, 3, 4))
        with cluster_services(network) as services:
            yield Cluster(network, services, Path(tmp_path_factory.mktemp("cluster")))
    finally:
        network.destroy()
