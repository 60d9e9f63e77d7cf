"""Our engine's scene offset and the false-positive companions' truth (issue 22).

``--scene-offset PIX`` moves each object's whole scene by a uniform offset (the same draw as the
SLSim engine's, :func:`~brahmasifier.simulation.scene.draw_scene_offset`), exactly: the image is
the centred one translated. At 0 nothing is drawn (the default bytes are unchanged:
``/work/baseline/check.sh`` on the demo checks them). Non-lenses with unlensed companions record
their number, separations and brightest i magnitude.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lenstronomy")

from brahmasifier.bands import PIXEL_SCALE
from brahmasifier.cli import main
from brahmasifier.errors import ConfigError
from brahmasifier.simulation import nonlenses
from brahmasifier.simulation.compare import NONLENS_QUANTITIES, ks_table, load_truth, quantile_table
from brahmasifier.simulation.generate import make_object
from brahmasifier.simulation.lens_systems import source_area_radius
from brahmasifier.simulation.population import PopulationConfig
from brahmasifier.simulation.render import Renderer
from brahmasifier.simulation.scene import Scene, draw_scene_offset, offset_scene
from brahmasifier.simulation.truth import COMPANION_COLUMNS

MOVED = PopulationConfig(scene_offset=2.0)
_FIELD_ROLES = ("neighbour", "star")


def _own(scene: Scene) -> list[dict[str, float]]:
    """Parameters of the object's own components (the unrelated field is drawn after the offset)."""
    return [c.params for c in scene.components if c.role not in _FIELD_ROLES]


def test_zero_offset_draws_nothing() -> None:
    rng = np.random.default_rng(4)
    state = copy.deepcopy(rng.bit_generator.state)
    assert draw_scene_offset(rng, 0.0) == (0.0, 0.0)
    assert rng.bit_generator.state == state
    dx, dy = draw_scene_offset(rng, 2.0)
    assert rng.bit_generator.state != state and max(abs(dx), abs(dy)) <= 2.0 * PIXEL_SCALE
    renderer = Renderer("slsim")
    for label in (0, 1):
        centred = make_object(renderer, label, 0, 8, PopulationConfig(scene_offset=0.0))
        default = make_object(renderer, label, 0, 8, PopulationConfig())
        np.testing.assert_array_equal(centred.image, default.image)
        assert "sim_offset_x" not in centred.scene.row and centred.scene.row == default.scene.row
    with pytest.raises(ConfigError, match="scene_offset"):
        PopulationConfig(scene_offset=float("nan"))


@pytest.mark.parametrize("domain", ["slsim", "hsc"])  # skypy and bright lens populations
def test_offset_scene_is_the_centred_scene_moved_and_recorded(domain: str) -> None:
    renderer = Renderer(domain)
    offsets = []
    for label in (1, 0):
        for index in range(3):
            moved = make_object(renderer, label, index, 21, MOVED)
            again = make_object(renderer, label, index, 21, MOVED)
            np.testing.assert_array_equal(moved.image, again.image)  # deterministic per seed
            assert moved.scene.row == again.scene.row
            centred = make_object(renderer, label, index, 21, PopulationConfig())  # same object, drawn before the offset
            row = moved.scene.row
            dx, dy = float(row["sim_offset_x"]), float(row["sim_offset_y"])  # type: ignore[arg-type]
            assert 0 < max(abs(dx), abs(dy)) <= 2.0 * PIXEL_SCALE
            offsets.append((dx, dy))
            for a, b in zip(_own(moved.scene), _own(centred.scene), strict=True):
                assert a["center_x"] == pytest.approx(b["center_x"] + dx) and a["center_y"] == pytest.approx(b["center_y"] + dy)
            if label == 1:
                assert moved.scene.lens_kwargs is not None and centred.scene.lens_kwargs is not None
                for a, b in zip(moved.scene.lens_kwargs, centred.scene.lens_kwargs, strict=True):
                    x_key = "center_x" if "center_x" in a else "ra_0"
                    assert a[x_key] == pytest.approx(b[x_key] + dx)
                # srcx/srcy: positions from the stamp centre (the offset included), as the SLSim engine's.
                assert row["srcx"] == pytest.approx(float(centred.scene.row["srcx"]) + dx)  # type: ignore[arg-type]
                assert row["srcy"] == pytest.approx(float(centred.scene.row["srcy"]) + dy)  # type: ignore[arg-type]
                for key in ("Rein", "sim_n_images", "sim_magnification"):
                    assert row[key] == pytest.approx(centred.scene.row[key], rel=1e-6)  # type: ignore[arg-type]
                assert row["sim_image_sep"] == pytest.approx(centred.scene.row["sim_image_sep"], abs=1e-3)  # type: ignore[arg-type]
    assert len(set(offsets)) == len(offsets)  # drawn per object


