"""The model-on-disk contract: card, build, save/load, normalisations, band mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from brahmasifier.bands import BANDS
from brahmasifier.models import (
    ModelCard,
    ModelFormatError,
    build_model,
    build_normalization,
    load_model,
    resolve_band_mapping,
    resolve_preset,
    save_model,
    stem_rgb_sources,
)

TINY_COMPACT = {"widths": [8, 16], "depths": [1, 1]}


def _batch(seed: int = 0, n: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, 41, 41, generator=g) * 3 + 10
    x[0, 1, 3, 4] = float("nan")
    x[1, 2, 5, 6] = float("inf")
    return x


def test_card_json_roundtrip_and_defaults() -> None:
    card = ModelCard(model_kwargs=TINY_COMPACT, training={"epochs": 3, "val_auc": 0.9})
    again = ModelCard.from_dict(json.loads(card.to_json()))
    assert again == card
    assert card.bands == list(BANDS) and card.input_size == 41 and card.threshold == 0.5 and card.temperature == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [({"format_version": 99}, "newer"), ({"bogus": 1}, "unknown model card keys"), ({"bands": ["g", "q"]}, "bands"),
     ({"format_version": None}, "format_version"), ({"temperature": 0}, "temperature")],
)
def test_card_errors_name_source(change: dict, message: str) -> None:
    data = ModelCard().to_dict() | change
    with pytest.raises(ModelFormatError, match=message) as info:
        ModelCard.from_dict(data, source="somewhere/model.json")
    assert "somewhere/model.json" in str(info.value)


def test_compact_forward_shape_and_nan_safety() -> None:
    model = build_model(ModelCard(model_kwargs=TINY_COMPACT)).eval()
    out = model(_batch())
    assert out.shape == (4,) and torch.isfinite(out).all()


def test_save_load_roundtrip_all_path_forms(tmp_path: Path) -> None:
    card = ModelCard(model_kwargs=TINY_COMPACT, bands=["i", "r", "g", "z", "y"], normalization={"name": "per_image"},
                     threshold=0.3)
    model = build_model(card).eval()
    run = tmp_path / "run"
    save_model(model, card, run / "model")
    assert sorted(p.name for p in (run / "model").iterdir()) == ["model.json", "model.safetensors"]
    x = _batch(1)
    expected = model(x)
    for path in (run, run / "model", run / "model" / "model.json"):
        loaded, loaded_card = load_model(path)
        assert not loaded.training
        assert loaded_card == card
        torch.testing.assert_close(loaded(x), expected)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="no such"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ModelFormatError, match="model.json"):
        load_model(tmp_path)
    card = ModelCard(model_kwargs=TINY_COMPACT)
    save_model(build_model(card), card, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").rename(tmp_path / "m" / "other")
    with pytest.raises(ModelFormatError, match="model.safetensors: weights file not found"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "other").rename(tmp_path / "m" / "model.safetensors")
    other = ModelCard(model_kwargs={"widths": [8, 24], "depths": [1, 1]})
    (tmp_path / "m" / "model.json").write_text(other.to_json())
    with pytest.raises(ModelFormatError, match=r"model.safetensors: weights do not match.*other shapes"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="model.json: model card is not valid JSON"):
        load_model(tmp_path / "m")


def test_per_image_normalization_matches_numpy() -> None:
    x = _batch(2)
    out = build_normalization({"name": "per_image"})(x).numpy()
    ref = np.nan_to_num(x.numpy(), nan=0.0, posinf=0.0, neginf=0.0)
    mean = ref.mean(axis=(1, 2, 3), keepdims=True)
    std = ref.std(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (ref - mean) / (std + 1e-6), rtol=1e-4, atol=1e-4)


def test_asinh_mad_matches_numpy_and_handles_blank_band() -> None:
    x = _batch(3)
    x[2, 4] = 7.0  # a blank band: MAD 0 must not give NaN
    out = build_normalization({"name": "asinh_mad", "softening": 2.0})(x).numpy()
    ref = np.nan_to_num(x.numpy(), nan=0.0, posinf=0.0, neginf=0.0)
    med = np.median(ref, axis=(2, 3), keepdims=True)  # 1681 pixels: odd, so the median is exact
    mad = np.median(np.abs(ref - med), axis=(2, 3), keepdims=True)
    scale = 2.0 * 1.4826 * mad + 1e-6 * (1 + np.abs(med))
    np.testing.assert_allclose(out, np.arcsinh((ref - med) / scale), rtol=1e-4, atol=1e-4)
    assert np.all(out[2, 4] == 0)


@pytest.mark.parametrize("n", [1, 2, 1681, 1682])
def test_asinh_mad_median_is_the_exact_lower_median(n: int) -> None:
    from brahmasifier.models.normalization import AsinhMAD

    g = torch.Generator().manual_seed(n)
    v = torch.randn(3, 5, n, generator=g)
    v[0, 0] = 1.0  # ties
    assert torch.equal(AsinhMAD._median_last(v), v.median(dim=-1).values)  # torch's median is the lower one


def test_band_mapping_names() -> None:
    assert resolve_band_mapping(None) == list(BANDS)
    assert resolve_band_mapping("irgzy") == ["i", "r", "g", "z", "y"]
    with pytest.raises(ValueError, match="band mapping"):
        resolve_band_mapping("ggrzy")
    assert stem_rgb_sources(resolve_band_mapping("irgzy"))["i"] == ("R", 0.6)


def test_pretrained_file_band_mapping(tmp_path: Path) -> None:
    """A 3-channel timm model's weights, written locally, adapted to 5 bands in (i,r,g,z,y) order."""
    import timm
    from safetensors.torch import save_file

    rgb_model = timm.create_model("test_resnet", pretrained=False, num_classes=10)
    stem_name = rgb_model.pretrained_cfg["first_conv"] + ".weight"
    state = {k: v.contiguous() for k, v in rgb_model.state_dict().items()}
    file = tmp_path / "rgb.safetensors"
    save_file(state, str(file))
    rgb = state[stem_name]  # (O, 3, k, k): channels R, G, B
    card = ModelCard(architecture="test_resnet", bands=resolve_band_mapping("irgzy"))
    model = build_model(card, pretrained_file=file)
    stem = dict(model.backbone.named_parameters())[stem_name]
    sources = stem_rgb_sources(card.bands)
    for channel, band in enumerate(card.bands):
        colour, scale = sources[band]
        torch.testing.assert_close(stem[:, channel], rgb[:, "RGB".index(colour)] * scale)
    # band i (input channel 2) feeds stem channel 0, i.e. the red filter
    assert sources["i"][0] == "R" and sources["g"][0] == "B"
    # and the model really routes input band i to stem channel 0
    x = torch.zeros(1, 5, 41, 41)
    x[0, BANDS.index("i")] = torch.arange(41 * 41, dtype=torch.float32).reshape(41, 41)
    gathered = x.index_select(1, model.band_index)
    assert gathered[0, 0].sum() > 0 and gathered[0, 1:].abs().sum() == 0


