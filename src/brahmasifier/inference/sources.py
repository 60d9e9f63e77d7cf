"""What prediction reads: FITS trees or packed stores, as one numbered list of objects.

Every object found gets a fixed *position* ``0..n-1`` (FITS objects in scan order, then each
store in index order). Prediction works on contiguous position ranges, so the work splits
into parts (resumable) and ranks (DDP) by arithmetic alone, and every output row can be
traced back to its object.

A FITS object that cannot be read does not stop the run: :meth:`ObjectSource.read_range`
returns it with an ``error`` (the :class:`~brahmasifier.io.FitsFormatError` message, which
names the file) and a zero image; prediction scores the zeros (cheaper than compacting the
batch) and the merge moves the object to ``rejected.csv``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.errors import ConfigError, FitsFormatError, InputNotFoundError
from brahmasifier.io.store import REJECTED_COLUMNS, is_store_folder
from brahmasifier.survey.checks import Registration, one_blas_thread

__all__ = ["BatchDataset", "ConcatSource", "FitsSource", "ObjectSource", "RawBatch", "StoreSource", "open_source"]


@dataclass
class RawBatch:
    """Images and metadata of the objects at positions ``start..stop-1``."""

    positions: np.ndarray  # int64 (k,)
    images: np.ndarray  # float32 (k, 5, 41, 41), raw units, NaN -> 0
    ids: list[str]
    stems: list[str]
    n_nan: np.ndarray  # int32 (k,)
    errors: list[str] = field(default_factory=list)  # "" when read fine
    files: list[str] = field(default_factory=list)  # file to blame when the read failed
    id_sources: list[str] = field(default_factory=list)  # "table", "stem" (no ID column: the stem is the ID) or ""
    stamps: list[str] = field(default_factory=list)  # per object: digest of its files' size and time (see stamps())
    n_masked: np.ndarray | None = None  # int64 (k,): invalid pixels as the reader counted them, -1 unknown


class ObjectSource:
    """Base class: a fixed, numbered list of objects with a batched reader."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_range(self, start: int, stop: int) -> RawBatch:  # pragma: no cover - abstract
        """Images and metadata of positions ``start..stop-1`` (clipped to the source)."""
        raise NotImplementedError

    @property
    def rejected(self) -> pd.DataFrame:
        """Objects found but not listed (scan or pack rejects): ``stem, file, reason``."""
        return pd.DataFrame(columns=list(REJECTED_COLUMNS))

    def fingerprint(self) -> str:  # pragma: no cover - abstract
        """A digest of what is listed, so resumed parts are known to describe the same objects."""
        raise NotImplementedError

    def stamps(self, start: int, stop: int) -> list[str]:
        """Per object of ``start..stop-1``: a digest of its input files now (``""``: nothing to compare).

        A part stores the stamps of what it read; a resumed run rescores a part whose stamps
        differ (files replaced after a partial run).
        """
        return [""] * max(min(stop, len(self)) - start, 0)


def _digest(lines: Sequence[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "surrogateescape"))
        h.update(b"\n")
    return h.hexdigest()[:16]


