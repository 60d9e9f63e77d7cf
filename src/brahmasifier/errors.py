"""User-facing errors: one base class, so a command line can tell bad input from a bug.

Every error a *user* can cause and fix (a missing or unreadable input, an invalid setting, an
output that would be overwritten, a missing optional dependency) derives from
:class:`BrahmasifierError`, and its message is one line that names the file or setting and
what to do. :func:`brahmasifier.cli.main` prints exactly these (and ``OSError``, which the
operating system raises with the path for permission, disk-full and missing-file problems)
as ``brahmasifier COMMAND: error: MESSAGE`` with exit code 2. Anything else (a ``ValueError``
from a function called with wrong arguments, a ``RuntimeError`` from a broken invariant such
as "objects found = stored + rejected") is a bug and surfaces with its traceback.

Each class also derives from the built-in exception it refines (``ValueError``,
``FileNotFoundError``, ...), so ``except ValueError`` around a call keeps working. The model
is torchgeo's ``datasets/errors.py``: few classes, each named for what the user must fix.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BrahmasifierError",
    "ConfigError",
    "DataProblem",
    "DependencyNotFoundError",
    "EvaluationInputError",
    "FitsFormatError",
    "GalleryError",
    "InputError",
    "InputNotFoundError",
    "ModelFormatError",
    "OutputExistsError",
    "OutputPathError",
    "PartsError",
    "StoreError",
    "SubmissionError",
    "WorkerDiedError",
]


class BrahmasifierError(Exception):
    """Base of every error the user can fix; the message is one line naming what and where."""


class ConfigError(BrahmasifierError, ValueError):
    """A setting or argument is invalid (out of range, unknown name, contradicting another)."""


class InputNotFoundError(BrahmasifierError, FileNotFoundError):
    """A file or folder named as input does not exist."""


class OutputExistsError(BrahmasifierError, FileExistsError):
    """An output already holds other results that the command would overwrite."""


class OutputPathError(BrahmasifierError, OSError):
    """An output path cannot be written as asked: two outputs on one file, a folder where a file goes, no write access."""


class DependencyNotFoundError(BrahmasifierError, ImportError):
    """An optional dependency (an extra such as ``brahmasifier[sim]``) is not installed."""


class WorkerDiedError(BrahmasifierError, RuntimeError):
    """A worker process was killed (out of memory, a signal); finished work is kept for a rerun."""


class InputError(BrahmasifierError, ValueError):
    """An input exists but cannot be used as it is (wrong format, wrong content)."""


class FitsFormatError(InputError):
    """A band file exists but does not hold a readable challenge cutout; the message says why.

    ``path`` and ``reason`` (the message without the path) are kept apart as attributes so that
    the packer can write them into the ``file`` and ``reason`` columns of ``rejected.csv``.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.reason = reason if reason is not None else message

    @classmethod
    def at(cls, path: str | os.PathLike[str], reason: str) -> FitsFormatError:
        """The error for ``path``: message ``"<path>: <reason>"``."""
        return cls(f"{path}: {reason}", path=path, reason=reason)


class StoreError(BrahmasifierError, RuntimeError):
    """The folder is not a complete, readable store (or cannot become one); the message says what to do."""


class DataProblem(InputError):
    """The training data cannot be used as is (too small, one class, no validation objects...)."""


class ModelFormatError(InputError):
    """A model folder, card, checkpoint or weights file is missing or invalid; the message names the file."""


class PartsError(BrahmasifierError, RuntimeError):
    """Prediction part files are missing, stale or inconsistent; the message says which and what to do."""


class SubmissionError(InputError):
    """A submission file or its content does not follow the challenge's format."""


class EvaluationInputError(InputError):
    """An input file cannot be used for evaluation; the message names it and says why."""


class GalleryError(BrahmasifierError, RuntimeError):
    """Images for the gallery cannot be found or read; the message says which and why."""