def test_vit_resizes_inside_the_model() -> None:
    preset = resolve_preset("test_vit")
    assert preset["input_size"] == 160  # test_vit's fixed image size
    card = ModelCard(architecture="test_vit", input_size=preset["input_size"])
    model = build_model(card).eval()
    assert model(_batch(4, n=2)).shape == (2,)
    vit = resolve_preset("vit_tiny_p4")
    assert vit["input_size"] == 44 and vit["model_kwargs"]["patch_size"] == 4


# onnxscript (needed by the new dynamo exporter) is not a dependency; the TorchScript exporter warns it is legacy.
@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The feature will be removed. Please remove usage of this function:DeprecationWarning")
@pytest.mark.parametrize(("normalization", "extra"), [({"name": "asinh_mad"}, {}), ({"name": "per_image"}, {}),
                                                    ({"name": "asinh_mad", "colour_residuals": "i", "valid_only": True},
                                                     {"radial_channel": True})])
def test_onnx_export_matches_torch(tmp_path: Path, normalization: dict, extra: dict) -> None:
    """Normalisation + band gather live in the model and export with it (TorchScript exporter)."""
    ort = pytest.importorskip("onnxruntime")
    model = build_model(ModelCard(model_kwargs=TINY_COMPACT | extra, normalization=normalization,
                                  bands=resolve_band_mapping("irgzy"))).eval()
    torch.onnx.export(model, (_batch(5, n=2),), str(tmp_path / "m.onnx"), input_names=["x"], output_names=["logit"],
                      dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    x = _batch(6, n=5)
    out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(out, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_radial_channel_is_the_distance_from_the_centre_and_d4_invariant(tmp_path: Path) -> None:
    from brahmasifier.models.backbones.compact import radial_map

    r = radial_map(torch.zeros(2, 5, 41, 41))[1, 0]
    assert r.shape == (41, 41) and r[20, 20] == 0 and r[20, 40] == pytest.approx(20 / 20.5)
    for turned in (r.flip(0), r.flip(1), r.T, torch.rot90(r)):
        assert torch.equal(turned, r)
    card = ModelCard(model_kwargs=TINY_COMPACT | {"radial_channel": True})
    model = build_model(card).eval()
    assert model.backbone.stem[0].in_channels == 6  # five bands and the map
    x = _batch(1)
    save_model(model, card, tmp_path / "model")
    loaded, _ = load_model(tmp_path / "model")
    torch.testing.assert_close(loaded(x), model(x))
    # The map is seen: the same weights without it (the stem's last input channel dropped) give another logit.
    plain = build_model(ModelCard(model_kwargs=TINY_COMPACT)).eval()
    state = {k: (v[:, :5] if k == "backbone.stem.0.weight" else v) for k, v in model.state_dict().items()}
    plain.load_state_dict(state)
    assert not torch.allclose(plain(x), model(x))
    with pytest.raises(ValueError, match="radial_channel must be true or false"):
        build_model(ModelCard(model_kwargs={"radial_channel": "yes"}))


def test_activation_is_a_setting_with_gelu_by_default() -> None:
    from brahmasifier.models import preset_card

    default = build_model(preset_card())
    assert any(isinstance(m, torch.nn.GELU) for m in default.modules())
    assert not any(isinstance(m, torch.nn.ReLU) for m in default.modules())
    relu = build_model(ModelCard(model_kwargs={"act": "relu"}))
    assert any(isinstance(m, torch.nn.ReLU) for m in relu.modules())
    assert not any(isinstance(m, torch.nn.GELU) for m in relu.modules())
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        build_model(ModelCard(model_kwargs={"act": "swish"}))


def test_plain_cnn_baseline_builds_saves_and_is_as_large_as_the_compact_net(tmp_path: Path) -> None:
    """``plain_cnn``: four conv blocks (41 → 2 px), one logit per image, about as many parameters as ``compact``."""
    card = ModelCard(architecture="plain_cnn")
    model = build_model(card).eval()
    x = _batch(2)
    out = model(x)
    assert out.shape == (4,) and torch.isfinite(out).all()
    n_plain = sum(p.numel() for p in model.parameters())
    n_compact = sum(p.numel() for p in build_model(ModelCard()).parameters())
    assert 0.8 < n_plain / n_compact < 1.25
    save_model(model, card, tmp_path / "model")
    loaded, loaded_card = load_model(tmp_path / "model")
    assert loaded_card.architecture == "plain_cnn"
    torch.testing.assert_close(loaded(x), out)


def _deflector_and_arc(arc: float, seed: int = 0) -> torch.Tensor:
    """One object: a red elliptical deflector (one colour everywhere) plus, if ``arc``, a blue arc at 5 px, and noise."""
    yy, xx = torch.meshgrid(torch.arange(41.0) - 20, torch.arange(41.0) - 20, indexing="ij")
    deflector = 2000.0 * torch.exp(-(xx**2 + yy**2 / 0.6) / (2 * 3.0**2))
    ring = torch.exp(-((xx**2 + yy**2).sqrt() - 5.0) ** 2 / 2.0) * (xx > 0)
    red, blue = torch.tensor([0.3, 0.6, 1.0, 1.3, 1.5]), torch.tensor([1.0, 0.8, 0.5, 0.3, 0.2])
    noise = torch.randn(5, 41, 41, generator=torch.Generator().manual_seed(seed))
    return (red[:, None, None] * deflector + arc * blue[:, None, None] * ring + noise)[None]


def test_colour_residuals_cancel_a_one_colour_deflector_and_keep_an_arc_of_another() -> None:
    """The residual channels (bands minus the scaled reference) hold noise for a deflector alone and the arc when there is one."""
    norm = build_normalization({"name": "asinh_mad", "colour_residuals": "i"}, list(BANDS))
    alone, lensed = norm(_deflector_and_arc(0.0)), norm(_deflector_and_arc(40.0))
    assert alone.shape == (1, 9, 41, 41) and norm.extra_channels(5) == 4
    assert alone[0, :5].abs().max() > 5.0  # the deflector is bright in the bands themselves
    assert alone[0, 5:].abs().max() < 1.5  # and gone from the residuals (noise through asinh(x / 3σ))
    g_residual = lensed[0, 5]  # g minus scaled i: the arc, on the side where it was put
    assert g_residual[20, 25] > 3.0 and g_residual[20, 15].abs() < 1.5
    # the first five channels are asinh_mad's own: the same numbers as without residuals
    plain = build_normalization({"name": "asinh_mad"})
    torch.testing.assert_close(lensed[:, :5], plain(_deflector_and_arc(40.0)))


def test_colour_residuals_ignore_masked_pixels_values_and_build_a_wider_model() -> None:
    spec = {"name": "asinh_mad", "colour_residuals": "i", "valid_only": True}
    norm = build_normalization(spec, list(BANDS))
    x = _deflector_and_arc(40.0)
    torch.testing.assert_close(norm(x), build_normalization({**spec, "valid_only": False}, list(BANDS))(x))
    a, b = x.clone(), x.clone()
    a[0, 1, 3:6, 3:6], b[0, 1, 3:6, 3:6] = float("nan"), float("nan")
    a[0, 2, 30, 30], b[0, 2, 30, 30] = float("nan"), float("nan")
    b[0, 0, 3:6, 3:6] += 0.0  # same invalid set; the values behind NaN cannot differ, so compare with an Inf instead
    b[0, 2, 30, 30] = float("inf")
    torch.testing.assert_close(norm(a), norm(b))
    # a hole over part of the core in g: the colour is matched on the pixels valid in both bands, so the deflector
    # still cancels everywhere else (fitted with the hole's zeros, g - alpha * i left the deflector's wings behind)
    holed = _deflector_and_arc(0.0)
    holed[0, 0, 18:21, 18:21] = float("nan")
    out = norm(holed)[0, 5]
    assert out[18:21, 18:21].abs().max() == 0 and out.abs().max() < 1.5
    model = build_model(ModelCard(model_kwargs=TINY_COMPACT, normalization=spec)).eval()
    assert torch.isfinite(model(_batch(1))).all()


@pytest.mark.parametrize(("spec", "message"), [({"name": "per_image", "colour_residuals": "i"}, "asinh_mad only"),
                                               ({"name": "asinh_mad", "colour_residuals": "q"}, "one of the model's bands")])
def test_colour_residuals_errors_name_the_setting(spec: dict, message: str) -> None:
    from brahmasifier.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        build_normalization(spec, list(BANDS))


@pytest.mark.parametrize("n", [1681, 1680, 7, 1])
def test_masked_lower_median_is_the_sorted_one(n: int) -> None:
    """The top-k with ±inf for invalid values (no sort) gives exactly the sort's lower median of the valid values."""
    from brahmasifier.models.normalization import _masked_lower_median, _sent_low

    g = torch.Generator().manual_seed(n)
    flat = torch.randn(32, 5, n, generator=g)
    valid = torch.rand(32, 5, n, generator=g) > torch.rand(32, 5, 1, generator=g)
    valid[0], valid[1] = True, False  # all valid; none valid (→ 0)
    k = ((valid.sum(dim=-1, keepdim=True) + 1) // 2 - 1).clamp(min=0)
    ordered = torch.where(valid, flat, torch.full_like(flat, float("inf"))).sort(dim=-1).values.gather(-1, k)
    expected = torch.where(torch.isfinite(ordered), ordered, torch.zeros_like(ordered))
    assert torch.equal(_masked_lower_median(flat, valid), expected)
    assert torch.equal(_masked_lower_median(flat, valid)[1], torch.zeros(5, 1))
    assert torch.equal(_masked_lower_median(flat, valid, _sent_low(valid)), expected)  # the mask's choice, shared


def test_eager_normalisation_matches_the_exported_asinh() -> None:
    """Eager ``AsinhMAD`` uses ``torch.asinh``, the exported graph :func:`asinh_onnx`: the same numbers to float32 rounding."""
    from brahmasifier.models import normalization

    x = _batch(4)
    x[1, :, :5] = float("nan")
    norm = build_normalization({"name": "asinh_mad", "colour_residuals": "i", "valid_only": True}, list(BANDS))
    eager = norm(x)
    original = normalization._asinh
    normalization._asinh = normalization.asinh_onnx  # type: ignore[assignment]
    try:
        exported_form = norm(x)
    finally:
        normalization._asinh = original  # type: ignore[assignment]
    torch.testing.assert_close(eager, exported_form, rtol=1e-6, atol=1e-6)
    assert not torch.equal(eager[0], torch.zeros_like(eager[0]))


def test_valid_only_batches_mixing_clean_and_masked_images_match_one_at_a_time() -> None:
    norm = build_normalization({"name": "asinh_mad", "colour_residuals": "i", "valid_only": True}, list(BANDS))
    x = _batch(3, n=4)
    x[1, :, :5, :5] = float("nan")
    x[3, 2, 10:14, 10:14] = float("nan")
    together = norm(x)
    for j in range(4):
        torch.testing.assert_close(together[j], norm(x[j:j + 1])[0])
