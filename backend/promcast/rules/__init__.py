"""Prometheus recording and alerting rules from what promcast learns: spec -> fits -> rules -> files.

The CLI calls :func:`run_generate_rules`; the pure core is :func:`generate_rules` (spec + fits -> rule
model). See ``docs/rules.md`` for the spec, the generated rules and how their number grows.
"""

from .generate import generate_rules
from .model import Rule, RuleGroup, RuleGroups
from .render import FORMATS, render
from .run import GenerateSummary, run_generate_rules
from .spec import RuleSpec, SpecError, load_spec, parse_spec

__all__ = ["FORMATS", "GenerateSummary", "Rule", "RuleGroup", "RuleGroups", "RuleSpec", "SpecError",
           "generate_rules", "load_spec", "parse_spec", "render", "run_generate_rules"]