def test_the_offset_scene_renders_as_the_centred_one_translated() -> None:
    """Whole-pixel offsets: the noiseless image equals the centred one rolled (lensed light included)."""
    renderer = Renderer("slsim")
    obj = make_object(renderer, 1, 3, 5, PopulationConfig(mean_neighbours=0.0, star_probability=0.0))
    centred = obj.scene
    moved = offset_scene(copy.deepcopy(centred), 2 * PIXEL_SCALE, -PIXEL_SCALE)
    renderer.new_object()
    before = renderer.render(centred, None, noise=False).image.astype(np.float64)
    renderer.new_object()
    after = renderer.render(moved, None, noise=False).image.astype(np.float64)
    expected = np.roll(before, (-1, 2), axis=(1, 2))  # y down one row, x right two columns
    inner = (slice(None), slice(6, -6), slice(6, -6))
    np.testing.assert_allclose(after[inner], expected[inner], rtol=1e-5, atol=1e-5 * before.max())
    assert not np.allclose(after, before, rtol=0.01, atol=0.0)


@pytest.mark.parametrize("kind", ["false_positive", "elliptical_companion"])
def test_companion_truth_matches_the_drawn_companions(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    systems: list[object] = []
    draw = nonlenses.draw_lens_system

    def recording(*args: object, **kwargs: object) -> object:
        systems.append(draw(*args, **kwargs))  # type: ignore[arg-type]
        return systems[-1]

    monkeypatch.setattr(nonlenses, "draw_lens_system", recording)
    cfg = PopulationConfig(nonlens_mix={"slsim": {kind: 1.0}, "hsc": {kind: 1.0}})
    for index in range(4):
        systems.clear()
        scene = nonlenses.draw_nonlens(np.random.default_rng(index), "slsim", cfg)
        row = scene.row
        central = next(c for c in scene.components if c.role == "central").params
        companions = [c.params for c in scene.components if c.role == "companion"]
        seps = [math.hypot(c["center_x"] - central["center_x"], c["center_y"] - central["center_y"]) for c in companions]
        assert row["sim_n_companions"] == len(companions) and 1 <= len(companions) <= 3
        assert row["sim_companion_sep_min"] == pytest.approx(min(seps))
        assert row["sim_companion_sep_max"] == pytest.approx(max(seps))
        assert 15.0 < float(row["sim_companion_mag_i"]) < 30.0  # type: ignore[arg-type]
        if kind == "false_positive":  # uniform in SLSim's test area, 1.5 θ_E∞ around the deflector
            assert max(seps) <= float(source_area_radius(systems[-1].theta_e_inf))  # type: ignore[attr-defined]
        else:
            assert 0.7 <= min(seps) and max(seps) <= 2.6
    lone = nonlenses.draw_nonlens(np.random.default_rng(0), "slsim", PopulationConfig(nonlens_mix={"slsim": {"deflector": 1.0}}))
    assert not set(COMPANION_COLUMNS) & set(lone.row)  # no companions: the columns are missing (−999)
    # A false positive whose deflector found no galaxy in front of it records 0 companions, no separations.
    central = [c for c in lone.components if c.role == "central"]
    assert nonlenses._companion_columns("false_positive", central) == {"sim_n_companions": 0.0}
    assert nonlenses._companion_columns("deflector", central) == {}


def test_cli_scene_offset_and_companions_of_our_engine(tmp_path: Path) -> None:
    out = tmp_path / "ours"
    argv = ["simulate", "--out", str(out), "--n-per-class", "2", "--domains", "slsim", "--seed", "3", "--workers", "1",
            "--no-preview", "--no-progress", "--scene-offset", "2", "--nonlens-mix", "false_positive=0.5,deflector=0.5"]
    assert main(argv) == 0
    truth = load_truth(out)
    offsets = truth[["sim_offset_x", "sim_offset_y"]].to_numpy()
    assert np.isfinite(offsets).all() and (np.abs(offsets) <= 2 * PIXEL_SCALE).all()
    others = truth[truth["label"] == 0]
    fp = others["sim_subtype"] == "false_positive"
    assert others.loc[fp, "sim_n_companions"].between(1, 3).all()
    assert others.loc[~fp, "sim_n_companions"].isna().all()  # −999 in the file
    assert truth.loc[truth["label"] == 1, "sim_n_companions"].isna().all()
    table = quantile_table({"ours": others}, NONLENS_QUANTITIES)
    assert table.loc[("scene offset [arcsec]", "ours"), "n"] == 2
    assert table.loc[("false-positive companions", "ours"), "n"] == int(fp.sum())
    far = others.assign(sim_offset_x=others["sim_offset_x"] + 10.0)
    ks = ks_table({"ours": others, "same": others.copy(), "far": far}, NONLENS_QUANTITIES, "ours")
    assert ks.loc[("scene offset [arcsec]", "same"), "D"] == 0.0 and ks.loc[("scene offset [arcsec]", "far"), "D"] == 1.0
    assert ("scene offset [arcsec]", "ours") not in ks.index
