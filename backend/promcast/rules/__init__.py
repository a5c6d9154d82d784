"""Prometheus recording and alerting rules from what promcast learns: spec -> fits -> rules -> files.

The CLI calls :func:`run_generate_rules`; the pure core is :func:`generate_rules` (spec + fits -> rule
model). See ``docs/rules.md`` for the spec, the generated rules and how their number grows.

The names below load on first use (PEP 562), so importing :mod:`.spec` (the service does, for its
exported targets) does not pull in :mod:`.render` and Jinja2's template compiler.
"""

from __future__ import annotations

import importlib

#: public name -> the submodule defining it (the renderer is `promcast.rules.render.render`: a package
#: attribute of that name would be shadowed by the submodule once it loads)
_EXPORTS = {
    "generate_rules": "generate", "Rule": "model", "RuleGroup": "model", "RuleGroups": "model",
    "FORMATS": "render", "GenerateSummary": "run", "run_generate_rules": "run",
    "RuleSpec": "spec", "SpecError": "spec", "load_spec": "spec", "parse_spec": "spec",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
