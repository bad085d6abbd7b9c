"""deploy/k8s: the base and both overlays render, every object is valid for a current Kubernetes release (the
schemas bundled by kubernetes-validate, strict: unknown fields are errors) and KEDA's ScaledObject schema, and they
keep the properties issue 10 asks for. Everything runs offline."""

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.urls import resolve

from tests.deploy.kustomize import UnsupportedKustomization, render
from video_generation.models import JobStep, VideoJob
from video_generation.pipeline import due_steps
from video_generation.pipeline.handlers import MEDIA_KINDS
from video_generation.pipeline.states import ACTIVE_STATUSES
from video_generation.views import HealthApi

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
TARGETS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
CELERY_DEPLOYMENTS = {"worker", "media", "webhooks"}
ROLES = {"api": "api", "worker": "worker", "media": "media", "webhooks": "webhooks", "beat": "beat"}
SECRET_NAME = "video-saas-secrets"
KEDA_SCHEMA = yaml.safe_load((Path(__file__).parent / "keda_scaledobject.schema.yaml").read_text())


@pytest.fixture(params=sorted(TARGETS), scope="module")
def rendered(request) -> list[dict]:
    return render(TARGETS[request.param])


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def config_map(objects: list[dict]) -> dict[str, str]:
    return of_kind(objects, "ConfigMap")["video-saas-config"]["data"]


def keda_errors(obj: dict) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(KEDA_SCHEMA).iter_errors(obj)]


# --- Schemas ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_kubernetes_object_is_valid_for_a_current_release(target):
    objects = [o for o in render(TARGETS[target]) if o["kind"] != "ScaledObject"]
    assert len(objects) >= 14
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_an_unknown_field():
    deployment = of_kind(render(TARGETS["base"]), "Deployment")["api"]
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_scaled_object_matches_kedas_schema(rendered):
    scaled = of_kind(rendered, "ScaledObject")
    assert scaled
    for obj in scaled.values():
        assert keda_errors(obj) == []


def test_the_keda_schema_rejects_a_misspelt_field_and_a_trigger_without_a_connection():
    worker = of_kind(render(TARGETS["base"]), "ScaledObject")["worker"]
    worker["spec"]["minReplicas"] = 1
    assert keda_errors(worker)
    worker = of_kind(render(TARGETS["base"]), "ScaledObject")["worker"]
    del worker["spec"]["triggers"][0]["metadata"]["connectionFromEnv"]
    assert keda_errors(worker)


def test_the_secret_example_is_valid_and_holds_placeholders_only():
    (secret,) = yaml.safe_load_all((K8S / "base" / "secret.example.yaml").read_text())
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    assert secret["metadata"]["name"] == SECRET_NAME
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert value.startswith("<") and value.endswith(">"), f"{key} looks like a real value"


# --- What the issue asks for ------------------------------------------------------------------------------------

def test_there_is_one_deployment_per_role_running_its_role(rendered):
    deployments = of_kind(rendered, "Deployment")
    assert set(deployments) == set(ROLES)
    for name, deployment in deployments.items():
        (container,) = pod_spec(deployment)["containers"]
        assert container["args"] == [ROLES[name]]


def test_the_migration_job_runs_the_migrate_role(rendered):
    (job,) = of_kind(rendered, "Job").values()
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_beat_runs_exactly_one_replica_and_is_recreated_not_rolled(rendered):
    beat = of_kind(rendered, "Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    scalers = [o["spec"]["scaleTargetRef"]["name"] for o in rendered if o["kind"] in
               ("HorizontalPodAutoscaler", "ScaledObject")]
    assert "beat" not in scalers


def test_celery_pods_may_finish_a_task_before_they_are_killed(rendered):
    limits = [int(config_map(rendered)["CELERY_TASK_TIME_LIMIT"]), settings.CELERY_TASK_TIME_LIMIT]
    deployments = of_kind(rendered, "Deployment")
    for name in CELERY_DEPLOYMENTS:
        assert pod_spec(deployments[name])["terminationGracePeriodSeconds"] > max(limits), name


