"""The non-lens kinds of every simulation engine: one registry, one declaration per kind.

A kind is a name (what ``sim_subtype`` says in the truth tables and what a non-lens mix
names), a description, and, per engine that can draw it, how that engine draws it:

- ``ours`` (:mod:`brahmasifier.simulation.generate`): ``draw(rng, x0, y0, cfg) -> (z, components)``,
  the redshift of the central object and its :class:`~brahmasifier.simulation.scene.LightComponent`
  list around centre ``(x0, y0)`` arcsec, with the
  :class:`~brahmasifier.simulation.population.PopulationConfig` ``cfg``;
- ``slsim`` (:mod:`brahmasifier.simulation.slsim_engine`): ``draw(realisation, rng) -> (obj, form)``, an
  SLSim object drawn from the run's catalogue
  :class:`~brahmasifier.simulation.slsim_engine.catalogue.Realisation` and how it is rendered:
  ``"deflector"`` (the object's lens light, no lensed source; truth from its deflector) or
  ``"source"`` (a lone SLSim ``Source``; truth from its own magnitudes).

Adding a kind is one decorated function (:func:`nonlens_kind`) in one file: the built-in
ones live in :mod:`brahmasifier.simulation.nonlenses`, loaded here on the first lookup (by
module name, so this registry imports no drawing code and the import graph has no cycle); a
test or a plugin registers its own the same way. Every mix — ``PopulationConfig.nonlens_mix``,
``SlsimConfig.nonlens_mix``, ``simulate --nonlens-mix`` — is checked against this registry
(:func:`check_mix`), and the engines read the kinds they may draw from it (:func:`kinds_for`,
in registration order: the SLSim engine's draw of a kind depends on that order, which the
built-in registrations keep).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from brahmasifier.errors import ConfigError

__all__ = ["NONLENS_KINDS", "NonlensKind", "check_mix", "kinds_for", "nonlens_kind", "parse_mix", "unregister_nonlens_kind"]

#: Modules whose import registers the built-in kinds.
_BUILTIN_MODULES: tuple[str, ...] = ("brahmasifier.simulation.nonlenses",)


@dataclass(frozen=True)
class NonlensKind:
    """One kind of non-lens: its name, what it is, and each engine's draw of it (engine name → draw)."""

    name: str
    description: str
    draws: Mapping[str, Callable[..., Any]]


#: Registered kinds by name, in registration order.
NONLENS_KINDS: dict[str, NonlensKind] = {}


def nonlens_kind(name: str, *, description: str | None = None,
                 **other_engines: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as our engine's draw of kind ``name`` (and other engines' draws given by name).

    Args:
        name: the kind's name (``sim_subtype``, the key of a mix).
        description: what it is (default: the first line of the function's docstring).
        **other_engines: draws of the same kind by other engines, e.g. ``slsim=draw`` (see the module docstring).

    Raises:
        ValueError: ``name`` is registered already.
    """
    def register(draw: Callable[..., Any]) -> Callable[..., Any]:
        _load_builtin()
        if name in NONLENS_KINDS:
            raise ValueError(f"non-lens kind {name!r} is registered twice")
        text = description or (draw.__doc__ or name).strip().splitlines()[0]
        NONLENS_KINDS[name] = NonlensKind(name, text, {"ours": draw, **other_engines})
        return draw
    return register


def unregister_nonlens_kind(name: str) -> None:
    """Remove kind ``name`` (a test's own kind, when the test ends)."""
    NONLENS_KINDS.pop(name, None)


_loading: list[bool] = []


def _load_builtin() -> None:
    """Import the modules of the built-in kinds once (their decorators fill :data:`NONLENS_KINDS`)."""
    if _loading:
        return
    _loading.append(True)
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def kinds_for(engine: str) -> tuple[str, ...]:
    """Names of the kinds ``engine`` can draw, in registration order."""
    _load_builtin()
    return tuple(name for name, kind in NONLENS_KINDS.items() if engine in kind.draws)


def check_mix(mix: Mapping[str, float], engine: str) -> str | None:
    """``None`` if ``mix`` (kind → fraction) is one ``engine`` can draw, else what is wrong (one line)."""
    known = kinds_for(engine)
    unknown = sorted(set(mix) - set(known))
    if unknown:
        return f"names unknown kinds {unknown}; known for the {engine} engine: {', '.join(known)}"
    fractions = [float(v) for v in mix.values()]
    if not fractions or not all(math.isfinite(v) and v >= 0 for v in fractions) or not sum(fractions) > 0:
        return f"needs non-negative fractions, not all 0, of {', '.join(known)}"
    return None


def parse_mix(text: str, flag: str = "--nonlens-mix") -> dict[str, float]:
    """``KIND=FRACTION,...`` as a mix; the fractions must sum to 1 (they are not renormalised silently).

    Raises:
        ConfigError: an item is not ``KIND=FRACTION`` or the fractions do not sum to 1.
    """
    mix: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{flag}: {item!r} is not KIND=FRACTION") from None
    total = sum(mix.values())
    if not abs(total - 1.0) <= 1e-6:  # NaN fails too
        raise ConfigError(f"{flag} {text}: the fractions sum to {total:g}, not 1; give fractions "
                          "that sum to 1 (they are not renormalised silently)")
    return mix