class FitsSource(ObjectSource):
    """Objects of one or more FITS trees (either naming convention), read with ``read_object``."""

    def __init__(self, roots: Sequence[str | os.PathLike[str]]) -> None:
        from brahmasifier.io import scan_fits_tree

        self.roots = [Path(r) for r in roots]
        scan = scan_fits_tree(self.roots)
        self.objects = list(scan.objects)
        self._rejected = scan.rejected.loc[:, list(REJECTED_COLUMNS)].astype(str) if len(scan.rejected) else None

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def rejected(self) -> pd.DataFrame:
        """The scan's rejects (stray files, incomplete objects)."""
        return self._rejected.copy() if self._rejected is not None else super().rejected

    def fingerprint(self) -> str:
        """Digest of the roots and stems, in scan order."""
        return _digest([f"{o.root}|{o.stem}" for o in self.objects])

    def stamps(self, start: int, stop: int) -> list[str]:
        """Digests of each object's band files' paths, sizes and times (:func:`~brahmasifier.io.scan.object_stamp`)."""
        from brahmasifier.io.scan import object_stamp

        return [_digest([object_stamp(o)]) for o in self.objects[start:stop]]

    def read_range(self, start: int, stop: int) -> RawBatch:
        """Read objects ``start..stop-1``; an unreadable one gets an ``error`` and a zero image."""
        from brahmasifier.io.reader import read_object

        stop = min(stop, len(self.objects))
        k = max(stop - start, 0)
        stamps = self.stamps(start, stop)  # before reading: a file changed meanwhile is caught by the next run
        images = np.zeros((k, len(BANDS), STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
        ids, stems, errors, files, id_sources = [], [], [], [], []
        n_nan = np.zeros(k, dtype=np.int32)
        n_masked = np.full(k, -1, dtype=np.int64)
        for j, obj in enumerate(self.objects[start:stop]):
            stems.append(obj.stem)
            try:
                record = read_object(obj)
            except (FitsFormatError, OSError) as exc:
                ids.append("")
                id_sources.append("")
                errors.append(getattr(exc, "reason", None) or str(exc) or type(exc).__name__)
                files.append(str(getattr(exc, "path", None) or getattr(exc, "filename", None) or _first_file(obj)))
                continue
            images[j] = record.image
            n_nan[j] = record.n_nan
            n_masked[j] = record.n_masked
            ids.append(record.id)
            id_sources.append(record.id_source)
            errors.append("")
            files.append("")
        return RawBatch(np.arange(start, stop, dtype=np.int64), images, ids, stems, n_nan, errors, files, id_sources, stamps,
                        n_masked)


def _first_file(obj: object) -> str:
    files = getattr(obj, "files", {}) or {}
    for band in BANDS:
        if band in files:
            return str(files[band])
    return str(getattr(obj, "root", ""))


class StoreSource(ObjectSource):
    """Objects of a packed store, read in contiguous slices with the store's one reader."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from brahmasifier.io.store import open_store

        self.store = open_store(path)

    def __len__(self) -> int:
        return len(self.store)

    @property
    def rejected(self) -> pd.DataFrame:
        """The store's pack rejects."""
        rej = self.store.rejected
        return rej.loc[:, list(REJECTED_COLUMNS)].astype(str) if len(rej) else super().rejected

    def fingerprint(self) -> str:
        """Digest of the store's path, size, manifest (a repacked store is another input) and stems."""
        from brahmasifier.io.store import MANIFEST

        manifest = _digest([(self.store.path / MANIFEST).read_bytes().decode("utf-8", "replace")])
        return _digest([str(self.store.path.resolve()), str(len(self)), manifest, *self.store.index_arrays()["stem"].tolist()])

    def read_range(self, start: int, stop: int) -> RawBatch:
        """Rows ``start..stop-1`` of the store."""
        stop = min(stop, len(self))
        batch = self.store.read_batch(np.arange(start, stop, dtype=np.int64))
        k = len(batch.rows)
        n_masked = self.store.index_arrays()["n_masked"][batch.rows]
        return RawBatch(batch.rows, batch.images, batch.ids, batch.stems, batch.n_nan.copy(), [""] * k, [""] * k,
                        self.store.index_arrays()["id_source"][batch.rows].tolist(), [""] * k, n_masked)


class ConcatSource(ObjectSource):
    """Several sources one after the other; positions continue across them."""

    def __init__(self, sources: Sequence[ObjectSource]) -> None:
        self.sources = list(sources)
        self._starts = np.cumsum([0] + [len(s) for s in self.sources])

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def rejected(self) -> pd.DataFrame:
        """The rejects of every source."""
        frames = [s.rejected for s in self.sources]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else super().rejected

    def fingerprint(self) -> str:
        """Digest of the sources' digests."""
        return _digest([s.fingerprint() for s in self.sources])

    def stamps(self, start: int, stop: int) -> list[str]:
        """The stamps of positions ``start..stop-1`` across the sources."""
        out: list[str] = []
        for k, source in enumerate(self.sources):
            lo, hi = max(start, self._starts[k]), min(stop, self._starts[k + 1])
            if lo < hi:
                out.extend(source.stamps(int(lo - self._starts[k]), int(hi - self._starts[k])))
        return out

    def read_range(self, start: int, stop: int) -> RawBatch:
        """Positions ``start..stop-1`` across the sources."""
        stop = min(stop, len(self))
        pieces = []
        for k, source in enumerate(self.sources):
            lo, hi = max(start, self._starts[k]), min(stop, self._starts[k + 1])
            if lo < hi:
                part = source.read_range(int(lo - self._starts[k]), int(hi - self._starts[k]))
                part.positions = part.positions + self._starts[k]
                pieces.append(part)
        if len(pieces) == 1:
            return pieces[0]
        return RawBatch(
            np.concatenate([p.positions for p in pieces]) if pieces else np.zeros(0, np.int64),
            (np.concatenate([p.images for p in pieces]) if pieces
             else np.zeros((0, len(BANDS), STAMP_SIZE, STAMP_SIZE), np.float32)),
            [i for p in pieces for i in p.ids],
            [s for p in pieces for s in p.stems],
            np.concatenate([p.n_nan for p in pieces]) if pieces else np.zeros(0, np.int32),
            [e for p in pieces for e in p.errors],
            [f for p in pieces for f in p.files],
            [s for p in pieces for s in p.id_sources],
            [s for p in pieces for s in p.stamps],
            np.concatenate([p.n_masked if p.n_masked is not None else np.full(len(p.positions), -1, np.int64)
                            for p in pieces]) if pieces else np.zeros(0, np.int64),
        )


def open_source(data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> ObjectSource:
    """One source over the given FITS roots and stores (stores detected by their manifest).

    All FITS roots are scanned together (so IDs/stems are checked across them); stores follow
    in the order given.
    """
    paths = [Path(data)] if isinstance(data, (str, os.PathLike)) else [Path(p) for p in data]
    if not paths:
        raise ConfigError("no data given: pass at least one FITS folder or packed store")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputNotFoundError(f"data not found: {', '.join(missing)}")
    roots = [p for p in paths if not is_store_folder(p)]
    sources: list[ObjectSource] = []
    if roots:
        sources.append(FitsSource(roots))
    sources.extend(StoreSource(p) for p in paths if is_store_folder(p))
    return sources[0] if len(sources) == 1 else ConcatSource(sources)


class BatchDataset(Dataset[dict[str, object]]):
    """Map-style dataset whose items are whole batches ``(part, start, stop)`` of a source.

    Reading a batch per item keeps DataLoader workers' per-object overhead (collation,
    inter-process messages) off the hot path; use it with ``DataLoader(batch_size=None)``.
    """

    def __init__(self, source: ObjectSource, batches: Sequence[tuple[int, int, int]],
                 registration: Registration | None = None) -> None:
        self.source = source
        self.batches = list(batches)
        self.registration = registration or Registration()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> dict[str, object]:
        part, start, stop = self.batches[k]
        raw = self.source.read_range(start, stop)
        with one_blas_thread():  # beside the model on the cores (survey.checks.one_blas_thread)
            images, pixels = self.registration.checks(raw.images, raw.n_nan, raw.n_masked)
        return {
            "image": torch.from_numpy(images),
            "pixels": pixels,
            "position": torch.from_numpy(raw.positions),
            "n_nan": torch.from_numpy(raw.n_nan),
            "id": raw.ids,
            "stem": raw.stems,
            "error": raw.errors,
            "file": raw.files,
            "id_source": raw.id_sources,
            "stamp": raw.stamps,
            "part": part,
        }
