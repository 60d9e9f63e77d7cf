"""Simulation engines: one registry that ``simulate_dataset`` and ``brahmasifier simulate --engine`` dispatch through.

An engine is one declaration, :class:`SimulationEngine`: its name, what it is, the domains it
makes, its settings' type and how it makes objects — either

- ``draw`` (a per-object engine): ``draw(domain, label, index, seed, config) -> DrawnObject``,
  one object from its seed alone; the runner (:func:`brahmasifier.simulation.layout.simulate_objects`)
  does the rest: tasks, processes, files, catalogues, preview, ``simulation.json``, resuming; or
- ``run`` (an engine that drives its own run, like SLSim's catalogue realisations):
  ``run(request: RunRequest) -> SimulationSummary``, built from the runner's pieces
  (:mod:`brahmasifier.simulation.runs`).

Adding an engine is one :func:`register_engine` call in one file (a test, a plugin module);
``--engine`` offers every registered name. The two built-in engines are declared below with
their functions named as ``"module:function"`` strings, loaded when first used: building the
CLI's parser (which reads :func:`engine_names`) imports no simulation code, and this registry
imports no engine, so the import graph has no cycle.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from brahmasifier.errors import ConfigError

if TYPE_CHECKING:
    from brahmasifier.simulation.runs import SimulationSummary

__all__ = ["ENGINES", "DrawnObject", "RunRequest", "SimulationEngine", "engine_names", "register_engine",
           "simulation_engine", "unregister_engine"]


@dataclass
class DrawnObject:
    """One object a per-object engine drew: its catalogue ID, ``(5, 41, 41)`` nJy image, subtype and truth row."""

    object_id: str | int  # written as its decimal digits when an integer (HSC IDs)
    image: np.ndarray
    subtype: str  # "lens" or the non-lens kind (``sim_subtype``)
    row: dict[str, Any]  # challenge and ``sim_*`` columns (``RA``, ``Dec``, ``Rein``, ``z_central``, ...)


@dataclass(frozen=True)
class RunRequest:
    """What ``simulate_dataset`` hands an engine that runs itself (arguments checked, domains parsed)."""

    out: Path
    n_per_class: int
    seed: int
    domains: tuple[str, ...]
    layout: str
    workers: int | None
    progress: bool
    preview: bool
    config: Any


def _load(ref: Any) -> Any:
    """``"module:attribute"`` → the attribute (imported now); anything else as it is."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class SimulationEngine:
    """One simulation engine (see the module docstring); callables may be ``"module:function"`` strings."""

    name: str
    description: str
    domains: tuple[str, ...]  # the domains it makes
    default_domains: tuple[str, ...] | None = None  # made when none are given (default: all of ``domains``)
    config_type: Any = None  # its settings' class; ``None``: it takes none
    draw: Any = None  # (domain, label, index, seed, config) -> DrawnObject
    run: Any = None  # (RunRequest) -> SimulationSummary
    settings: Any = None  # config -> its entries in the run's settings (default: {"engine": name, "config": asdict})
    available: Any = None  # () -> None, or one line saying what is missing
    progress_label: str = ""  # the progress bar's name (default "simulate (<name>)")

    def __post_init__(self) -> None:
        if (self.draw is None) == (self.run is None):
            raise ValueError(f"engine {self.name!r}: give exactly one of draw (per object) and run (its own run)")
        if not self.domains or not set(self.default_domains or ()) <= set(self.domains):
            raise ValueError(f"engine {self.name!r}: bad domains {self.domains!r} / {self.default_domains!r}")

    @property
    def defaults(self) -> tuple[str, ...]:
        """The domains made when none are given."""
        return self.default_domains or self.domains

    def config_class(self) -> type | None:
        """Its settings' class (imported now), or ``None``."""
        return _load(self.config_type)

    def missing(self) -> str | None:
        """``None`` if it can run here, else one line saying what is missing."""
        return None if self.available is None else _load(self.available)()

    def draw_function(self) -> Callable[..., DrawnObject]:
        """Its per-object draw (imported now)."""
        return _load(self.draw)

    def run_function(self) -> Callable[[RunRequest], SimulationSummary]:
        """Its own run (imported now)."""
        return _load(self.run)

    def run_settings(self, config: Any) -> dict[str, Any]:
        """Its entries in the settings ``simulation.json`` records (what a rerun is compared on)."""
        if self.settings is not None:
            return _load(self.settings)(config)
        return {"engine": self.name, "config": asdict(config) if is_dataclass(config) and not isinstance(config, type) else None}


#: Registered engines by name.
ENGINES: dict[str, SimulationEngine] = {}


def register_engine(engine: SimulationEngine) -> SimulationEngine:
    """Make ``engine`` available to ``simulate_dataset(engine=...)`` and ``simulate --engine``.

    Raises:
        ValueError: its name is registered already.
    """
    if engine.name in ENGINES:
        raise ValueError(f"simulation engine {engine.name!r} is registered twice")
    ENGINES[engine.name] = engine
    return engine


def unregister_engine(name: str) -> None:
    """Remove engine ``name`` (a test's own engine, when the test ends)."""
    ENGINES.pop(name, None)


def engine_names() -> tuple[str, ...]:
    """The registered engines' names, built-in ones first."""
    return tuple(ENGINES)


def simulation_engine(name: str) -> SimulationEngine:
    """The engine called ``name``.

    Raises:
        ConfigError: no engine has that name.
    """
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    return ENGINES[name]


def _lenstronomy_missing() -> str | None:
    if importlib.util.find_spec("lenstronomy") is None:
        return "brahmasifier.simulation needs lenstronomy: pip install 'brahmasifier[sim]'"
    return None


register_engine(SimulationEngine(
    "ours", "lenstronomy scenes of our own populations (brahmasifier.simulation.population)", ("slsim", "hsc"),
    config_type="brahmasifier.simulation.population:PopulationConfig", draw="brahmasifier.simulation.generate:draw_object",
    settings="brahmasifier.simulation.generate:population_settings", available=_lenstronomy_missing,
    progress_label="simulate"))
register_engine(SimulationEngine(
    "slsim", "SLSim's populations and LSST image simulation (extra brahmasifier[slsim])", ("slsim",),
    config_type="brahmasifier.simulation.slsim_engine.config:SlsimConfig",
    run="brahmasifier.simulation.slsim_engine.run:run_engine", available="brahmasifier.simulation.slsim_engine:available"))
