"""Survey augmentations (data/augment.py): statistics of the output, determinism, shapes, no effect when off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.survey.tiny import structured_object

from brahmasifier.data.augment import AUGMENTATIONS, SurveyAugment, add_sky, blur, shift
from brahmasifier.data.turns import repaired_as_predict
from brahmasifier.errors import ConfigError
from brahmasifier.sky import sky_stats
from brahmasifier.training.config import SURVEY_AUGMENTATIONS, TrainConfig

SIZE = 41


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _noise(b: int = 64, sigma: float = 2.0, seed: int = 1) -> torch.Tensor:
    return torch.randn(b, 5, SIZE, SIZE, generator=_gen(seed)) * sigma


def _blob(x0: float = 0.0, y0: float = 0.0, width: float = 1.5, flux: float = 1000.0) -> torch.Tensor:
    c = torch.arange(SIZE, dtype=torch.float64) - (SIZE - 1) / 2
    g = torch.exp(-0.5 * (((c[None, :] - x0) ** 2 + (c[:, None] - y0) ** 2) / width**2))
    return (flux * g / g.sum()).float()


def _centroid(image: torch.Tensor) -> tuple[float, float]:
    c = torch.arange(SIZE, dtype=torch.float64) - (SIZE - 1) / 2
    w = image.double()
    return float((w * c[None, :]).sum() / w.sum()), float((w * c[:, None]).sum() / w.sum())


def test_settings_match_train_config_which_shifts_and_rotates_by_default() -> None:
    assert set(SURVEY_AUGMENTATIONS) == {*AUGMENTATIONS, "probability"}
    # train's defaults: shifts up to ±2 px and any-angle rotation (docs/survey-pixels.md §5); the rest off
    assert SurveyAugment.from_dict(TrainConfig().survey_augment()) == SurveyAugment(shift=2.0, rotate=180.0)
    assert SurveyAugment.from_dict(TrainConfig(aug_shift=0.0, aug_rotate=0.0).survey_augment()) == SurveyAugment()
    assert not SurveyAugment().active and not SurveyAugment(noise=0.5, probability=0.0).active
    with pytest.raises(ConfigError):
        TrainConfig(aug_noise=-1.0)
    with pytest.raises(ConfigError):
        SurveyAugment.from_dict({"blur": 1.0})


def test_no_effect_and_no_draws_when_off() -> None:
    x = _noise()
    g = _gen(3)
    state = g.get_state()
    assert SurveyAugment().apply(x, g) is x
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_each_augmentation_is_deterministic_and_keeps_shape_and_dtype(name: str) -> None:
    strengths = {"flux": 0.5, "seeing": 0.6, "shift": 0.5, "sky": 2.0, "noise": 0.5, "rotate": 180.0, "mask": 3.0,
                 "correlated_noise": 0.19, "misregister": 10.0, "misregister_negatives": 10.0, "resample_bands": 30.0,
                 "repair_bands": 30.0}
    aug = SurveyAugment(**{name: strengths[name]}, probability=1.0)
    x = _noise(8) + _blob()[None, None]
    negatives = torch.ones(8, dtype=torch.bool)
    one, two, other = (aug.apply(x, _gen(seed), negatives) for seed in (5, 5, 6))
    finite = torch.isfinite(one)
    if name in ("rotate", "misregister", "misregister_negatives", "resample_bands"):  # outside r = 20.5 px NaN, inside data
        yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
        assert torch.equal(~finite, (torch.hypot(yy, xx) > 20.5).expand_as(finite))
        one, two, other, x = (torch.nan_to_num(t, nan=-1.0) for t in (one, two, other, x))
    elif name == "repair_bands":  # outside the circle NaN; a band turned back may lose its rim too, never its inside
        yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
        r = torch.hypot(yy, xx).expand_as(finite)
        assert not finite[r > 20.5].any() and finite[r < 18.5].all()
        one, two, other, x = (torch.nan_to_num(t, nan=-1.0) for t in (one, two, other, x))
    elif name == "mask":  # every sample has a masked (NaN) region; the other pixels are unchanged
        assert (~finite).any(dim=(1, 2, 3)).all() and torch.equal(one[finite], x[finite])
        one, two, other, x = (torch.nan_to_num(t, nan=-1.0) for t in (one, two, other, x))
    else:
        assert finite.all()
    assert one.shape == x.shape and one.dtype == x.dtype
    assert torch.equal(one, two) and not torch.equal(one, other) and not torch.equal(one, x)


def test_probability_leaves_other_samples_untouched() -> None:
    x = _noise(400)
    out = SurveyAugment(sky=1.0, probability=0.3).apply(x, _gen(2))
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.22 < changed < 0.38


def test_noise_raises_the_sky_noise_by_the_drawn_factor() -> None:
    x = _noise(160, sigma=2.0)
    out = SurveyAugment(noise=1.0, probability=1.0).apply(x, _gen(1))
    ratio = (sky_stats(out)[1] / sky_stats(x)[1]).flatten()
    # s ~ U(1, 2): mean 1.5, all within [1, 2] up to the estimator's scatter
    assert ratio.mean().item() == pytest.approx(1.5, abs=0.03)
    assert ratio.min().item() > 0.9 and ratio.max().item() < 2.2


def test_seeing_broadens_a_source_keeps_its_flux_and_the_noise_level() -> None:
    star = _blob(width=1.5)[None, None].repeat(1, 5, 1, 1)
    fwhm = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]])
    out = blur(star, fwhm, None, _gen())
    x2 = ((torch.arange(SIZE, dtype=torch.float64) - (SIZE - 1) / 2) ** 2)[None, :]
    for k in range(5):  # second moments add: 1.5² + (FWHM/2.355)², + 1/12 for the kernel's pixel integration
        image = out[0, k].double()
        expected = 1.5**2 + (float(fwhm[0, k]) / 2.3548) ** 2 + (1 / 12 if fwhm[0, k] > 0 else 0.0)
        assert float((image * x2).sum() / image.sum()) == pytest.approx(expected, abs=0.03), k
        assert float(out[0, k].sum()) == pytest.approx(1000.0, rel=1e-4)
    noisy = _noise(200, sigma=2.0)
    smoothed = SurveyAugment(seeing=1.0, probability=1.0).apply(noisy, _gen(4))
    assert (sky_stats(smoothed)[1] / sky_stats(noisy)[1]).mean().item() == pytest.approx(1.0, abs=0.06)


def test_shift_moves_the_centroid_and_keeps_flux() -> None:
    image = _blob(width=1.8)[None, None].repeat(3, 5, 1, 1)
    dx, dy = torch.tensor([0.3, -0.45, 2.0]), torch.tensor([-0.2, 0.5, 1.0])
    out = shift(image, dx, dy)
    for k in range(3):
        cx, cy = _centroid(out[k, 2])
        assert cx == pytest.approx(float(dx[k]), abs=0.01) and cy == pytest.approx(float(dy[k]), abs=0.01)
        assert float(out[k, 2].sum()) == pytest.approx(1000.0, rel=1e-4)
    np.testing.assert_allclose(out[2].numpy(), torch.roll(image[2], (1, 2), dims=(-2, -1)).numpy(), atol=1e-4)  # whole pixels


def test_sky_residual_is_a_plane_within_the_stated_amplitude() -> None:
    x = _noise(300, sigma=2.0)
    out = SurveyAugment(sky=3.0, probability=1.0).apply(x, _gen(7))
    diff = (out - x).double()
    u = torch.linspace(-1, 1, SIZE, dtype=torch.float64)
    design = torch.stack([torch.ones(SIZE, SIZE, dtype=torch.float64), u[None, :].expand(SIZE, SIZE),
                          u[:, None].expand(SIZE, SIZE)], dim=-1).reshape(-1, 3)
    coef = torch.linalg.lstsq(design, diff.reshape(-1, SIZE * SIZE).T).solution  # (3, B*C)
    assert torch.allclose(design @ coef, diff.reshape(-1, SIZE * SIZE).T, atol=1e-4)  # exactly a plane
    sigma = sky_stats(x)[1].reshape(-1).double()
    assert (coef.abs() <= 3.0 * sigma[None, :] + 1e-4).all() and coef.abs().max() > 2.0 * sigma.mean()
    np.testing.assert_allclose(add_sky(torch.zeros(1, 1, 3, 3), torch.tensor([[[1.0, 2.0, 0.0]]]))[0, 0, 0].numpy(), [-1, 1, 3])


def test_flux_scaling_scales_signal_and_keeps_noise_when_dimming() -> None:
    blob = _blob(flux=5000.0)[None, None].repeat(200, 5, 1, 1)
    x = blob + _noise(200, sigma=2.0)
    out = SurveyAugment(flux=0.75, probability=1.0).apply(x, _gen(9))
    scale = (out[:, 2] * blob[:, 2]).sum(dim=(-2, -1)) / (x[:, 2] * blob[:, 2]).sum(dim=(-2, -1))  # the blob's flux ratio
    mags = -2.5 * torch.log10(scale)
    assert mags.abs().max().item() <= 0.75 + 0.02 and mags.std().item() > 0.3
    dimmed = scale < 0.9
    noise_ratio = sky_stats(out)[1][:, 2] / sky_stats(x)[1][:, 2]
    assert noise_ratio[dimmed].mean().item() == pytest.approx(1.0, abs=0.05)
    assert noise_ratio[scale > 1.2].mean().item() == pytest.approx(float(scale[scale > 1.2].mean()), rel=0.05)


def test_augmentation_runs_in_training(tmp_path: object) -> None:
    """The train CLI's options reach the task; a tiny run with every augmentation on finishes."""
    from brahmasifier.commands.train import OPTIONS

    flags = {o.flags[0] for o in OPTIONS}
    assert {f"--aug-{name.replace('_', '-')}" for name in SURVEY_AUGMENTATIONS} <= flags
    x = _noise(4) + _blob()[None, None]
    from brahmasifier.models import ModelCard
    from brahmasifier.training.task import LensClassificationTask

    card = ModelCard(architecture="compact", model_kwargs={}, bands=list("grizy"), normalization={"name": "asinh_mad"},
                     input_size=41).to_dict()
    task = LensClassificationTask(card, survey_augment={**dict.fromkeys(AUGMENTATIONS, 0.5), "probability": 1.0})
    out = task._augment(x, torch.tensor([True, False, True, False]))
    assert out.shape == x.shape and not torch.equal(out, x) and math.isfinite(float(task(out).detach().sum()))


