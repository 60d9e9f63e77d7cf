"""Our engine's mass options (issue 22): EPL slopes, external convergence, the non-lens mix on the CLI.

Off by default (the default draws are unchanged: ``/work/baseline/check.sh`` on the demo checks the
bytes); on, the slope and κ_ext are in the truth rows, deterministic per seed, and rendered by the
lenstronomy models :func:`~brahmasifier.simulation.lens_systems.lens_model_list` names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lenstronomy")

from brahmasifier.cli import main
from brahmasifier.errors import ConfigError
from brahmasifier.simulation.compare import LENS_QUANTITIES, load_truth, quantile_table
from brahmasifier.simulation.generate import make_object
from brahmasifier.simulation.lens_systems import check_mass_options, lens_model_list, mass_kwargs
from brahmasifier.simulation.population import PopulationConfig
from brahmasifier.simulation.render import Renderer

ON = PopulationConfig(epl_gamma=(2.0, 0.15), kappa_ext_sigma=0.05)


@pytest.mark.parametrize("domain", ["slsim", "hsc"])  # skypy and bright populations
def test_mass_options_are_in_the_truth_and_deterministic(domain: str) -> None:
    renderer = Renderer(domain)
    slopes, kappas = [], []
    for index in range(3):
        a = make_object(renderer, 1, index, 11, ON)
        b = make_object(renderer, 1, index, 11, ON)
        np.testing.assert_array_equal(a.image, b.image)
        assert a.scene.row == b.scene.row
        kwargs = a.scene.lens_kwargs
        assert kwargs is not None and lens_model_list(kwargs) == ("EPL", "SHEAR", "CONVERGENCE")
        assert a.scene.row["sim_gamma_pl"] == kwargs[0]["gamma"] and a.scene.row["sim_kappa_ext"] == kwargs[2]["kappa"]
        assert 1.5 <= kwargs[0]["gamma"] <= 2.5
        slopes.append(kwargs[0]["gamma"])
        kappas.append(kwargs[2]["kappa"])
    assert len(set(slopes)) == 3 and len(set(kappas)) == 3  # drawn per lens, not one value
    default = make_object(renderer, 1, 0, 11, PopulationConfig())
    assert default.scene.lens_kwargs is not None and lens_model_list(default.scene.lens_kwargs) == ("SIE", "SHEAR")
    assert "sim_gamma_pl" not in default.scene.row and "sim_kappa_ext" not in default.scene.row
    assert make_object(renderer, 0, 0, 11, ON).scene.lens_kwargs is None  # non-lenses have no mass


def test_epl_of_slope_two_renders_like_the_sie_and_convergence_magnifies() -> None:
    """EPL γ = 2 is the SIE (same arc to 1e-3 of its peak); κ_ext > 0 makes the lensed source brighter."""
    renderer = Renderer("slsim")
    scene = make_object(renderer, 1, 2, 5, PopulationConfig()).scene
    assert scene.lens_kwargs is not None

    def arc(kwargs: list[dict[str, float]]) -> np.ndarray:
        scene.lens_kwargs = kwargs
        renderer.new_object()
        return renderer.render(scene, None, noise=False, lensed_only=True).image.astype(np.float64)

    base = scene.lens_kwargs
    sie = arc(base)
    epl = arc(mass_kwargs(base, 2.0, 0.0))
    assert np.abs(epl - sie).max() < 1e-3 * sie.max()
    assert not np.allclose(arc(mass_kwargs(base, 2.3, 0.0)), sie, rtol=0.05, atol=0.0)  # the slope is used
    # A mass sheet κ magnifies by about 1/(1 − κ)² (1.23 for κ = 0.1).
    assert 1.1 < arc(mass_kwargs(base, None, 0.1)).sum() / sie.sum() < 1.4


@pytest.mark.parametrize(("gamma", "kappa"), [((3.2, 0.1), 0.0), ((2.0, -0.1), 0.0), ((2.0, float("nan")), 0.0),
                                              (None, -0.01), (None, float("inf"))])
def test_bad_mass_options_are_refused(gamma: tuple[float, float] | None, kappa: float) -> None:
    with pytest.raises(ConfigError):
        check_mass_options(gamma, kappa)


def test_cli_options_of_our_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ours"
    assert main(["simulate", "--out", str(out), "--n-per-class", "2", "--domains", "slsim", "--seed", "3", "--workers", "1",
                 "--no-preview", "--no-progress", "--epl-gamma", "2.0,0.1", "--kappa-ext", "0.04",
                 "--nonlens-mix", "false_positive=0.5,deflector=0.5"]) == 0
    truth = load_truth(out)
    lenses, others = truth[truth["label"] == 1], truth[truth["label"] == 0]
    assert lenses["sim_gamma_pl"].notna().all() and lenses["sim_kappa_ext"].notna().all()
    assert set(others["sim_subtype"]) <= {"false_positive", "deflector"}
    table = quantile_table({"ours": lenses}, LENS_QUANTITIES)
    assert table.loc[("EPL slope", "ours"), "n"] == 2 and table.loc[("scene offset [arcsec]", "ours"), "n"] == 0
    capsys.readouterr()
    for bad in (["--kappa-ext", "-1"], ["--epl-gamma", "4,0.1"], ["--nonlens-mix", "ring=0.5,nothing=0.5"]):
        assert main(["simulate", "--out", str(tmp_path / "bad"), "--n-per-class", "1", "--domains", "slsim", *bad]) == 2
        assert "error" in capsys.readouterr().err.lower()
        assert not (tmp_path / "bad" / "simulation.json").exists()
    assert main(["simulate", "--engine", "slsim", "--out", str(tmp_path / "s"), "--n-per-class", "1",
                 "--kappa-ext", "0.1"]) == 2
    assert "--los-file" in capsys.readouterr().err
