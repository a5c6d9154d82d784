"""promtool test inputs: expanding notation, and inputs that make an expression produce a wanted output."""

from __future__ import annotations

import pandas as pd
import pytest

from promcast.rules.testgen import NotInvertible, Wave, expand_labels, expandable, synthesize

FIVE = pd.Timedelta("5min")


def test_wave_notation():
    wave = Wave().then(10, 2, 3).then(5, 0, 2).then(7, -1.5, 3).then(1, 0, 1)
    assert wave.notation() == "10+2x2 5+0x1 7-1.5x2 1"
    assert list(wave.values()) == [10, 12, 14, 5, 5, 7, 5.5, 4, 1]


def test_sawtooth_and_step():
    saw = Wave.sawtooth(0, 3, 4, 10)
    assert list(saw.values()) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    stepped = saw.add_from(5, 10)
    assert list(stepped.values()) == [0, 1, 2, 3, 0, 11, 12, 13, 10, 11]


def test_selector_and_arithmetic_inversion():
    out = synthesize('node_filesystem_avail_bytes{job="node"} / 1024', {"__name__": "x", "mountpoint": "/"},
                     Wave.constant(2, 3), FIVE)
    assert [(s.series, s.values) for s in out] == [
        ('node_filesystem_avail_bytes{job="node", mountpoint="/"}', "2048+0x2")]


def test_rate_inversion_writes_a_counter():
    out = synthesize("sum by (job) (rate(http_requests_total[5m]))", {"job": "api"},
                     Wave.constant(2.0, 3).then(4.0, 0, 2), pd.Timedelta("1min"))
    assert out[0].series == 'http_requests_total{job="api"}'
    assert out[0].values == "120+120x2 600+240x1"  # 2/s then 4/s, sampled every minute


def test_uninvertible_shapes():
    with pytest.raises(NotInvertible):
        synthesize("histogram_quantile(0.9, rate(x_bucket[5m]))", {}, Wave.constant(1, 2), FIVE)
    with pytest.raises(NotInvertible):
        synthesize("a / b", {}, Wave.constant(1, 2), FIVE)
    with pytest.raises(NotInvertible):  # a rate that changes within a segment has no piecewise-linear counter
        synthesize("rate(c[5m])", {}, Wave().then(1, 1, 3), pd.Timedelta("1min"))


def test_label_templates():
    assert expand_labels("{{ $labels.instance }} on {{$labels.job}} {{ $labels.nope }}", {"instance": "a", "job": "b"}) \
        == "a on b <no value>"
    assert expandable("x {{ $labels.a }}") and not expandable("{{ $value | humanize }}")
