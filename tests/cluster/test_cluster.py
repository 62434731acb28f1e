"""Three hosts render one batch while one of them is lost, cut off, cut from the broker or slowed,
or while their clocks disagree by many leases: every batch ends with each output the generation that won, `check --objects` and `verify` clean,
and no generation paid twice, except for jobs in flight on a host lost or cut off from the
database (a host that still reaches it finishes what it holds)."""

from __future__ import annotations

from pathlib import Path

from tests.cluster.cluster import LEASE_S, Cluster, Deployment, Fault, Outcome, run_scenario
from tests.cluster.services import RABBIT, REDIS, SLOW_LINK_MS


def assert_clean(outcome: Outcome, in_flight_paid_twice: bool = False) -> None:
    assert outcome.report["status"] == "succeeded", f"{outcome.report['counts']}\n{outcome.logs}"
    assert outcome.problems == []
    assert outcome.checked == ""
    assert outcome.verified == ""
    assert outcome.extra_generations <= (outcome.in_flight if in_flight_paid_twice else 0), outcome
    print(
        f"{len(outcome.report['jobs'])} jobs in {outcome.seconds:.1f} s, {outcome.in_flight} in "
        f"flight on the host at fault, {outcome.extra_generations} generations beyond one a job, "
        f"{outcome.restarts} processes restarted"
    )


def test_a_host_lost_with_its_disk_costs_no_more_than_the_jobs_it_held(
    cluster: Cluster, tmp_path: Path
) -> None:
    fault = Fault("host lost", begin=lambda host: host.lose())
    assert_clean(run_scenario(cluster, tmp_path, fault), in_flight_paid_twice=True)


def test_a_host_cut_off_for_two_leases_then_healed_changes_nothing_it_lost(
    cluster: Cluster, tmp_path: Path
) -> None:
    network = cluster.network
    fault = Fault(
        "cut off", begin=lambda host: network.cut(host.name),
        end=lambda host: network.heal(host.name), lasts_s=2 * LEASE_S,
    )  # fmt: skip
    assert_clean(run_scenario(cluster, tmp_path, fault), in_flight_paid_twice=True)


def test_a_host_cut_from_the_broker_alone_for_two_leases_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    network = cluster.network
    fault = Fault(
        "cut from Redis", begin=lambda host: network.cut_from(host.name, REDIS),
        end=lambda host: network.heal_from(host.name, REDIS), lasts_s=2 * LEASE_S,
    )  # fmt: skip
    assert_clean(run_scenario(cluster, tmp_path, fault))


def test_a_slow_link_to_one_host_costs_no_extra_generation(
    cluster: Cluster, tmp_path: Path
) -> None:
    services = cluster.services
    fault = Fault(
        f"{SLOW_LINK_MS} ms each way", begin=lambda _: services.slow_down(True),
        end=lambda _: services.slow_down(False), lasts_s=3 * LEASE_S,
    )  # fmt: skip
    assert_clean(run_scenario(cluster, tmp_path, fault, Deployment(slow_host="h1")))


def test_on_rabbitmq_a_host_cut_from_the_broker_alone_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    if not cluster.services.rabbitmq:
        cluster.services.start_rabbitmq()
    network = cluster.network
    fault = Fault(
        "cut from RabbitMQ", begin=lambda host: network.cut_from(host.name, RABBIT),
        end=lambda host: network.heal_from(host.name, RABBIT), lasts_s=2 * LEASE_S,
    )  # fmt: skip
    assert_clean(run_scenario(cluster, tmp_path, fault, Deployment(broker="rabbitmq")))


def test_hosts_whose_clocks_are_leases_apart_pay_no_generation_twice(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The scheduler's host (the last) is 15 leases ahead, the first host 15 behind: by their own
    clocks every lease the first writes would be long over when the scheduler looks."""
    skew_s = 15 * LEASE_S
    deployment = Deployment(clock_off_s={"h1": -skew_s, "h3": skew_s})
    fault = Fault("clocks off", begin=lambda _: None)
    assert_clean(run_scenario(cluster, tmp_path, fault, deployment))
