"""`brahmasifier inject`: arcs painted into "real" hosts (our own simulated non-lenses stand in for them)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS, PIXEL_SCALE, STAMP_SIZE
from brahmasifier.cli import main
from brahmasifier.io.fits import read_parameters_fits
from brahmasifier.io.naming import band_filename, labelled_stem
from brahmasifier.io.pack import pack_fits
from brahmasifier.io.store import open_store
from brahmasifier.simulation import simulate_dataset
from brahmasifier.simulation.inject import InjectConfig, inject_dataset
from brahmasifier.simulation.inject.measure import measure_host
from brahmasifier.simulation.inject.output import lens_id
from brahmasifier.simulation.inject.paint import Host, Injection, inject_into_host
from brahmasifier.simulation.inject.sources import OurSources
from brahmasifier.simulation.instrument import LSST_1YR
from brahmasifier.simulation.render import SUPERSAMPLING, Renderer, moffat_kernel
from brahmasifier.simulation.scene import Scene, sersic
from brahmasifier.simulation.truth import e1e2_from_ellipticity, position_angle
from brahmasifier.sky import sky_stats

N_HOSTS = 10


@pytest.fixture(scope="module")
def host_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our engine's non-lenses (LSST-rendered domain), used as the 'real' hosts."""
    out = tmp_path_factory.mktemp("hosts") / "sim"
    simulate_dataset(out, N_HOSTS, seed=21, domains="slsim", workers=1, progress=False, preview=False)
    return out / "slsim_nonlenses"


