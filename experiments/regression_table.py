"""Issue 15's comparison table from two ``brahmasifier evaluate`` outputs (multi-task and classification-only).

Usage (the README's "Lens parameters" run; the folders hold ``metrics.json``)::

    python experiments/regression_table.py EVAL_MULTITASK EVAL_CLASSIFICATION

Prints a Markdown table: AUC and TPR at FPR 1e-2 / 1e-3 of both models (with their 68% bootstrap
intervals), θ_E median bias and 16–84% error range for θ_E ≥ 0.5″, zlens and σ_v NMAD, and the
68% coverage of every predicted parameter. Every number is read from the files, none computed here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _metric(result: dict[str, Any], key: str) -> str:
    m = result["overall"]["metrics"][key]
    lo, hi = m.get("ci68") or (None, None)
    value = m["value"]
    if value is None:
        return "n/a"
    return f"{value:.4f}" + (f" [{lo:.4f}, {hi:.4f}]" if lo is not None else "")


def main() -> int:
    """Print the table (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("multitask", type=Path)
    parser.add_argument("classification", type=Path)
    args = parser.parse_args()
    mt = json.loads((args.multitask / "metrics.json").read_text())
    cls = json.loads((args.classification / "metrics.json").read_text())
    print("| | target (issue 15) | multi-task | classification-only |\n|---|---|---|---|")
    for key, label in (("auc_roc", "AUC"), ("tpr_at_fpr_1e-02", "TPR at FPR 10⁻²"), ("tpr_at_fpr_1e-03", "TPR at FPR 10⁻³")):
        print(f"| {label} | no loss | {_metric(mt, key)} | {_metric(cls, key)} |")
    head = mt["parameters"]["headline"]
    r = head["rein_ge_0.5"]
    print(f"| θ_E median bias, θ_E ≥ 0.5″ ({r['n']} lenses) | ≤ 0.02″ | {r['bias']:+.3f}″ | |")
    print(f"| θ_E 16–84% error range, θ_E ≥ 0.5″ | within ±0.10″ | {r['p16']:+.3f}″ … {r['p84']:+.3f}″ | |")
    for key, label in (("zlens_nmad", "zlens NMAD of Δz/(1+z)"), ("vel_disp_nmad", "vel_disp NMAD (relative)")):
        value = head.get(key)
        print(f"| {label} | ≤ 10% | {'n/a' if value is None else f'{value:.3f}'} | |")
    print(f"| columns with 68% coverage in [0.63, 0.73] | all | {head['coverage_68_in_band']} | |")
    print("\n| parameter | n | bias | NMAD | 16% | 84% | outliers | coverage 68% | coverage 95% |")
    print("|---|---|---|---|---|---|---|---|---|")
    for col, entry in mt["parameters"]["metrics"].items():
        a = entry["all"]
        cells = [f"{a[k]:.3f}" if a.get(k) is not None else "n/a"
                 for k in ("bias", "nmad", "p16", "p84", "outlier_fraction", "coverage_68", "coverage_95")]
        print(f"| {col} ({entry['kind']}) | {a['n']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
