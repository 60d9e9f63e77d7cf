"""`brahmasifier train` (not implemented yet)."""

from __future__ import annotations

import argparse

HELP = "(not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments yet."""


def run(args: argparse.Namespace) -> int:
    """Fail clearly until implemented."""
    raise SystemExit("brahmasifier train: not implemented yet")
