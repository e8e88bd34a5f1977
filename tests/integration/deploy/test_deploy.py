"""The deployment files: Kubernetes manifests valid against the Kubernetes schemas (offline,
with the schemas kubernetes-validate ships), the topology's shape, the image, the nginx config."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from nanobrain.config import load_settings
from tests.support.cluster import PROXY_RULES
from tests.support.server import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.30.0"


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def resource(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize(("path", "document"), documents(), ids=lambda v: str(v)[:40])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(
    path: str, document: dict[str, Any]
) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    files = {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_the_topology_stateless_api_with_probes_and_autoscaling_plus_workers() -> None:
    api = resource("Deployment", "nanobrain-api")["spec"]["template"]["spec"]
    container = api["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live"
    hpa = resource("HorizontalPodAutoscaler", "nanobrain-api")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "nanobrain-api" and hpa["minReplicas"] >= 2
    service = resource("Service", "nanobrain-api")["spec"]
    assert service.get("sessionAffinity", "None") == "None", "nothing sticky"
    worker = resource("Deployment", "nanobrain-worker")["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"][0] == "worker"
    for pod in (api, worker):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert {
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["volumes"]
            if "persistentVolumeClaim" in v
        } == {"nanobrain-files"}
    files = resource("PersistentVolumeClaim", "nanobrain-files")["spec"]
    assert files["accessModes"] == ["ReadWriteMany"], "replicas and workers share the files"
    ingress = resource("Ingress", "nanobrain")
    assert ingress["spec"]["tls"]
    assert (
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    )
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in documents()}
    assert {("StatefulSet", "postgres"), ("StatefulSet", "redis"), ("ConfigMap", "nanobrain"),
            ("Secret", "nanobrain")} <= kinds  # fmt: skip


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM .+$", dockerfile, re.MULTILINE)
    assert len(stages) >= 2 and " AS " in stages[0]
    final = dockerfile.rpartition(stages[-1])[2]
    user = re.findall(r"^USER (\S+)$", final, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert "COPY --from=build" in final


def test_the_nginx_config_is_accepted_by_nginx(tmp_path: Path, nginx_binary: str) -> None:
    nginx = nginx_binary
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp_path / "tls.key"),
         "-out", str(tmp_path / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    config = (DEPLOY / "nginx" / "nginx.conf").read_text()
    for old, new in {
        "api-1:8000": "127.0.0.1:18001",
        "api-2:8000": "127.0.0.1:18002",
        "/etc/nginx/tls/": f"{tmp_path}/",
        "include nanobrain-proxy.conf": f"include {PROXY_RULES}",
        "include mime.types": "include /etc/nginx/mime.types",
    }.items():
        assert old in config
        config = config.replace(old, new)
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    rules = PROXY_RULES.read_text()
    assert "proxy_buffering off" in rules and "Upgrade $http_upgrade" in rules


def test_the_manifests_configure_the_proxy_trust_and_the_metrics_token() -> None:
    """The replicas believe X-Forwarded-For from the Ingress' pods only, and Prometheus scrapes
    the API and the workers with the metrics token from the Secret."""
    environment = {
        **resource("ConfigMap", "nanobrain")["data"],
        **resource("Secret", "nanobrain")["stringData"],
    }
    settings = load_settings(environ=environment)
    assert settings.profile == "production"
    assert settings.web_interface.server_config.forwarded_allow_ips
    assert "*" not in settings.web_interface.server_config.forwarded_allow_ips
    assert settings.web_interface.monitoring.metrics_token is not None
    worker = resource("Deployment", "nanobrain-worker")["spec"]["template"]
    assert "prometheus.io/scrape" not in worker["metadata"].get("annotations", {})
    probe = worker["spec"]["containers"][0]["livenessProbe"]["httpGet"]
    assert probe == {"path": "/health/live", "port": "metrics"}, "answered without the token"
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["nanobrain-api"]["metrics_path"] == "/api/v1/metrics"
    assert jobs["nanobrain-worker"]["metrics_path"] == "/metrics"
    for job in jobs.values():
        assert job["authorization"]["type"] == "Bearer"
        assert job["authorization"]["credentials_file"].endswith("/NANOBRAIN_METRICS_TOKEN")


def test_nginx_passes_on_the_address_it_saw_not_the_one_the_client_wrote() -> None:
    rules = PROXY_RULES.read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in rules
    assert "$proxy_add_x_forwarded_for" not in rules
