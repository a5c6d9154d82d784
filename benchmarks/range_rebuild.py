"""The online members with their value range rebuilt on exceedance, against the first day's range kept.

    PYTHONPATH=backend .venv/bin/python benchmarks/range_rebuild.py --nab ../shared/data/nab [--cache DIR]

``artime`` and ``cad_ose`` quantise values on a range; NAB hands its detectors the whole file's range
(``benchmarks/oracle_range.py``). The causal analogue is the range seen so far: with ``rebuild_margin`` set (the
default, 0), a learner is rebuilt on it (and the earlier rows replayed) when a value leaves its range
(:class:`promcast.models.online.RangeRebuild`); ``rebuild_margin=None`` keeps the fitted (first day's) range. The
four variants were fixed before any of them was measured (with the rebuild rationed to one per doubling of the
rows; the range-growth rule came later, README "Accuracy"); each is scored alone and inside the artime + cad_ose
ensemble (p-value, 12h onset), in-sample and with the threshold chosen on training folds. V1 is the default.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pandas as pd

from _common import REPO, print_table

#: (rebuild_margin, rebuild_pad): any exit / NAB's 5% spatial tolerance, no pad / HTM's 20% NAB padding;
#: "kept" is the first day's range (rebuild_margin None)
VARIANTS = {"V1": (0.0, 0.0), "V2": (0.0, 0.2), "V3": (0.05, 0.0), "V4": (0.05, 0.2)}
MEMBERS = ("artime", "cad_ose")


def main() -> None:
    from promcast.evaluation.corpus import load_corpus, windows_by_path
    from promcast.evaluation.cv import DEFAULT_FOLDS, cross_validate
    from promcast.evaluation.nab import PROFILES, score_corpus
    from promcast.evaluation.runner import detect_corpus
    from promcast.evaluation.selection import Candidate, build

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default=str(Path(REPO).parent / "shared" / "data" / "nab"))
    parser.add_argument("--cache", default=".benchmarks/range_rebuild", help="member scores are kept here")
    args = parser.parse_args()
    files = load_corpus(args.nab)
    windows = windows_by_path(files)
    values = {f.path: f.values for f in files}
    first_day = {f.path: int((f.values.index < f.values.index[0] + pd.Timedelta("1D")).sum()) for f in files}
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    ensemble = Candidate((("artime", 1.0), ("cad_ose", 1.0)), "pvalue", "12h")

    def member(name: str, variant: str) -> dict[str, pd.Series]:
        path = cache / f"{name}_{variant}.pkl"
        if not path.exists():
            params = ({"rebuild_margin": None} if variant == "kept" else
                      dict(zip(("rebuild_margin", "rebuild_pad"), VARIANTS[variant])))
            scores, seconds = detect_corpus(name, files, **params)
            path.write_bytes(pickle.dumps(scores))
            print(f"{name} {variant}: walk-forward {seconds:.0f} s", flush=True)
        return pickle.loads(path.read_bytes())

    def cells(label: str, scores: dict[str, pd.Series]) -> list[str]:
        return [label, *(f"{score_corpus(scores, windows, p).normalized:.1f} / "
                         f"{cross_validate({label: scores}, windows, DEFAULT_FOLDS, p).normalized:.1f}"
                         for p in PROFILES)]

    rows = []
    for variant in ("kept", *VARIANTS):
        members = {name: member(name, variant) for name in MEMBERS}
        rows += [cells(f"{name} [{variant}]", members[name]) for name in MEMBERS]
        rows.append(cells(f"ensemble [{variant}]", build(ensemble, members, values, first_day)))
    print_table(["in-sample / CV", *PROFILES], rows)


if __name__ == "__main__":
    main()
