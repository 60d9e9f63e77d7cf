"""Hardware policy in one place: usable CPUs, the device to run on, the numeric precision.

Precision uses one vocabulary everywhere (Lightning's names): ``auto``, ``32-true``,
``bf16-mixed``, ``16-mixed`` (plus Lightning's other names for training, e.g. ``16-true``).
``auto`` resolves, for training and prediction alike, to

* CUDA: ``bf16-mixed`` where the GPU supports bf16 (no loss scaling needed), else ``16-mixed``;
* CPU: ``bf16-mixed`` only where the CPU has native bf16 units, else ``32-true``: emulated bf16
  measured 5–10× slower than fp32 for training (``benchmarks/bench_train.py``) and 6–12× slower
  for prediction (``benchmarks/bench_predict.py``) on this project's AVX2-only CPU;
* anything else (MPS, ...): ``32-true``.

The old prediction spellings ``fp32`` and ``fp16`` still work for one release, with a
deprecation note (``bf16`` is Lightning's own alias of ``bf16-mixed``).
"""

from __future__ import annotations

import os

from brahmasifier._deprecation import note_deprecated
from brahmasifier.errors import ConfigError

__all__ = [
    "DEPRECATED_PRECISIONS",
    "PRECISIONS",
    "canonical_precision",
    "check_devices",
    "resolve_device",
    "resolve_precision",
    "usable_cpus",
]

#: The precisions every command accepts (prediction supports exactly these).
PRECISIONS: tuple[str, ...] = ("auto", "32-true", "bf16-mixed", "16-mixed")
#: Lightning's short aliases, and our old prediction names (deprecated), → the names above.
_ALIASES: dict[str, str] = {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed"}
DEPRECATED_PRECISIONS: dict[str, str] = {"fp32": "32-true", "fp16": "16-mixed"}


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. under SLURM or taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


def resolve_device(device: str) -> tuple[str, str]:
    """``(Lightning accelerator, device type)`` for ``auto``/``cpu``/``cuda``/``gpu``/``mps``.

    Other Lightning accelerator names (``tpu``, ``hpu``, ...) pass through as ``(name, name)``
    for Lightning to check.

    Raises:
        ConfigError: ``cuda``/``gpu`` requested but torch sees no CUDA device.
    """
    import torch

    device = str(device).lower()
    if device == "auto":
        return ("gpu", "cuda") if torch.cuda.is_available() else ("cpu", "cpu")
    if device in ("cuda", "gpu"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but torch sees no CUDA device")
        return "gpu", "cuda"
    return device, device


def canonical_precision(precision: str) -> str:
    """``precision`` in the one vocabulary (aliases resolved; a deprecated name gets a one-line note)."""
    name = str(precision)
    if name in DEPRECATED_PRECISIONS:
        note_deprecated(repr(name), repr(DEPRECATED_PRECISIONS[name]), what="precision")
        return DEPRECATED_PRECISIONS[name]
    return _ALIASES.get(name, name)


def resolve_precision(precision: str, device: str) -> str:
    """The precision to run at on device type ``device`` (``cpu``, ``cuda``, ``mps``, ...); see the module docstring.

    Raises:
        ConfigError: ``16-mixed`` on a CPU (fp16 autocast is for GPUs; Lightning would silently
            switch to bf16).
    """
    import torch

    precision = canonical_precision(precision)
    if precision != "auto":
        if precision == "16-mixed" and device == "cpu":
            raise ConfigError("precision 16-mixed (fp16 autocast) is for GPUs; use bf16-mixed or 32-true on the CPU")
        return precision
    if device == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if device == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def check_devices(devices: object, what: str = "devices") -> None:
    """Refuse a device count Lightning cannot use (0, negatives other than -1 = all): one line, not its traceback."""
    text = str(devices).strip()
    if text == "auto" or "," in text or text.endswith(","):
        return
    try:
        count = int(text)
    except ValueError:
        raise ConfigError(f"{what} must be 'auto', a count >= 1, -1 (all) or a list like 0,1; got {devices!r}") from None
    if count == 0 or count < -1:
        raise ConfigError(f"{what} must be 'auto', a count >= 1, -1 (all) or a list like 0,1; got {devices!r}")
