"""Lenses painted into real cutouts: ``brahmasifier inject`` (extra ``brahmasifier[sim]``; SLSim sources: ``[slsim]``).

For each chosen host cutout (a packed store or a FITS tree: the challenge's non-lens classes,
a survey's galaxy cutouts, or our own simulated non-lenses), a deflector mass model centred on
the host's measured light, θ_E from its redshift and magnitude through the Faber–Jackson
relation (or from a stated distribution), a background source from our engine's population or
SLSim's, the lensed source rendered with lenstronomy at 0.2″ with the band's PSF, and the arc's
own Poisson noise, added to the real pixels; injections whose arc fails a matched-filter S/N
cut against the host's measured noise are not kept. The data set is written in the challenge
layout by the runner :mod:`brahmasifier.simulation.runs` with full truth, and every host that
received an arc is also written untouched as a non-lens (so the classes share one host
population). Deterministic per seed, parallel, resumable.

- :mod:`.config`: :class:`InjectConfig` (defaults and their reasons);
- :mod:`.hosts`: reading hosts, the catalogue, who may host;
- :mod:`.measure`: sky noise, centre, shape, size and magnitudes measured on a host;
- :mod:`.deflector`: redshift, magnitudes (photometric fall-back), σ and θ_E;
- :mod:`.sources`: background sources (ours or SLSim's);
- :mod:`.paint`: one injection (:func:`inject_into_host`);
- :mod:`.run`: :func:`inject_dataset` (chunks, workers, resume); :mod:`.output`: writing it.
"""

from __future__ import annotations

from brahmasifier.simulation.inject.config import InjectConfig
from brahmasifier.simulation.inject.output import InjectionSummary
from brahmasifier.simulation.inject.run import inject_dataset

__all__ = ["InjectConfig", "InjectionSummary", "inject_dataset"]