def test_every_deployment_has_a_disruption_budget_selecting_its_pods(rendered):
    budgets = of_kind(rendered, "PodDisruptionBudget")
    for name, deployment in of_kind(rendered, "Deployment").items():
        assert name in budgets, f"no PodDisruptionBudget for {name}"
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert selector == deployment["spec"]["selector"]["matchLabels"]


def test_the_api_scales_on_cpu(rendered):
    (hpa,) = of_kind(rendered, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_keda_scales_media_and_worker_on_due_steps_in_postgresql(rendered):
    scaled = of_kind(rendered, "ScaledObject")
    assert {o["spec"]["scaleTargetRef"]["name"] for o in scaled.values()} == {"media", "worker"}
    for obj in scaled.values():
        assert obj["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert obj["spec"]["minReplicaCount"] <= obj["spec"]["maxReplicaCount"]
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "postgresql"
        assert "video_generation_jobstep" in trigger["metadata"]["query"]
        assert trigger["metadata"]["connectionFromEnv"] == "DATABASE_URL"
    assert scaled["worker"]["spec"]["minReplicaCount"] >= 1, "the celery queue carries the sweepers"


def test_the_scaler_queries_route_steps_as_the_pipeline_does(rendered):
    """The media query counts exactly the cpu_bound kinds (handlers.queue_for), the worker query all the others."""
    scaled = of_kind(rendered, "ScaledObject")
    kinds = ", ".join(f"'{kind}'" for kind in sorted(MEDIA_KINDS))
    media_query = scaled["media"]["spec"]["triggers"][0]["metadata"]["query"]
    worker_query = scaled["worker"]["spec"]["triggers"][0]["metadata"]["query"]
    assert f"s.kind IN ({kinds})" in media_query
    assert f"s.kind NOT IN ({kinds})" in worker_query


def test_the_scaler_queries_are_the_ones_metrics_export(rendered):
    """One definition of due steps (pipeline/due_steps.py): KEDA's queries are its text, word for word."""
    scaled = of_kind(rendered, "ScaledObject")
    for target, steps in (("worker", due_steps.ORCHESTRATION), ("media", due_steps.MEDIA)):
        query = scaled[target]["spec"]["triggers"][0]["metadata"]["query"]
        assert query.split() == due_steps.keda_query(steps).split(), target


def test_no_other_autoscaler_fights_keda_for_the_workers(rendered):
    hpas = of_kind(rendered, "HorizontalPodAutoscaler").values()
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas}.isdisjoint({"media", "worker"})


def test_the_api_is_ready_when_its_health_endpoint_answers(rendered):
    (container,) = pod_spec(of_kind(rendered, "Deployment")["api"])["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        path = container[probe]["httpGet"]["path"]
        assert resolve(path).func.view_class is HealthApi
        (host,) = container[probe]["httpGet"]["httpHeaders"]
        assert host["value"] in settings.ALLOWED_HOSTS or host["value"] in config_map(rendered)["ALLOWED_HOSTS"]
    service = of_kind(rendered, "Service")["api"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_celery_workers_are_live_while_their_heartbeat_file_is_fresh(rendered):
    heartbeat_file = config_map(rendered)["WORKER_HEARTBEAT_FILE"]
    deployments = of_kind(rendered, "Deployment")
    for name in CELERY_DEPLOYMENTS:
        (container,) = pod_spec(deployments[name])["containers"]
        command = container["livenessProbe"]["exec"]["command"]
        assert command[:4] == ["python", "-m", "video_saas.heartbeat", "check"], name
        assert "inspect" not in command
        max_age = float(command[command.index("--max-age") + 1])
        assert max_age > float(config_map(rendered)["WORKER_HEARTBEAT_INTERVAL_SECONDS"]) * 2
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert any(heartbeat_file.startswith(mount + "/") for mount in mounts), "the heartbeat file is not writable"


def test_every_pod_is_scraped_for_metrics_on_the_port_its_container_serves_them(rendered):
    config = config_map(rendered)
    ports = {"api": "8000", **{name: config["WORKER_METRICS_PORT"] for name in CELERY_DEPLOYMENTS}}
    deployments = of_kind(rendered, "Deployment")
    for name, port in ports.items():
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == port and annotations["prometheus.io/path"] == "/metrics", name
        (container,) = pod_spec(deployments[name])["containers"]
        assert int(port) in {p["containerPort"] for p in container["ports"]}, name


def test_each_pod_keeps_its_metrics_files_on_its_own_scratch_volume(rendered):
    directory = config_map(rendered)["PROMETHEUS_MULTIPROC_DIR"]
    for obj in rendered:
        if obj["kind"] in ("Deployment", "Job"):
            for container in pod_spec(obj)["containers"]:
                mounts = {m["mountPath"] for m in container["volumeMounts"]}
                assert any(directory.startswith(mount + "/") for mount in mounts), obj["metadata"]["name"]


def test_every_pod_runs_as_non_root_on_a_read_only_root_with_a_scratch_tmp(rendered):
    for obj in rendered:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert "emptyDir" in volumes[tmp["name"]]


def test_settings_come_from_the_config_map_and_secrets_from_the_secret_only(rendered):
    secret_keys = set(yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())["stringData"])
    assert of_kind(rendered, "Secret") == {}, "a Secret with values is shipped"
    assert secret_keys.isdisjoint(config_map(rendered))
    for obj in rendered:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        for container in pod_spec(obj)["containers"]:
            sources = container["envFrom"]
            assert {"secretRef": {"name": SECRET_NAME}} in sources
            assert {"configMapRef": {"name": "video-saas-config"}} in sources
            assert "env" not in container, "literal env values belong in the ConfigMap or the Secret"


def test_every_container_asks_for_resources(rendered):
    for obj in rendered:
        if obj["kind"] in ("Deployment", "Job"):
            for container in pod_spec(obj)["containers"]:
                assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]


# --- The overlays -----------------------------------------------------------------------------------------------

def test_the_overlays_set_their_own_image_replicas_resources_and_bounds():
    dev, prod = render(TARGETS["dev"]), render(TARGETS["prod"])
    images = {name: {c["image"] for o in objs if o["kind"] in ("Deployment", "Job")
                     for c in pod_spec(o)["containers"]} for name, objs in (("dev", dev), ("prod", prod))}
    assert images == {"dev": {"video-saas:dev"}, "prod": {"registry.example.com/video-saas:1.0.0"}}
    assert of_kind(dev, "Deployment")["api"]["spec"]["replicas"] == 1
    assert of_kind(prod, "Deployment")["api"]["spec"]["replicas"] == 3
    assert of_kind(prod, "HorizontalPodAutoscaler")["api"]["spec"]["maxReplicas"] > \
        of_kind(dev, "HorizontalPodAutoscaler")["api"]["spec"]["maxReplicas"]
    assert of_kind(prod, "ScaledObject")["media"]["spec"]["maxReplicaCount"] > \
        of_kind(dev, "ScaledObject")["media"]["spec"]["maxReplicaCount"]
    dev_media, = pod_spec(of_kind(dev, "Deployment")["media"])["containers"]
    prod_media, = pod_spec(of_kind(prod, "Deployment")["media"])["containers"]
    assert dev_media["resources"]["requests"]["cpu"] != prod_media["resources"]["requests"]["cpu"]
    assert prod_media["livenessProbe"] == dev_media["livenessProbe"], "a resources patch dropped the probe"


def test_the_renderer_refuses_kustomize_features_it_does_not_apply(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(UnsupportedKustomization):
        render(tmp_path)


def test_the_scaler_queries_name_the_real_tables_and_the_active_statuses(rendered):
    """Run on PostgreSQL by test_keda_queries_on_postgres; this catches a renamed table or status without it."""
    active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    for obj in of_kind(rendered, "ScaledObject").values():
        query = obj["spec"]["triggers"][0]["metadata"]["query"]
        assert f"FROM {JobStep._meta.db_table} s" in query
        assert f"JOIN {VideoJob._meta.db_table} j" in query
        assert f"j.status IN ({active})" in query
