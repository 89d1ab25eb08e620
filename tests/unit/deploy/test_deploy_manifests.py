"""Deployment files: they parse, name only real settings, and probe endpoints the API serves.

Docker and Kubernetes are not available here, so this is what can be checked without them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from packaging.requirements import Requirement

from nudgeflow.orchestrator.cli import app as cli_app
from nudgeflow.orchestrator.settings import Settings
from tests.support.inbox import InboxStore, inbox_api

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
TEXT_FILES = sorted(
    p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix not in (".pyc",) and "__pycache__" not in p.parts
)
ENV_NAME = re.compile(r"\bNUDGEFLOW_[A-Z0-9_]*[A-Z0-9]\b")
SETTINGS_ENV = {f"NUDGEFLOW_{name.upper()}" for name in Settings.model_fields}


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _k8s(kind: str) -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in _documents(path) if doc.get("kind") == kind]


def _one(kind: str) -> dict[str, Any]:
    [doc] = _k8s(kind)
    return doc


def _compose() -> dict[str, Any]:
    return _documents(DEPLOY / "docker-compose.yml")[0]


def test_the_expected_files_exist() -> None:
    for name in (
        "Dockerfile",
        "docker-compose.yml",
        "requirements.lock",
        "docker-entrypoint.sh",
        "k8s/worker-deployment.yaml",
        "k8s/service.yaml",
        "k8s/topics-job.yaml",
        "k8s/pdb.yaml",
        "k8s/configmap.yaml",
        "k8s/secret.yaml",
    ):
        assert (DEPLOY / name).is_file(), name


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    assert _documents(path), f"{path} holds no document"


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_every_k8s_manifest_has_kind_name_and_namespace(path: Path) -> None:
    for doc in _documents(path):
        assert doc.get("apiVersion") and doc.get("kind"), path
        if doc["kind"] == "Kustomization":
            for resource in doc["resources"]:
                assert (path.parent / resource).is_file(), resource
            continue
        assert doc["metadata"]["name"], path
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "nudgeflow", path


def test_every_nudgeflow_variable_in_deploy_files_is_a_setting() -> None:
    used: dict[str, set[str]] = {}
    for path in TEXT_FILES:
        for name in ENV_NAME.findall(path.read_text(errors="replace")):
            used.setdefault(name, set()).add(str(path.relative_to(DEPLOY)))
    assert used, "no NUDGEFLOW_ variables found at all"
    unknown = {name: sorted(files) for name, files in used.items() if name not in SETTINGS_ENV}
    assert not unknown, f"not Settings fields: {unknown}"


def _configmap_env() -> dict[str, str]:
    return dict(_one("ConfigMap")["data"])


def _compose_env() -> dict[str, str]:
    return {k: str(v) for k, v in _compose()["services"]["worker"]["environment"].items()}


@pytest.mark.parametrize("source", [_configmap_env, _compose_env], ids=["configmap", "compose"])
def test_configured_values_are_valid_settings(source, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    env = source()
    for name in list(os.environ):
        if name.startswith("NUDGEFLOW_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.kafka_bootstrap_servers, "deployments run on a real Kafka, never the embedded broker"
    assert settings.broker_profile == "kafka"


def _served_paths() -> set[str]:
    async def publish(prompt: object) -> None:
        return None

    api = inbox_api(InboxStore(), publish, ready=lambda: True)
    client = TestClient(api)
    served = {path for path in ("/healthz", "/readyz") if client.get(path).status_code == 200}
    worker_source = (REPO / "orchestrator" / "runtime" / "worker.py").read_text()
    if re.search(r'add_api_route\(\s*"/metrics"', worker_source):
        served.add("/metrics")
    return served


def test_probes_and_healthcheck_point_at_served_endpoints() -> None:
    served = _served_paths()
    assert {"/healthz", "/readyz", "/metrics"} <= served
    container = _one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in served
        assert ports.get(get["port"], get["port"]) == 8080
    assert int(_configmap_env()["NUDGEFLOW_API_PORT"]) == 8080
    annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in served
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :].split("\n\n")[0]
    assert "/healthz" in healthcheck and "EXPOSE 8080" in dockerfile


def test_readyz_says_503_until_ready() -> None:
    async def publish(prompt: object) -> None:
        return None

    client = TestClient(inbox_api(InboxStore(), publish, ready=lambda: False))
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_worker_deployment_resources_env_and_selectors() -> None:
    deployment = _one("Deployment")
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) <= set(container["resources"]["limits"])
    assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == [_one("ConfigMap")["metadata"]["name"]]
    secret = _one("Secret")
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    secret_settings = {
        f"NUDGEFLOW_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    assert secret_settings <= set(secret_refs), "every secret setting comes from the Secret"
    assert "optional" not in secret_refs["NUDGEFLOW_INAPP_SIGNING_SECRET"], "replicas must share the key"
    for ref in secret_refs.values():
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    for name in secret_refs:
        assert name in SETTINGS_ENV and name not in _configmap_env(), "secrets never sit in the ConfigMap"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _one("Service")["spec"]["selector"].items() <= labels.items()
    assert _one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _one("Service")["spec"]["ports"][0]["targetPort"] in {p["name"] for p in container["ports"]}


def _cli_commands() -> set[tuple[str, ...]]:
    commands = {(c.name or c.callback.__name__,) for c in cli_app.registered_commands if c.callback}
    for group in cli_app.registered_groups:
        assert group.typer_instance is not None
        for command in group.typer_instance.registered_commands:
            commands.add((str(group.name), command.name or command.callback.__name__))  # type: ignore[union-attr]
    return commands


def test_commands_run_by_the_containers_exist() -> None:
    commands = _cli_commands()
    job = _one("Job")["spec"]["template"]["spec"]["containers"][0]
    assert tuple(job["args"]) == ("topics", "create") in commands
    assert tuple(_one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]) in commands
    services = _compose()["services"]
    assert tuple(services["topics"]["command"]) in commands
    assert tuple(services["worker"]["command"]) in commands
    assert "exec nudgeflow" in (DEPLOY / "docker-entrypoint.sh").read_text()


def test_compose_runs_kafka_in_kraft_mode_and_three_workers() -> None:
    services = _compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["worker"]["deploy"]["replicas"] == 3
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    targets = {secret["target"] for secret in services["worker"]["secrets"]}
    assert "NUDGEFLOW_INAPP_SIGNING_SECRET" in targets, "the three workers must share the token key"
    for secret in services["worker"].get("secrets", []):
        assert secret["source"] in _compose()["secrets"]
        assert (DEPLOY / _compose()["secrets"][secret["source"]]["file"]).is_file()


def test_dockerfile_is_slim_non_root_and_installs_the_lock() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    [user] = re.findall(r"^USER (\S+)", text, re.M)
    assert user.split(":")[0] not in ("0", "root")
    assert "-r /tmp/requirements.lock" in text and "--no-deps" in text
    for copied in re.findall(r"^COPY (?:--\S+ )*(\S+) ", text, re.M):
        if copied != ".":
            assert (REPO / copied).exists(), copied


def test_lock_pins_every_runtime_dependency_and_no_test_tools() -> None:
    import tomllib

    lock = {}
    for line in (DEPLOY / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in lock, f"{name} is not in deploy/requirements.lock: run python deploy/lock.py"
        assert requirement.specifier.contains(lock[name], prereleases=True), (
            f"lock pins {name}=={lock[name]}, pyproject wants {requirement.specifier}: run python deploy/lock.py"
        )
    assert not {"pytest", "ruff", "mypy", "hypothesis", "pyinstrument", "nudgeflow"} & set(lock)
