"""Command-line options shared by the subcommands: options generated from a config dataclass, settings files, progress.

``train`` and ``predict`` list their options as :class:`ConfigOption` rows (flags, the config
field, argparse settings, help); the defaults shown in ``--help`` come from the config class,
so the dataclass stays the one place that defines them. Options are added with
``default=argparse.SUPPRESS``: only what the user typed reaches the namespace, and the config
class fills in the rest.

``--config FILE`` (every command): :func:`apply_config_file` makes the file's values (read by
:func:`brahmasifier.settings.read_settings_file`, unknown keys refused) the parser's defaults,
converted and checked by each option's own ``type`` and ``choices``; the command line is then
parsed as usual, so an option given there wins over the file. A file may give a required option
or a positional argument (they become optional), and the keys a command declares with
``parser.set_defaults`` (file-only sections, e.g. ``simulate``'s ``population``).

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
    "ConfigOption", "DeprecatedAlias", "add_config_options", "add_progress_option", "apply_config_file", "given_settings",
    "non_negative", "option_values", "seed_value",
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
        flag = option.kwargs.get("action") in ("store_true", "store_false")  # on/off: no default shown (cli._HelpFormatter)
        shown = "" if flag or default in (None, [], {}, "") or "default:" in option.help else f" (default: {default})"
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
    return {k: v for k, v in vars(args).items() if k not in {"command", "config", *exclude} and not k.startswith("_")}


def option_values(args: argparse.Namespace, options: Sequence[ConfigOption]) -> dict[str, Any]:
    """The settings of ``options`` that reached ``args`` (given on the command line or by ``--config``), by field name."""
    return {o.setting: getattr(args, o.setting) for o in options if hasattr(args, o.setting)}


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


def _is_flag(action: argparse.Action) -> bool:
    return action.nargs == 0


def apply_config_file(parser: argparse.ArgumentParser, path: str) -> None:
    """The settings of the YAML file ``path`` as ``parser``'s defaults (options given on the command line win).

    Keys are the options' destinations or their long names (``-`` or ``_``); a flag's long name
    with ``true`` means "given". Values go through the option's ``type`` and ``choices``; a bad
    one is a :class:`~brahmasifier.errors.ConfigError` naming the file and the key.
    """
    from brahmasifier.errors import ConfigError
    from brahmasifier.settings import read_settings_file, setting_key

    by_dest: dict[str, list[argparse.Action]] = {}
    by_flag: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or action.dest == "config":
            continue
        by_dest.setdefault(action.dest, []).append(action)
        for flag in action.option_strings:
            if flag.startswith("--") and action.help != argparse.SUPPRESS:
                by_flag.setdefault(setting_key(flag), action)
    file_only = {k for k in parser._defaults if not k.startswith("_") and k not in by_dest}
    command = parser.prog.split()[-1]
    values = read_settings_file(path, sorted({*by_dest, *by_flag, *file_only}), what=f"{command} settings")
    for key, value in values.items():
        if key in file_only:
            parser.set_defaults(**{key: value})
            continue
        if key in by_dest:
            dest, action = key, by_dest[key][0]
            if _is_flag(action):
                if not isinstance(value, bool) and action.const in (True, False):
                    raise ConfigError(f"{path}: {key}: expected true or false, got {value!r}")
            else:
                value = _file_value(action, value, f"{path}: {key}")
        else:
            action = by_flag[key]
            dest = action.dest
            deprecated: dict[str, str] = getattr(action, "deprecated", {})
            old = next((f for f in deprecated if setting_key(f) == key), None)
            if old is not None:  # an old spelling (e.g. predict's device: accelerator now)
                note_deprecated(f"setting {key!r}", repr(setting_key(deprecated[old])), what=f"{path}:")
            if _is_flag(action):
                if not isinstance(value, bool):
                    raise ConfigError(f"{path}: {key}: expected true or false, got {value!r}")
                if not value:
                    continue  # the flag not given
                flag = next(f for f in action.option_strings if setting_key(f) == key)
                value = (not flag.startswith("--no-")) if isinstance(action, argparse.BooleanOptionalAction) else action.const
            else:
                value = _file_value(action, value, f"{path}: {key}")
        for each in by_dest[dest]:
            each.default = value
            each.required = False
            if not each.option_strings:  # a positional argument the file gives: optional on the command line
                each.nargs = "*" if each.nargs in ("+", "*") else "?"


def _file_value(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` from a settings file for ``action``: through its ``type`` (scalars as their text) and ``choices``."""
    from brahmasifier.errors import ConfigError

    many = action.nargs in ("+", "*") or (isinstance(action.nargs, int) and action.nargs > 1)
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and not many:
        raise ConfigError(f"{where}: expected one value, got a list {value!r}")
    converted = []
    for item in (list(value) if isinstance(value, (list, tuple)) else [value]):
        if not isinstance(item, (dict, list)):
            text = item if isinstance(item, str) else str(item).lower() if isinstance(item, bool) else str(item)
            try:
                item = action.type(text) if callable(action.type) else text
            except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: {exc or 'invalid value'} (got {item!r})") from None
        if action.choices is not None and item not in action.choices:
            raise ConfigError(f"{where}: {item!r} is not one of {', '.join(map(str, action.choices))}")
        converted.append(item)
    return converted if many else converted[0]
