"""Parameter sets: learned numbers rounded onto ladders; the largest set is the default, last."""

from __future__ import annotations

import pandas as pd

from promcast.rules.sets import e12, floor_window, partition, up_fraction


def test_ladders():
    assert floor_window(pd.Timedelta(days=9)) == pd.Timedelta(days=7)
    assert floor_window(pd.Timedelta("20min")) == pd.Timedelta("1h")  # never below the shortest
    assert up_fraction(0.071) == 0.075 and up_fraction(0.0) == 0.0 and up_fraction(3.0) == 1.0
    assert e12(4.49e6, up=True) == 4.7e6 and e12(4.49e6) == 4.7e6 and e12(1.05e3) == 1.0e3
    assert e12(0.0345) == 0.033


def test_partition_puts_the_largest_set_last_as_default():
    items = [({"i": "a"}, 1), ({"i": "b"}, 2), ({"i": "c"}, 2), ({"i": "d"}, 3)]
    sets = partition(items)
    assert [s.params for s in sets] == [1, 3, 2]
    assert sets[-1].default and sets[-1].restrict is None
    assert sets[0].restrict == ({"i": "a"},)


def test_partition_drops_metric_names_and_sorts_members():
    sets = partition([({"__name__": "m", "i": "b"}, 1), ({"__name__": "m", "i": "a"}, 1)])
    assert sets[0].members == ({"i": "a"}, {"i": "b"})
