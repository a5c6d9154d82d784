"""How much the CV score depends on the one fold split: threshold-only CV over many random grouped splits.

    PYTHONPATH=backend .venv/bin/python benchmarks/cv_splits.py --nab ../shared/data/nab [--splits 50] [--cache DIR]

``promcast evaluate --cv 4`` deals the sorted files round-robin into 4 folds: one split. Here the files are dealt
into 4 folds by ``--splits`` random permutations (fixed seed), and for each split every fold's threshold is chosen
on the other three folds and applied to it (:func:`promcast.evaluation.cv.cross_validate` with those folds); the table gives
the spread of the normalised held-out scores. Detectors: the default ``ensemble``, ``artime``, and the previous
default (artime + cad_ose on the first day's range, p-value, 12h onset). Nothing here chooses a setting.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

from _common import REPO, print_table

from promcast.models.ensemble import PAIR_SCORE_SETTINGS

DETECTORS = {
    "ensemble (default)": ("ensemble", {}),
    "artime": ("artime", {}),
    "previous default ensemble": ("ensemble", PAIR_SCORE_SETTINGS),
}
SEED = 20261202


def main() -> None:
    from promcast.evaluation import nab
    from promcast.evaluation.corpus import load_corpus, windows_by_path
    from promcast.evaluation.cv import cross_validate
    from promcast.evaluation.runner import detect_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default=str(Path(REPO).parent / "shared" / "data" / "nab"))
    parser.add_argument("--splits", type=int, default=50)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--cache", default=".benchmarks/cv_splits", help="walk-forward scores are kept here")
    args = parser.parse_args()
    files = load_corpus(args.nab)
    windows = windows_by_path(files)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    paths = sorted(windows)
    splits = [rng.permutation(len(paths)) % args.folds for _ in range(args.splits)]
    rows = []
    for number, (label, (model, params)) in enumerate(DETECTORS.items()):
        path = cache / f"{number}.pkl"
        if not path.exists():
            path.write_bytes(pickle.dumps(detect_corpus(model, files, **params)[0]))
        scores = pickle.loads(path.read_bytes())
        cv = np.array([cross_validate({label: scores}, windows, args.folds, folds=dict(zip(paths, split))).normalized
                       for split in splits])
        in_sample = nab.score_corpus(scores, windows).normalized
        rows.append([label, f"{in_sample:.1f}", f"{cv.mean():.1f}", f"{cv.std():.1f}", f"{cv.min():.1f}",
                     f"{np.percentile(cv, 10):.1f}", f"{np.median(cv):.1f}", f"{cv.max():.1f}"])
    print(f"standard profile, threshold-only CV over {args.splits} random {args.folds}-fold splits (seed {SEED})")
    print_table(["detector", "in-sample", "CV mean", "sd", "min", "p10", "median", "max"], rows)


if __name__ == "__main__":
    main()
