"""deploy/kustomize: every rendered manifest is valid Kubernetes, and says what docs/deploy.md says.

Each kustomization is rendered (tests/deploy/kustomize_render.py, checked
against `kubectl kustomize` where that is installed) and every resource is
validated, strictly (no unknown fields), against the Kubernetes OpenAPI schemas
that kubernetes-validate bundles, for the oldest Kubernetes the manifests
support and the newest the validator knows. Then what the manifests promise:
replicas, probes, resources, a PodDisruptionBudget and HPA that point at the
Deployment, a migration Job that runs `mlineage db upgrade` with the server's
image, and a Kubeflow overlay that keeps KFP's service name, port and labels.
The commands the manifests run are parsed by mlineage's own argument parser.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml
from dockerfile_parts import stages
from kustomize_render import RenderError, key, load_documents, render
from paths import REPO_ROOT

import mlineage
from mlineage.cli import build_parser

KUSTOMIZE = REPO_ROOT / "deploy" / "kustomize"
KUSTOMIZATIONS = ["base", "migrate", "overlays/kubeflow", "overlays/tls"]
# The grpc probe is GA from 1.27; autoscaling/v2 and policy/v1 are older. The newest: what the validator bundles.
KUBERNETES_VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]
# What KFP's driver, launcher and the UI's envoy dial (KFP's metadata-grpc-configmap and manifests).
KFP_SERVICE, KFP_PORT, KFP_PORT_NAME = "metadata-grpc-service", 8080, "grpc-api"
KFP_POD_LABEL = {"component": "metadata-grpc-server"}


def rendered(name: str) -> dict[tuple[str, str, str], dict]:
    return {key(resource): resource for resource in render(KUSTOMIZE / name)}


def one(resources: dict, kind: str) -> dict:
    found = [resource for (k, _, _), resource in resources.items() if k == kind]
    assert len(found) == 1, f"{len(found)} {kind} resources"
    return found[0]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict) -> dict:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(name) == value for name, value in selector.items())


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_rendered_manifest_is_valid_for_the_kubernetes_versions_supported(name):
    resources = render(KUSTOMIZE / name)
    assert resources
    for resource in resources:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(f"{name}: {key(resource)} is invalid for Kubernetes {version}: {exc}") from None


def test_the_validator_rejects_what_the_api_server_would():
    deployment = one(rendered("base"), "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container(broken)["readinessProbe"]["httpGet"]["port"] = {"number": 8081}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    unknown = yaml.safe_load(yaml.safe_dump(deployment))
    container(unknown)["livenessProb"] = container(unknown).pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_example_secret_is_valid_and_is_the_one_the_pods_read():
    (secret,) = load_documents(KUSTOMIZE / "base" / "secret.example.yaml")
    kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
    assert not any(kind == "Secret" for kind, _, _ in rendered("base")), "no placeholder credential is applied"
    for name in ("base", "migrate"):
        workload = next(r for (k, _, _), r in rendered(name).items() if k in ("Deployment", "Job"))
        refs = [env["valueFrom"]["secretKeyRef"] for env in container(workload)["env"] if "valueFrom" in env]
        assert {"name": secret["metadata"]["name"], "key": "url"} in refs, refs
        assert {env["name"] for env in container(workload)["env"]} >= {"MLINEAGE_DB"}
        assert set(refs[0]) == {"name", "key"} and "url" in secret["stringData"]


def test_the_deployment_runs_replicas_with_probes_resources_and_a_drain_that_fits_the_grace_period():
    resources = rendered("base")
    deployment = one(resources, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    main = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert ports == {"grpc": 8080, "http": 8081}
    config = one(resources, "ConfigMap")
    assert main["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    assert config["data"]["MLINEAGE_GRPC_PORT"] == "8080" and config["data"]["MLINEAGE_HTTP_PORT"] == "8081"
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["grpc"] == {"port": ports["grpc"]}
    assert set(main["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in main["resources"]["limits"]
    # The arguments are `mlineage serve`'s (the image's entrypoint), as its own parser reads them.
    args = build_parser().parse_args(["serve", *main["args"]])
    assert args.host == "0.0.0.0" and args.auth == "tokens" and not args.insecure_no_auth
    pre_stop = main["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert int(pre_stop[1]) + args.grace < pod_spec(deployment)["terminationGracePeriodSeconds"]
    # The pod runs as the image's user, which owns nothing on the read-only root but its volumes.
    _, (_, final) = stages()
    uid, _, gid = final.last("USER").arguments.partition(":")
    security = pod_spec(deployment)["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["runAsNonRoot"]) == (int(uid), int(gid), True)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"] for mount in main["volumeMounts"]}
    assert {"/tmp", final.last("WORKDIR").arguments} <= mounts


def test_the_service_pdb_and_hpa_point_at_the_deployments_pods():
    for name in ("base", "overlays/kubeflow"):
        resources = rendered(name)
        deployment = one(resources, "Deployment")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
        service = one(resources, "Service")
        assert selects(service["spec"]["selector"], labels), name
        container_ports = {port["name"] for port in container(deployment)["ports"]}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
        pdb = one(resources, "PodDisruptionBudget")
        assert selects(pdb["spec"]["selector"]["matchLabels"], labels), name
        assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
        hpa = one(resources, "HorizontalPodAutoscaler")
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]), name
        assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
        assert {metric["resource"]["name"] for metric in hpa["spec"]["metrics"]} == {"cpu"}


def test_the_migration_job_runs_db_upgrade_with_the_servers_image():
    job = one(rendered("migrate"), "Job")
    deployment = one(rendered("base"), "Deployment")
    upgrade = container(job)
    assert upgrade["command"][0] == "mlineage"
    args = build_parser().parse_args(upgrade["command"][1:])
    assert (args.command, args.db_command) == ("db", "upgrade")
    assert upgrade["image"] == container(deployment)["image"] == f"mlineage:{mlineage.__version__}"
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_the_kubeflow_overlay_takes_over_kfps_service_name_port_and_labels():
    resources = rendered("overlays/kubeflow")
    assert {namespace for _, namespace, _ in resources} == {"kubeflow"}
    service = resources[("Service", "kubeflow", KFP_SERVICE)]
    grpc_port = next(port for port in service["spec"]["ports"] if port["port"] == KFP_PORT)
    assert grpc_port["name"] == KFP_PORT_NAME and grpc_port["protocol"] == "TCP"
    deployment = resources[("Deployment", "kubeflow", "metadata-grpc-deployment")]
    assert selects(KFP_POD_LABEL, deployment["spec"]["selector"]["matchLabels"])
    assert selects(KFP_POD_LABEL, deployment["spec"]["template"]["metadata"]["labels"])
    assert service["spec"]["selector"] == KFP_POD_LABEL
    target = next(p for p in container(deployment)["ports"] if p["name"] == grpc_port["targetPort"])
    assert target["containerPort"] == KFP_PORT
    # KFP's components call MLMD without credentials: the overlay serves without authentication, on purpose.
    args = build_parser().parse_args(["serve", *container(deployment)["args"]])
    assert args.insecure_no_auth and args.auth == "none" and args.grpc_port == KFP_PORT
    # Nothing else from the base is left under its own name in the overlay but the config and account.
    assert {k for k, _, n in resources if n == "mlineage"} == {"ServiceAccount"}


def test_the_renderer_refuses_what_it_does_not_render(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [service.yaml]\ncommonLabels: {team: ml}\n"
    )
    shutil.copy(KUSTOMIZE / "base" / "service.yaml", tmp_path / "service.yaml")
    with pytest.raises(RenderError, match="commonLabels"):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources: [service.yaml]\npatches: [{path: p.yaml}]\n")
    (tmp_path / "p.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: nothing-by-this-name}\n")
    with pytest.raises(RenderError, match="matches no resource"):
        render(tmp_path)


def _kubectl() -> str | None:
    found = shutil.which("kubectl")
    if found is None and os.environ.get("MLINEAGE_REQUIRE_KUSTOMIZE") == "1":
        pytest.fail("kubectl is not installed but MLINEAGE_REQUIRE_KUSTOMIZE=1")
    return found


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_renderer_agrees_with_kubectl_kustomize(name):
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl is not installed (the cross-check of tests/deploy/kustomize_render.py)")
    result = subprocess.run([kubectl, "kustomize", str(KUSTOMIZE / name)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    theirs = {key(doc): doc for doc in yaml.safe_load_all(result.stdout) if doc}
    assert theirs == rendered(name)
