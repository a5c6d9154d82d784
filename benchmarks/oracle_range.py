"""Diagnostic, not a detector: how much the online members lose by not knowing the file's range in advance.

    PYTHONPATH=backend .venv/bin/python benchmarks/oracle_range.py --nab ../shared/data/nab

NAB hands each detector the whole file's min and max before the first row (and ARTime the probation, 15% of
the file's rows, at most 750; CAD OSE's rest period is that probation / 5), which a causal detector cannot
know. This runs the ``artime`` and ``cad_ose`` learners over each whole file as NAB does, with and without the
spatial check, and prints their in-sample NAB scores, to set beside the walk-forward scores in the README:
with the first day's range kept the learners score about 2 to 3 points lower (artime 1.8, cad_ose 2.9); with the range rebuilt on exceedance
(the members' default) cad_ose scores higher than with NAB's whole-file range. Nothing here is used by any model
or chosen by score.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from _common import REPO, print_table

VARIANTS = ("cad_ose", "cad_ose + spatial", "artime", "artime + spatial")


def run_file(task: tuple[str, np.ndarray]) -> tuple[str, np.ndarray]:
    """Scores of one learner over one whole file, set up with the file's range as NAB does."""
    from promcast.evaluation.nab import PROBATION_FRACTION
    from promcast.models.artime import ArtimeLearner
    from promcast.models.cad_ose import ContextLearner
    from promcast.models.online import OnlineDetector, SpatialCheck

    variant, values = task
    probation = min(int(PROBATION_FRACTION * len(values)), 750)
    low, high = float(values.min()), float(values.max())
    if variant.startswith("cad_ose"):
        learner = ContextLearner(low, high, rest_period=max(1, probation // 5))
    else:
        learner = ArtimeLearner(low, high, probation)
    spatial = SpatialCheck() if variant.endswith("spatial") else None
    return variant, OnlineDetector._run(learner, spatial, values)  # the online detectors' own row loop


def main() -> None:
    from promcast.evaluation.corpus import load_corpus, windows_by_path
    from promcast.evaluation.nab import PROFILES, score_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default=str(Path(REPO).parent / "shared" / "data" / "nab"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    files = load_corpus(args.nab)
    windows = windows_by_path(files)
    tasks = [(variant, f.values.to_numpy(dtype=float)) for variant in VARIANTS for f in files]
    scores: dict[str, dict[str, pd.Series]] = {variant: {} for variant in VARIANTS}
    with ProcessPoolExecutor(args.workers) as pool:
        for (variant, out), f in zip(pool.map(run_file, tasks), [f for _ in VARIANTS for f in files]):
            scores[variant][f.path] = pd.Series(out, index=f.values.index)
    rows = [[variant, *(f"{score_corpus(scores[variant], windows, p).normalized:.1f}" for p in PROFILES)]
            for variant in VARIANTS]
    print_table(["whole-file range (not causal)", *PROFILES], rows)


if __name__ == "__main__":
    main()
