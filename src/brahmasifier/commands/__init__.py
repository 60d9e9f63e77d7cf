"""One module per CLI subcommand (see :mod:`brahmasifier.cli`)."""

__all__ = []
