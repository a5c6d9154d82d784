"""A Kubernetes API server on loopback that implements only what ``promcast remediate`` calls.

The official client talks to it unmodified (a kubeconfig points at it). It keeps the real API's semantics
where promcast depends on them: resource paths, bearer-token auth (401), ``Status`` error bodies with
404/403/409/415/422, and PATCH by content type (JSON merge patch and strategic merge patch merge maps;
a JSON Patch must be a list of operations, as the real server insists; anything else is 415). Every
write is recorded for the tests.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import prom_harness

TOKEN = "promcast-test-token"
MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
PLURALS = {"PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"), "Pod": ("api/v1", "pods"),
           "Deployment": ("apis/apps/v1", "deployments"), "StatefulSet": ("apis/apps/v1", "statefulsets"),
           "DaemonSet": ("apis/apps/v1", "daemonsets"), "ReplicaSet": ("apis/apps/v1", "replicasets"),
           "HorizontalPodAutoscaler": ("apis/autoscaling/v2", "horizontalpodautoscalers")}
API_VERSIONS = {"api/v1": "v1", "apis/apps/v1": "apps/v1", "apis/autoscaling/v2": "autoscaling/v2"}


def status(code: int, reason: str, message: str) -> Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return Response(json.dumps(body), status=code, content_type="application/json")


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``null`` deletes a key)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


@dataclass
class Write:
    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class FakeKube:
    """The objects by API path, the writes received, and namespaces where RBAC forbids writes."""

    objects: dict[str, dict] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    forbidden_namespaces: set[str] = field(default_factory=set)
    url: str = ""

    def add(self, kind: str, name: str, namespace: str | None = None, **fields: Any) -> dict:
        if kind == "StorageClass":
            path, api_version = f"/apis/storage.k8s.io/v1/storageclasses/{name}", "storage.k8s.io/v1"
        else:
            prefix, plural = PLURALS[kind]
            path, api_version = f"/{prefix}/namespaces/{namespace}/{plural}/{name}", API_VERSIONS[prefix]
        obj = {"apiVersion": api_version, "kind": kind,
               "metadata": {"name": name, **({"namespace": namespace} if namespace else {}), "resourceVersion": "1",
                            **fields.pop("metadata", {})}, **fields}
        self.objects[path] = obj
        return obj

    def get(self, kind: str, name: str, namespace: str) -> dict:
        prefix, plural = PLURALS[kind]
        return self.objects[f"/{prefix}/namespaces/{namespace}/{plural}/{name}"]

    def kubeconfig(self, path) -> str:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "promcast", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "promcast"}}],
        }))
        return str(path)

    # ------------------------------------------------------------------------------------------- WSGI
    def __call__(self, environ, start_response):
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return status(401, "Unauthorized", "Unauthorized")
        obj = self.objects.get(request.path)
        name = request.path.rsplit("/", 1)[-1]
        if obj is None:
            return status(404, "NotFound", f"{request.path.split('/')[-2]} \"{name}\" not found")
        if request.method == "GET":
            return Response(json.dumps(obj), content_type="application/json")
        if request.method != "PATCH":
            return status(405, "MethodNotAllowed", f"{request.method} is not supported here")
        namespace = obj["metadata"].get("namespace")
        if namespace in self.forbidden_namespaces:
            return status(403, "Forbidden", f'{obj["kind"].lower()}s "{name}" is forbidden: User '
                          f'"system:serviceaccount:monitoring:promcast" cannot patch resource in the namespace '
                          f'"{namespace}"')
        content_type = (request.content_type or "").split(";")[0].strip()
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            return status(400, "BadRequest", "the body of the request was in an unknown format")
        self.writes.append(Write("PATCH", request.path, content_type, body))
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                return status(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            return status(422, "Invalid", "this fake applies merge patches only")
        if content_type not in MERGE_TYPES:
            return status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                          f"accepted media types include: {', '.join(MERGE_TYPES)}")
        updated = merge(obj, body)
        if obj["kind"] == "PersistentVolumeClaim":
            from kubernetes.utils import parse_quantity

            old = obj["spec"]["resources"]["requests"]["storage"]
            new = updated["spec"]["resources"]["requests"]["storage"]
            if parse_quantity(new) < parse_quantity(old):
                return status(422, "Invalid", f'PersistentVolumeClaim "{name}" is invalid: spec.resources.requests.'
                              "storage: Forbidden: field can not be less than previous value")
        updated["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)
        self.objects[request.path] = updated
        return Response(json.dumps(updated), content_type="application/json")


class ServedKube:
    """:class:`FakeKube` served on a free loopback port in a background thread."""

    def __init__(self, fake: FakeKube | None = None) -> None:
        self.fake = fake or FakeKube()
        port = prom_harness.free_port()
        self.server = make_server("127.0.0.1", port, self.fake, threaded=True)
        self.fake.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
