import numpy as np
import pandas as pd
import pytest

from promcast.errors import InputError
from promcast.sources.base import History
from promcast.sources.files import FileSource, parse_legend, read_csv_histories, write_csv_histories


def test_reads_nab_format(tmp_path):
    path = tmp_path / "cpu.csv"
    path.write_text("timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,0.134\n")
    (history,) = read_csv_histories(path)
    assert history.labels == {"__name__": "cpu"}
    assert list(history.values) == [0.132, 0.134]
    assert str(history.values.index.tz) == "UTC"
    assert history.values.index[0] == pd.Timestamp("2014-02-14 14:30", tz="UTC")


def test_sorts_and_deduplicates(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("timestamp,value\n2020-01-01T00:10:00Z,2\n2020-01-01T00:00:00Z,1\n2020-01-01T00:10:00Z,3\n")
    (history,) = read_csv_histories(path)
    assert list(history.values) == [1.0, 3.0]


def test_roundtrip_several_series(tmp_path):
    index = pd.date_range("2024-01-01", periods=5, freq="1min", tz="UTC")
    histories = [
        History({"__name__": "up", "job": 'a"b'}, pd.Series(np.arange(5.0), index=index)),
        History({"__name__": "up", "job": "c"}, pd.Series([0.1, np.nan, 0.3, 0.4, 1e-9], index=index)),
    ]
    path = tmp_path / "out.csv"
    assert write_csv_histories(path, histories) == 10
    back = read_csv_histories(path)
    assert [h.labels for h in back] == [h.labels for h in histories]
    for got, want in zip(back, histories):
        pd.testing.assert_series_equal(got.values, want.values, check_names=False, check_freq=False)


def test_legend_parsing():
    assert parse_legend('node_x{instance="a:1",mountpoint="/"}') == {
        "__name__": "node_x", "instance": "a:1", "mountpoint": "/"}
    assert parse_legend("free text here!") == {"series": "free text here!"}


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "is empty"),
        ("time,val\n1,2\n", "expected timestamp,value (missing timestamp, value)"),
        ("timestamp,value\n", "no rows"),
        ("timestamp,value\nnot-a-time,1\n", "row 2: timestamp 'not-a-time' is not a time"),
        ("timestamp,value\n2020-01-01,abc\n", "row 2: value 'abc' is not a number"),
    ],
)
def test_bad_csv_errors(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_csv_histories(path)
    assert needle in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_csv_histories(tmp_path / "nope.csv")


def test_file_source_range(tmp_path):
    path = tmp_path / "cpu.csv"
    path.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2\n2020-01-01 00:10:00,3\n")
    source = FileSource(path)
    (history,) = source.query_range("", pd.Timestamp("2020-01-01 00:05", tz="UTC"),
                                     pd.Timestamp("2020-01-01 00:10", tz="UTC"), pd.Timedelta("5m"))
    assert list(history.values) == [2.0, 3.0]
    assert source.label_values("__name__") == ["cpu"]


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("precious\n")

    class Boom(History):
        @property
        def legend(self):
            raise RuntimeError("boom")

    index = pd.date_range("2024-01-01", periods=2, freq="1min", tz="UTC")
    good = History({"a": "1"}, pd.Series([1.0, 2.0], index=index))
    with pytest.raises(RuntimeError):
        write_csv_histories(path, [good, Boom({"a": "2"}, pd.Series([1.0, 2.0], index=index))])
    assert path.read_text() == "precious\n"
    assert list(tmp_path.iterdir()) == [path]
