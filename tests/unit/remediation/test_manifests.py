"""The shipped Kubernetes manifests: valid objects for the official client, least privilege that covers
exactly the calls the remediator makes, and a config the remediator accepts."""

import json
from pathlib import Path

import yaml
from kubernetes import client

from promcast.remediation.config import parse_config
from promcast.resources import data_dir

KUBE = Path(data_dir("provisioning")) / "kubernetes"
MODELS = {"ServiceAccount": "V1ServiceAccount", "ClusterRole": "V1ClusterRole", "Role": "V1Role",
          "ClusterRoleBinding": "V1ClusterRoleBinding", "RoleBinding": "V1RoleBinding",
          "ConfigMap": "V1ConfigMap", "Deployment": "V1Deployment", "Service": "V1Service"}


class _Response:
    def __init__(self, data):
        self.data = data


def objects():
    out = []
    for path in sorted(KUBE.glob("*.yaml")):
        out.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return out


def test_every_object_deserialises_into_the_official_models():
    api = client.ApiClient()
    kinds = []
    for obj in objects():
        model = api.deserialize(_Response(json.dumps(obj)), MODELS[obj["kind"]])
        assert model.metadata.name, obj
        kinds.append(obj["kind"])
    assert {"Role", "ClusterRole", "Deployment", "ConfigMap", "ServiceAccount"} <= set(kinds)


def test_rbac_grants_only_the_verbs_the_remediator_uses():
    rules = {(g, r): set(rule["verbs"]) for obj in objects() if obj["kind"] in ("Role", "ClusterRole")
             for rule in obj["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert rules == {
        ("storage.k8s.io", "storageclasses"): {"get"},
        ("", "persistentvolumeclaims"): {"get", "patch"}, ("", "pods"): {"get"},
        ("apps", "deployments"): {"get", "patch"}, ("apps", "statefulsets"): {"get", "patch"},
        ("apps", "daemonsets"): {"get", "patch"}, ("apps", "replicasets"): {"get"},
        ("autoscaling", "horizontalpodautoscalers"): {"get", "patch"},
    }


def test_the_shipped_config_is_valid_and_dry_run():
    (config_map,) = [o for o in objects() if o["kind"] == "ConfigMap"]
    config = parse_config(yaml.safe_load(config_map["data"]["remediation.yaml"]))
    assert config.dry_run is True and config.allow.namespaces == ("prod",)
