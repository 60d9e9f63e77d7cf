"""A store's vital statistics, for ``brahmasifier info`` and for reports."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

from brahmasifier.io.parameters import n_with_parameters
from brahmasifier.io.release import count_file_rows
from brahmasifier.io.store import open_store
from brahmasifier.pixels import masked_summary

__all__ = ["reason_category", "summarize_store"]

_DETAIL = re.compile(r"\s*\(.*\)$")


def reason_category(reason: str) -> str:
    """A reject reason without its file-specific detail in trailing parentheses, for counting."""
    return _DETAIL.sub("", reason) or reason


def summarize_store(path: str | os.PathLike[str], top_reasons: int = 5) -> dict[str, Any]:
    """JSON-ready summary of the store at ``path``; raises ``StoreError`` (naming the file) if incomplete or damaged."""
    store = open_store(path)
    store.verify()  # shards present, full size, float32 as the manifest says: "healthy" must mean readable
    index = store.index
    rejected = store.rejected
    counts: dict[str, dict[str, int]] = {}
    for key, n in index.groupby(["label", "domain"]).size().items():
        label, domain = cast("tuple[Any, Any]", key)
        counts.setdefault(str(int(label)), {})[str(domain)] = int(n)
    objects = rejected[rejected["stem"] != ""]
    file_rows = count_file_rows(rejected["stem"], rejected["reason"])
    reasons = rejected["reason"].map(reason_category).value_counts().head(top_reasons)
    size = sum(f.stat().st_size for f in Path(store.path).rglob("*") if f.is_file())
    return {
        "path": str(store.path),
        "n_objects": len(store),
        "n_shards": len(store.manifest["shards"]),
        "size_bytes": int(size),
        "counts": counts,
        "n_rejected_objects": len(objects),
        **file_rows,  # n_stray_files, n_listed_missing, n_unlisted
        "top_reject_reasons": {str(k): int(v) for k, v in reasons.items()},
        "n_duplicate_id": int(index["duplicate_id"].sum()) if "duplicate_id" in index else 0,
        "n_with_nan": int((index["n_nan"] > 0).sum()),
        "n_nan_pixels": int(index["n_nan"].sum()),
        **(masked_summary(index["n_masked"].to_numpy() / (len(store.bands) * store.stamp_size**2))
           if "n_masked" in index else {"n_with_masked": None, "median_masked_fraction": None}),
        "n_stem_ids": int((index["id_source"].astype(str) == "stem").sum()) if "id_source" in index else 0,
        "known_files": store.manifest.get("known_files", {}),
        "parameter_tables": store.manifest.get("parameter_tables", []),
        "n_with_parameters": n_with_parameters(index),
        "n_parameter_files": len(store.manifest.get("parameter_files", [])),
        "release_manifests": store.manifest.get("release_manifests", []),
        "roots": store.manifest.get("roots", []),
        "created_by": store.manifest.get("created_by"),
    }
