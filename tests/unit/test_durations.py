from datetime import timedelta

import pandas as pd
import pytest

from promcast.durations import format_duration, parse_duration, parse_time
from promcast.errors import InputError


@pytest.mark.parametrize("text, seconds", [("5m", 300), ("1h30m", 5400), ("14d", 14 * 86400), ("1w", 604800),
                                           ("250ms", 0.25), ("90", 90), ("1.5h", 5400)])
def test_parse_duration(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "-5m", "0s", "1h 30m", "abc"])
def test_bad_durations(text):
    if text == "5":
        assert parse_duration(text) == timedelta(seconds=5)
        return
    with pytest.raises(InputError, match="duration"):
        parse_duration(text)


def test_format_roundtrip():
    for text in ["5m", "1h30m", "2w", "1d12h", "250ms"]:
        assert format_duration(parse_duration(text)) == text


def test_parse_time_forms():
    expected = pd.Timestamp("2024-01-02 03:04:05", tz="UTC")
    assert parse_time("2024-01-02 03:04:05") == expected
    assert parse_time("2024-01-02T03:04:05Z") == expected
    assert parse_time(str(int(expected.timestamp()))) == expected
    assert parse_time(int(expected.timestamp() * 1000)) == expected
    with pytest.raises(InputError, match="bad --end"):
        parse_time("yesterday-ish", what="--end")