def _lag1(x: torch.Tensor) -> torch.Tensor:
    """Lag-1 (neighbouring column) correlation per ``(sample, band)``."""
    d = x - x.mean(dim=(2, 3), keepdim=True)
    return (d[..., 1:] * d[..., :-1]).mean(dim=(2, 3)) / (d**2).mean(dim=(2, 3))


def test_correlated_noise_has_the_asked_lag1_correlation_and_keeps_the_noise_level() -> None:
    """On blank (white-noise) input: neighbours correlated like LSST coadds (0.09-0.19), σ unchanged."""
    x = _noise(200, sigma=3.0, seed=11)
    assert abs(float(_lag1(x).mean())) < 0.01
    out = SurveyAugment(correlated_noise=0.19, probability=1.0).apply(x, _gen(12))
    per_sample = _lag1(out).mean(dim=1)  # 5 bands of 41 x 41 each: scatter ~0.01
    assert 0.09 <= float(per_sample.mean()) <= 0.19
    assert float(per_sample.min()) > 0.09 - 0.04 and float(per_sample.max()) < 0.19 + 0.04
    # the same draws, as rho: every sample's measured correlation follows its own drawn rho
    # (the first draw of apply is the per-sample choice, then rho: reproduce both)
    g = _gen(12)
    torch.rand(200, generator=g)
    rho = 0.095 + 0.095 * torch.rand(200, generator=g)
    assert torch.corrcoef(torch.stack([rho, per_sample]))[0, 1] > 0.8
    assert float(out.std() / x.std()) == pytest.approx(1.0, abs=0.03)  # the noise level is kept


