"""Lenstronomy-based simulator of LSST-like lens and non-lens cutouts (extra ``brahmasifier[sim]``).

- :mod:`.instrument`: per-band instrument settings (data), pixel unit nJy;
- :mod:`.population`: the population settings, non-lens mixes and catalogue columns; the draws by job:
  :mod:`.cosmology`, :mod:`.colours`, :mod:`.galaxies`, :mod:`.lenses`, :mod:`.nonlenses` (a registry of
  kinds), :mod:`.field`, with :mod:`.scene` the vocabulary they share;
- :mod:`.render`: pixels (lenstronomy light/lens models, Moffat PSFs, noise, HSC degradation);
- :mod:`.generate`: one object from (seed, domain, label, index);
- :mod:`.layout`: :func:`simulate_dataset`, writing the challenge or blind-test layout;
- :mod:`.slsim_engine`: SLSim as an engine; :mod:`.inject`: lensed sources painted into real cutouts.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("lenstronomy") is None:  # pragma: no cover - only without the extra
    from brahmasifier.errors import DependencyNotFoundError

    raise DependencyNotFoundError("brahmasifier.simulation needs lenstronomy: pip install 'brahmasifier[sim]'")

from brahmasifier.simulation.layout import LAYOUTS, SimulationSummary, simulate_dataset
from brahmasifier.simulation.population import PopulationConfig

__all__ = ["LAYOUTS", "PopulationConfig", "SimulationSummary", "simulate_dataset"]