@pytest.fixture(scope="module")
def host_store(host_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hosts_store") / "store"
    pack_fits([host_tree], out=out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def injection(host_store: Path) -> tuple[Host, Injection]:
    """One injection into the first host that takes one."""
    store = open_store(host_store)
    index = store.index
    renderer = Renderer("slsim")
    for row in range(len(store)):
        params = {c: index[c].iloc[row] for c in ("z_central", "mag_lens_r", "mag_lens_i", "sim_psf_fwhm_i")}
        host = Host(str(index["id"].iloc[row]), str(index["stem"].iloc[row]), "slsim", store.read([row])[0], params)
        result = inject_into_host(host, renderer, OurSources(), np.random.default_rng(row), InjectConfig())
        if isinstance(result, Injection):
            return host, result
    raise AssertionError("no host took an injection")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "simulation.json"}


# lenstronomy's PSF convolution calls numpy.fft with the NumPy-2-deprecated `s` without `axes`.
@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")
def test_injected_arc_matches_lenstronomy_image_of_the_truth(injection: tuple[Host, Injection]) -> None:
    """The arc added equals lenstronomy's ImageModel of the lens in the truth row and the same source (noiseless)."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    _, inj = injection
    row = inj.row
    e1, e2 = e1e2_from_ellipticity(row["ell_m"], row["ell_m_PA"])
    shear = float(row["sh"])
    phi = math.radians(90.0 - float(row["sh_PA"]))  # truth PA → lenstronomy angle
    x0, y0 = float(row["sim_lens_x"]), float(row["sim_lens_y"])
    lens = [{"theta_E": float(row["Rein"]), "e1": e1, "e2": e2, "center_x": x0, "center_y": y0},
            {"gamma1": shear * math.cos(2 * phi), "gamma2": shear * math.sin(2 * phi), "ra_0": x0, "dec_0": y0}]
    np.testing.assert_allclose([lens[0]["e1"], lens[0]["e2"], lens[1]["gamma1"], lens[1]["gamma2"]],
                               [inj.scene.lens_kwargs[0]["e1"], inj.scene.lens_kwargs[0]["e2"],  # type: ignore[index]
                                inj.scene.lens_kwargs[1]["gamma1"], inj.scene.lens_kwargs[1]["gamma2"]], atol=1e-9)
    sources = [c for c in inj.scene.components if c.lensed]
    half = (STAMP_SIZE - 1) / 2 * PIXEL_SCALE
    data = ImageData(image_data=np.zeros((STAMP_SIZE, STAMP_SIZE)), ra_at_xy_0=-half, dec_at_xy_0=-half,
                     transform_pix2angle=np.eye(2) * PIXEL_SCALE)
    profiles = {"sersic": "SERSIC_ELLIPSE", "gaussian": "GAUSSIAN"}
    light = LightModel([profiles[c.profile] for c in sources])
    for b, band in enumerate(BANDS):
        fwhm = float(row[f"sim_psf_fwhm_{band}"])
        psf = PSF(psf_type="PIXEL", kernel_point_source=moffat_kernel(round(fwhm * 200) / 200, 3.5, PIXEL_SCALE))
        model = ImageModel(data, psf, lens_model_class=LensModel(["SIE", "SHEAR"]), source_model_class=light,
                           kwargs_numerics={"supersampling_factor": SUPERSAMPLING, "supersampling_convolution": False})
        kwargs = []
        for c in sources:
            if c.profile == "sersic":
                unit = LightModel(["SERSIC_ELLIPSE"]).total_flux([{"amp": 1.0, **c.params}], norm=True)[0]
                kwargs.append({**c.params, "amp": c.flux[b] / unit})
            else:  # lenstronomy's GAUSSIAN amp is the total flux
                kwargs.append({"amp": c.flux[b], "sigma": c.params["sigma"], "center_x": c.params["center_x"],
                               "center_y": c.params["center_y"]})
        reference = model.image(lens, kwargs)
        # Same sampling as our renderer (SUPERSAMPLING), so this checks the implementation, not the sampling: at
        # 3x a highly magnified compact arc can lose ~2 % of its flux against lenstronomy's converged (15x) image.
        assert inj.arc[b].sum() == pytest.approx(reference.sum(), rel=0.002), band
        assert np.abs(inj.arc[b] - reference).max() <= 0.01 * reference.max(), band


def test_host_pixels_unchanged_where_the_arc_is_zero(injection: tuple[Host, Injection]) -> None:
    host, inj = injection
    zero = inj.arc == 0
    assert zero.mean() > 0.1 and (~zero).sum() > 20  # the arc (to 1e-4 of the sky σ) covers part of the stamp
    np.testing.assert_array_equal(inj.image[zero], host.image[zero])
    # Where the arc is, the difference is the arc plus its zero-mean Poisson noise (LSST 1-year electrons).
    shot = np.array([LSST_1YR[b].poisson_njy_per_count for b in BANDS])[:, None, None] * np.ones_like(inj.arc)
    residual = inj.image.astype(np.float64) - host.image - inj.arc
    bright = inj.arc > 20 * shot  # many electrons per pixel: Gaussian limit
    chi = residual[bright] / np.sqrt(inj.arc[bright] * shot[bright])
    assert bright.sum() > 30
    assert abs(chi.mean()) < 4 / math.sqrt(bright.sum()) and 0.7 < chi.std() < 1.3


def test_truth_row_and_detectability(injection: tuple[Host, Injection]) -> None:
    host, inj = injection
    row, cfg = inj.row, InjectConfig()
    assert row["sim_arc_snr"] >= cfg.min_arc_snr and row["sim_arc_snr"] == pytest.approx(row["sim_arc_snr_i"])
    assert row["sim_magnification"] >= cfg.min_magnification and row["zsrc"] > row["zlens"]
    assert row["zlens"] == pytest.approx(float(host.params["z_central"])) and row["sim_host_z_origin"] == "catalog"
    assert row["mag_lens_r"] == pytest.approx(float(host.params["mag_lens_r"]))
    assert 0 < row["ell_m"] <= 1 and 0 <= row["ell_m_PA"] < 180 and row["Rein"] > 0.3 and row["vel_disp"] > 100
    assert math.hypot(row["srcx"] - row["sim_lens_x"], row["srcy"] - row["sim_lens_y"]) <= 0.6 * row["Rein"] + 1e-9
    assert row["sim_n_images"] >= 2


def test_measured_centre_shape_and_noise_of_a_known_galaxy() -> None:
    renderer = Renderer("slsim")
    q, phi = 0.55, 0.7
    galaxy = sersic("central", 0.13, -0.09, 0.8, 4.0, q, phi, np.full(len(BANDS), 60000.0))
    scene = Scene(0, "elliptical", None, [galaxy], np.ones(len(BANDS)), 3.5, {})
    image = renderer.render(scene, np.random.default_rng(4)).image
    m = measure_host(image, LSST_1YR["i"].seeing_fwhm)
    assert math.hypot(m.x - 0.13, m.y + 0.09) < 0.02
    assert abs(m.q - q) < 0.12 and abs(position_angle(m.phi) - position_angle(phi)) < 8.0
    np.testing.assert_allclose(m.sky_sigma, [LSST_1YR[b].background_rms for b in BANDS], rtol=0.15)
    total = 31.4 - 2.5 * math.log10(60000.0)
    assert total - 0.05 < m.aperture_mags[2] < total + 0.4  # a 3″ aperture holds most, not all of the light


@pytest.mark.parametrize("domain", ["slsim", "hsc"])
def test_sky_noise_estimator_on_simulated_cutouts(domain: str) -> None:
    """The documented reason for the estimator (sky.py): the high-pass beats the raw outer pixels."""
    from brahmasifier.simulation.generate import make_object
    from brahmasifier.sky import CLIP_SIGMA, HIGHPASS_FACTOR, MAD_TO_SIGMA, outer_mask

    white = np.random.default_rng(0).normal(0.0, 1.0, (300, STAMP_SIZE, STAMP_SIZE))
    assert np.median(sky_stats(white)[1]) == pytest.approx(1.0, abs=0.01)  # HIGHPASS_FACTOR re-derived
    assert HIGHPASS_FACTOR == pytest.approx(math.sqrt(8 / 9), abs=0.01)  # the 3x3 high-pass keeps 8/9 of white variance
    renderer = Renderer(domain)
    images = np.array([make_object(renderer, label, i, seed=1).image for label in (0, 1) for i in range(20)], dtype=np.float64)
    truth = np.array([LSST_1YR[b].background_rms for b in BANDS])  # per-pixel sky noise of both domains
    ours = sky_stats(images)[1] / truth
    outer = images[..., outer_mask(STAMP_SIZE, STAMP_SIZE).numpy()]
    med = np.median(outer, axis=-1, keepdims=True)
    raw = MAD_TO_SIGMA * np.median(np.abs(outer - med), axis=-1)
    for _ in range(2):
        clipped = np.where(np.abs(outer - med) <= CLIP_SIGMA * raw[..., None], outer, np.nan)
        med = np.nanmedian(clipped, axis=-1, keepdims=True)
        raw = MAD_TO_SIGMA * np.nanmedian(np.abs(clipped - med), axis=-1)
    raw = raw / truth
    assert np.abs(np.median(ours, axis=0) - 1).max() < 0.03 and np.percentile(ours, 90) < 1.1
    assert np.percentile(raw, 90) > 1.3 and np.percentile(raw, 90) > np.percentile(ours, 90) + 0.2


def test_inject_dataset_deterministic_and_joined_by_id_after_pack(host_tree: Path, host_store: Path, tmp_path: Path) -> None:
    one = inject_dataset(host_tree, tmp_path / "one", 4, seed=3, workers=1, progress=False)
    two = inject_dataset(host_store, tmp_path / "two", 4, seed=3, workers=2, progress=False,
                         config=InjectConfig(hosts_per_chunk=2))
    other = inject_dataset(host_store, tmp_path / "other", 4, seed=4, workers=1, progress=False)
    assert one.n_lenses == 4 and one.n_nonlenses == 4 and one.counts == {"slsim_lenses": 4, "slsim_nonlenses": 4}
    h1, h2 = _hashes(one.out), _hashes(two.out)
    lens_files = {k for k in h1 if k.startswith("slsim_lenses/") and Path(k).name.startswith("D1_")}
    assert len(lens_files) == 4 * len(BANDS) and {k: h1[k] for k in lens_files} == {k: h2[k] for k in lens_files}
    assert {k: h1[k] for k in lens_files} != {k: v for k, v in _hashes(other.out).items() if k in lens_files}
    assert not (one.out / ".inject_chunks").exists()
    leftover = one.out / ".inject_chunks"  # a run killed after writing its outputs, before removing its chunks
    leftover.mkdir()
    (leftover / "chunk-00000.json").write_text("{}")
    again = inject_dataset(host_tree, tmp_path / "one", 4, seed=3, workers=1, progress=False)
    assert again.skipped and _hashes(one.out) == h1 and not leftover.exists()

    packed = pack_fits([one.out], out=tmp_path / "packed", workers=1, progress=False)
    index = packed.index
    lenses, copies = index[index["label"] == 1], index[index["label"] == 0]
    assert len(lenses) == 4 and len(copies) == 4
    for column in ("Rein", "zlens", "zsrc", "vel_disp", "mag_lens_i", "mag_src_i", "sim_arc_snr_i", "sim_magnification"):
        assert lenses[column].notna().all() and (lenses[column] != -999).all(), column
    assert (lenses["sim_arc_snr"] >= InjectConfig().min_arc_snr).all()
    assert sorted(lenses["id"]) == sorted(lens_id(3, h) for h in lenses["host_id"])
    assert sorted(lenses["host_id"]) == sorted(copies["id"]) == sorted(copies["host_id"])
    hosts = open_store(host_store)
    rows = hosts.find_rows(list(copies["id"]))
    np.testing.assert_array_equal(packed.read(copies.index.to_numpy()), hosts.read(rows))  # untouched copies
    merged = lenses.merge(copies, left_on="host_id", right_on="id", suffixes=("", "_copy"))
    np.testing.assert_allclose(merged["zlens"], merged["z_central_copy"])
    manifest = json.loads((one.out / "simulation.json").read_text())
    assert manifest["engine"]["name"] == "inject" and manifest["hosts"]["found"] == N_HOSTS


def test_hosts_that_cannot_be_read_or_host_are_listed(host_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "hosts"
    shutil.copytree(host_tree, tree / "slsim_nonlenses")
    bad, short, lens = labelled_stem("slsim", 0, 1), labelled_stem("slsim", 0, 2), labelled_stem("slsim", 1, 0)
    next(tree.rglob(band_filename(bad, "r"))).write_bytes(b"SIMPLE  = T" + b" " * 30)  # truncated
    next(tree.rglob(band_filename(short, "z"))).unlink()  # a band missing
    lens_tree = tmp_path / "sim"
    simulate_dataset(lens_tree, 1, seed=5, domains="slsim", workers=1, progress=False, preview=False)
    shutil.copytree(lens_tree / "slsim_lenses", tree / "slsim_lenses")  # a lens may not host
    out = tmp_path / "out"
    assert main(["inject", "--hosts", str(tree), "--out", str(out), "--n", "50", "--workers", "1", "--no-progress",
                 "--no-preview"]) == 0
    rejected = pd.read_csv(out / "rejected.csv", dtype=str, keep_default_na=False)
    reasons = dict(zip(rejected["stem"], rejected["reason"], strict=True))
    assert reasons[bad].startswith("unreadable:") and "missing band" in reasons[short]
    assert reasons[lens] == "a lens (label 1) cannot host an injection"
    manifest = json.loads((out / "simulation.json").read_text())
    unused = pd.read_csv(out / "hosts_unused.csv")
    assert manifest["hosts"]["found"] == N_HOSTS + 1
    assert manifest["hosts"]["candidates"] == N_HOSTS - 2 == manifest["n_lenses"] + len(unused)
    assert manifest["note"].startswith(f"only {manifest['n_lenses']} of 50")
    assert all(r.startswith("no detectable injection") for r in unused["reason"])


def test_interrupted_injection_resumes_to_the_same_bytes(host_store: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from brahmasifier.simulation.inject import run as inject_run

    reference = inject_dataset(host_store, tmp_path / "ref", 3, seed=8, workers=1, progress=False)

    def fail(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(inject_run, "write_outputs", fail)
    with pytest.raises(KeyboardInterrupt):
        inject_dataset(host_store, tmp_path / "cut", 3, seed=8, workers=1, progress=False)
    assert list((tmp_path / "cut" / ".inject_chunks").glob("chunk-*.json"))
    monkeypatch.undo()
    with pytest.raises(Exception, match="different settings"):
        inject_dataset(host_store, tmp_path / "cut", 3, seed=9, workers=1, progress=False)
    resumed = inject_dataset(host_store, tmp_path / "cut", 3, seed=8, workers=1, progress=False)
    assert resumed.resumed_chunks >= 1 and _hashes(resumed.out) == _hashes(reference.out)


def test_photometric_fallback_and_catalog(host_store: Path, tmp_path: Path) -> None:
    store = open_store(host_store)
    catalog = tmp_path / "hosts.csv"
    pd.DataFrame({"id": store.index["id"], "z_central": -999.0, "mag_lens_r": -999.0, "mag_lens_g": np.nan,
                  "psf_fwhm_i": 0.9}).to_csv(catalog, index=False)
    summary = inject_dataset(host_store, tmp_path / "out", 2, seed=1, catalog=catalog, workers=1, progress=False,
                             preview=False, layout_name="test")
    truth = pd.read_csv(tmp_path / "out" / "truth.csv", dtype={"id": str, "host_id": str})
    lenses = truth[truth["label"] == 1]
    assert summary.n_lenses == 2 and set(lenses["sim_host_z_origin"]) == {"photo-z"}
    assert set(lenses["sim_host_mag_origin"]) == {"mixed"} and (lenses["sim_psf_fwhm_i"] == 0.9).all()
    original = store.index.set_index("id").loc[lenses["host_id"]]
    assert np.all(np.abs(lenses["mag_lens_i"].to_numpy() - original["mag_lens_i"].to_numpy()) < 1e-9)  # catalogue kept
    fainter = lenses["mag_lens_r"].to_numpy() - original["mag_lens_r"].to_numpy()  # the 3″ aperture's, a lower bound
    assert np.all(fainter > -0.2) and np.all(fainter < 1.0)
    assert (lenses["zlens"] > 0).all() and set(truth["label"]) == {0, 1}


def test_slsim_sources(host_store: Path, tmp_path: Path) -> None:
    from brahmasifier.simulation.slsim_engine import available

    if available() is not None:
        pytest.skip(str(available()))
    cfg = InjectConfig(source_engine="slsim", slsim_catalogue_deg2=0.004, attempts_per_host=20)
    summary = inject_dataset(host_store, tmp_path / "out", 2, seed=2, config=cfg, workers=1, progress=False, preview=False)
    table = read_parameters_fits(tmp_path / "out" / "slsim_lenses" / "parameters.fits")
    assert summary.n_lenses == 2 and (table["n_s_sers"] == 1.0).all() and (table["sim_arc_snr"] >= 20).all()
    assert (np.hypot(table["srcx"] - table["sim_lens_x"], table["srcy"] - table["sim_lens_y"]) <= 1.5 * table["Rein"]).all()


def test_cli_errors_and_help_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inject", "--hosts", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--n", "2"]) == 2
    assert "hosts not found" in capsys.readouterr().err
    assert main(["inject", "--hosts", str(tmp_path), "--out", str(tmp_path / "o"), "--n", "2", "--psf", "wild"]) == 2
    assert "psf 'wild'" in capsys.readouterr().err
    from brahmasifier.commands.inject import SETTINGS

    defaults = InjectConfig()
    with pytest.raises(SystemExit):
        main(["inject", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in SETTINGS:  # the defaults shown are generated from InjectConfig (commands/_options.py)
        value = getattr(defaults, option.setting)
        if value is not None:
            assert f"(default: {value})" in text, option.setting


@pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")
def test_hosts_from_two_stores_are_the_hosts_of_one(host_store: Path, tmp_path: Path) -> None:
    """``--hosts A B``: two stores read as one give the lenses the same hosts give from one store."""
    from brahmasifier.io.store import write_store

    whole = open_store(host_store)
    half = len(whole) // 2
    for name, rows in (("a", np.arange(half)), ("b", np.arange(half, len(whole)))):
        write_store(tmp_path / name, whole.read(rows), whole.index.iloc[rows].reset_index(drop=True))
    config = InjectConfig(hosts_per_chunk=2)
    one = inject_dataset(host_store, tmp_path / "one", 2, seed=5, workers=1, progress=False, config=config)
    two = inject_dataset([tmp_path / "a", tmp_path / "b"], tmp_path / "two", 2, seed=5, workers=1, progress=False,
                         config=config)  # (the chunk reopens the union from its store paths, as a worker process does)
    assert two.n_lenses == one.n_lenses == 2 and two.hosts["found"] == len(whole)
    h1, h2 = _hashes(one.out), _hashes(two.out)
    lens_files = {k for k in h1 if k.startswith("slsim_lenses/") and Path(k).name.startswith("D1_")}
    assert lens_files and {k: h1[k] for k in lens_files} == {k: h2.get(k) for k in lens_files}
    manifest = json.loads((two.out / "simulation.json").read_text())
    assert manifest["settings"]["hosts"] == [str((tmp_path / "a").resolve()), str((tmp_path / "b").resolve())]
