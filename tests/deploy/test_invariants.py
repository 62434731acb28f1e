"""What the rendered manifests promise beyond their schemas: workers outlast their shutdown grace,
one scheduler, probes on every process, no secret in the manifests, non-root pods with a home of
their own, every queue served, and a worker fleet sized from the account's concurrency."""

from __future__ import annotations

import math
import re
import tomllib

import pytest

from audiobatch.config import Settings
from audiobatch.render.families import CONTROL_QUEUE, QUEUES
from tests.deploy.manifests import (
    AUTOSCALED,
    KUBERNETES,
    KUSTOMIZATIONS,
    REPO,
    Object,
    containers,
    one,
    option,
    pod_specs,
    settings,
)

# after the grace: jobs and limiter slots handed back, the process gone (audiobatch/worker/shutdown.py)
HAND_BACK_S = 30
SECRET_SETTINGS = {
    "ELEVENLABS_API_KEY", "AUDIOBATCH_DATABASE_URL", "AUDIOBATCH_BROKER_URL",
    "AUDIOBATCH_REDIS_URL", "AUDIOBATCH_DASHBOARD_TOKEN", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "KEDA_DATABASE_URL",
}  # fmt: skip
SECRET = "audiobatch"
PROBE = "/etc/audiobatch/probes/heartbeat_probe.py"
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")

every_kustomization = pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
every_autoscaled = pytest.mark.parametrize("kustomization", AUTOSCALED)


