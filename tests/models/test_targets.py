"""Regression target spec: encodings, masking, aliases, standardisation JSON, decoding, D4 action."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from brahmasifier.bands import BANDS
from brahmasifier.models.conventions import TruthConventions
from brahmasifier.models.target_decode import LEVELS, decode, submission_values
from brahmasifier.models.targets import LENS, NONLENS, Target, TargetSet, challenge_targets, default_target_set

#: PAs in radians over [0, π) (the synthetic pair tests draw angles in radians).
RADIANS = TruthConventions(angle_unit="rad", angle_range=(0.0, math.pi))


def _table(n: int = 40, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A truth table like a store index: lenses with the lens columns, non-lenses with mag_lens_* / z_central."""
    rng = np.random.default_rng(seed)
    labels = np.array([1, 0] * (n // 2))
    cols: dict[str, np.ndarray] = {
        "Rein": rng.uniform(0.4, 2.5, n), "zlens": rng.uniform(0.1, 1.0, n), "vel disp": rng.uniform(150, 350, n),
        "zsrc": rng.uniform(1, 4, n), "srcx": rng.normal(0, 0.3, n), "srcy": rng.normal(0, 0.3, n),
        "Reff_l": rng.uniform(0.3, 2, n), "n_l_sers": rng.uniform(3, 6, n), "Reff_s": rng.uniform(0.05, 0.5, n),
        "n_s_sers": rng.uniform(0.5, 2, n), "z_central": rng.uniform(0.1, 1.0, n),
    }
    for name in ("ell_l", "ell_m", "ell_s"):  # the simulator's conventions: axis ratio, PA in degrees
        cols[name] = rng.uniform(0.4, 1.0, n)
        cols[f"{name}_PA"] = rng.uniform(0, 180.0, n)
    cols["sh"], cols["sh_PA"] = rng.uniform(0, 0.1, n), rng.uniform(0, 180.0, n)
    for b in BANDS:
        cols[f"mag_lens_{b}"] = rng.uniform(18, 24, n)
        cols[f"mag_src_{b}"] = rng.uniform(22, 26, n)
    table = pd.DataFrame(cols)
    lens_only = [c for c in table.columns if c not in ("z_central",) and not c.startswith("mag_lens_")]
    table.loc[labels == 0, lens_only] = -999.0  # a non-lens parameters.fits joined: lens columns missing
    table.loc[labels == 1, "z_central"] = np.nan
    return table, labels


def test_targets_cover_the_issue_list() -> None:
    spec = default_target_set()
    wanted = {"Rein", "zlens", "vel_disp", "ell_l", "ell_l_PA", "Reff_l", "n_l_sers", "ell_m", "ell_m_PA", "sh", "sh_PA",
              "zsrc", "srcx", "srcy", "ell_s", "ell_s_PA", "Reff_s", "n_s_sers", "z_central"}
    wanted |= {f"mag_lens_{b}" for b in BANDS} | {f"mag_src_{b}" for b in BANDS} | {f"mag_object_{b}" for b in BANDS}
    assert set(spec.output_columns) == wanted and len(spec.output_columns) == len(wanted)
    groups = {c: t.group for t in spec.targets for c in t.columns}
    assert {c for c, g in groups.items() if g == NONLENS} == {"z_central", *(f"mag_object_{b}" for b in BANDS)}
    assert spec.n_dims == 34 and len(set(spec.dim_names)) == 34


def test_masking_of_missing_values_and_the_other_group() -> None:
    table, labels = _table()
    table.loc[0, "Rein"] = -999.0
    table.loc[2, "zlens"] = np.nan
    table.loc[4, "Reff_s"] = 0.0  # not positive: no log
    table.loc[6, "ell_s_PA"] = -999.0  # half a pair missing masks both components
    spec = default_target_set().fit(table, labels)
    values, mask = spec.encode(table, labels)
    names = spec.dim_names
    col = {n: k for k, n in enumerate(names)}
    assert not mask[0, col["log(Rein)"]] and not mask[2, col["log1p(zlens)"]] and not mask[4, col["log(Reff_s)"]]
    assert not mask[6, col["ell_s:c1"]] and not mask[6, col["ell_s:c2"]] and mask[6, col["ell_l:c1"]]
    assert np.all(values[~mask] == 0.0) and np.isfinite(values).all()
    lens_dims = spec.dim_groups == LENS
    assert not mask[labels == 0][:, lens_dims].any() and not mask[labels == 1][:, ~lens_dims].any()
    assert mask[1::2][:, ~lens_dims].all()  # non-lenses: z_central + mag_object from mag_lens_*


def test_aliases_vel_disp_and_nonlens_magnitudes() -> None:
    table, labels = _table()
    spec = default_target_set()
    truth = spec.canonical_truth(table, labels)
    np.testing.assert_array_equal(truth["vel_disp"][labels == 1], table["vel disp"][labels == 1])
    np.testing.assert_array_equal(truth["mag_object_g"][labels == 0], table["mag_lens_g"][labels == 0])
    assert truth["mag_object_g"][labels == 1].isna().all() and truth["mag_lens_g"][labels == 0].isna().all()
    both = table.rename(columns={"vel disp": "vel_disp"})
    np.testing.assert_array_equal(spec.canonical_truth(both, labels)["vel_disp"], truth["vel_disp"])
    assert spec.missing_columns(table) == [] and "Rein" in spec.missing_columns(table.drop(columns=["Rein"]))


def test_standardisation_json_round_trip() -> None:
    table, labels = _table()
    conv = TruthConventions(ellipticity="eccentricity", angle_unit="rad", angle_range=(-math.pi / 2, math.pi / 2), x_axis="-col",
                            y_axis="+row", position_centre=20.0)
    spec = default_target_set(conv).fit(table, labels).with_sigma_scale(np.linspace(0.5, 2.0, 34))
    again = TargetSet.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again.targets == spec.targets and again.conventions == conv
    for attr in ("location", "scale", "sigma_scale", "n_fit"):
        np.testing.assert_array_equal(getattr(again, attr), getattr(spec, attr))
    np.testing.assert_array_equal(again.encode(table, labels)[0], spec.encode(table, labels)[0])
    # fitted: the standardised training targets have mean 0 and std 1 (scalars) / unit RMS (pairs)
    values, mask = spec.encode(table, labels)
    k = spec.dim_names.index("log(Rein)")
    fitted = values[mask[:, k], k]
    assert fitted.mean() == pytest.approx(0.0, abs=1e-6)
    assert fitted.std() == pytest.approx(1.0, rel=1e-5)
    c1, c2 = spec.dim_names.index("sh:c1"), spec.dim_names.index("sh:c2")
    assert spec.location[c1] == spec.location[c2] == 0.0 and spec.scale[c1] == spec.scale[c2]
    with pytest.raises(ValueError, match="format"):
        TargetSet.from_dict({"format": "other"})
    bad = spec.to_dict()
    bad["dims"] = bad["dims"][:-1]
    with pytest.raises(ValueError, match="do not match"):
        TargetSet.from_dict(bad)


@pytest.mark.parametrize(("unit", "angle_min"), [("rad", 0.0), ("deg", 0.0), ("deg", -90.0)])
def test_ellipticity_angle_round_trip_and_wrap_around(unit: str, angle_min: float) -> None:
    per_rad = 1.0 if unit == "rad" else 180.0 / math.pi
    conv = TruthConventions(angle_unit=unit, angle_range=(angle_min, angle_min + math.pi * per_rad))
    spec = TargetSet((Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA")),), conv)
    pa_deg = np.array([0.0, 1e-4, 45.0, 89.99, 90.0, 90.01, 135.0, 179.99, 180.0, -0.01, -89.99, 359.0])
    e = np.full(pa_deg.size, 0.2)
    table = pd.DataFrame({"ell_l": e, "ell_l_PA": np.radians(pa_deg) * per_rad})
    labels = np.ones(pa_deg.size)
    values, mask = spec.encode(table, labels)
    assert mask.all()
    # wrap-around: PAs 180° apart (or across 0/180) have identical components; 179.99° is next to 0°
    np.testing.assert_allclose(values[0], values[8], atol=1e-6)
    np.testing.assert_allclose(values[7], values[0], atol=1e-3)
    np.testing.assert_allclose(values[9], values[0], atol=1e-3)
    dec = decode(spec, values, np.full(values.shape, 1e-12))
    pa_out = dec.values["ell_l_PA"].to_numpy() / per_rad  # radians
    lo = math.radians(angle_min) if unit == "deg" else angle_min
    assert np.all(pa_out >= lo - 1e-9) and np.all(pa_out < lo + math.pi + 1e-9)
    diff = np.angle(np.exp(2j * (pa_out - np.radians(pa_deg)))) / 2.0  # modulo 180°
    np.testing.assert_allclose(diff, 0.0, atol=1e-6)
    np.testing.assert_allclose(dec.values["ell_l"], e, rtol=1e-6)


def test_decode_scalar_intervals_are_exact_quantiles() -> None:
    spec = TargetSet((Target("Rein", LENS, "scalar", ("Rein",), "log"), Target("zlens", LENS, "scalar", ("zlens",), "log1p")),
                     location=[0.1, 0.4], scale=[0.5, 0.2], sigma_scale=[2.0, 1.0])
    mean, var = np.array([[0.2, -0.5]]), np.array([[0.04, 0.25]])
    dec = decode(spec, mean, var)
    mu, sd = 0.1 + 0.5 * 0.2, 0.5 * 2.0 * 0.2  # σ includes sigma_scale
    assert dec.values["Rein"][0] == pytest.approx(math.exp(mu))
    assert dec.minus[0.95]["Rein"][0] == pytest.approx(math.exp(mu) - math.exp(mu - 1.959964 * sd), rel=1e-5)
    assert dec.plus[LEVELS[0]]["Rein"][0] == pytest.approx(math.exp(mu + 1.0 * sd) - math.exp(mu), rel=1e-3)
    z_mu, z_sd = 0.4 + 0.2 * -0.5, 0.2 * 0.5
    assert dec.values["zlens"][0] == pytest.approx(math.expm1(z_mu))
    assert dec.sigma["zlens"][0] == pytest.approx((math.expm1(z_mu + z_sd) - math.expm1(z_mu - z_sd)) / 2, rel=1e-3)


def test_decode_pair_marginals() -> None:
    spec = TargetSet((Target("sh", LENS, "spin2", ("sh", "sh_PA")),), RADIANS)
    c1, c2, s = 0.06, 0.08, 0.005  # e = 0.1, 2φ = atan2(0.08, 0.06); well measured: e/σ = 20
    dec = decode(spec, np.array([[c1, c2]]), np.array([[s**2, s**2]]))
    assert dec.values["sh"][0] == pytest.approx(0.1, rel=3e-3)
    assert dec.values["sh_PA"][0] == pytest.approx(0.5 * math.atan2(c2, c1))
    assert dec.sigma["sh"][0] == pytest.approx(s, rel=0.03)  # isotropic: σ_e = σ
    assert dec.sigma["sh_PA"][0] == pytest.approx(s / (2 * 0.1), rel=0.03)  # σ_φ = σ / (2e)
    # unmeasured (mean 0, σ = 1): |c| is Rayleigh(1) — median √(2 ln 2), 95% interval [0.225, 2.716];
    # the PA is uniform, so its 95% half-width is 0.95 × 90°
    wide = decode(spec, np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]))
    assert wide.values["sh"][0] == pytest.approx(math.sqrt(2 * math.log(2)), rel=0.02)
    assert wide.values["sh"][0] - wide.minus[0.95]["sh"][0] == pytest.approx(math.sqrt(-2 * math.log(0.975)), rel=0.1)
    assert wide.values["sh"][0] + wide.plus[0.95]["sh"][0] == pytest.approx(math.sqrt(-2 * math.log(0.025)), rel=0.03)
    assert wide.plus[0.95]["sh_PA"][0] == pytest.approx(0.95 * math.pi / 2, rel=0.02)


def test_decoded_pair_intervals_are_calibrated() -> None:
    """Truths drawn from the predicted Gaussians fall in the decoded e and PA intervals at the nominal rate."""
    spec = TargetSet((Target("ell_s", LENS, "spin2", ("ell_s", "ell_s_PA")),), RADIANS)
    rng = np.random.default_rng(5)
    n = 4000
    mean = rng.normal(0.0, 0.15, (n, 2))
    sd = rng.uniform(0.02, 0.15, (n, 1)) * np.ones((1, 2))
    true_c = mean + sd * rng.normal(size=(n, 2))
    truth = pd.DataFrame({"ell_s": np.hypot(*true_c.T), "ell_s_PA": 0.5 * np.arctan2(true_c[:, 1], true_c[:, 0]) % math.pi})
    dec = decode(spec, mean, sd**2)
    for col, angle in (("ell_s", False), ("ell_s_PA", True)):
        d = truth[col].to_numpy() - dec.values[col].to_numpy()
        if angle:
            d = np.mod(d + math.pi / 2, math.pi) - math.pi / 2
        for lv in LEVELS:
            inside = (d >= -dec.minus[lv][col].to_numpy()) & (d <= dec.plus[lv][col].to_numpy())
            assert inside.mean() == pytest.approx(lv, abs=0.025), (col, lv)


def test_submission_values_fill_the_template_columns() -> None:
    from brahmasifier.inference.submission import SUBMISSION_COLUMNS, format_submission

    spec = default_target_set()
    values = pd.DataFrame({c: np.arange(1.0, 4.0) for c in spec.output_columns})
    lens = submission_values(spec, values, LENS)
    assert {"vel_disp", "Rein", "ell_s_PA"} <= set(lens.columns) and "mag_object_g" not in lens.columns
    nonlens = submission_values(spec, values, NONLENS)
    assert set(nonlens.columns) == {"z_central", *(f"mag_object_{b}" for b in BANDS)}
    for part, filled in ((lens, {"vel disp", "vel_disp", "Rein", "srcy", "mag_src_y"}), (nonlens, {"mag_object_g", "z_central"})):
        text = format_submission(["a", "b", "c"], [1, 1, 1], {k: part[k].to_numpy() for k in part.columns})
        row = dict(zip(SUBMISSION_COLUMNS, text.splitlines()[1].split(","), strict=True))
        assert all(float(row[c]) == 1.0 for c in filled)
        assert all(row[c] == "-999" for c in SUBMISSION_COLUMNS[2:] if c not in set(part.columns) | {"vel disp"})


def test_d4_action_is_a_group_action_and_inverts() -> None:
    import torch

    from brahmasifier.data.transforms import d4_apply

    spec = default_target_set()
    rng = np.random.default_rng(1)
    values = rng.normal(size=(5, spec.n_dims))
    probe = torch.arange(25.0).reshape(5, 5)
    for a in range(8):
        back = spec.d4_apply_targets(spec.d4_apply_targets(values, a), a, inverse=True)
        np.testing.assert_allclose(back, values)
        for b in range(8):
            # the element c with d4(d4(x, a), b) == d4(x, c) must act on targets as b after a
            c = next(k for k in range(8) if torch.equal(d4_apply(d4_apply(probe, a), b), d4_apply(probe, k)))
            after = spec.d4_apply_targets(spec.d4_apply_targets(values, a), b)
            np.testing.assert_allclose(after, spec.d4_apply_targets(values, c))
    scalar = [k for k, n in enumerate(spec.dim_names) if ":" not in n and n not in ("srcx", "srcy")]
    for a in range(8):
        np.testing.assert_array_equal(spec.d4_apply_targets(values, a)[:, scalar], values[:, scalar])


def test_challenge_target_definitions_are_valid() -> None:
    for t in challenge_targets():
        assert len(t.aliases) == len(t.columns) == len(t.submission) == len(t.errors)
    with pytest.raises(ValueError, match="not one of"):
        Target("e", LENS, "spin2", ("e", "e_PA"), "log")
    with pytest.raises(ValueError):
        TruthConventions(x_axis="+col", y_axis="-col")


def test_model_card_stores_the_spec_and_stays_backward_compatible() -> None:
    from brahmasifier.models import ModelCard, ModelFormatError

    plain = ModelCard()
    assert "regression" not in plain.to_dict() and plain.target_set() is None
    assert ModelCard.from_dict(plain.to_dict()) == plain  # a model.json written before the field existed
    table, labels = _table()
    spec = default_target_set().fit(table, labels).with_sigma_scale(np.full(34, 1.3))
    card = ModelCard(regression={"targets": spec.to_dict(), "head": {"hidden": 64}})
    again = ModelCard.from_dict(json.loads(card.to_json()))
    assert again == card
    np.testing.assert_array_equal(again.target_set().sigma_scale, spec.sigma_scale)
    with pytest.raises(ModelFormatError, match="regression"):
        ModelCard(regression={"targets": {"format": "nope"}})


@pytest.mark.parametrize("definition", ["axis_ratio", "eccentricity", "one_minus_q"])
def test_ellipticity_definitions_round_trip(definition: str) -> None:
    """An ``ell`` column in any definition is learned as the eccentricity and written back in its own."""
    conv = TruthConventions(ellipticity=definition)
    q = np.array([0.3, 0.5, 0.8, 0.999, 1.0])
    ell = {"axis_ratio": q, "eccentricity": (1 - q) / (1 + q), "one_minus_q": 1 - q}[definition]
    spec = TargetSet((Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity"),), conv)
    table = pd.DataFrame({"ell_l": ell, "ell_l_PA": [10.0, 100.0, 179.0, 45.0, 0.0]})
    values, mask = spec.encode(table, np.ones(5))
    assert mask.all()
    np.testing.assert_allclose(np.hypot(values[:, 0], values[:, 1]), (1 - q) / (1 + q), atol=1e-12)  # a round object sits at 0
    sd = 0.002  # well measured: the median of |c| is |mean| to ~sd²/2e
    dec = decode(spec, values, np.full(values.shape, sd**2))
    np.testing.assert_allclose(dec.values["ell_l"].to_numpy()[:3], ell[:3], atol=2e-4)
    assert np.all(dec.minus[0.95]["ell_l"] >= 0) and np.all(dec.plus[0.95]["ell_l"] >= 0)
    bad = pd.DataFrame({"ell_l": [-0.1, 1.5], "ell_l_PA": [10.0, 10.0]})  # outside every definition's domain
    assert not spec.encode(bad, np.ones(2))[1].any()