def test_masks_are_nan_and_only_where_drawn() -> None:
    """A masked pixel is NaN (invalid); discs hit one band, strips and gaps every band; deterministic per seed."""
    from brahmasifier.data.augment import random_masks

    m1, m2 = random_masks(300, 5, SIZE, SIZE, 3, _gen(4)), random_masks(300, 5, SIZE, SIZE, 3, _gen(4))
    assert torch.equal(m1, m2) and m1.any(dim=(1, 2, 3)).all()
    per_band = m1.any(dim=(2, 3)).sum(dim=1)
    assert (per_band == 1).any() and (per_band == 5).any()  # a disc alone, and a strip or gap
    assert 0.01 < float(m1.float().mean()) < 0.4
    x = _noise(16)
    out = SurveyAugment(mask=2.0, probability=0.5).apply(x, _gen(8))
    touched = torch.isnan(out).any(dim=(1, 2, 3))
    assert touched.any() and not touched.all()
    assert torch.equal(out[~touched], x[~touched])


def test_misregister_rotates_bands_independently() -> None:
    """Each band moves by its own angle: a centred-off blob ends at different places in different bands."""
    x = (_blob(x0=8.0) * torch.ones(5, 1, 1))[None].repeat(4, 1, 1, 1)
    out = torch.nan_to_num(SurveyAugment(misregister=30.0, probability=1.0).apply(x, _gen(3)))
    for sample in out:
        positions = {tuple(round(v) for v in _centroid(band)) for band in sample}
        assert len(positions) > 1
        assert all(abs(math.hypot(*p) - 8.0) < 1.5 for p in positions)  # rotated (and shifted <= 1.5 px) about the centre


def test_misregister_negatives_turns_the_non_lenses_only() -> None:
    """Hard negatives: the samples flagged non-lens get misregister's turns, the others are left as they were."""
    x = (_blob(x0=8.0) * torch.ones(5, 1, 1))[None].repeat(6, 1, 1, 1) + _noise(6)
    negatives = torch.tensor([True, False, True, False, False, True])
    out = SurveyAugment(misregister_negatives=30.0, probability=1.0).apply(x, _gen(3), negatives)
    assert torch.equal(out[~negatives], x[~negatives])
    for sample in torch.nan_to_num(out[negatives]):
        assert len({tuple(round(v) for v in _centroid(band)) for band in sample}) > 1
    with pytest.raises(ValueError, match="non-lens flags"):
        SurveyAugment(misregister_negatives=30.0).apply(x, _gen(3))


