"""ray_cluster.yaml against Ray's own cluster-launcher schema (offline; private API, Ray is pinned)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load((REPO / "ray_cluster.yaml").read_text())


def test_cluster_config_passes_rays_schema(cluster: dict) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(cluster))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_schema_rejects_a_broken_config(cluster: dict) -> None:
    import jsonschema
    from ray.autoscaler._private.util import validate_config

    broken = copy.deepcopy(cluster)
    broken["available_node_types"]["gpu_worker"]["max_workers"] = "many"
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        validate_config(broken)


def test_cluster_has_gpu_workers_shared_storage_and_pinned_setup(cluster: dict) -> None:
    worker = cluster["available_node_types"]["gpu_worker"]
    assert worker["node_config"]["InstanceType"].startswith(("g5", "p4", "p5", "g6"))
    setup = "\n".join(cluster["setup_commands"])
    assert "make setup" in setup and "/mnt/shared" in setup  # requirements.lock via make setup; shared runs
    head = "\n".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "--host 127.0.0.1" in head
    assert (REPO / "requirements.lock").is_file()


def test_kuberay_manifest_shares_storage_and_pins_the_venv() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((REPO / "kuberay.yaml").read_text())}
    assert set(docs) == {"PersistentVolumeClaim", "Job", "RayCluster"}
    cluster = docs["RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1"
    import ray

    assert cluster["spec"]["rayVersion"] == ray.__version__
    head = cluster["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    pods = [head["template"]["spec"]] + [g["template"]["spec"] for g in cluster["spec"]["workerGroupSpecs"]]
    for pod in pods:
        container = pod["containers"][0]
        assert {"name": "shared", "mountPath": "/mnt/shared"} in container["volumeMounts"]
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
        assert container["env"][0]["value"].startswith("/mnt/shared/harness/.venv/bin")
    gpu = cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == "1"
    assert "make setup" in docs["Job"]["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_clusters_use_token_auth_with_the_operators_shared_token(cluster: dict) -> None:
    starts = "\n".join(cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"])
    assert starts.count("RAY_AUTH_MODE=token") == 2 and "disabled" not in (REPO / "ray_cluster.yaml").read_text()
    token_file = cluster["file_mounts"]["~/.ray/auth_token"]  # copied from the operator's machine, not the repo
    assert token_file.startswith("~/") and not (REPO / token_file.removeprefix("~/")).exists()
    docs = {d["kind"]: d for d in yaml.safe_load_all((REPO / "kuberay.yaml").read_text())}
    spec = docs["RayCluster"]["spec"]
    pods = [spec["headGroupSpec"]] + spec["workerGroupSpecs"]
    for pod in pods:
        env = {e["name"]: e for e in pod["template"]["spec"]["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "harness-ray-token", "key": "token"}
    assert "Secret" not in docs  # the token is the operator's, never in the manifest
