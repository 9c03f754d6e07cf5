"""Session-wide fixtures: a real Kafka broker for tests marked ``broker``.

The ``kafka_bootstrap`` fixture takes the first broker source that applies:

1. ``WAL_CONNECTOR_TEST_BOOTSTRAP=host:port``: an already running broker,
   which must support transactions (on a single node that needs
   transaction.state.log.replication.factor=1 and min.isr=1).
2. A Docker engine that responds to a ping: an apache/kafka container through
   testcontainers. Set ``WAL_CONNECTOR_TEST_BROKER_SOURCE=script`` to skip it,
   or ``=testcontainers`` to skip the check.
3. Otherwise ``scripts/kafka-broker``, which runs Kafka from Maven Central jars
   on the local JVM. It needs Java 17 or newer and Maven, and its first run
   downloads about 60 MB.

Sources 2 and 3 are started once per session and stopped at its end, even
when a test or the start itself fails.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

BOOTSTRAP_ENV = "WAL_CONNECTOR_TEST_BOOTSTRAP"
CRASH_SEED_ENV = "CRASH_HARNESS_SEED"
# Skips the Docker check, e.g. where an engine runs but cannot pull images.
SOURCE_ENV = "WAL_CONNECTOR_TEST_BROKER_SOURCE"
# Keep in step with kafka.version in scripts/kafka-broker.pom.xml.
KAFKA_IMAGE = "apache/kafka:4.1.1"

REPO_ROOT = Path(__file__).resolve().parent.parent
BROKER_SCRIPT = REPO_ROOT / "scripts" / "kafka-broker"

DOCKER_PING_TIMEOUT_S = 3
# Covers the first run's Maven download of about 60 MB plus broker startup,
# with room for slow CI machines and slow mirrors.
SCRIPT_START_TIMEOUT_S = 600
BROKER_READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class BrokerPlan:
    """The broker source that the session uses, with the reason shown in the report header."""

    source: str  # "env", "testcontainers" or "script"
    reason: str
    bootstrap: str | None = None


_PLAN_KEY = pytest.StashKey[BrokerPlan]()


def _docker_unavailable_reason() -> str | None:
    """Return why no Docker engine can be used, or None when one responds to a ping."""
    try:
        import docker
        import requests
        import testcontainers.core.container  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed"

    try:
        client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no Docker engine responded ({first_line})"
    return None


def _broker_plan(config: pytest.Config) -> BrokerPlan:
    plan = config.stash.get(_PLAN_KEY, None)
    if plan is not None:
        return plan

    bootstrap = os.environ.get(BOOTSTRAP_ENV, "").strip()
    forced_source = os.environ.get(SOURCE_ENV, "").strip()
    if bootstrap:
        plan = BrokerPlan("env", f"{BOOTSTRAP_ENV} is set", bootstrap)
    elif forced_source:
        if forced_source not in ("testcontainers", "script"):
            raise pytest.UsageError(
                f"{SOURCE_ENV}={forced_source!r} is invalid; use 'testcontainers' or 'script', or unset it"
            )
        plan = BrokerPlan(forced_source, f"{SOURCE_ENV} is set")
    else:
        docker_problem = _docker_unavailable_reason()
        if docker_problem is None:
            plan = BrokerPlan("testcontainers", f"Docker engine responded; image {KAFKA_IMAGE}")
        else:
            plan = BrokerPlan("script", f"{docker_problem}; using {BROKER_SCRIPT.relative_to(REPO_ROOT)}")
    config.stash[_PLAN_KEY] = plan
    return plan


def pytest_configure(config: pytest.Config) -> None:
    # Fix the crash harness seed before its module is imported, so the header
    # below can show it and a failed run can be repeated with it.
    if not os.environ.get(CRASH_SEED_ENV, "").strip():
        os.environ[CRASH_SEED_ENV] = str(random.SystemRandom().randrange(2**32))


def pytest_report_header(config: pytest.Config) -> list[str]:
    plan = _broker_plan(config)
    where = f" at {plan.bootstrap}" if plan.bootstrap else ""
    return [f"kafka broker for tests marked 'broker': {plan.source}{where} ({plan.reason})",
            f"crash harness seed: {os.environ[CRASH_SEED_ENV]} (repeat with {CRASH_SEED_ENV}=...)"]


# ---------------------------------------------------------------------------
# Source 2: apache/kafka container


def _start_kafka_container(request: pytest.FixtureRequest) -> str:
    """Start an apache/kafka container in KRaft combined mode and return its bootstrap address.

    testcontainers' KafkaContainer only drives confluentinc/cp-kafka images, so
    this uses a plain DockerContainer. The advertised listener must name the
    host port that Docker maps, which exists only after the container starts:
    the container therefore waits for a start script that is copied in
    afterwards, the same approach as testcontainers' own Kafka module.

    NOTE: this path has not yet run against a Docker engine; the image's
    /etc/kafka/docker/run entry point and its "Kafka Server started" log line
    are taken from the apache/kafka image sources.
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    client_port = 9092  # published to the host
    broker_port = 9093  # inter-broker traffic inside the container
    controller_port = 9094
    start_script = "/testcontainers-start.sh"

    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_exposed_ports(client_port)
        .with_env("CLUSTER_ID", "oNjjx0RORrufmDwK_yIzkw")
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", f"1@localhost:{controller_port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_INTER_BROKER_LISTENER_NAME", "BROKER")
        .with_env(
            "KAFKA_LISTENERS",
            f"PLAINTEXT://0.0.0.0:{client_port},BROKER://0.0.0.0:{broker_port},"
            f"CONTROLLER://0.0.0.0:{controller_port}",
        )
        .with_env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
        .with_env("KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m")
        .with_command(["sh", "-c", f"while [ ! -f {start_script} ]; do sleep 0.1; done; exec sh {start_script}"])
    )
    request.addfinalizer(container.stop)
    container.start()

    host = container.get_container_host_ip()
    mapped_port = container.get_exposed_port(client_port)
    script = (
        f"export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://{host}:{mapped_port},BROKER://localhost:{broker_port}\n"
        "exec /etc/kafka/docker/run\n"
    )
    container.copy_into_container(script.encode(), start_script)

    wait = LogMessageWaitStrategy("Kafka Server started")
    wait.with_startup_timeout(BROKER_READY_TIMEOUT_S)
    wait.wait_until_ready(container)

    bootstrap = f"{host}:{mapped_port}"
    _wait_for_metadata(bootstrap)
    return bootstrap


