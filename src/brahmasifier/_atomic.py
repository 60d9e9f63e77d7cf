"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written output, and an interrupted job leaves either the old
file or none. JSON outputs go through :func:`write_json_atomic`, which writes undefined
numbers (NaN, inf) as ``null``: ``json.dumps`` would write ``NaN``, which is not JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "json_safe", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` on success.

    The suffix of the temporary file defaults to the target's, so that libraries which
    choose a format by extension (Parquet, NumPy, FITS) still do.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.tmp-", suffix=target.suffix if suffix is None else suffix, dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf as ``None``, numpy scalars as Python numbers and tuples as lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json_atomic(target: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` as indented JSON (through :func:`json_safe`) to ``target`` atomically."""
    write_text_atomic(target, json.dumps(json_safe(value), indent=2) + "\n")
