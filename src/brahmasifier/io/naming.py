"""File-name conventions of the challenge: labelled ``DX_I_YYYYYYYY_b.fits`` and neutral ``<stem>_<b>.fits``.

Two labelled forms are read, and told apart only by the underscore after ``L``/``N``:

- **published** (the release as downloaded): ``D1_L_00032155_g.fits`` — an underscore after
  the class letter and 8 digits (seen in other teams' file listings of the real release);
- **legacy**: ``D1_L0000668_g.fits`` — no underscore (how the data-release note's text reads
  once its underscores are lost; what this package wrote before).

Both give the domain (``D1`` SLSim, ``D2`` HSC) and the label (``L`` lens, ``N`` non-lens); the
stem (file name without ``_<band>.fits``) is kept exactly as found. Any other ``<stem>_<b>.fits``
is neutral (label -1), e.g. the blind test set's ``object_00042_g.fits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brahmasifier.bands import BANDS, CODE_BY_DOMAIN, DOMAIN_BY_CODE, UNKNOWN_DOMAIN, UNKNOWN_LABEL

__all__ = [
    "NAME_FORMS",
    "ParsedName",
    "band_filename",
    "blind_stem",
    "labelled_stem",
    "name_problem",
    "parse_band_filename",
    "printable_name",
]

#: Labelled name forms: ``published`` (default) and ``legacy`` (see the module docstring).
NAME_FORMS: tuple[str, ...] = ("published", "legacy")

# Band letters and the extension are matched without regard to case (``_G.FITS``, ``.fit``):
# a file system or a copy tool that changes case must not turn an object into stray files.
_BAND_ALT = "|".join(BANDS)
_SUFFIX = rf"_(?P<band>(?i:{_BAND_ALT}))\.(?i:fits?)\Z"
_LABELLED = re.compile(rf"^(?P<stem>D(?P<code>[12])_(?P<kind>[LN])_?(?P<num>\d+)){_SUFFIX}", re.DOTALL)
_NEUTRAL = re.compile(rf"^(?P<stem>.+){_SUFFIX}", re.DOTALL)
_DIGITS = {"published": 8, "legacy": 7}


@dataclass(frozen=True)
class ParsedName:
    """What a band file's name tells: the object stem, the band, and (labelled set only) truth."""

    stem: str
    band: str
    label: int  # 1 lens, 0 non-lens, -1 unknown
    domain: str  # "slsim", "hsc" or "unknown"


def parse_band_filename(name: str) -> ParsedName | None:
    """Parse a band file's base name; ``None`` if it follows no convention.

    Args:
        name: the file's base name, e.g. ``"D2_N_00000017_r.fits"``.

    Returns:
        The stem, band (lower case), label and domain, or ``None`` for a name that is not a band
        file. The band letter and the ``.fits``/``.fit`` extension may be in any case.
    """
    m = _LABELLED.match(name)
    if m:
        return ParsedName(
            stem=m["stem"],
            band=m["band"].lower(),
            label=1 if m["kind"] == "L" else 0,
            domain=DOMAIN_BY_CODE[m["code"]],
        )
    m = _NEUTRAL.match(name)
    if m:
        return ParsedName(stem=m["stem"], band=m["band"].lower(), label=UNKNOWN_LABEL, domain=UNKNOWN_DOMAIN)
    return None


def labelled_stem(domain: str, label: int, number: int, *, form: str = "published") -> str:
    """Stem of a labelled object.

    Args:
        domain: ``"slsim"`` or ``"hsc"``.
        label: 1 (lens) or 0 (non-lens).
        number: the object's index within its class (zero-padded, wider if it needs more digits).
        form: ``"published"`` (``D1_L_00000042``, the release's form) or ``"legacy"`` (``D1_L0000042``).

    Returns:
        The stem, e.g. ``labelled_stem('slsim', 1, 42) == 'D1_L_00000042'``.
    """
    if label not in (0, 1):
        raise ValueError(f"label must be 0 or 1 for a labelled name, got {label!r}")
    if form not in _DIGITS:
        raise ValueError(f"unknown name form {form!r}; expected one of {', '.join(NAME_FORMS)}")
    if number < 0:
        raise ValueError(f"object number must be >= 0, got {number}")
    kind = "L" if label == 1 else "N"
    separator = "_" if form == "published" else ""
    return f"D{CODE_BY_DOMAIN[domain]}_{kind}{separator}{number:0{_DIGITS[form]}d}"


def blind_stem(number: int) -> str:
    """Stem of a blind test-set object, ``object_NNNNN`` (5 digits, as in the release).

    Args:
        number: the object's position in the blind set (0-based).

    Returns:
        e.g. ``blind_stem(42) == 'object_00042'``.
    """
    if number < 0:
        raise ValueError(f"object number must be >= 0, got {number}")
    return f"object_{number:05d}"


def band_filename(stem: str, band: str) -> str:
    """File name of one band of an object.

    Args:
        stem: the object's stem.
        band: one of g, r, i, z, y.

    Returns:
        ``"<stem>_<band>.fits"``.
    """
    if band not in BANDS:
        raise ValueError(f"unknown band {band!r}")
    return f"{stem}_{band}.fits"


def printable_name(text: str) -> str:
    r"""``text`` safe for a one-line, UTF-8 table cell or message: bytes that are not UTF-8 as ``\xNN``.

    File names are decoded with Python's ``surrogateescape`` (a byte that is not UTF-8 becomes a
    lone surrogate, which no UTF-8 writer accepts); control characters (a newline in a name)
    would break a CSV row. Both are written as backslash escapes; everything else is kept.

    Args:
        text: a file name, path or stem as the operating system gave it.

    Returns:
        The same text with undecodable bytes as ``\xNN`` and control characters escaped (``\n``).
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def name_problem(name: str) -> str | None:
    """Why a band file's name cannot name an object in the outputs, or ``None`` if it can.

    Args:
        name: the file's base name, as the operating system gave it.

    Returns:
        ``"file name is not valid UTF-8 (...)"``, ``"file name has a control character (...)"`` or ``None``.
    """
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return f"file name is not valid UTF-8 ({printable_name(name)})"
    if not name.isprintable():
        return f"file name has a control character ({printable_name(name)})"
    return None