def _wait_for_metadata(bootstrap: str) -> None:
    """Block until a Metadata response from bootstrap lists at least one broker."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + BROKER_READY_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if admin.list_topics(timeout=5).brokers:
                return
        except KafkaException as exc:
            last_error = exc
        time.sleep(0.5)
    raise TimeoutError(
        f"Kafka at {bootstrap} did not respond to a Metadata request within "
        f"{BROKER_READY_TIMEOUT_S} s (last error: {last_error})"
    )


# ---------------------------------------------------------------------------
# Source 3: scripts/kafka-broker


def _run_broker_script(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    # sys.executable is the interpreter running pytest, which has confluent-kafka.
    return subprocess.run(
        [sys.executable, str(BROKER_SCRIPT), *args],
        capture_output=True, text=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL,
    )


def _start_script_broker(request: pytest.FixtureRequest, broker_dir: Path) -> str:
    def stop() -> None:
        result = _run_broker_script("stop", "--dir", str(broker_dir), timeout_s=60)
        if result.returncode != 0:
            # A finalizer that raises would hide the test outcome, so report and go on.
            print(
                f"scripts/kafka-broker stop --dir {broker_dir} failed with exit status "
                f"{result.returncode}:\n{result.stderr}",
                file=sys.stderr,
            )

    # Registered before the start so that a broker left running by a failed or
    # timed-out start is stopped as well.
    request.addfinalizer(stop)
    # Port 0: never take 9092 from a demo broker that a developer may be running.
    result = _run_broker_script("start", "--dir", str(broker_dir), "--port", "0", timeout_s=SCRIPT_START_TIMEOUT_S)
    output_lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not output_lines:
        raise RuntimeError(
            f"scripts/kafka-broker start --dir {broker_dir} failed with exit status {result.returncode}. "
            f"Its stderr:\n{result.stderr}\n"
            f"To use another broker, set {BOOTSTRAP_ENV}=host:port."
        )
    return output_lines[-1]


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return the bootstrap address ("host:port") of a Kafka 4.x broker that supports transactions."""
    plan = _broker_plan(request.config)
    if plan.source == "env":
        assert plan.bootstrap is not None
        return plan.bootstrap
    if plan.source == "testcontainers":
        return _start_kafka_container(request)
    return _start_script_broker(request, tmp_path_factory.mktemp("kafka-broker"))
