"""The misregistration detector: a small network that reads the registration estimate's per-band numbers.

Contract. :func:`features` turns a :class:`~brahmasifier.survey.registration.BandAngles` of
five bands (estimated each on its own, no groups) into :data:`N_FEATURES` numbers per object:
per band ``log gain`` (0 for bands under ``min_angle``, :data:`~brahmasifier.survey.registration.MIN_ANGLE`),
``log(1 − ρ(0))``, ``log(1 − ρ at the estimate)`` and whether the band is at least
``MIN_ANGLE`` from 0, then the rule's ``object_score`` and its log. :func:`detector` loads the
shipped network (``data/registration_detector.safetensors``: numpy arrays, no pickle; the
feature names, the threshold and how it was fitted in the file's metadata) once per process;
:meth:`Detector.logit` is its evidence that the object's bands are rotated against each other,
and ``logit ≥`` ``Detector.threshold`` flags it. Two hidden layers of 32 (ReLU), numpy
only: the data loader's workers never import torch for it, and 1,000 objects take 0.3 ms beside
the checks' ~70 ms.

Why (``docs/survey-pixels.md`` §3, "A detector fitted to the estimate's numbers"): the rule's
one number per band (gain / max(1 − ρ(0), 0.2) × peak) throws away what separates a turned
band from a colourful one. Bright, smooth objects gain little correlation when turned back
(ρ(0) is already 0.97–0.99) though their angles are estimated to a degree; faint ones can gain
as much from noise. Every hand-made combination tried (other floors, the residual's shrinkage
``log((1 − ρ(0)) / (1 − peak))``, the best two or three bands, S/N-dependent thresholds) moved
detection by at most a point; a network over these numbers, fitted on our engine's and the
SLSim engine's perturbed training objects (and faint copies of the clean ones: without them it
flagged 2.4% of cutouts of noise alone, with them 0.2%), flags 95.2–96.0% of objects spanning
≥ 10° cut to the circle on SLSim's own configuration and on our engine's (held out) against
90.5–91.6% for the rule, at ≤ 0.58% false flags (0.7–1.05% for the rule).
:func:`~brahmasifier.survey.registration.estimate_band_angles` uses it where it applies (five
bands, no groups, no explicit ``min_score``) and the rule elsewhere.

Refit with ``experiments/fit_registration_detector.py`` (the command is in the file's metadata).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Protocol

import numpy as np

from brahmasifier.bands import BANDS

__all__ = ["FEATURE_NAMES", "N_BANDS", "N_FEATURES", "Detector", "Estimate", "detector", "features"]

#: Bands the shipped detector reads (g, r, i, z, y, in that order).
N_BANDS: int = len(BANDS)
#: Numbers per object (four per band, then the rule's score and its log).
N_FEATURES: int = 4 * N_BANDS + 2
#: Their names, in :func:`features`' order (the fitted file's metadata lists the ones it was fitted on).
FEATURE_NAMES: tuple[str, ...] = (*(f"log_gain_{b}" for b in BANDS), *(f"log_residual0_{b}" for b in BANDS),
                                  *(f"log_residual_{b}" for b in BANDS), *(f"turned_{b}" for b in BANDS),
                                  "rule_score", "log_rule_score")
#: Floor of every quantity before its log (gains and residuals below it are all "none").
_FLOOR: float = 1e-4
#: The network's file, in the package's data folder.
FILE: str = "registration_detector.safetensors"
_LAYERS: tuple[str, ...] = ("w0", "b0", "w1", "b1", "w2", "b2")


class Estimate(Protocol):
    """What :func:`features` reads of a :class:`~brahmasifier.survey.registration.BandAngles`."""

    angles: np.ndarray
    gain: np.ndarray
    peak: np.ndarray
    object_score: np.ndarray


def features(angles: Estimate, min_angle: float) -> np.ndarray:
    """``(k, N_FEATURES)`` float32: the detector's input for each object (module docstring); ``min_angle``: "turned"."""
    gain = np.asarray(angles.gain, dtype=np.float64)
    peak = np.asarray(angles.peak, dtype=np.float64)
    if gain.ndim != 2 or gain.shape[1] != N_BANDS:
        raise ValueError(f"the registration detector reads {N_BANDS} bands; got gains of shape {gain.shape}")
    big = (np.abs(angles.angles) >= min_angle).astype(np.float64)
    rho0 = peak - gain
    score = np.asarray(angles.object_score, dtype=np.float64)[:, None]
    out = np.concatenate([np.log(np.maximum(gain, _FLOOR)) * big, np.log(np.maximum(1.0 - rho0, _FLOOR)),
                          np.log(np.maximum(1.0 - peak, _FLOOR)), big, score, np.log(np.maximum(score, 0.0) + 1e-3)],
                         axis=1)
    return out.astype(np.float32)


class Detector:
    """The fitted network: standardise, two ReLU layers, one logit; ``threshold`` flags.

    ``arrays`` holds ``mean``, ``scale`` (the features' standardisation) and ``w0, b0, w1, b1,
    w2, b2`` (``w`` as ``(in, out)``); ``metadata`` the file's strings (``threshold``,
    ``features``, ``fitted_by``, …).
    """

    def __init__(self, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
        missing = [name for name in ("mean", "scale", *_LAYERS) if name not in arrays]
        if missing:
            raise ValueError(f"registration detector: arrays {missing} missing")
        if arrays["mean"].shape != (N_FEATURES,) or arrays["w0"].shape[0] != N_FEATURES:
            raise ValueError(f"registration detector: expects {N_FEATURES} features, "
                             f"got mean {arrays['mean'].shape} and w0 {arrays['w0'].shape}")
        self.arrays = {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}
        self.metadata = metadata
        self.threshold = float(metadata["threshold"])

    def logit(self, x: np.ndarray) -> np.ndarray:
        """The evidence (a logit) for each row of :func:`features`' output."""
        a = self.arrays
        h = (np.asarray(x, dtype=np.float32) - a["mean"]) / a["scale"]
        h = np.maximum(h @ a["w0"] + a["b0"], 0.0)
        h = np.maximum(h @ a["w1"] + a["b1"], 0.0)
        return (h @ a["w2"] + a["b2"])[:, 0].astype(np.float64)


@lru_cache(maxsize=1)
def detector() -> Detector:
    """The shipped detector (loaded once per process)."""
    from safetensors import safe_open

    path = resources.files("brahmasifier.survey") / "data" / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the registration detector is missing from this installation "
                                f"(package data brahmasifier/survey/data/{FILE}); reinstall brahmasifier")
    with resources.as_file(path) as local, safe_open(str(local), framework="numpy") as handle:
        arrays = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = dict(handle.metadata() or {})
    if "threshold" not in metadata:
        raise ValueError(f"{path}: no threshold in the metadata")
    return Detector(arrays, metadata)
