"""`python -m brahmasifier` runs the command-line interface."""

from brahmasifier.cli import main

__all__ = []

raise SystemExit(main())
