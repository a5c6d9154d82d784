"""A cluster for the remediator: the fake Kubernetes API on loopback with a few objects, and the official
client pointed at it through a kubeconfig."""

from __future__ import annotations

import pytest

from kube_fake import ServedKube
from promcast.remediation.kube import KubeClient


@pytest.fixture
def cluster(tmp_path):
    served = ServedKube()
    fake = served.fake
    fake.add("StorageClass", "expandable", allowVolumeExpansion=True, provisioner="ebs.csi.aws.com")
    fake.add("StorageClass", "fixed", provisioner="kubernetes.io/no-provisioner")
    for ns in ("prod", "staging", "locked"):
        fake.add("PersistentVolumeClaim", "data-postgres-0", ns, metadata={"labels": {"promcast.io/remediate": "true"}},
                 spec={"storageClassName": "expandable", "accessModes": ["ReadWriteOnce"],
                       "resources": {"requests": {"storage": "100Gi"}}})
    fake.add("PersistentVolumeClaim", "scratch", "prod", spec={"storageClassName": "fixed",
                                                              "resources": {"requests": {"storage": "10Gi"}}})
    fake.add("Deployment", "api", "prod", metadata={"labels": {"promcast.io/remediate": "true"}},
             spec={"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                   "template": {"metadata": {"labels": {"app": "api"}},
                                "spec": {"containers": [{"name": "api", "image": "example/api:1.4"}]}}})
    fake.add("ReplicaSet", "api-7d9f8", "prod", metadata={"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": "1", "controller": True}]})
    fake.add("Pod", "api-7d9f8-x2x4q", "prod", metadata={"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d9f8", "uid": "2", "controller": True}]})
    fake.add("HorizontalPodAutoscaler", "web", "prod", metadata={"labels": {"promcast.io/remediate": "true"}},
             spec={"minReplicas": 2, "maxReplicas": 10,
                   "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}})
    fake.forbidden_namespaces.add("locked")
    served.kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    served.client = KubeClient(served.kubeconfig)
    yield served
    served.stop()
