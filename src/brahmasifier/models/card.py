"""The model card: everything needed to rebuild a trained model from its weights file.

A card is plain JSON (``model.json``) next to ``model.safetensors``. It records the
architecture and its keyword arguments, which bands feed the stem (and in which order),
the normalisation and input size used inside the model, and the decision threshold and
temperature chosen on validation data, so a model folder is self-describing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from brahmasifier import __version__
from brahmasifier._atomic import json_safe
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import ModelFormatError

__all__ = [
    "CARD_FILENAME",
    "DEFAULT_NORMALIZATION",
    "FILE_KWARGS",
    "FORMAT_VERSION",
    "MAX_INPUT_SIZE",
    "MIN_INPUT_SIZE",
    "RUN_MODEL_DIR",
    "TEMPERATURE_RANGE",
    "WEIGHTS_FILENAME",
    "ModelCard",
    "normalization_problem",
    "read_card",
    "resolve_card_path",
    "resolve_model_dir",
]

#: Version of the on-disk model format; bump when a card can no longer be read the old way.
FORMAT_VERSION: int = 1
CARD_FILENAME = "model.json"
WEIGHTS_FILENAME = "model.safetensors"
#: Sub-folder of a run directory that holds the exported model.
RUN_MODEL_DIR = "model"


#: Normalisation used when none is given (``per_image`` is the reference system's; see models/normalization.py).
DEFAULT_NORMALIZATION: dict[str, Any] = {"name": "asinh_mad"}


def _default_normalization() -> dict[str, Any]:
    return dict(DEFAULT_NORMALIZATION)


#: Input sizes a card may ask for: the stamp is 41 px; ViTs take 224 (a 1024² × 5 batch of 256 is 5 GB).
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 8, 1024
#: Temperatures a card may hold: fitted ones are ~0.5–3; beyond these bounds ``logit / T`` saturates
#: every probability (1e-300 overflowed to ±inf, and every object was rejected).
TEMPERATURE_RANGE = (1e-2, 1e2)
#: ``model_kwargs`` keys that make timm read a file or fetch weights (``checkpoint_path`` loaded a
#: file outside the model folder): refused, a model's weights are its ``model.safetensors``.
FILE_KWARGS = frozenset({"checkpoint_path", "pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "cache_dir", "file"})


def normalization_problem(spec: dict[str, Any]) -> str:
    """Why a card's ``normalization`` cannot be used (``""`` if it can): ``softening``/``eps`` must be finite and > 0."""
    for key in ("softening", "eps"):
        if key in spec and not (math.isfinite(_number(spec[key])) and _number(spec[key]) > 0):
            return f"{key} {spec[key]!r} must be a finite number > 0 (≤ 0 inverts or divides by zero)"
    if "core_radius" in spec and not 0.5 <= _number(spec["core_radius"]) <= 20:
        return f"core_radius {spec['core_radius']!r} must be in [0.5, 20] pixels (the core the colours are matched in)"
    if spec.get("colour_residuals") is not None and spec["colour_residuals"] not in BANDS:
        return f"colour_residuals {spec['colour_residuals']!r} must be one band of {''.join(BANDS)}, e.g. i"
    return ""


