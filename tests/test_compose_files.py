"""The compose files parse and hang together: Docker cannot run here, so what `docker compose
config` would catch first (a service depending on one that does not exist, a build context
that is not there, a scaled service with a fixed host port, a setting the app does not read)
is checked from the YAML itself."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.scale.yml"]
# Issue 15's settings, read by the branches that add them (cache, storage, ops).
CONTRACT_VARIABLES = {
    "CACHE_URL",
    "STORAGE_BUCKET",
    "STORAGE_ENDPOINT_URL",
    "STORAGE_REGION",
    "STORAGE_ACCESS_KEY_ID",
    "STORAGE_SECRET_ACCESS_KEY",
    "METRICS_TOKEN",
    "LOG_FORMAT",
}
APP_SERVICES = ("migrate", "web", "worker")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_service_has_an_image_or_a_build_that_exists(name):
    services = load(name)["services"]
    for service, spec in services.items():
        assert "image" in spec or "build" in spec, service
        if "build" in spec:
            context = spec["build"] if isinstance(spec["build"], str) else spec["build"]["context"]
            assert (ROOT / context / "Dockerfile").is_file(), service


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_dependency_is_a_service_of_the_file(name):
    services = load(name)["services"]
    for service, spec in services.items():
        for dependency in spec.get("depends_on", {}):
            assert dependency in services, f"{service} depends on unknown {dependency}"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_app_reads_every_variable_the_file_sets(name):
    settings = (ROOT / "annotator" / "settings.py").read_text()
    read = set(
        re.findall(
            r"""(?:environ\.get|environ\[|env_bool|env_list)\(?["']([A-Z_]+)["']""", settings
        )
    )
    for service in APP_SERVICES:
        for variable in load(name)["services"][service]["environment"]:
            assert variable in read | CONTRACT_VARIABLES, f"{service}: {variable} is not read"


def test_the_scaled_services_have_no_fixed_host_port_or_name():
    services = load("docker-compose.scale.yml")["services"]
    for service in ("web", "worker"):
        assert "ports" not in services[service], service
        assert "container_name" not in services[service], service
    assert services["proxy"]["ports"], "the proxy is what is reached from outside"


def test_the_replicas_keep_no_state_of_their_own():
    services = load("docker-compose.scale.yml")["services"]
    for service in APP_SERVICES:
        spec = services[service]
        env = spec["environment"]
        assert env["STORAGE_BUCKET"] and env["STORAGE_ENDPOINT_URL"] == "http://minio:9000"
        assert env["CACHE_URL"].startswith("redis://redis:")
        assert env["LOG_FORMAT"] == "json"
        assert "METRICS_TOKEN" in env
        assert not spec.get("volumes"), f"{service} mounts a volume: files belong in the store"
        for needed in ("db", "redis", "bucket"):
            assert needed in waits_for(services, service), f"{service} starts before {needed}"


def waits_for(services: dict, service: str) -> set[str]:
    """Every service ``service`` starts after, directly or through another."""
    found: set[str] = set()
    todo = list(services[service].get("depends_on", {}))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(services[name].get("depends_on", {}))
    return found


def test_the_health_checks_ask_readyz_of_each_replica_and_healthz_through_the_proxy():
    document = load("docker-compose.scale.yml")
    services = document["services"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    proxy_check = " ".join(services["proxy"]["healthcheck"]["test"])
    caddyfile = document["configs"]["caddyfile"]["content"]
    health_port = re.search(r"127\.0\.0\.1:(\d+)", proxy_check).group(1)
    health_site = caddyfile[caddyfile.index(f":{health_port} {{") :]
    assert "rewrite * /healthz" in health_site
    # The proxy finds every replica by the service's DNS name, on the port web exposes.
    assert services["web"]["expose"] == ["8000"]
    assert caddyfile.count("dynamic a web 8000") == 2
    assert {"db", "redis", "minio"} <= {
        name for name, spec in services.items() if "healthcheck" in spec
    }
