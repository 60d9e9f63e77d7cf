"""Side-by-side distributions of simulated populations (for matching one engine to another).

Reads the truth tables of simulated folders (``parameters.fits`` of the class folders, or a
blind set's ``truth.csv``) and derives, per object, the quantities of :data:`LENS_QUANTITIES`
and :data:`NONLENS_QUANTITIES` from the challenge and ``sim_*`` columns
(:mod:`brahmasifier.simulation.truth`; a quantity an engine does not record — our engine's
``sim_offset_*`` only with ``scene_offset`` on, ``sim_gamma_pl``/``sim_kappa_ext`` only with its mass
options on — shows n = 0). The companions of the ``false_positive`` non-lenses (number, smallest
and largest separation, brightest i magnitude) are compared over that kind alone.
:func:`quantile_table` prints the 5/16/50/84/95 %
quantiles of each engine side by side, :func:`ks_table` tests each against a reference sample
(two-sample Kolmogorov–Smirnov); :func:`plot_distributions` overlays their histograms
in one figure. ``experiments/compare_engines.py`` draws the samples and calls these.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, MISSING_VALUE

__all__ = ["LENS_QUANTITIES", "NONLENS_QUANTITIES", "QUANTILES", "ks_table", "load_truth", "plot_distributions",
           "quantile_table"]

QUANTILES: tuple[float, ...] = (0.05, 0.16, 0.50, 0.84, 0.95)
Quantity = Callable[[pd.DataFrame], "pd.Series[float]"]


def _col(name: str) -> Quantity:
    return lambda t: t[name]


def _colour(a: str, b: str, prefix: str) -> Quantity:
    return lambda t: t[f"{prefix}_{a}"] - t[f"{prefix}_{b}"]


def _offset(t: pd.DataFrame) -> pd.Series[float]:
    """Distance of the scene centre from the stamp centre (``sim_offset_x/y``), arcsec."""
    return (t["sim_offset_x"] ** 2 + t["sim_offset_y"] ** 2) ** 0.5


def _false_positives(name: str) -> Quantity:
    """Column ``name`` of the ``false_positive`` non-lenses alone (the companion truth)."""
    return lambda t: t.loc[t["sim_subtype"] == "false_positive", name]


#: Lens quantities: label → function of the truth table (a column expression).
LENS_QUANTITIES: dict[str, Quantity] = {
    "theta_E [arcsec]": _col("Rein"),
    "image separation [arcsec]": _col("sim_image_sep"),
    "number of images": _col("sim_n_images"),
    "arc mag i": _col("sim_arc_mag_i"),
    "arc S/N i (matched filter)": _col("sim_arc_snr_i"),
    "magnification": _col("sim_magnification"),
    "deflector mag i": _col("mag_lens_i"),
    "deflector g-i": _colour("g", "i", "mag_lens"),
    "deflector Reff [arcsec]": _col("Reff_l"),
    "source mag i (unlensed)": _col("mag_src_i"),
    "source g-i": _colour("g", "i", "mag_src"),
    "source Reff [arcsec]": _col("Reff_s"),
    "zlens": _col("zlens"),
    "zsrc": _col("zsrc"),
    "EPL slope": _col("sim_gamma_pl"),
    "external shear": _col("sh"),
    "external convergence": _col("sim_kappa_ext"),
    "scene offset [arcsec]": _offset,
    **{f"PSF FWHM {b} [arcsec]": _col(f"sim_psf_fwhm_{b}") for b in BANDS},
}
#: Quantities histogrammed on a logarithmic axis.
LOG_SCALE: frozenset[str] = frozenset({"arc S/N i (matched filter)", "magnification"})
#: Non-lens quantities.
NONLENS_QUANTITIES: dict[str, Quantity] = {
    "central mag i": _col("mag_lens_i"),
    "central g-i": _colour("g", "i", "mag_lens"),
    "z_central": _col("z_central"),
    "scene offset [arcsec]": _offset,
    "false-positive companions": _false_positives("sim_n_companions"),
    "companion sep min [arcsec]": _false_positives("sim_companion_sep_min"),
    "companion sep max [arcsec]": _false_positives("sim_companion_sep_max"),
    "brightest companion mag i": _false_positives("sim_companion_mag_i"),
    **{f"PSF FWHM {b} [arcsec]": _col(f"sim_psf_fwhm_{b}") for b in BANDS},
}


def load_truth(folder: str | Path) -> pd.DataFrame:
    """All objects' truth rows of a simulated folder, with ``label`` and ``domain`` columns.

    Args:
        folder: a folder written by ``brahmasifier simulate`` (either layout).

    Returns:
        One row per object; ``MISSING_VALUE`` entries become NaN.

    Raises:
        FileNotFoundError: ``folder`` has no finished simulation (``simulation.json``).
    """
    from brahmasifier.io.fits import read_parameters_fits

    folder = Path(folder)
    manifest_path = folder / "simulation.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{folder}: no simulation.json (not a finished simulation)")
    manifest = json.loads(manifest_path.read_text())
    paths: Mapping[str, str] = manifest.get("paths", {})
    if "truth" in paths:
        table = pd.read_csv(folder / paths["truth"], dtype={"id": str})
    else:
        parts = []
        for name, rel in paths.items():
            if name.endswith(("_lenses", "_nonlenses")):
                part = read_parameters_fits(folder / rel / "parameters.fits")
                part["label"] = 1 if name.endswith("_lenses") else 0
                part["domain"] = name.split("_")[0]
                parts.append(part)
        table = pd.concat(parts, ignore_index=True)
    numeric = table.select_dtypes("number").columns
    table[numeric] = table[numeric].where(table[numeric] != MISSING_VALUE)
    return table


def _values(table: pd.DataFrame, quantity: Quantity) -> np.ndarray:
    try:
        values = np.asarray(quantity(table), dtype=float)
    except KeyError:
        return np.array([])
    return values[np.isfinite(values)]


def quantile_table(samples: Mapping[str, pd.DataFrame], quantities: Mapping[str, Quantity],
                   quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """Quantiles of every quantity for every engine, side by side.

    Args:
        samples: engine name → truth table (one class).
        quantities: label → column expression (:data:`LENS_QUANTITIES` or :data:`NONLENS_QUANTITIES`).
        quantiles: the quantiles to show.

    Returns:
        Rows ``(quantity, engine)``, columns ``n`` and ``q05 … q95``.
    """
    rows = []
    for label, quantity in quantities.items():
        for engine, table in samples.items():
            values = _values(table, quantity)
            stats = np.quantile(values, quantiles) if len(values) else np.full(len(quantiles), np.nan)
            rows.append({"quantity": label, "engine": engine, "n": len(values),
                         **{f"q{round(100 * q):02d}": float(s) for q, s in zip(quantiles, stats, strict=True)}})
    return pd.DataFrame(rows).set_index(["quantity", "engine"])


def ks_table(samples: Mapping[str, pd.DataFrame], quantities: Mapping[str, Quantity], reference: str) -> pd.DataFrame:
    """Two-sample Kolmogorov–Smirnov test of every sample against ``reference``, per quantity.

    Args:
        samples: engine name → truth table (one class); must hold ``reference``.
        quantities: label → column expression.
        reference: the sample the others are tested against.

    Returns:
        Rows ``(quantity, engine)`` for the quantities both record, columns ``n``, ``n_ref``, the
        KS distance ``D`` and its p-value (discrete quantities such as counts: a conservative p).
    """
    from scipy.stats import ks_2samp

    rows = []
    for label, quantity in quantities.items():
        ref = _values(samples[reference], quantity)
        for engine, table in samples.items():
            values = _values(table, quantity)
            if engine == reference or not len(values) or not len(ref):
                continue
            test = ks_2samp(values, ref)
            rows.append({"quantity": label, "engine": engine, "n": len(values), "n_ref": len(ref),
                         "D": float(test.statistic), "p": float(test.pvalue)})
    return pd.DataFrame(rows, columns=["quantity", "engine", "n", "n_ref", "D", "p"]).set_index(["quantity", "engine"])


def plot_distributions(samples: Mapping[str, pd.DataFrame], quantities: Mapping[str, Quantity], path: str | Path,
                       title: str = "") -> Path:
    """One figure, a grid of histograms (one per quantity), engines overlaid; written to ``path``.

    Args:
        samples: engine name → truth table.
        quantities: label → column expression.
        path: PNG to write.
        title: figure title.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter


    labels = list(quantities)
    n_cols = 5
    n_rows = -(-len(labels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.5 * n_rows), squeeze=False)
    for ax, label in zip(axes.ravel(), labels, strict=False):  # the grid may have spare axes
        data = {engine: _values(table, quantities[label]) for engine, table in samples.items()}
        pooled = np.concatenate([v for v in data.values() if len(v)]) if any(len(v) for v in data.values()) else np.array([0.0])
        log = label in LOG_SCALE and bool(np.all(pooled > 0))
        lo, hi = np.quantile(pooled, [0.005, 0.995])
        hi = hi if hi > lo else lo + 1.0
        bins = np.geomspace(lo, hi, 31) if log else np.linspace(lo, hi, 31)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        for engine, values in data.items():
            if len(values):
                ax.hist(np.clip(values, bins[0], bins[-1]), bins=bins, histtype="step", density=True, lw=1.5,
                        label=f"{engine} (n={len(values)})")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(labels):]:
        ax.set_axis_off()
    axes.ravel()[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from brahmasifier.display import save_figure

    save_figure(fig, path, dpi=100)
    plt.close(fig)
    return Path(path)