def _number(value: Any) -> float:
    """``value`` as a float; NaN for anything that is not a number (``null``, text), so range checks fail."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class ModelCard:
    """Description of a model on disk (see module docstring).

    ``bands`` lists the bands fed to the model's stem, in stem-channel order. The model's
    input is always the full ``(B, len(BANDS), 41, 41)`` array in :data:`BANDS` order; the
    model gathers ``bands`` from it. Reordering (e.g. ``i,r,g,z,y``) decides which pretrained
    RGB filter each band inherits (see :mod:`brahmasifier.models.weights`).
    """

    architecture: str = "compact"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    bands: list[str] = field(default_factory=lambda: list(BANDS))
    normalization: dict[str, Any] = field(default_factory=_default_normalization)
    input_size: int = STAMP_SIZE
    threshold: float = 0.5
    temperature: float = 1.0
    training: dict[str, Any] = field(default_factory=dict)
    brahmasifier_version: str = __version__
    format_version: int = FORMAT_VERSION
    #: Optional parameter regression: ``{"targets": TargetSet.to_dict(), "head": {RegressionHead kwargs}}``
    #: (models/targets.py, models/regression.py). Absent (None) for a classifier; then it is not written,
    #: so classifier cards stay byte-for-byte what older versions write and read.
    regression: dict[str, Any] | None = None
    #: Optional statistics of the training data (:mod:`brahmasifier.shift`): ``{"pixels": summary,
    #: "embedding": EmbeddingDensity.to_dict(), "how": ...}``, what ``brahmasifier check`` compares new
    #: data with. Absent (None) in cards written before it existed (``check`` then says so); not written when None.
    data_statistics: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.bands = list(self.bands)
        unknown = [b for b in self.bands if b not in BANDS]
        if unknown or not self.bands or len(set(self.bands)) != len(self.bands):
            raise ModelFormatError(f"card bands {self.bands}: must be distinct bands among {list(BANDS)}")
        if "name" not in self.normalization:
            raise ModelFormatError(f"card normalization {self.normalization!r} has no 'name'")
        if not MIN_INPUT_SIZE <= _number(self.input_size) <= MAX_INPUT_SIZE:
            raise ModelFormatError(f"card input_size {self.input_size!r} must be an integer in "
                                   f"[{MIN_INPUT_SIZE}, {MAX_INPUT_SIZE}]")
        if not _number(self.temperature) > 0 or not math.isfinite(_number(self.temperature)):
            raise ModelFormatError(f"card temperature {self.temperature!r} must be a finite number > 0")
        if not TEMPERATURE_RANGE[0] <= _number(self.temperature) <= TEMPERATURE_RANGE[1]:
            raise ModelFormatError(f"card temperature {self.temperature!r} is outside [{TEMPERATURE_RANGE[0]:g}, "
                                   f"{TEMPERATURE_RANGE[1]:g}]: every probability would be 0, 1 or 0.5")
        if not isinstance(self.model_kwargs, dict):
            raise ModelFormatError(f"card model_kwargs {self.model_kwargs!r} must be an object")
        files = sorted(k for k in self.model_kwargs if str(k) in FILE_KWARGS)
        if files:
            raise ModelFormatError(f"card model_kwargs {files} would load files or weights from outside the model "
                                   "folder; a model's weights are its model.safetensors only")
        problem = normalization_problem(self.normalization)
        if problem:
            raise ModelFormatError(f"card normalization {self.normalization!r}: {problem}")
        if not 0.0 <= _number(self.threshold) <= 1.0:
            raise ModelFormatError(f"card threshold {self.threshold!r} must be a probability in [0, 1]")
        if self.regression is not None:
            if not isinstance(self.regression, dict) or not isinstance(self.regression.get("head", {}), dict):
                raise ModelFormatError("card regression must be an object with 'targets' (and optionally 'head')")
            try:
                self.target_set()
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelFormatError(f"card regression targets: {exc}") from None
        if self.data_statistics is not None and not isinstance(self.data_statistics, dict):
            raise ModelFormatError("card data_statistics must be an object (see brahmasifier.shift)")

    def target_set(self) -> Any:
        """The regression :class:`~brahmasifier.models.targets.TargetSet`, or None for a classifier."""
        if self.regression is None:
            return None
        from brahmasifier.models.targets import TargetSet

        return TargetSet.from_dict(self.regression["targets"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict.

        Undefined numbers (e.g. a NaN validation precision) become ``None``; there is no
        ``regression`` (``data_statistics``) key when there is none.
        """
        data = json.loads(json.dumps(json_safe(asdict(self))))
        for optional in ("regression", "data_statistics"):
            if data[optional] is None:
                del data[optional]
        return data

    def to_json(self) -> str:
        """Pretty JSON text (what ``model.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> ModelCard:
        """Build a card from parsed JSON, with errors that name ``source``."""
        if not isinstance(data, dict):
            raise ModelFormatError(f"{source}: model card must be a JSON object")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise ModelFormatError(f"{source}: not a brahmasifier model card (no integer 'format_version')")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{source}: model format_version {version} is newer than this brahmasifier supports "
                f"({FORMAT_VERSION}); upgrade brahmasifier"
            )
        if "architecture" not in data:
            raise ModelFormatError(f"{source}: model card has no 'architecture'")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelFormatError(f"{source}: unknown model card keys {unknown}")
        try:
            return cls(**data)
        except ModelFormatError as exc:
            raise ModelFormatError(f"{source}: {exc}") from None
        except TypeError as exc:
            raise ModelFormatError(f"{source}: invalid model card ({exc})") from None

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ModelCard:
        """Read a ``model.json``."""
        path = Path(path)
        if not path.is_file():
            raise ModelFormatError(f"{path}: model card not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{path}: model card is not valid JSON ({exc})") from None
        return cls.from_dict(data, source=str(path))


def resolve_card_path(path: str | os.PathLike[str]) -> Path:
    """The ``model.json`` of a run dir (``run/model/model.json``), a model folder, or a card/weights file.

    The one resolver of "a trained model" given on any command line (``--model``,
    ``--init-from``): run directory, model folder, ``model.json`` (or another ``.json`` card)
    or ``model.safetensors``.

    Raises:
        ModelFormatError: nothing that holds a model card is at ``path``.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix == ".json":
            return path
        if path.suffix == ".safetensors":
            return path.parent / CARD_FILENAME
        raise ModelFormatError(f"{path}: not a model folder, model.json or run directory")
    for folder in (path, path / RUN_MODEL_DIR):
        if (folder / CARD_FILENAME).is_file():
            return folder / CARD_FILENAME
    if not path.exists():
        raise ModelFormatError(f"{path}: no such model folder, model.json or run directory")
    raise ModelFormatError(
        f"{path}: no {CARD_FILENAME} here or in {path / RUN_MODEL_DIR} (not a model folder or a finished run)"
    )


def resolve_model_dir(path: str | os.PathLike[str]) -> Path:
    """Model folder (the card's folder, with the weights) of a run dir, model folder or card file."""
    return resolve_card_path(path).parent


def read_card(path: str | os.PathLike[str]) -> tuple[ModelCard, Path]:
    """The model card of a run dir, model folder or card file, and the card's path (no weights loaded)."""
    card_path = resolve_card_path(path)
    return ModelCard.read(card_path), card_path
