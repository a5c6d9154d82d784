"""Which ensemble wins under cross-validation: members run once, candidates built offline, nested CV.

    PYTHONPATH=backend .venv/bin/python benchmarks/ensemble_selection.py --nab ../shared/data/nab [--cache DIR]

Each member detector is run walk-forward over the NAB files once (cached in ``--cache``); every candidate
ensemble (:class:`promcast.evaluation.selection.Candidate`) is built from those scores. For each profile
it prints every candidate's in-sample score and threshold-only CV score, then the *nested* CV score: for
each held-out fold the candidate and threshold that score best on the other folds, applied unchanged.
The nested score is what the procedure "pick the best candidate" is worth on files it has not seen; the
candidate chosen on all files becomes the default ``ensemble``.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import pandas as pd

from _common import REPO  # noqa: F401  (puts backend/ on the path)

from promcast.evaluation.corpus import load_corpus, windows_by_path
from promcast.evaluation.cv import DEFAULT_FOLDS, cross_validate
from promcast.evaluation.nab import PROFILES, score_corpus
from promcast.evaluation.runner import detect_corpus
from promcast.evaluation.selection import Candidate, build

MEMBERS = ("artime", "cad_ose", "knn", "iforest")
#: the design card's detection mix, scored beside the grid (not a candidate) with ``--design-card``
DESIGN_CARD = Candidate((("prophet", 0.3), ("lstm", 0.4), ("iforest", 0.3)), "pvalue", "12h")


def candidates() -> list[Candidate]:
    """The grid (19 candidates; see the note on the four added last), the previous default first (ties go to it)."""
    out = [Candidate((("iforest", 0.5), ("knn", 0.5)), "pvalue", "1d", 0.2)]
    out += [Candidate(((name, 1.0),)) for name in ("artime", "cad_ose")]
    # added in wave 2's fourth session, after the range rebuild made cad_ose alone the best candidate: a
    # lone member with the onset spans the pairs already had (the single-member candidates had none)
    out += [Candidate(((name, 1.0),), "max", onset) for name in ("artime", "cad_ose") for onset in ("12h", "1d")]
    for combine in ("max", "mean", "pvalue"):
        for onset in (None, "12h", "1d"):
            out.append(Candidate((("artime", 1.0), ("cad_ose", 1.0)), combine, onset))
    out.append(Candidate((("artime", 2.0), ("cad_ose", 1.0)), "mean"))
    out.append(Candidate((("artime", 1.0), ("cad_ose", 2.0)), "mean"))
    out.append(Candidate((("artime", 1.0), ("cad_ose", 1.0), ("knn", 1.0)), "max", "1d", 0.2))
    return out


def member_scores(files, cache: Path, names=MEMBERS) -> tuple[dict, dict]:
    scores, seconds = {}, {}
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = cache / f"{name}.pkl"
        if path.exists():
            scores[name], seconds[name] = pickle.loads(path.read_bytes())
            continue
        scores[name], seconds[name] = detect_corpus(name, files)
        path.write_bytes(pickle.dumps((scores[name], seconds[name])))
    return scores, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default=str(Path(REPO).parent / "shared" / "data" / "nab"))
    parser.add_argument("--cache", default="/tmp/promcast-members")
    parser.add_argument("--cv", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--design-card", action="store_true",
                        help="also score the design card's prophet 0.3 / lstm 0.4 / iforest 0.3 mix (slow members)")
    args = parser.parse_args()
    files = load_corpus(args.nab)
    windows = windows_by_path(files)
    values = {f.path: f.values for f in files}
    first = {f.path: int((f.values.index < f.values.index[0] + pd.Timedelta("1D")).sum()) for f in files}
    names = MEMBERS + (("prophet", "lstm") if args.design_card else ())
    members, seconds = member_scores(files, Path(args.cache), names)
    print("member walk-forward seconds:", ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    started = time.perf_counter()
    built = {c.label: build(c, members, values, first) for c in candidates()}
    for profile in PROFILES:
        print(f"\n{profile}: candidate, in-sample, CV (threshold only)")
        for label, scores in built.items():
            ins = score_corpus(scores, windows, profile).normalized
            cv = cross_validate({label: scores}, windows, args.cv, profile).normalized
            print(f"  {label:55s} {ins:6.1f} {cv:6.1f}")
        nested = cross_validate(built, windows, args.cv, profile)
        best_all = max(built, key=lambda k: score_corpus(built[k], windows, profile).normalized)
        print(f"  nested CV {nested.normalized:.1f}; chosen per fold: {nested.chosen}; chosen on all files: {best_all}")
    if args.design_card:
        card = build(DESIGN_CARD, members, values, first)
        for profile in PROFILES:
            ins = score_corpus(card, windows, profile).normalized
            cv = cross_validate({"card": card}, windows, args.cv, profile).normalized
            print(f"design card {DESIGN_CARD.label}, {profile}: in-sample {ins:.1f}, CV {cv:.1f}")
    print(f"\nselection took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
