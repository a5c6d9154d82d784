"""The pure core: ``generate_rules(spec, fits) -> RuleGroups``.

No I/O, no clock, no randomness: the same spec and fits give the same rule model, hence byte-identical
files. One group per target (``promcast.<spec name>.<target>``), in the spec's order.
"""

from __future__ import annotations

from typing import Mapping

from .fit import TargetFit
from .kinds import kind_module
from .kinds.common import Plan
from .model import RuleGroups
from .spec import RuleSpec


def group_name(spec: RuleSpec, target_name: str) -> str:
    return f"promcast.{spec.name}.{target_name}"


def generate_rules(spec: RuleSpec, fits: Mapping[str, TargetFit]) -> RuleGroups:
    """Turn what was learned per target into rule groups (with their promtool tests)."""
    groups = []
    for target in spec.targets:
        fit = fits.get(target.name)
        if fit is None or not fit.series:
            raise ValueError(f"no fitted series for target {target.name!r}")
        plan = Plan.of(fit)
        groups.append(kind_module(target.kind).build(plan, group_name(spec, target.name)))
    return RuleGroups(
        spec_name=spec.name, spec_file=spec.file_name, namespace=spec.namespace,
        object_labels=dict(spec.object_labels), object_annotations=dict(spec.object_annotations),
        groups=tuple(groups),
    )


__all__ = ["generate_rules", "group_name"]
