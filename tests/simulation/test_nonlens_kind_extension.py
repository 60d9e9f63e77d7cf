"""Adding a non-lens kind is one registration in one file: this one (issue 20, ``docs/architecture.md``).

The toy kind — a lone blue exponential disc at z = 0.5 — is registered, for our engine and for
the SLSim engine, by the one ``nonlens_kind`` call of the fixture; ``simulate --nonlens-mix``
names it, its truth rows are written, and every mix is checked against the one registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from brahmasifier.bands import BANDS
from brahmasifier.cli import main
from brahmasifier.errors import ConfigError
from brahmasifier.io.fits import read_parameters_fits
from brahmasifier.simulation.colours import blue_colours, fluxes, mags_from_i_and_colours
from brahmasifier.simulation.nonlens_kinds import NONLENS_KINDS, kinds_for, nonlens_kind, unregister_nonlens_kind
from brahmasifier.simulation.population import PopulationConfig
from brahmasifier.simulation.scene import LightComponent, sersic
from brahmasifier.simulation.slsim_engine import SlsimConfig, available

KIND = "toy_disc"


def draw_disc(rng: np.random.Generator, x0: float, y0: float, cfg: PopulationConfig) -> tuple[float, list[LightComponent]]:
    """A lone blue exponential disc at z = 0.5 (the toy kind)."""
    flux = fluxes(mags_from_i_and_colours(float(rng.uniform(20.0, 21.0)), blue_colours(rng)))
    return 0.5, [sersic("central", x0, y0, 0.6, 1.0, float(rng.uniform(0.5, 1.0)), float(rng.uniform(0, np.pi)), flux)]


def draw_disc_slsim(realisation: object, rng: np.random.Generator) -> tuple[object, str]:
    """The SLSim engine's draw of the toy kind: a lone galaxy of the source population, not brightness-matched."""
    source = realisation.sources.draw_source()  # type: ignore[attr-defined]
    source.update_center(area=0.01)
    return source, "source"


@pytest.fixture
def toy_kind() -> Iterator[str]:
    nonlens_kind(KIND, slsim=draw_disc_slsim)(draw_disc)
    yield KIND
    unregister_nonlens_kind(KIND)


def _parameters(out: Path, folder: str) -> dict[str, np.ndarray]:
    table = read_parameters_fits(out / folder / "parameters.fits")
    return {name: np.asarray(table[name]) for name in table.columns}


def test_simulate_draws_a_registered_kind_named_in_the_mix(toy_kind: str, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--out", str(out), "--n-per-class", "2", "--domains", "hsc", "--nonlens-mix", f"{toy_kind}=1",
                 "--workers", "1", "--no-preview", "--no-progress"]) == 0
    truth = _parameters(out, "hsc_nonlenses")
    assert list(truth["sim_subtype"]) == [toy_kind] * 2  # its truth rows
    assert np.all(truth["z_central"] == 0.5) and np.all(np.isfinite(truth["mag_lens_i"]))
    assert np.all((20.0 <= truth["mag_lens_i"]) & (truth["mag_lens_i"] <= 21.0))
    assert len(_parameters(out, "hsc_lenses")["Rein"]) == 2
    assert len(list((out / "hsc_nonlenses" / "hsc_nonlenses").glob("*.fits"))) == 2 * len(BANDS)


def test_every_mix_is_checked_against_the_one_registry(toy_kind: str, capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    assert NONLENS_KINDS[toy_kind].description == "A lone blue exponential disc at z = 0.5 (the toy kind)."
    assert toy_kind in kinds_for("ours") and kinds_for("slsim") == ("deflector", "false_positive", "blue", toy_kind)
    PopulationConfig(nonlens_mix={"slsim": {toy_kind: 0.5, "spiral": 0.5}})
    SlsimConfig(nonlens_mix={toy_kind: 1.0})
    with pytest.raises(ConfigError, match="spiral"):  # our engine's kind: the SLSim engine has no draw of it
        SlsimConfig(nonlens_mix={"spiral": 1.0})
    assert main(["simulate", "--out", str(tmp_path / "x"), "--n-per-class", "1", "--nonlens-mix", "comet=1"]) == 2
    assert "known for the ours engine: elliptical" in capsys.readouterr().err


def test_a_kind_is_gone_once_unregistered() -> None:
    assert KIND not in kinds_for("ours") and KIND not in kinds_for("slsim")
    with pytest.raises(ConfigError, match="unknown kinds \\['toy_disc'\\]"):
        PopulationConfig(nonlens_mix={"hsc": {KIND: 1.0}})


def test_the_slsim_engine_draws_a_registered_kind(toy_kind: str, slsim_tiny: SlsimConfig, tmp_path: Path) -> None:
    if available() is not None:
        pytest.skip(str(available()))
    from brahmasifier.simulation import simulate_dataset

    out = tmp_path / "slsim"
    simulate_dataset(out, 2, seed=2, engine="slsim", config=replace(slsim_tiny, nonlens_mix={toy_kind: 1.0}), workers=1,
                     progress=False, preview=False)
    truth = _parameters(out, "slsim_nonlenses")
    assert list(truth["sim_subtype"]) == [toy_kind] * 2
    assert np.all(np.isfinite(truth["z_central"])) and np.all(np.isfinite(truth["mag_lens_i"]))