def test_the_reported_geometry_is_where_the_content_went() -> None:
    """``apply_with_geometry`` draws what ``apply`` draws and reports each sample's shift and turn (0 where not applied)."""
    rows, cols = torch.meshgrid(torch.arange(41.0), torch.arange(41.0), indexing="ij")
    blob = 100.0 * torch.exp(-0.5 * ((rows - 20) ** 2 + (cols - 26) ** 2) / 1.5**2)  # 6 px to the right of the centre
    x = blob.expand(16, 2, 41, 41).clone()
    augment = SurveyAugment(shift=2.0, rotate=180.0, probability=0.5)
    out, geometry = augment.apply_with_geometry(x, torch.Generator().manual_seed(3))
    assert torch.equal(torch.nan_to_num(out), torch.nan_to_num(augment.apply(x, torch.Generator().manual_seed(3))))
    assert geometry.shift.shape == (16, 2) and geometry.rotation.shape == (16,)
    assert (geometry.shift == 0).all(dim=1).any() and (geometry.rotation == 0).any()  # some samples left alone
    assert (geometry.shift.abs() <= 2.0).all() and (geometry.rotation.abs() <= 180.0).all()
    for k in range(16):  # the point at (6, 0) px, shifted by (dx, dy), then turned from +col towards +row
        dx, dy = geometry.shift[k].tolist()
        a = math.radians(float(geometry.rotation[k]))
        px, py = 6.0 + dx, dy
        col, row = 20 + px * math.cos(a) - py * math.sin(a), 20 + px * math.sin(a) + py * math.cos(a)
        img = torch.nan_to_num(out[k, 0]).clamp_min(0).double()
        near = (rows - row) ** 2 + (cols - col) ** 2 < 20  # the light within 4.5 px (3 σ) of the predicted place
        assert img[near].sum() > 0.9 * img.sum(), k
    assert SurveyAugment().apply_with_geometry(x, torch.Generator())[1].shift.abs().sum() == 0  # off: nothing moved


def test_resample_bands_keeps_the_bands_aligned() -> None:
    """A band turned there and back is the band, smoothed: an off-centre blob stays where it was (to a few per cent)."""
    x = _blob(x0=5.0, width=2.5)[None, None].repeat(4, 5, 1, 1)
    out = SurveyAugment(resample_bands=30.0, probability=1.0).apply(x, _gen(7))
    yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
    inner = torch.hypot(yy, xx) < 17
    err = (out - x)[..., inner].abs().max()
    turned = SurveyAugment(misregister=30.0, probability=1.0).apply(x, _gen(7))
    assert err < 0.03 * x.max() and err < 0.2 * (turned - x)[..., inner].abs().max()


def test_repair_bands_turns_each_band_back_by_the_angle_predict_estimates() -> None:
    """Bands turned by up to 30° come back in line with each other (the estimate's error, not the turn, is left).

    The repair turns bands relative to each other (the whole may end up turned): what is checked
    is each band against the i band, every band being the same object scaled.
    """
    rng = np.random.default_rng(3)
    scale = torch.tensor([0.6, 0.9, 1.0, 1.0, 0.8])[:, None]
    x = torch.from_numpy(np.stack([structured_object(rng, noise=0.3) for _ in range(6)]))
    out = SurveyAugment(repair_bands=30.0, probability=1.0).apply(x, _gen(11))
    turned = SurveyAugment(misregister=30.0, probability=1.0).apply(x, _gen(11))  # the same draws: the same angles
    yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
    inner = torch.hypot(yy, xx) < 15

    def apart(batch: torch.Tensor) -> torch.Tensor:  # each band against i, per object
        bands = batch[..., inner] / scale
        return (bands - bands[:, 2:3]).abs().mean(dim=(1, 2))

    assert (apart(out) < 0.25 * apart(turned)).all(), (apart(out), apart(turned))
    assert (apart(out) < 3 * apart(x)).all()  # not far from the noise's own difference


def test_repaired_as_predict_leaves_an_aligned_object_as_it_was() -> None:
    """``predict`` flags no band of an aligned object: its pixels come back unchanged, its invalid pixels NaN."""
    x = torch.from_numpy(np.stack([structured_object(np.random.default_rng(s)) for s in range(4)]))
    x[1, 2, 3:6, 10:14] = float("nan")
    out = repaired_as_predict(x)
    assert torch.equal(torch.isnan(out), torch.isnan(x))
    assert torch.equal(torch.nan_to_num(out), torch.nan_to_num(x))
    assert repaired_as_predict(x[:0]).shape == (0, 5, 41, 41)
