"""Shared fixture of the simulation tests: one tiny SLSim-engine draw (slow to make, so made once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brahmasifier.simulation.slsim_engine import SlsimConfig, available

#: Tiny SLSim settings: two realisations of two lenses and two non-lenses each.
TINY = SlsimConfig(catalogue_area_deg2=0.004, lens_area_factor=250.0, objects_per_realisation=2, kcorrect_resolution=40,
                   nonlens_mix={"deflector": 1.0, "false_positive": 1.0, "blue": 1.0})
N = 4


@pytest.fixture(scope="session")
def slsim_tiny() -> SlsimConfig:
    """The tiny SLSim settings of :func:`slsim_tree` (``N`` = 4 objects per class)."""
    return TINY


@pytest.fixture(scope="session")
def slsim_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished SLSim-engine data set in the challenge layout (``N`` objects per class, seed 5)."""
    if available() is not None:
        pytest.skip(str(available()))
    from brahmasifier.simulation import simulate_dataset

    out = tmp_path_factory.mktemp("slsim") / "challenge"
    summary = simulate_dataset(out, N, seed=5, engine="slsim", config=TINY, workers=1, progress=False)
    assert summary.n_objects == 2 * N and not summary.skipped and summary.domains == ("slsim",)
    return out


@pytest.fixture(scope="session")
def slsim_tree_or_none(request: pytest.FixtureRequest) -> Path | None:
    """:func:`slsim_tree` where the SLSim extra is installed, else ``None`` (tests that also run without it)."""
    if available() is not None:
        return None
    return request.getfixturevalue("slsim_tree")  # type: ignore[no-any-return]
