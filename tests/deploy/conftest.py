"""The rendered manifests, made once for the session."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import KUSTOMIZATIONS, Object, kubectl, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Object]]:
    """Each kustomization under ``deploy/kubernetes`` by its folder, rendered."""
    binary = kubectl()
    return {name: render(binary, name) for name in KUSTOMIZATIONS}