def secret_keys() -> set[str]:
    """The keys of the Secret, as ``secret.env.example`` lists them."""
    lines = (KUBERNETES / "secret.env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def running(objects: list[Object], command: str) -> list[tuple[Object, Object]]:
    """The workloads whose container runs ``audiobatch <command>``, with that container."""
    return [(obj, c) for obj, c in containers(objects) if c["args"][0] == command]


def queues_by_deployment(objects: list[Object]) -> dict[str, set[str]]:
    return {
        obj["metadata"]["name"]: set((option(c["args"], "--queues") or ",".join(QUEUES)).split(","))
        for obj, c in running(objects, "worker")
    }


def scaled_objects(objects: list[Object]) -> list[Object]:
    return [o for o in objects if o["kind"] == "ScaledObject"]


@every_kustomization
def test_a_worker_outlasts_its_shutdown_grace(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    grace_s = float(settings(objects)["AUDIOBATCH_SHUTDOWN_GRACE_S"])
    workers = running(objects, "worker")
    assert len(workers) == 2  # the render workers and the control worker
    for obj, _ in workers:
        pod = obj["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= grace_s + HAND_BACK_S


@every_kustomization
def test_one_scheduler_runs_and_is_replaced_rather_than_rolled(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    [(scheduler, _)] = running(rendered[kustomization], "scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}


@every_kustomization
def test_every_process_has_liveness_and_readiness_probes_workers_from_their_heartbeat(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    for obj, container in containers(objects):
        if obj["kind"] != "Deployment":
            continue
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container)
        role = container["args"][0]
        if role not in ("worker", "scheduler"):
            continue
        assert container["readinessProbe"]["exec"]["command"] == ["python", PROBE, role]
        assert container["startupProbe"]["exec"]["command"] == ["python", PROBE, role]
        # a database away makes every heartbeat stale: a restart would not help
        liveness = container["livenessProbe"]["exec"]["command"]
        assert liveness == ["python", PROBE, role, "--pass-when-unknown"]
        # each probe's run ends (the script reads for 15 s at most) before the kubelet gives up
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["timeoutSeconds"] > 15
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in obj["spec"]["template"]["spec"]["volumes"]}
        [probes] = [name for name, path in mounts.items() if PROBE.startswith(path + "/")]
        assert volumes[probes]["configMap"]["name"].startswith("audiobatch-probes-")
    script = (KUBERNETES / "base" / "heartbeat_probe.py").read_text()
    [probes_map] = [o for o in objects if o["metadata"]["name"].startswith("audiobatch-probes-")]
    assert probes_map["data"] == {"heartbeat_probe.py": script}


@every_kustomization
def test_no_secret_is_written_into_the_manifests(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects, keys = rendered[kustomization], secret_keys()
    assert SECRET_SETTINGS >= keys >= SECRET_SETTINGS - {"AUDIOBATCH_REDIS_URL"}
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert not SECRET_SETTINGS & set(settings(objects))
    for obj, container in containers(objects):
        assert "secretRef" not in str(container.get("envFrom", []))  # each key named where used
        for env in container.get("env", []):
            if env["name"] in SECRET_SETTINGS:
                assert "value" not in env, f"{obj['metadata']['name']}: {env['name']} inline"
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET and ref["key"] in keys
                assert not ref.get("optional", False)
    for auth in (o for o in objects if o["kind"] == "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["name"] == SECRET and ref["key"] in keys
    assert not CREDENTIALS_IN_URL.search(str(objects))


@every_kustomization
def test_each_process_gets_the_credentials_it_uses(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    every = {"ELEVENLABS_API_KEY", "AUDIOBATCH_DATABASE_URL", "AUDIOBATCH_BROKER_URL"}
    storage = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    needs = {
        "worker": every | storage,
        "scheduler": {"AUDIOBATCH_DATABASE_URL", "AUDIOBATCH_BROKER_URL"},
        "dashboard": every | storage | {"AUDIOBATCH_DASHBOARD_TOKEN"},
        "db": {"AUDIOBATCH_DATABASE_URL"},
    }
    for obj, container in containers(rendered[kustomization]):
        given = {env["name"] for env in container.get("env", [])}
        assert given == needs[container["args"][0]], obj["metadata"]["name"]


@every_kustomization
def test_the_dashboard_listens_on_every_address_only_with_a_token(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    [(_, dashboard)] = running(rendered[kustomization], "dashboard")
    assert option(dashboard["args"], "--host") == "0.0.0.0"
    [token] = [e for e in dashboard["env"] if e["name"] == "AUDIOBATCH_DASHBOARD_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": token["name"]}


@every_kustomization
def test_every_pod_runs_as_a_user_with_a_writable_home_of_its_own(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    home = settings(objects)["AUDIOBATCH_HOME"]
    for obj, pod in pod_specs(objects):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            writable = {
                m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs
            }
            assert {home, "/tmp"} <= writable, obj["metadata"]["name"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]


@every_kustomization
def test_the_settings_are_ones_audiobatch_reads_and_outputs_go_to_shared_storage(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    values = settings(rendered[kustomization])
    known = {f"AUDIOBATCH_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in values if not k.startswith("AWS_")} <= known
    Settings.model_validate({k.removeprefix("AUDIOBATCH_").lower(): v for k, v in values.items()})
    # each pod's home is its own and goes with the pod: the outputs must not be written there
    assert values["AUDIOBATCH_STORAGE_URL"].startswith("s3://")


@every_kustomization
def test_every_queue_has_a_worker_and_the_control_queue_one_that_always_runs(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    served = queues_by_deployment(objects)
    assert set().union(*served.values()) == set(QUEUES)
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in scaled_objects(objects)}
    # the schedules fire and retries come back through the control queue, also while the
    # render workers are scaled to zero
    [control] = [name for name, queues in served.items() if CONTROL_QUEUE in queues]
    assert control not in scaled
    assert one(objects, "Deployment", control)["spec"]["replicas"] >= 1


@every_kustomization
def test_drains_evict_one_worker_at_a_time_and_keep_a_dashboard(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    budgets = {}
    for budget in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        [target] = [
            obj["metadata"]["name"]
            for obj, pod in pod_specs(objects)
            if obj["kind"] == "Deployment"
            and selector.items() <= obj["spec"]["template"]["metadata"]["labels"].items()
        ]
        budgets[target] = budget["spec"]
    # a minimum would block every drain of a fleet scaled down to it
    assert budgets["audiobatch-worker"]["maxUnavailable"] == 1
    assert "minAvailable" not in budgets["audiobatch-worker"]
    assert budgets["audiobatch-dashboard"]["minAvailable"] == 1
    assert one(objects, "Deployment", "audiobatch-dashboard")["spec"]["replicas"] > 1


@every_kustomization
def test_the_migration_job_upgrades_the_database(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    [(job, container)] = running(rendered[kustomization], "db")
    assert job["kind"] == "Job" and container["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # the upgrade applies it alone first, by this label (deploy/kubernetes/README.md)
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"


@every_autoscaled
def test_the_worker_maximum_is_twice_the_account_slots_in_threads(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    values = settings(objects)
    slots = int(values["AUDIOBATCH_API_CONCURRENCY"]) + int(values["AUDIOBATCH_MUSIC_CONCURRENCY"])
    [scaled] = scaled_objects(objects)
    worker = one(objects, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    [container] = worker["spec"]["template"]["spec"]["containers"]
    threads = int(option(container["args"], "--concurrency") or 2 * slots)
    assert scaled["spec"]["maxReplicaCount"] == math.ceil(2 * slots / threads)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["metricType"] == "AverageValue"
    assert float(trigger["metadata"]["targetQueryValue"]) == threads


@every_autoscaled
def test_keda_alone_sets_the_number_of_render_workers_from_the_jobs_table(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    objects = rendered[kustomization]
    [scaled] = scaled_objects(objects)
    target = scaled["spec"]["scaleTargetRef"]["name"]
    assert queues_by_deployment(objects)[target] == set(QUEUES) - {CONTROL_QUEUE}
    assert "replicas" not in one(objects, "Deployment", target)["spec"]
    [trigger] = scaled["spec"]["triggers"]
    assert re.search(r"\bFROM jobs WHERE status IN\b", trigger["metadata"]["query"])
    auth = one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert [ref["parameter"] for ref in auth["spec"]["secretTargetRef"]] == ["connection"]
    assert 0 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_nightly_workers_scale_to_zero_between_runs_and_wake_for_one_job(
    rendered: dict[str, list[Object]],
) -> None:
    [scaled] = scaled_objects(rendered["overlays/nightly"])
    assert scaled["spec"]["minReplicaCount"] == 0
    assert scaled["spec"]["triggers"][0]["metadata"]["activationTargetQueryValue"] == "0"
    assert scaled["spec"]["cooldownPeriod"] > 0


@pytest.mark.parametrize("kustomization", ["overlays/production", "overlays/nightly"])
def test_the_overlays_run_the_image_of_this_release(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    images = {c["image"] for _, c in containers(rendered[kustomization])}
    assert len(images) == 1
    [image] = images
    assert image.rsplit(":", 1)[1] == version


@every_kustomization
def test_the_first_upgrade_step_applies_what_the_migration_needs_and_no_process(
    rendered: dict[str, list[Object]], kustomization: str
) -> None:
    readme = (KUBERNETES / "README.md").read_text()
    excluded = ("worker", "control", "scheduler", "dashboard")
    assert f"-l 'app.kubernetes.io/component notin ({','.join(excluded)})'" in readme
    first = [
        o
        for o in rendered[kustomization]
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") not in excluded
    ]
    assert not [o for o in first if o["kind"] == "Deployment"]
    [(job, container)] = running(first, "db")
    names = {(o["kind"], o["metadata"]["name"]) for o in first}
    pod = job["spec"]["template"]["spec"]
    assert ("ServiceAccount", pod["serviceAccountName"]) in names
    for source in container["envFrom"]:
        assert ("ConfigMap", source["configMapRef"]["name"]) in names
