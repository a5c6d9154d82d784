"""The Kubernetes side, through the official client: read objects, merge-patch them. Nothing else.

Objects travel as plain dicts, the API's own JSON (read raw, not through the client's models, whose
client-side validation rejects objects a server may legitimately return). Patches are sent as JSON merge patches
(``application/merge-patch+json``): the client would otherwise label a dict body as a JSON Patch, which
the API server refuses. API errors become :class:`KubeError` naming the call and the server's message.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import UpstreamError
from .policy import ObjectRef

MERGE_PATCH = "application/merge-patch+json"


class KubeError(UpstreamError):
    """The Kubernetes API refused or failed a call."""

    code = "kubernetes_error"


class KubeClient:
    """Reads and patches the few object kinds promcast remediates."""

    def __init__(self, kubeconfig: str | None = None, api_client: Any = None) -> None:
        from kubernetes import client, config

        if api_client is None:
            try:
                if kubeconfig:
                    api_client = config.new_client_from_config(config_file=os.path.expanduser(kubeconfig))
                else:
                    config.load_incluster_config()
                    api_client = client.ApiClient()
            except (config.ConfigException, OSError) as exc:
                where = kubeconfig or "the in-cluster service account"
                raise KubeError(f"cannot load Kubernetes credentials from {where}: {exc}") from None
        self.api_client = api_client
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._storage = client.StorageV1Api(api_client)
        self._autoscaling = client.AutoscalingV2Api(api_client)

    def _methods(self, kind: str):
        table = {
            "PersistentVolumeClaim": (self._core, "namespaced_persistent_volume_claim"),
            "Pod": (self._core, "namespaced_pod"),
            "Deployment": (self._apps, "namespaced_deployment"),
            "StatefulSet": (self._apps, "namespaced_stateful_set"),
            "DaemonSet": (self._apps, "namespaced_daemon_set"),
            "ReplicaSet": (self._apps, "namespaced_replica_set"),
            "HorizontalPodAutoscaler": (self._autoscaling, "namespaced_horizontal_pod_autoscaler"),
        }
        return table[kind]

    def get(self, ref: ObjectRef) -> dict:
        api, suffix = self._methods(ref.kind)
        return self._call(f"GET {ref}", getattr(api, f"read_{suffix}"), ref.name, ref.namespace)

    def patch(self, ref: ObjectRef, body: dict) -> dict:
        api, suffix = self._methods(ref.kind)
        return self._call(f"PATCH {ref}", getattr(api, f"patch_{suffix}"), ref.name, ref.namespace, body,
                          _content_type=MERGE_PATCH)

    def storage_class(self, name: str) -> dict:
        return self._call(f"GET StorageClass/{name}", self._storage.read_storage_class, name)

    def _call(self, what: str, method, *args, **kwargs) -> dict:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, **kwargs)
            return json.loads(response.data)
        except ApiException as exc:
            raise KubeError(f"Kubernetes API {exc.status} on {what}: {_message(exc.body) or exc.reason}") from None
        except (HTTPError, OSError) as exc:
            raise KubeError(f"Kubernetes API unreachable on {what}: {exc}") from None
        except ValueError as exc:
            raise KubeError(f"Kubernetes API answered {what} with something that is not JSON: {exc}") from None


def _message(body: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, else the body itself (shortened)."""
    try:
        return str(json.loads(body).get("message"))
    except (TypeError, ValueError, AttributeError):
        return str(body or "")[:300]
