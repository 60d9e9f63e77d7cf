"""One place for the survey facts every module shares: band order, stamp size, pixel scale, truth conventions.

Per-band instrument settings (zero points, seeing, sky) live in
:mod:`brahmasifier.simulation.instrument`, apart from the lensing physics.
"""

from __future__ import annotations

__all__ = [
    "BANDS", "CODE_BY_DOMAIN", "DOMAIN_BY_CODE", "MISSING_VALUE", "PIXEL_SCALE", "STAMP_SIZE", "TRUTH_CONVENTIONS",
    "UNKNOWN_DOMAIN", "UNKNOWN_LABEL", "band_groups", "band_index",
]

#: Channel order of every image array in the package: (N, len(BANDS), STAMP_SIZE, STAMP_SIZE).
BANDS: tuple[str, ...] = ("g", "r", "i", "z", "y")
#: Side of a challenge cutout in pixels.
STAMP_SIZE: int = 41
#: Arcseconds per pixel of the challenge cutouts (LSST).
PIXEL_SCALE: float = 0.2
#: Value the challenge uses for "unknown / not predicted".
MISSING_VALUE: float = -999.0

#: Domain names, keyed by the X of the challenge's ``DX_...`` file names.
DOMAIN_BY_CODE: dict[str, str] = {"1": "slsim", "2": "hsc"}
CODE_BY_DOMAIN: dict[str, str] = {v: k for k, v in DOMAIN_BY_CODE.items()}
UNKNOWN_DOMAIN: str = "unknown"
UNKNOWN_LABEL: int = -1


def band_index(band: str) -> int:
    """Channel index of ``band``; raises a clear error for an unknown band."""
    try:
        return BANDS.index(band)
    except ValueError:
        raise ValueError(f"unknown band {band!r}; expected one of {', '.join(BANDS)}") from None


def band_groups(spec: str, setting: str = "band groups") -> tuple[tuple[int, ...], ...]:
    """Channel indices of comma-separated groups of band letters (``"gy,riz"`` → ``((0, 4), (1, 2, 3))``).

    Every band exactly once, each group non-empty: the groups of bands turned together
    (``perturb --misregister-groups``, ``predict --band-groups``). Raises ``ValueError`` naming
    ``setting`` and the spec.
    """
    parts = spec.split(",")
    letters = "".join(parts)
    if sorted(letters) != sorted(BANDS) or any(not part for part in parts):
        raise ValueError(f"{setting} {spec!r}: every band of {''.join(BANDS)} exactly once, groups separated by "
                         "commas (e.g. 'gy,riz')")
    return tuple(tuple(sorted(BANDS.index(b) for b in part)) for part in parts)


#: The geometric conventions of the truth columns both simulation engines write, as data (the one
#: home: ``simulation.truth.CONVENTIONS`` is this dict, documented there and in docs/conventions.md;
#: ``models.conventions.SIMULATOR_CONVENTIONS`` reads it). Here, in the bottom layer, so that a model
#: card's target spec is readable without lenstronomy (which ``brahmasifier.simulation`` needs).
TRUTH_CONVENTIONS: dict[str, object] = {
    "ellipticity": "axis_ratio",
    "angle_unit": "deg",
    "angle_range": (0.0, 180.0),
    "angle_origin": "+y",
    "angle_towards": "+x",
    "x_axis": "+col",
    "y_axis": "+row",
    "position_centre": 0.0,
    "position_unit": "arcsec",
}
