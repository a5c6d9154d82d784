"""remediation.yaml validation: every bad value is one clear line naming the key."""

import pytest

from promcast.errors import ConfigError
from promcast.remediation.config import load_config, parse_config

GOOD = {"allow": {"namespaces": ["prod"], "selector": "promcast.io/remediate=true"},
        "actions": {"disk_exhaustion": {"expand_by": "25%", "max_size": "1Ti"},
                    "memory_leak": {"restart": True, "window": "22:00-05:00"},
                    "capacity": {"max_replicas_cap": 50, "step": 2}},
        "cooldown": "1h", "rate_limit": "10/h", "audit_log": "/tmp/x.jsonl"}


def test_the_design_example_loads_with_safe_defaults():
    config = parse_config(GOOD)
    assert config.dry_run is True and config.allow.namespaces == ("prod",)
    assert config.disk.expand_fraction == 0.25 and config.disk.max_size == 2.0**40
    assert config.memory.window == (22 * 60, 5 * 60)
    assert config.memory.open_at(23 * 60) and config.memory.open_at(60) and not config.memory.open_at(12 * 60)
    assert config.cooldown == 3600 and config.rate_limit == (10, 3600)
    assert parse_config({**GOOD, "actions": {"disk_exhaustion": {"expand_by": "10Gi"}}}).disk.expand_bytes == 10 * 2.0**30


@pytest.mark.parametrize("change, needle", [
    ({"dry_run": "no"}, "dry_run: expected true or false"),
    ({"allow": None}, "allow: required"),
    ({"allow": {"namespaces": []}}, "allow.namespaces"),
    ({"allow": {"namespaces": ["prod"], "selector": "a=b=c"}}, "allow.selector"),
    ({"allow": {"namespaces": ["prod"], "kinds": ["Secret"]}}, "allow.kinds"),
    ({"actions": {"disk_exhaustion": {"expand_by": "lots"}}}, "expand_by is a percentage"),
    ({"actions": {"memory_leak": {"window": "2am-5am"}}}, "HH:MM-HH:MM"),
    ({"actions": {"capacity": {"step": 0}}}, "at least 1"),
    ({"actions": {"rollback": {}}}, "unknown kind(s) rollback"),
    ({"cooldown": "soon"}, "cooldown"),
    ({"rate_limit": "often"}, "COUNT/PERIOD"),
    ({"colour": "red"}, "unknown key(s) colour"),
])
def test_bad_values_name_their_key(change, needle):
    with pytest.raises(ConfigError, match=None) as info:
        parse_config({**GOOD, **change}, origin="r.yaml")
    assert needle in str(info.value) and str(info.value).startswith("r.yaml")


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("allow: [")
    with pytest.raises(ConfigError, match="not readable YAML"):
        load_config(tmp_path / "bad.yaml")
