"""Every rendered object is valid: the Kubernetes objects against the API's own schemas (the
strict ones, where an unknown field is an error), KEDA's against the models generated from
KEDA's CRDs, with nothing those models do not know."""

from __future__ import annotations

from typing import Any

import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
from kubernetes_validate import utils as kubernetes_schemas

from tests.deploy.manifests import AUTOSCALED, KUSTOMIZATIONS, Object, one

# the oldest Kubernetes still supported by its cloud vendors when this was written, and the newest
# the schema package knows
KUBERNETES_VERSIONS = ("1.30", kubernetes_schemas.latest_version())
KEDA_MODELS: dict[str, Any] = {
    "ScaledObject": ScaledObject,
    "TriggerAuthentication": TriggerAuthentication,
}
# what KEDA's postgresql scaler reads from a trigger's metadata (the CRD leaves it a free map)
POSTGRESQL_METADATA = {
    "query", "targetQueryValue", "activationTargetQueryValue", "connectionFromEnv", "host",
    "port", "userName", "passwordFromEnv", "dbName", "sslmode",
}  # fmt: skip


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_object_matches_the_api_schema(
    rendered: dict[str, list[Object]], kustomization: str, version: str
) -> None:
    kubernetes = [o for o in rendered[kustomization] if o["kind"] not in KEDA_MODELS]
    assert kubernetes
    for obj in kubernetes:
        # raises on an invalid object, and on a kind or API version the schemas do not have
        kubernetes_schemas.validate(obj, version, strict=True)


def test_a_misspelt_kubernetes_field_is_caught_by_the_check(
    rendered: dict[str, list[Object]],
) -> None:
    worker = one(rendered["base"], "Deployment", "audiobatch-worker")
    misspelt = {**worker, "spec": {**worker["spec"], "replica": 2}}
    with pytest.raises(kubernetes_schemas.ValidationError):
        kubernetes_schemas.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_keda_object_matches_the_keda_crds(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    for obj in rendered[kustomization]:
        model = KEDA_MODELS.get(obj["kind"])
        if model is None:
            continue
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        parsed = model.model_validate(obj)
        # the models drop what they do not know: a field misspelt or misplaced shows here
        assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


def test_a_misspelt_keda_field_is_caught_by_the_check(rendered: dict[str, list[Object]]) -> None:
    [scaled] = [o for o in rendered["overlays/nightly"] if o["kind"] == "ScaledObject"]
    misspelt = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}}
    parsed = ScaledObject.model_validate(misspelt)
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") != misspelt


@pytest.mark.parametrize("kustomization", AUTOSCALED)
def test_the_postgresql_trigger_sets_only_what_the_scaler_reads(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    [scaled] = [o for o in rendered[kustomization] if o["kind"] == "ScaledObject"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    assert set(trigger["metadata"]) <= POSTGRESQL_METADATA
    assert {"query", "targetQueryValue"} <= set(trigger["metadata"])
    assert all(isinstance(value, str) for value in trigger["metadata"].values())
