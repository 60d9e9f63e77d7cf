"""The end-to-end demo: simulate → pack → train → predict → evaluate, on one CPU, in minutes.

This is the README's main job and the first thing a new user runs. It only strings together
the public API of the other modules; every step is also a CLI subcommand of its own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from brahmasifier._atomic import write_text_atomic

__all__ = ["FULL", "QUICK", "DemoSize", "DemoSummary", "format_summary", "run_demo"]


@dataclass(frozen=True)
class DemoSize:
    """How big each stage of the demo is."""

    train_per_class: int  # objects per class folder (4 folders: 2 domains × lens/non-lens)
    test_per_class: int
    epochs: int
    tta: str = "flips"
    n_bootstrap: int = 200


#: The full demo (≤ 10 minutes on a 2-core CPU) and the quick one used by the tests.
FULL = DemoSize(train_per_class=1000, test_per_class=250, epochs=15)
QUICK = DemoSize(train_per_class=40, test_per_class=20, epochs=2, n_bootstrap=20)


@dataclass
class DemoSummary:
    """What the demo produced and measured (also written to ``OUT/demo_summary.json``)."""

    out: str
    seconds: dict[str, float] = field(default_factory=dict)
    val_auc: float | None = None
    test_auc: float | None = None
    test_tpr_at_fpr_1e2: float | None = None
    predict_objects_per_s: float | None = None
    n_test_objects: int = 0
    paths: dict[str, str] = field(default_factory=dict)


def run_demo(
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    size: DemoSize | None = None,
) -> DemoSummary:
    """Run the whole pipeline into ``out`` and return a summary of what it measured."""
    from brahmasifier.evaluation import evaluate
    from brahmasifier.inference import PredictConfig, predict
    from brahmasifier.io import pack_fits
    from brahmasifier.simulation import simulate_dataset
    from brahmasifier.training import TrainConfig, train

    size = size or (QUICK if quick else FULL)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(out=str(out))
    paths = {
        "train_fits": out / "train_fits",
        "blind_fits": out / "blind_fits",
        "store": out / "train_store",
        "run": out / "run",
        "submission": out / "submission.csv",
        "probs": out / "probs.csv",
        "report": out / "report",
    }

    def stage(name: str) -> float:
        print(f"\n== {name} ==", flush=True)
        return time.perf_counter()

    t = stage(f"1/6 simulate a labelled training set ({4 * size.train_per_class} objects, challenge layout)")
    simulate_dataset(paths["train_fits"], n_per_class=size.train_per_class, seed=seed, layout="challenge",
                     workers=workers, progress=progress)
    summary.seconds["simulate_train"] = time.perf_counter() - t

    t = stage(f"2/6 simulate a blind test set ({4 * size.test_per_class} objects, neutral names, truth kept apart)")
    simulate_dataset(paths["blind_fits"], n_per_class=size.test_per_class, seed=seed + 1, layout="test",
                     workers=workers, progress=progress)
    summary.seconds["simulate_test"] = time.perf_counter() - t

    t = stage("3/6 pack the training FITS tree into a store")
    pack_fits([paths["train_fits"]], paths["store"], workers=workers, progress=progress)
    summary.seconds["pack"] = time.perf_counter() - t

    t = stage("4/6 train the default model")
    result = train(TrainConfig(data=[str(paths["store"])], out=str(paths["run"]), epochs=size.epochs, seed=seed,
                               progress=progress))
    summary.seconds["train"] = time.perf_counter() - t
    summary.val_auc = result.metrics.get("val_auc")

    t = stage(f"5/6 predict the blind set (TTA: {size.tta}) and write the submission")
    pred = predict(PredictConfig(models=[str(paths["run"])], data=[str(paths["blind_fits"] / "images")],
                                 out=str(paths["submission"]), probs_out=str(paths["probs"]), tta=size.tta, workers=workers,
                                 progress=progress))
    summary.seconds["predict"] = time.perf_counter() - t
    summary.n_test_objects = pred.n_scored
    summary.predict_objects_per_s = pred.objects_per_second

    t = stage("6/6 evaluate against the held-back truth")
    metrics = evaluate(paths["probs"], paths["blind_fits"] / "truth.csv", paths["report"],
                       images=paths["blind_fits"] / "images", model=paths["run"], n_bootstrap=size.n_bootstrap,
                       seed=seed, progress=progress)
    summary.seconds["evaluate"] = time.perf_counter() - t
    overall = metrics["overall"]["metrics"]
    summary.test_auc = _value(overall["auc_roc"])
    summary.test_tpr_at_fpr_1e2 = _value(overall["tpr_at_fpr_1e-02"])

    summary.paths = {k: str(v) for k, v in paths.items()}
    summary.paths["report_html"] = str(paths["report"] / "report.html")
    write_text_atomic(out / "demo_summary.json", json.dumps(asdict(summary), indent=2))
    print(format_summary(summary), flush=True)
    return summary


def _value(entry: Any) -> float | None:
    """A metric may be a number or a dict with a ``value`` (and interval)."""
    if isinstance(entry, dict):
        entry = entry.get("value")
    return None if entry is None else float(entry)


def format_summary(s: DemoSummary) -> str:
    """The short closing summary printed at the end of the demo."""
    def f(x: float | None, fmt: str = "{:.4f}") -> str:
        return "n/a" if x is None else fmt.format(x)

    total = sum(s.seconds.values())
    lines = [
        "",
        "== Brahmasifier demo: done ==",
        f"validation AUC (simulated training split) : {f(s.val_auc)}",
        f"blind-set AUC                             : {f(s.test_auc)}",
        f"blind-set TPR at FPR = 1e-2               : {f(s.test_tpr_at_fpr_1e2)}",
        f"prediction speed                          : {f(s.predict_objects_per_s, '{:.0f}')} objects/s "
        f"({s.n_test_objects} objects)",
        f"total time                                : {total:.0f} s ("
        + ", ".join(f"{k} {v:.0f}s" for k, v in s.seconds.items()) + ")",
        f"submission                                : {s.paths.get('submission')}",
        f"report                                    : {s.paths.get('report_html')}",
        f"model                                     : {s.paths.get('run')}/model",
    ]
    return "\n".join(lines)
