"""Offline pretrained weights and the band → RGB-filter mapping of the stem.

timm adapts a 3-channel (RGB) first convolution to ``n`` input channels by giving input
channel ``k`` the pretrained filter of colour ``k mod 3`` scaled by ``3/n``
(``timm.models.adapt_input_conv``). Which *band* lands in channel ``k`` is decided by the
card's ``bands`` (the stem-channel order; the model gathers them from the g,r,i,z,y input):

- ``grizy`` (default order): g←R, r←G, i←B, z←R, y←G. Colours are reversed for g,r,i.
- ``irgzy``: i←R, r←G, g←B, z←R, y←G. The three optical bands inherit the filters of the
  RGB colours they most resemble (redder band ↔ redder channel), which is the mapping to
  prefer when fine-tuning ImageNet weights.

Weights are loaded from a **local file** only (``.safetensors`` or a weights-only ``.pth``);
nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from brahmasifier.bands import BANDS
from brahmasifier.errors import ConfigError, InputNotFoundError

__all__ = ["BAND_MAPPINGS", "RGB", "check_pretrained_file", "resolve_band_mapping", "stem_rgb_sources"]

#: Named stem band orders (see module docstring).
BAND_MAPPINGS: dict[str, tuple[str, ...]] = {
    "grizy": BANDS,
    "irgzy": ("i", "r", "g", "z", "y"),
}
RGB: tuple[str, str, str] = ("R", "G", "B")


def resolve_band_mapping(mapping: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Stem band order from a mapping name (``grizy``/``irgzy``), a list of bands, or ``None`` (default)."""
    if mapping is None:
        return list(BANDS)
    if isinstance(mapping, str):
        if mapping in BAND_MAPPINGS:
            return list(BAND_MAPPINGS[mapping])
        bands = list(mapping.replace(",", ""))
    else:
        bands = list(mapping)
    if not bands or any(b not in BANDS for b in bands) or len(set(bands)) != len(bands):
        raise ConfigError(
            f"band mapping {mapping!r}: expected one of {', '.join(BAND_MAPPINGS)} or distinct bands among {''.join(BANDS)}"
        )
    return bands


def stem_rgb_sources(bands: list[str] | tuple[str, ...]) -> dict[str, tuple[str, float]]:
    """For each stem band, the pretrained RGB filter it inherits and its scale (timm's rule)."""
    n = len(bands)
    return {band: (RGB[k % 3], 3.0 / n) for k, band in enumerate(bands)}


def check_pretrained_file(path: str | Path) -> Path:
    """The path as a ``Path`` if it is a readable local weights file; a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: pretrained weights file not found (weights are never downloaded)")
    if path.suffix not in {".safetensors", ".pth", ".pt", ".bin"}:
        raise ConfigError(f"{path}: pretrained weights must be .safetensors or a weights-only .pth/.pt/.bin file")
    return path
