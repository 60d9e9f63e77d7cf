"""Command-line options shared by the subcommands: options generated from a config dataclass, deprecated spellings, progress.

``train`` and ``predict`` list their options as :class:`ConfigOption` rows (flags, the config
field, argparse settings, help); the defaults shown in ``--help`` come from the config class,
so the dataclass stays the one place that defines them. Options are added with
``default=argparse.SUPPRESS``: only what the user typed reaches the namespace, and the config
class fills in the rest.

Old spellings stay accepted for one release: the first flag of a row is the name, later ones
listed in ``deprecated`` print a one-line note when used.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from brahmasifier._deprecation import note_deprecated

__all__ = [
    "ConfigOption", "DeprecatedAlias", "add_config_options", "add_progress_option", "given_settings", "non_negative",
    "seed_value",
]


class DeprecatedAlias(argparse.Action):
    """``store`` (or ``store_const`` with ``nargs=0``) that prints a deprecation note for old spellings."""

    def __init__(self, option_strings: Sequence[str], dest: str, deprecated: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        self.deprecated = dict(deprecated or {})
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        """Store the value (or the constant), after the note if an old spelling was used."""
        if option_string in self.deprecated:
            note_deprecated(option_string, self.deprecated[option_string])
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


@dataclass(frozen=True)
class ConfigOption:
    """One option of a config-driven command: ``flags[0]`` is its name, the rest its deprecated spellings."""

    flags: tuple[str, ...]
    setting: str
    kwargs: dict[str, Any]
    help: str
    required: bool = False
    deprecated: dict[str, str] = field(default_factory=dict)


def add_config_options(parser: argparse.ArgumentParser, options: Sequence[ConfigOption], defaults: dict[str, Any]) -> None:
    """Add ``options``, each defaulting to ``SUPPRESS`` and showing the config class's default in its help."""
    for option in options:
        default = defaults[option.setting]
        shown = "" if default in (None, [], {}, "") or "default:" in option.help else f" (default: {default})"
        kwargs = dict(option.kwargs)
        if len(option.flags) > 1:
            kwargs.setdefault("action", DeprecatedAlias)
            kwargs["deprecated"] = dict.fromkeys(option.flags[1:], option.flags[0])
        parser.add_argument(*option.flags, dest=option.setting, default=argparse.SUPPRESS, help=option.help + shown,
                            required=option.required, **kwargs)


def add_progress_option(parser: argparse.ArgumentParser, default: Any = True) -> None:
    """``--no-progress`` (the one spelling in every command; sets ``progress`` to False)."""
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=default, help="no progress bars")


def given_settings(args: argparse.Namespace, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The settings the user gave (options added with ``SUPPRESS`` are absent unless typed)."""
    return {k: v for k, v in vars(args).items() if k not in {"command", "_run", *exclude}}


def seed_value(text: str) -> int:
    """The argparse type of ``--seed``: an integer in [0, 2^32) (NumPy's seeds; -1 raised a traceback)."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2^32), got {value}")
    return value


def non_negative(text: str) -> int:
    """The argparse type of a count (``--gallery-size``, ``--top``): an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
