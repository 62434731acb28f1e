"""The Kubernetes manifests under ``deploy/kubernetes`` as ``kubectl kustomize`` renders them, and
what the tests read out of the rendered objects.

Debian's ``kubernetes-client`` (its kubectl embeds kustomize) is installed where no kubectl is:
the manifests keep to what its kustomize 2.0 reads, so it and a current kubectl render the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUSTOMIZATIONS = ("base", "autoscaled", "overlays/production", "overlays/nightly")
AUTOSCALED = ("autoscaled", "overlays/production", "overlays/nightly")

Object = dict[str, Any]


def kubectl() -> str:
    """The kubectl on the path, Debian's installed first where there is none."""
    found = shutil.which("kubectl")
    if found is None:
        as_root = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*as_root, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            [*as_root, "apt-get", "install", "-y", "-qq", "kubernetes-client"], check=True, env=env
        )
        found = shutil.which("kubectl")
    assert found is not None, "kubectl is not on the path after installing kubernetes-client"
    return found


def render(binary: str, kustomization: str) -> list[Object]:
    """The objects ``kubectl kustomize`` makes of ``deploy/kubernetes/<kustomization>``."""
    done = subprocess.run(
        [binary, "kustomize", str(KUBERNETES / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {kustomization}:\n{done.stderr}"
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


def one(objects: list[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def named_like(objects: list[Object], kind: str, prefix: str) -> Object:
    """The object of ``kind`` whose name is ``prefix`` with kustomize's hash suffix."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, f"{len(found)} {kind} named {prefix}*"
    return found[0]


def pod_specs(objects: list[Object]) -> Iterator[tuple[Object, Object]]:
    """Every workload object with its pod spec (Deployments and Jobs)."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            yield obj, obj["spec"]["template"]["spec"]


def containers(objects: list[Object]) -> Iterator[tuple[Object, Object]]:
    """Every container of every workload, with its workload."""
    for obj, pod in pod_specs(objects):
        for container in pod["containers"]:
            yield obj, container


def settings(objects: list[Object]) -> dict[str, str]:
    """The settings ConfigMap's data."""
    data: dict[str, str] = named_like(objects, "ConfigMap", "audiobatch-settings-")["data"]
    return data


def option(args: list[str], name: str) -> str | None:
    """The value following ``name`` in a container's arguments, if given."""
    return args[args.index(name) + 1] if name in args else None
