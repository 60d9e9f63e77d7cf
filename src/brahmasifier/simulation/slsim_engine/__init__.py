"""SLSim as a simulation engine (extra ``brahmasifier[slsim]``): ``brahmasifier simulate --engine slsim``.

SLSim's own populations — SkyPy galaxy catalogues (:mod:`.skypy_config`, ours: the sdist
ships none), ``EllipticalLensGalaxies`` deflectors with velocity dispersions from abundance
matching, ``Galaxies`` single-Sérsic blue sources, ``LensPop`` and its lens selection,
``FalsePositive`` configurations — and its LSST image simulation (lenstronomy ``SimAPI``
with the ``LSST`` observation settings at a chosen coadd depth), written in the challenge
layout with truth in :mod:`brahmasifier.simulation.truth` conventions.

- :mod:`.config`: :class:`SlsimConfig` (defaults and their reasons);
- :mod:`.skypy_config`: the SkyPy configuration, from SkyPy's documented models;
- :mod:`.catalogue`: one seeded catalogue realisation and the SLSim objects drawn from it;
- :mod:`.images`: five-band nJy cutouts and truth rows;
- :mod:`.run`: :func:`simulate_slsim`, parallel over realisations, resumable (the engine
  ``slsim`` of :mod:`brahmasifier.simulation.engines`).

Its non-lens kinds (``deflector``, ``false_positive``, ``blue``) are declared, with our
engine's draws of them, in :mod:`brahmasifier.simulation.nonlenses` (the one registry:
:mod:`brahmasifier.simulation.nonlens_kinds`).

Known needs of ``slsim`` 0.1.1, which declares no requirements: lenstronomy 1.13.x (1.14
changed the API it calls), numpy < 2.4, astropy < 8, skypy, speclite, colossus,
uncertainties, sncosmo (imported by ``slsim.Sources``); the extra pins them.
"""

from __future__ import annotations

from brahmasifier.simulation.slsim_engine.config import SlsimConfig
from brahmasifier.simulation.slsim_engine.run import simulate_slsim

__all__ = ["SlsimConfig", "available", "simulate_slsim"]


def available() -> str | None:
    """``None`` if the SLSim engine can run here, else one line saying what is missing."""
    import importlib.util

    missing = [name for name in ("slsim", "skypy", "speclite", "sncosmo") if importlib.util.find_spec(name) is None]
    if missing:
        return f"the SLSim engine needs {', '.join(missing)}: pip install 'brahmasifier[slsim]'"
    return None
