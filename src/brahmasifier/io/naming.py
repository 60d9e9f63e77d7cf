"""File-name conventions of the challenge: ``DX_IYYYYYYY_b.fits`` and neutral ``<stem>_<b>.fits``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brahmasifier.bands import BANDS, CODE_BY_DOMAIN, DOMAIN_BY_CODE, UNKNOWN_DOMAIN, UNKNOWN_LABEL

__all__ = ["ParsedName", "band_filename", "labelled_stem", "parse_band_filename"]

_BAND_ALT = "|".join(BANDS)
_LABELLED = re.compile(rf"^(?P<stem>D(?P<code>[12])_(?P<kind>[LN])(?P<num>\d+))_(?P<band>{_BAND_ALT})\.fits$")
_NEUTRAL = re.compile(rf"^(?P<stem>.+)_(?P<band>{_BAND_ALT})\.fits$")


@dataclass(frozen=True)
class ParsedName:
    """What a band file's name tells: the object stem, the band, and (labelled set only) truth."""

    stem: str
    band: str
    label: int  # 1 lens, 0 non-lens, -1 unknown
    domain: str  # "slsim", "hsc" or "unknown"


def parse_band_filename(name: str) -> ParsedName | None:
    """Parse a band file's base name; ``None`` if it follows neither convention."""
    m = _LABELLED.match(name)
    if m:
        return ParsedName(
            stem=m["stem"],
            band=m["band"],
            label=1 if m["kind"] == "L" else 0,
            domain=DOMAIN_BY_CODE[m["code"]],
        )
    m = _NEUTRAL.match(name)
    if m:
        return ParsedName(stem=m["stem"], band=m["band"], label=UNKNOWN_LABEL, domain=UNKNOWN_DOMAIN)
    return None


def labelled_stem(domain: str, label: int, number: int) -> str:
    """Stem of a labelled object, e.g. ``labelled_stem('slsim', 1, 42) == 'D1_L0000042'``."""
    if label not in (0, 1):
        raise ValueError(f"label must be 0 or 1 for a labelled name, got {label!r}")
    return f"D{CODE_BY_DOMAIN[domain]}_{'L' if label == 1 else 'N'}{number:07d}"


def band_filename(stem: str, band: str) -> str:
    """File name of one band of an object."""
    if band not in BANDS:
        raise ValueError(f"unknown band {band!r}")
    return f"{stem}_{band}.fits"
