"""Lenstronomy-based simulator of LSST-like lens and non-lens cutouts (extra ``brahmasifier[sim]``).

- :mod:`.instrument`: per-band instrument settings (data), pixel unit nJy;
- :mod:`.population`: the population settings, non-lens mixes and catalogue columns; the draws by job:
  :mod:`.cosmology`, :mod:`.colours`, :mod:`.galaxies`, :mod:`.lenses`, :mod:`.nonlenses` (the kinds
  of the registry :mod:`.nonlens_kinds`, shared by both engines), :mod:`.field`, with :mod:`.scene`
  the vocabulary they share;
- :mod:`.render`: pixels (lenstronomy light/lens models, Moffat PSFs, noise, HSC degradation);
- :mod:`.generate`: one object from (seed, domain, label, index);
- :mod:`.engines`: the engine registry; :mod:`.layout`: :func:`simulate_dataset`, dispatching
  through it; :mod:`.runs`: the runner every engine and the injection share;
- :mod:`.slsim_engine`: SLSim as an engine; :mod:`.inject`: lensed sources painted into real cutouts.

The package's names below are loaded when first used, so the registries (:mod:`.engines`,
:mod:`.nonlens_kinds`) import without lenstronomy (the CLI reads the engine names when it builds
its parser); using the simulator without lenstronomy raises
:class:`~brahmasifier.errors.DependencyNotFoundError`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brahmasifier.simulation.layout import LAYOUTS, simulate_dataset
    from brahmasifier.simulation.population import PopulationConfig
    from brahmasifier.simulation.runs import SimulationSummary

__all__ = ["LAYOUTS", "PopulationConfig", "SimulationSummary", "simulate_dataset"]

_HOMES = {"LAYOUTS": "layout", "SimulationSummary": "runs", "simulate_dataset": "layout", "PopulationConfig": "population"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if importlib.util.find_spec("lenstronomy") is None:  # pragma: no cover - only without the extra
        from brahmasifier.errors import DependencyNotFoundError

        raise DependencyNotFoundError("brahmasifier.simulation needs lenstronomy: pip install 'brahmasifier[sim]'")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
