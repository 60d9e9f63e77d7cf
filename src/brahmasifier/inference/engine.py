"""How prediction runs on the hardware it has: scoring engine, memory layout, reader processes.

Choices made once, from what was measured (``benchmarks/bench_predict.py``); the device and
the precision themselves are resolved by :mod:`brahmasifier.hardware`, shared with training.
"""

from __future__ import annotations

from brahmasifier.errors import ConfigError
from brahmasifier.hardware import usable_cpus

__all__ = ["default_channels_last", "default_workers", "resolve_engine"]


def resolve_engine(onnx: bool | None, device: str, precision: str) -> str:
    """``"onnx"`` or ``"torch"``; ``None`` means auto: ONNX Runtime on the CPU in fp32.

    Measured on this project's shared 2-core AVX2 CPU, model only, 3 TTA views
    (``benchmarks/bench_predict.py``, two runs, batch 128): ONNX Runtime was 1.7-1.8x
    (compact) and 2.0-2.4x (ConvNeXt-Tiny@41) faster than eager fp32 PyTorch and ahead of
    channels_last fp32 (1.2-1.4x, 1.05-1.7x); bf16 autocast was 6-12x *slower* (no native
    bf16 units). On GPUs we stay with PyTorch.
    """
    if onnx is None:
        return "onnx" if device == "cpu" and precision == "32-true" else "torch"
    if onnx and device != "cpu":
        raise ConfigError("the ONNX Runtime path scores on the CPU; use --device cpu or drop --onnx")
    if onnx and precision != "32-true":
        raise ConfigError("the ONNX Runtime path is fp32; use --precision 32-true (or auto) with --onnx")
    return "onnx" if onnx else "torch"


def default_channels_last(engine: str, device: str) -> bool:
    """PyTorch path: channels_last on CPUs, where it measured faster (1.2-1.4x compact, fp32)."""
    return engine == "torch" and device == "cpu"


def default_workers(device: str = "cpu") -> int:
    """Data-loading worker *processes* for ``device`` (0 = read on a thread of the scoring process).

    On the CPU the scoring engine already uses every core and reading is a small share of the
    work (~0.3 ms per object with the fast FITS reader against ~1.5 ms of scoring with the
    default model and 3 views, on the development machine), so one reader thread suffices and
    worker start-up (seconds each) is pure cost; from 8 cores up, where scoring outpaces one
    reader thread, one process per 8 cores. For GPUs, reading is the bottleneck: half the
    CPUs, at least 1, at most 8.
    """
    cpus = usable_cpus()
    if device == "cpu":
        return min(8, cpus // 8)
    return max(1, min(8, cpus // 2))
