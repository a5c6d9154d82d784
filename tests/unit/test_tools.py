"""A missing real tool is a skip for a developer and a failure in CI (PROMCAST_REQUIRE_INTEGRATION=1)."""

import pytest

import tools


def test_missing_tool_skips_by_default(monkeypatch):
    monkeypatch.delenv(tools.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool not found"):
        tools.missing("promtool not found")


def test_missing_tool_fails_when_required(monkeypatch):
    monkeypatch.setenv(tools.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="promtool not found .*a missing tool is a failure"):
        tools.missing("promtool not found")


def test_skip_markers_stand_down_when_required(monkeypatch):
    monkeypatch.setenv(tools.REQUIRE_ENV, "1")
    assert tools.unless_present(False, "x").args == (False,)
    monkeypatch.delenv(tools.REQUIRE_ENV)
    assert tools.unless_present(False, "x").args == (True,)
