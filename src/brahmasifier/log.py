"""The one logging setup: library code logs, the command line shows it on stderr, one line per message.

The rule (``docs/architecture.md``, "Messages"):

* a command's **result** — the tables, summaries and paths the user asked for — is printed on
  stdout by its ``commands/<name>.py`` (so ``brahmasifier info --json > x.json`` and ``| head``
  work);
* everything said **along the way** by library code — progress notes, what was resumed, what
  was skipped, warnings about the input — goes through ``logging.getLogger(__name__)``
  (a logger under ``brahmasifier``); user errors are raised
  (:class:`~brahmasifier.errors.BrahmasifierError`), not logged; progress bars are ``tqdm`` on stderr;
* :func:`setup_logging`, called once by :func:`brahmasifier.cli.main`, gives the ``brahmasifier``
  logger one handler writing to the *current* ``sys.stderr`` (a redirected or captured stream
  included): ``INFO`` as the bare message, ``WARNING`` and above as ``WARNING: message`` (the
  form ``pack`` always used). ``brahmasifier --quiet COMMAND`` shows warnings only,
  ``--verbose`` adds ``DEBUG``; ``BRAHMASIFIER_LOG=debug|info|warning|error`` overrides both.

Records still propagate to the root logger (``pytest``'s ``caplog`` sees them); the root logger
has no handler of ours, so each message reaches stderr once. A program using the package as a
library configures logging itself (or calls :func:`setup_logging`).

Two exceptions stay ``print`` on stderr, by design: the CLI's one-line error
(:mod:`brahmasifier.cli`, the error policy) and the deprecation notes
(:mod:`brahmasifier._deprecation`), which must be seen whether or not logging is set up.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["ENV_VAR", "LOGGER_NAME", "StderrHandler", "level_for", "setup_logging"]

#: The package's top logger; every module logs under it (``logging.getLogger(__name__)``).
LOGGER_NAME = "brahmasifier"
#: Environment variable naming the level (``debug``, ``info``, ``warning``, ``error``); wins over the flags.
ENV_VAR = "BRAHMASIFIER_LOG"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _OneLine(logging.Formatter):
    """``message`` for INFO and below, ``LEVEL: message`` from WARNING up."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            message = f"{record.levelname}: {message}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return message


class StderrHandler(logging.Handler):
    """Writes each record as one line to ``sys.stderr`` as it is at the time of the record."""

    def emit(self, record: logging.LogRecord) -> None:
        """Format and write ``record`` (errors go to :meth:`logging.Handler.handleError`)."""
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never raise
            self.handleError(record)


def level_for(verbosity: int = 0) -> int:
    """The level of ``verbosity`` (-1 quiet, 0 normal, 1 verbose), unless :data:`ENV_VAR` names one."""
    named = os.environ.get(ENV_VAR, "").strip().lower()
    if named in _LEVELS:
        return _LEVELS[named]
    return logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO


def setup_logging(verbosity: int = 0) -> logging.Logger:
    """Give the ``brahmasifier`` logger its one stderr handler (replacing an earlier one) and level; return it."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, StderrHandler):
            logger.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.setLevel(level_for(verbosity))
    return logger
