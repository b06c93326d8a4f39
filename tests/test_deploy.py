"""The deployment files (deploy/), validated as far as this machine can without Docker or a cluster:
the image's entry commands run outside a container, the instance configuration loads against a
real PostgreSQL, the ECS task definition against the ECS API's own model, the ECS launcher config
against its schema, and the Helm values against the chart's documented keys."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from pii_pipeline.local_deployment import CODE_SERVER_COMMAND, INSTANCE_YAML
from pii_pipeline.local_postgres import LocalPostgres, postgres_bin_dir

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SECRETS = {"OPENAI_API_KEY", "PII_DOCUMENT_PASSWORDS", "DAGSTER_POSTGRES_URL"}
CANARY = "canary-Pw-93410"


def tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def dockerfile(instruction: str) -> list[str]:
    return [args for name, args in dockerfile_instructions() if name == instruction]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries missing: `make test` installs them (postgresql)")
    with LocalPostgres() as pg:
        yield pg


def production_home(tmp_path: Path, postgres: LocalPostgres, name: str = "home") -> dict:
    """A DAGSTER_HOME holding deploy/dagster.yaml as shipped, and the environment it reads: the
    database URL carries a password (ignored by the test cluster's trust authentication) that no
    output may show."""
    home = tmp_path / name
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML.read_text())
    url = postgres.url.replace("postgres@", f"postgres:{CANARY}@")
    return {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_POSTGRES_URL": url}


def test_dockerfile_builds_what_the_project_installs() -> None:
    # The packages the image copies are the ones setuptools packages.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source for args in dockerfile("COPY") for source in args.split()[:-1]}
    assert packages <= copied
    assert {"pyproject.toml", "README.md"} <= copied
    for source in copied - {"pyproject.toml", "README.md"}:
        assert (ROOT / source).is_dir(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert all(f"!{name}/" in ignore for name in packages)
    # The system packages `make` installs, plus tini.
    makefile = (ROOT / "Makefile").read_text()
    wanted = set(re.search(r"^APT_PACKAGES := (.+)$", makefile, re.M).group(1).split())
    (install,) = [args for args in dockerfile("RUN") if "apt-get install" in args]
    assert wanted - {"python3-venv"} <= set(install.split())
    assert dockerfile("FROM") == ["python:3.11-slim-bookworm"]
    # Non-root, with the instance configuration in DAGSTER_HOME.
    assert dockerfile("USER") == ["10001:10001"]
    assert "ARG INSTANCE_YAML=deploy/dagster.yaml" in [f"ARG {a}" for a in dockerfile("ARG")]


def image_command() -> list[str]:
    (cmd,) = dockerfile("CMD")
    (entrypoint,) = dockerfile("ENTRYPOINT")
    assert json.loads(entrypoint) == ["/usr/bin/tini", "--"]
    return json.loads(cmd)


def test_image_command_is_the_code_server_command() -> None:
    command = image_command()
    assert tuple(command[: len(CODE_SERVER_COMMAND)]) == CODE_SERVER_COMMAND
    assert command[len(CODE_SERVER_COMMAND) :] == ["-h", "0.0.0.0", "-p", "4000"]


def test_image_command_serves_the_code_location(tmp_path: Path, postgres) -> None:
    """The Dockerfile's CMD, outside a container: on loopback and a free port instead of
    0.0.0.0:4000, against the production instance configuration on PostgreSQL."""
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._serdes import deserialize_value

    env = production_home(tmp_path, postgres)
    command = image_command()
    port = free_port()
    command[command.index("-h") + 1] = "127.0.0.1"
    command[command.index("-p") + 1] = str(port)
    log = (tmp_path / "code_server.log").open("wb")
    server = subprocess.Popen(
        [tool(command[0]), *command[1:]],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # SIGINT as a container's init gives it: a suite started in the background (`&`) would
        # pass SIGINT ignored, and Dagster maps SIGTERM onto SIGINT's handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + 180
        while True:
            health = subprocess.run(
                [tool("dagster"), "api", "grpc-health-check", "-p", str(port)],
                env=env,
                capture_output=True,
                timeout=60,
            )
            if health.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "code_server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the code server did not start"
            time.sleep(1)
        assert client.ping("pii")["echo"] == "pii"
        repositories = deserialize_value(client.list_repositories())
        assert repositories.repository_symbols  # the location's definitions loaded
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    output = (tmp_path / "code_server.log").read_text()
    assert CANARY not in output


def test_one_shot_entry_commands_answer() -> None:
    for command in (["process", "--help"], ["metrics", "--help"]):
        done = subprocess.run(
            [tool("pii-pipeline"), *command], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "usage: pii-pipeline" in done.stdout


def test_production_instance_configuration_loads_on_postgres(tmp_path: Path, postgres) -> None:
    env = production_home(tmp_path, postgres)
    done = subprocess.run(
        [tool("dagster"), "instance", "info"], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for name in ("PostgresRunStorage", "PostgresEventLogStorage", "DefaultRunLauncher"):
        assert name in out, out
    assert CANARY not in out + done.stderr

    import dagster as dg

    os.environ["DAGSTER_POSTGRES_URL"] = env["DAGSTER_POSTGRES_URL"]
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            queue = instance.get_concurrency_config().run_queue_config
            assert queue.max_concurrent_runs == 8
            assert {(t["key"], t.get("value")) for t in queue.tag_concurrency_limits} == {
                ("pii/job", "publish_dataset"),
                ("dagster/retry_number", None),
            }
            pools = instance.get_concurrency_config().pool_config
            assert pools.pool_granularity.value == "run" and pools.default_pool_limit == 6
            assert instance.run_monitoring_enabled
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 0
    finally:
        del os.environ["DAGSTER_POSTGRES_URL"]


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_ecs_instance_configuration_is_the_production_one_with_the_ecs_launcher() -> None:
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_aws.ecs import EcsRunLauncher

    base, ecs = load_yaml(INSTANCE_YAML), load_yaml(DEPLOY / "ecs" / "dagster.yaml")
    launcher = ecs.pop("run_launcher")
    assert ecs["run_monitoring"].pop("max_resume_run_attempts") == 2
    assert base["run_monitoring"].pop("max_resume_run_attempts") == 0
    assert ecs == base
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    checked = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    # The whole file against Dagster's instance schema (no AWS call: nothing is instantiated).
    config, _ = dagster_instance_config(str(DEPLOY / "ecs"))
    assert config["run_launcher"]["class"] == "EcsRunLauncher"


def test_ecs_task_definition_is_valid_and_takes_secrets_from_secrets_manager() -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    definition = json.loads((DEPLOY / "ecs" / "task-definition.json").read_text())
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(definition, shape)
    assert not report.has_errors(), report.generate_report()

    launcher = load_yaml(DEPLOY / "ecs" / "dagster.yaml")["run_launcher"]["config"]
    (container,) = definition["containerDefinitions"]
    assert container["name"] == launcher["container_name"]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["DAGSTER_RUN_TASK_DEFINITION"] == definition["family"]
    secrets = {item["name"]: item["valueFrom"] for item in container["secrets"]}
    assert set(secrets) == SECRETS and not SECRETS & set(environment)
    assert all(arn.startswith("arn:aws:secretsmanager:") for arn in secrets.values())
    assert definition["executionRoleArn"]  # it reads the secrets when the task starts


def test_workspace_points_at_the_code_server_port(monkeypatch) -> None:
    from dagster._core.workspace.config_schema import process_workspace_config

    monkeypatch.setenv("PII_CODE_SERVER_HOST", "pii-pipeline.internal")
    workspace = load_yaml(DEPLOY / "workspace.yaml")
    assert process_workspace_config(workspace).success
    (location,) = workspace["load_from"]
    assert location["grpc_server"]["port"] == int(image_command()[-1])


# The chart's documented keys, from its values schema (helm/dagster/schema/schema/charts/ in
# dagster-io/dagster: dagster/values.py, subschema/daemon.py, subschema/run_launcher.py,
# subschema/concurrency.py, subschema/postgresql.py, subschema/global_.py,
# dagster_user_deployments/subschema/user_deployments.py). A key outside them is ignored by the
# chart's templates or rejected by its JSON schema.
CHART_KEYS = {
    "": {
        "dagsterWebserver", "dagster-user-deployments", "postgresql",
        "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "rabbitmq", "redis",
        "flower", "ingress", "imagePullSecrets", "computeLogManager", "scheduler", "runLauncher",
        "pythonLogs", "dagsterDaemon", "busybox", "migrate", "telemetry", "serviceAccount",
        "global", "retention", "concurrency", "additionalInstanceConfig",
    },
    "global": {"postgresqlSecretName", "dagsterHome", "serviceAccountName",
               "celeryConfigSecretName"},
    "postgresql": {"image", "enabled", "postgresqlHost", "postgresqlUsername",
                   "postgresqlPassword", "postgresqlDatabase", "postgresqlParams",
                   "postgresqlScheme", "service"},
    "dagster-user-deployments": {"enabled", "enableSubchart", "imagePullSecrets", "deployments"},
    "deployment": {
        "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
        "port", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity",
        "tolerations", "podSecurityContext", "securityContext", "resources", "livenessProbe",
        "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes", "schedulerName",
    },
    "runLauncher": {"type", "config"},
    "k8sRunLauncher": {
        "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
        "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
        "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig",
    },
    "dagsterDaemon": {
        "enabled", "image", "runCoordinator", "heartbeatTolerance", "env", "envConfigMaps",
        "envSecrets", "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations",
        "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe",
        "startupProbe", "annotations", "runMonitoring", "runRetries", "sensors", "schedules",
        "schedulerName", "volumeMounts", "volumes",
    },
    "runCoordinator": {"enabled", "type", "config"},
    "queuedRunCoordinator": {"maxConcurrentRuns", "tagConcurrencyLimits",
                             "dequeueIntervalSeconds", "dequeueNumWorkers", "dequeueUseThreads"},
    "concurrency": {"enabled", "pools", "runs"},
    "concurrency.pools": {"defaultLimit", "granularity", "opGranularityRunBuffer"},
    "concurrency.runs": {"maxConcurrentRuns", "tagConcurrencyLimits"},
}  # fmt: skip


def test_helm_values_use_the_charts_keys_and_say_what_the_instance_file_says() -> None:
    values = load_yaml(DEPLOY / "helm" / "values.yaml")
    daemon = values["dagsterDaemon"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]
    sections = {
        "": values,
        "global": values["global"],
        "postgresql": values["postgresql"],
        "dagster-user-deployments": values["dagster-user-deployments"],
        "deployment": deployment,
        "runLauncher": launcher,
        "k8sRunLauncher": launcher["config"]["k8sRunLauncher"],
        "dagsterDaemon": daemon,
        "runCoordinator": daemon["runCoordinator"],
        "queuedRunCoordinator": daemon["runCoordinator"]["config"]["queuedRunCoordinator"],
        "concurrency": values["concurrency"],
        "concurrency.pools": values["concurrency"]["pools"],
        "concurrency.runs": values["concurrency"]["runs"],
    }
    for name, section in sections.items():
        assert set(section) <= CHART_KEYS[name], (name, set(section) - CHART_KEYS[name])
    assert launcher["type"] == "K8sRunLauncher"
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    # The image's command, and secrets only from Kubernetes secrets.
    assert ["dagster", "api", "grpc", *deployment["dagsterApiGrpcArgs"]] == list(
        CODE_SERVER_COMMAND
    )
    assert deployment["port"] == int(image_command()[-1])
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert not SECRETS & set(deployment["env"])
    assert deployment["envSecrets"] and values["generatePostgresqlPasswordSecret"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert deployment["podSecurityContext"]["runAsUser"] == 10001
    # The same instance settings as deploy/dagster.yaml, in the chart's spelling.
    base = load_yaml(INSTANCE_YAML)
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert runs["maxConcurrentRuns"] == base["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == base["concurrency"]["runs"]["tag_concurrency_limits"]
    assert pools == {
        "granularity": base["concurrency"]["pools"]["granularity"],
        "defaultLimit": base["concurrency"]["pools"]["default_limit"],
    }
    monitoring = base["run_monitoring"]
    assert daemon["runMonitoring"] == {
        "enabled": True,
        "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "cancelTimeoutSeconds": monitoring["cancel_timeout_seconds"],
        "maxResumeRunAttempts": 2,
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
        "freeSlotsAfterRunEndSeconds": monitoring["free_slots_after_run_end_seconds"],
    }
    coordinator = base["run_coordinator"]["config"]
    assert daemon["runCoordinator"]["config"]["queuedRunCoordinator"] == {
        "dequeueUseThreads": coordinator["dequeue_use_threads"],
        "dequeueNumWorkers": coordinator["dequeue_num_workers"],
    }
    assert daemon["runRetries"] == {
        "enabled": True,
        "maxRetries": base["run_retries"]["max_retries"],
    }
