"""The one config mechanism: settings files read one way, settings dataclasses checked one way.

Every command's settings reach it the same way (``brahmasifier COMMAND --help`` lists them):
built-in defaults < ``--config FILE`` (YAML) < the options given on the command line. A
settings file is a YAML mapping whose keys are the command's setting names — the option's
long name or its destination, ``-`` or ``_`` alike (``n_per_class: 100``, ``no-preview: true``)
— and, for a few commands, a section for a settings dataclass the options do not cover
(``simulate``: ``population:``, our engine's :class:`~brahmasifier.simulation.population.PopulationConfig`).

* :func:`read_settings_file` reads the file; an unknown key is refused naming the key, the
  file and the known names (a typo would otherwise be a silently ignored setting), an old
  spelling is renamed with a deprecation note.
* :func:`dataclass_from_settings` makes a settings dataclass from a mapping (one section of
  a file), refusing unknown fields the same way; nested dataclass fields take mappings.
* :class:`Problems` is the one validation helper of the settings dataclasses (``choice``,
  ``within``, ``finite``): each dataclass checks its values once, in ``__post_init__``, and
  raises one :class:`~brahmasifier.errors.ConfigError` listing every bad value (a user fixing
  a config file sees all problems at once, not one per run).

The argparse half (file values as the parser's defaults, so options override the file) is
:func:`brahmasifier.commands._options.apply_config_file`; ``train`` layers its file under a
resumed run's ``config.yaml`` (:func:`brahmasifier.training.config.read_config_file`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from brahmasifier._deprecation import note_deprecated
from brahmasifier.errors import ConfigError, InputNotFoundError

__all__ = ["Problems", "checked_keys", "dataclass_from_settings", "read_settings_file", "setting_key"]

def setting_key(name: str) -> str:
    """A setting's name in one spelling: ``--n-per-class``, ``n-per-class`` and ``n_per_class`` are ``n_per_class``."""
    return str(name).lstrip("-").replace("-", "_")


def read_settings_file(path: str | os.PathLike[str], known: Iterable[str] | None = None, *, what: str = "settings",
                       aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The mapping in the YAML file ``path``, keys spelt by :func:`setting_key`.

    Args:
        path: the YAML file.
        known: the accepted keys (``None``: any).
        what: what the keys are, for the message ("training settings", "simulate settings").
        aliases: old key → its name now (renamed with a one-line deprecation note).

    Raises:
        InputNotFoundError: no such file.
        ConfigError: not YAML, not a mapping, or a key that is not in ``known`` (named, with the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of setting: value")
    return checked_keys(data, str(path), known, what=what, aliases=aliases)


def checked_keys(data: Mapping[str, Any], source: str, known: Iterable[str] | None = None, *, what: str = "settings",
                 aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``data`` with keys spelt by :func:`setting_key`, old ones renamed (one note each), unknown ones refused."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = setting_key(key)
        if aliases and name in aliases:
            note_deprecated(f"setting {name!r}", repr(aliases[name]), what=f"{source}:")
            out.setdefault(aliases[name], value)
            continue
        out[name] = value
    if known is not None:
        names = list(known)
        unknown = sorted(set(out) - set(names))
        if unknown:
            raise ConfigError(f"{source}: unknown {what} {unknown}; known: {', '.join(names)}")
    return out


def dataclass_from_settings(cls: type, data: Mapping[str, Any] | None, source: str) -> Any:
    """An instance of the dataclass ``cls`` from ``data`` (its fields; the rest default).

    A nested dataclass field takes a mapping, a tuple field a list. Unknown keys are refused
    naming ``source`` (e.g. ``"run.yml: population"``); the values are checked by ``cls`` itself.
    """
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of {cls.__name__} settings, got {type(data).__name__}")
    assert dataclasses.is_dataclass(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = checked_keys(data, source, fields, what=f"{cls.__name__} settings")
    defaults = cls()
    for name, value in list(values.items()):
        current = getattr(defaults, name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type) and isinstance(value, Mapping):
            values[name] = dataclass_from_settings(type(current), value, f"{source}.{name}")
        elif isinstance(current, tuple) and isinstance(value, list):
            values[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from None


class Problems:
    """Collects what is wrong with a settings dataclass's values; :meth:`check` raises them as one error.

    ``prefix`` starts the message (``"perturb: bad setting(s): "``); each problem names the
    setting and its value, then what is expected.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, message: str) -> None:
        """A problem in the caller's own words."""
        self.items.append(message)

    def choice(self, name: str, value: Any, choices: Iterable[Any]) -> None:
        """``value`` must be one of ``choices`` (the constants' names: one place)."""
        allowed = list(choices)
        if value not in allowed:
            self.add(f"{name} {value!r} (expected one of {', '.join(map(str, allowed))})")

    def within(self, name: str, value: Any, low: float | None = None, high: float | None = None, *,
               unit: str = "", label: str | None = None) -> None:
        """``value`` must be a finite number in ``[low, high]`` (either end open when ``None``); NaN fails."""
        number = _number(value)
        ok = number is not None and math.isfinite(number) and (low is None or number >= low) and (
            high is None or number <= high)
        if not ok:
            lo = "" if low is None else f"{low:g}"
            hi = "" if high is None else f"{high:g}"
            span = (f"{lo}..{hi}" if low is not None and high is not None else f">= {lo}" if low is not None
                    else f"<= {hi}" if high is not None else "a finite value")
            self.add(f"{label or name} {value} (expected {span}{' ' + unit if unit else ''})")

    def finite(self, obj: Any) -> None:
        """Every float field of the dataclass ``obj`` must be finite (NaN would disable a cut)."""
        bad = [f.name for f in dataclasses.fields(obj) if isinstance(getattr(obj, f.name), float)
               and not math.isfinite(getattr(obj, f.name))]
        if bad:
            self.add(f"{', '.join(bad)}: must be finite numbers (NaN would disable a cut)")

    def check(self) -> None:
        """Raise one :class:`ConfigError` listing every problem, if any."""
        if self.items:
            raise ConfigError(self.prefix + "; ".join(self.items))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
