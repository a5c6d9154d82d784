"""The VPA baseline against histograms worked out by hand (bucket starts 0, 0.01, 0.0205, 0.031525, ...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.rightsize.vpa import DecayingHistogram, VpaRecommender

# first bucket 0.01, ratio 1.05: start(i) = 0.01 * (1.05**i - 1) / 0.05
START = {0: 0.0, 1: 0.01, 2: 0.0205, 3: 0.031525}


def test_bucket_starts_and_lookup_follow_vpa_exponential_buckets():
    h = DecayingHistogram(0.01, 1.05, max_value=10.0)
    for i, start in START.items():
        assert h.bucket_start(i) == pytest.approx(start)
    assert [h.bucket_of(v) for v in (0.0, 0.005, 0.01, 0.015, 0.0205, 0.03, 0.031525)] == [0, 0, 1, 1, 2, 2, 3]


def test_percentile_is_the_end_of_the_bucket_reaching_it():
    h = DecayingHistogram(0.01, 1.05, max_value=10.0)
    for value in (0.005, 0.015, 0.025):  # one sample in each of buckets 0, 1, 2 (weights 1, 1, 1)
        h.add(value, 1.0, 0.0)
    assert h.percentile(0.3) == pytest.approx(START[1])  # 0.9 of 3: bucket 0, its end
    assert h.percentile(0.5) == pytest.approx(START[2])  # 1.5 of 3: bucket 1
    assert h.percentile(0.9) == pytest.approx(START[3])  # 2.7 of 3: bucket 2


def test_a_day_newer_sample_weighs_twice_as_much():
    h = DecayingHistogram(0.01, 1.05, max_value=10.0, half_life=pd.Timedelta("24h"))
    h.add(0.005, 1.0, 0.0)  # weight 1 in bucket 0
    h.add(0.025, 1.0, 86_400.0)  # weight 2 in bucket 2
    assert h.weights[0] == pytest.approx(1.0) and h.weights[2] == pytest.approx(2.0)
    # the median (1.5 of 3) is in bucket 2 now; without the decay it would be in bucket 0
    assert h.percentile(0.5) == pytest.approx(START[3])


def test_cpu_target_is_the_90th_percentile_bucket_end_plus_15_percent():
    index = pd.date_range("2024-01-01", periods=2016, freq="5min", tz="UTC")
    usage = pd.Series(0.5, index=index)
    # 0.5 cores: bucket floor(log(0.5 * 0.05 / 0.01 + 1) / log(1.05)) = floor(25.68) = 25, ends at start(26)
    end = 0.01 * (1.05**26 - 1) / 0.05
    assert end == pytest.approx(0.511135, rel=1e-5)  # 0.2 * (3.555673 - 1)
    vpa = VpaRecommender("cpu").fit(usage)
    assert vpa.target_ == pytest.approx(end * 1.15)


def test_memory_uses_daily_peaks_of_the_latest_eight_days():
    index = pd.date_range("2024-01-01", periods=10 * 288, freq="5min", tz="UTC")
    mib = 2.0**20
    usage = pd.Series(300 * mib, index=index)
    usage.iloc[:288] = 5000 * mib  # a peak ten days back: out of the eight intervals kept
    vpa = VpaRecommender("memory").fit(usage)
    bucket = vpa.histogram_.bucket_of(300 * mib)
    assert vpa.target_ == pytest.approx(vpa.histogram_.bucket_start(bucket + 1) * 1.15)
    assert vpa.target_ < 400 * mib


def test_minimums_apply():
    index = pd.date_range("2024-01-01", periods=600, freq="5min", tz="UTC")
    assert VpaRecommender("cpu").fit(pd.Series(0.001, index=index)).target_ == pytest.approx(0.025)
    assert VpaRecommender("memory").fit(pd.Series(1e6, index=index)).target_ == pytest.approx(250 * 2.0**20)


def test_unknown_resource_and_empty_usage_are_input_errors():
    index = pd.date_range("2024-01-01", periods=3, freq="5min", tz="UTC")
    with pytest.raises(InputError, match="unknown resource"):
        VpaRecommender("gpu").fit(pd.Series([1.0, 2.0, 3.0], index=index))
    with pytest.raises(InputError, match="no usage"):
        VpaRecommender("cpu").fit(pd.Series([np.nan] * 3, index=index))
