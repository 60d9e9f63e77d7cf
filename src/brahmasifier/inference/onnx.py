"""ONNX export of a model (optionally with its TTA views baked in) and ONNX Runtime scoring.

The exported graph takes raw float32 ``image`` ``(batch, 5, 41, 41)`` and returns ``logit``
``(batch,)``: normalisation, band selection and resize are inside the model, so the file is
self-contained. The batch axis is dynamic. We use the TorchScript-based exporter
(``dynamo=False``): the dynamo exporter needs ``onnxscript``, which is not a dependency.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from brahmasifier._atomic import atomic_path
from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import ModelFormatError
from brahmasifier.inference.export_config import MIN_OPSET, ExportConfig
from brahmasifier.inference.tta import TTAModel

__all__ = [
    "INPUT_NAME", "MIN_OPSET", "OUTPUT_NAME", "OnnxLogits", "cached_export", "export_cache_key", "export_onnx",
    "graph_sources", "onnx_cache_dir", "verify_onnx",
]

INPUT_NAME = "image"
OUTPUT_NAME = "logit"


def export_onnx(
    model: nn.Module | str | os.PathLike[str],
    out: str | os.PathLike[str],
    tta: str = "none",
    opset: int = MIN_OPSET,
    check: bool = True,
) -> Path:
    """Export a model (or a saved model/run dir) to ``out`` atomically; returns ``out``.

    ``tta`` other than ``none`` bakes the views into the graph (one run scores all views).
    ``check`` runs ``onnx.checker`` on the result.
    """
    ExportConfig(tta=tta, opset=opset)  # checks them, once
    if not isinstance(model, nn.Module):
        from brahmasifier.models import load_model

        model, _ = load_model(model)
    wrapped = TTAModel(model, tta).eval().to("cpu")
    example = torch.zeros(2, len(BANDS), STAMP_SIZE, STAMP_SIZE)
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        # The TorchScript exporter (the one usable without onnxscript) announces its own
        # deprecation; nothing we can change. Ignored narrowly, for this call only.
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning,
                                module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export",
                                category=DeprecationWarning)
        torch.onnx.export(
            wrapped,
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            dynamo=False,
        )
        if check:
            import onnx

            onnx.checker.check_model(str(tmp))
    return out


class OnnxLogits:
    """Score raw images with ONNX Runtime on the CPU: ``(B,5,41,41) float32 -> (B,) logits``.

    Not picklable (an ORT session); create one per process.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own types (InvalidProtobuf, Fail, ...) for a damaged file
            raise ModelFormatError(f"{self.path}: not a loadable ONNX graph ({type(exc).__name__}); delete it or "
                                   "export it again") from None

    def __call__(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Logits ``(B,)`` of raw images ``(B, 5, 41, 41)``."""
        if isinstance(images, torch.Tensor):
            images = images.detach().to("cpu").numpy()
        images = np.ascontiguousarray(images, dtype=np.float32)
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: images})
        return np.asarray(logits, dtype=np.float32).reshape(-1)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("OnnxLogits holds an ONNX Runtime session; create it in each process")


#: Package files that shape every exported graph besides the model's own modules: the D4 views
#: and their registry, the exporter, the pixel rule.
_GRAPH_SOURCES: tuple[str, ...] = ("d4.py", "inference/tta.py", "inference/tta_views.py", "inference/onnx.py",
                                   "pixels.py")
_PACKAGE = Path(__file__).resolve().parents[1]


def graph_sources(model: nn.Module | None = None) -> list[Path]:
    """The source files whose code shapes ``model``'s exported graph (sorted, no repeats).

    :data:`_GRAPH_SOURCES`; the files of the classes of every submodule of ``model`` that live in
    this package (the classifier, normalisation, heads); and the registry's ``sources`` of every
    backbone in it (:func:`brahmasifier.models.backbones.backbone_sources` of a submodule's
    ``architecture``), which also names a backbone registered outside this package.
    """
    import sys

    from brahmasifier.models.backbones import backbone_sources

    files = {(_PACKAGE / name).resolve() for name in _GRAPH_SOURCES}
    for module in (model.modules() if model is not None else ()):
        files.update(backbone_sources(str(getattr(module, "architecture", "") or "")))
        for cls in type(module).__mro__:
            source = getattr(sys.modules.get(cls.__module__), "__file__", None)
            if source and Path(source).resolve().is_relative_to(_PACKAGE):
                files.add(Path(source).resolve())
    return sorted(files)


def onnx_cache_dir() -> Path:
    """Where exported graphs are kept between runs.

    ``$BRAHMASIFIER_CACHE_DIR/onnx`` if set, else ``$XDG_CACHE_HOME/brahmasifier/onnx``, else
    ``~/.cache/brahmasifier/onnx``.
    """
    base = os.environ.get("BRAHMASIFIER_CACHE_DIR")
    if base:
        return Path(base) / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "brahmasifier" / "onnx"


def export_cache_key(model_fingerprint: str, tta: str, opset: int = MIN_OPSET, model: nn.Module | None = None) -> str:
    """A digest of everything the exported graph depends on.

    That is: weights + card (the model's fingerprint), TTA views, opset, torch and timm
    versions and this package's graph-shaping code (:func:`graph_sources` of ``model``).
    """
    import hashlib

    try:
        import timm

        timm_version = timm.__version__
    except ImportError:  # pragma: no cover - timm is a dependency
        timm_version = "none"
    h = hashlib.sha256(f"{model_fingerprint}|{tta}|{opset}|{torch.__version__}|{timm_version}".encode())
    for path in graph_sources(model):
        h.update((path.relative_to(_PACKAGE).as_posix() if path.is_relative_to(_PACKAGE) else path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def _digest(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path) -> bool:
    """Whether a cached graph is the one exported: its SHA-256 equals the one written beside it at export."""
    sidecar = path.with_name(path.name + ".sha256")
    try:
        return path.is_file() and sidecar.read_text().strip() == _digest(path)
    except OSError:
        return False


def cached_export(model: nn.Module, model_fingerprint: str, tta: str, fallback_dir: Path,
                  name: str = "model") -> Path:
    """The ONNX file of ``model`` with ``tta`` baked in, exported once and then reused.

    Exporting ConvNeXt-Tiny takes ~2 s on the development CPU, paid by every ``predict`` run
    before this cache. Files are written atomically, so concurrent ranks or jobs exporting the
    same model at once both succeed. When the cache folder is not writable the file goes to
    ``fallback_dir`` (e.g. the run's scratch folder) instead.

    Verified before use (issue 25: a tampered cached graph was used unchecked, a corrupt one
    gave a traceback): the file name is the content key of what the graph depends on
    (:func:`export_cache_key`), and its SHA-256, written beside it (``.sha256``) at export, must
    match the file's; otherwise it is exported again.
    """
    filename = f"{name}-{export_cache_key(model_fingerprint, tta, model=model)}.onnx"
    for folder in (onnx_cache_dir(), fallback_dir):
        path = folder / filename
        if _verified(path):
            return path
        try:
            export_onnx(model, path, tta=tta)
            with atomic_path(path.with_name(path.name + ".sha256")) as tmp:
                tmp.write_text(_digest(path) + "\n")
            return path
        except OSError:
            continue  # cache not writable: try the fallback folder
    raise OSError(f"cannot write an ONNX export to {onnx_cache_dir()} or {fallback_dir}")


def verify_onnx(
    model: nn.Module, path: str | os.PathLike[str], tta: str = "none", n: int = 8, seed: int = 0
) -> float:
    """Max absolute logit difference between ONNX Runtime and PyTorch on survey-like inputs.

    Inputs: sky noise plus a bright central blob with band-dependent levels, drawn from a
    seeded generator, so normalisation sees realistic dynamic range.
    """
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(STAMP_SIZE), torch.arange(STAMP_SIZE), indexing="ij")
    r2 = ((x - STAMP_SIZE // 2) ** 2 + (y - STAMP_SIZE // 2) ** 2).float()
    blob = 50.0 * torch.exp(-r2 / (2 * 2.5**2))
    levels = torch.rand(n, len(BANDS), 1, 1, generator=generator) * 5 + 0.5
    images = blob * levels + torch.randn(n, len(BANDS), STAMP_SIZE, STAMP_SIZE, generator=generator)
    with torch.inference_mode():
        expected = TTAModel(model.eval().to("cpu"), tta)(images).numpy()
    got = OnnxLogits(path, threads=1)(images)
    return float(np.max(np.abs(got - expected)))
