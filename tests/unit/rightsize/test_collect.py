"""cAdvisor and kube-state-metrics series -> containers of workloads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from promcast.rightsize.collect import containers, counter_rate, owner_of, selectors
from promcast.sources.base import History

INDEX = pd.date_range("2024-01-01", periods=5, freq="5min", tz="UTC")


def series(values, index=INDEX):
    return pd.Series(np.asarray(values, dtype=float), index=index[: len(values)])


def test_counter_rate_skips_resets():
    rate = counter_rate(series([0, 30, 60, 5, 35]))
    assert list(rate.round(6)) == [0.1, 0.1, 0.1]  # the drop to 5 (a restart) is a gap


def test_owner_from_kube_pod_owner_then_from_the_pod_name():
    owners = {("shop", "web-5d8f9c7b6-abcde"): ("ReplicaSet", "web-5d8f9c7b6"), ("db", "pg-0"): ("StatefulSet", "pg")}
    assert owner_of("web-5d8f9c7b6-abcde", owners, "shop") == ("Deployment", "web")
    assert owner_of("pg-0", owners, "db") == ("StatefulSet", "pg")
    assert owner_of("api-7c9d8b6f4-x2k9p", {}, "shop") == ("Deployment", "api")
    assert owner_of("redis-2", {}, "shop") == ("StatefulSet", "redis")
    assert owner_of("fluentd-q7x2m", {}, "logging") == ("DaemonSet", "fluentd")
    assert owner_of("debug", {}, "default") == ("Pod", "debug")


def test_namespace_restricts_every_selector():
    for expr in selectors("shop").values():
        assert 'namespace="shop"' in expr
    assert 'container!="POD"' in selectors(None)["cpu"]


def test_replicas_are_grouped_with_the_busiest_at_each_time():
    pod = {"namespace": "shop", "container": "app"}
    fetched = {
        "cpu": [History({**pod, "pod": "web-5d8f9c7b6-aaaaa"}, series([0, 30, 60, 90, 120])),
                History({**pod, "pod": "web-5d8f9c7b6-bbbbb"}, series([0, 60, 120, 150, 180]))],
        "memory": [History({**pod, "pod": "web-5d8f9c7b6-aaaaa"}, series([5, 6, 7, 8, 9])),
                   History({**pod, "pod": "web-5d8f9c7b6-bbbbb"}, series([9, 1, 1, 1, 1]))],
        "requests": [History({**pod, "pod": "web-5d8f9c7b6-aaaaa", "resource": "cpu"}, series([0.5] * 5)),
                     History({**pod, "pod": "web-5d8f9c7b6-aaaaa", "resource": "memory"}, series([2**30] * 5))],
        "limits": [History({**pod, "pod": "web-5d8f9c7b6-aaaaa", "resource": "memory"}, series([2**31] * 5))],
        "owner": [],
    }
    (c,) = containers(fetched)
    assert (c.namespace, c.kind, c.workload, c.container, c.replicas) == ("shop", "Deployment", "web", "app", 2)
    assert list(c.cpu.round(6)) == [0.2, 0.2, 0.1, 0.1]
    assert list(c.memory) == [9, 6, 7, 8, 9]
    assert (c.current.cpu_request, c.current.cpu_limit, c.current.memory_request, c.current.memory_limit) == (
        0.5, None, 2**30, 2**31)
