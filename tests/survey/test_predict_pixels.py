"""Masked pixels and misregistered bands through ``predict``: columns, counts, masked pixels and the logit, the repair."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tests.survey.tiny import structured_object
from tests.tiny_models import varied_model

from brahmasifier.inference.config import PredictConfig
from brahmasifier.inference.predictor import predict
from brahmasifier.io.store import write_store
from brahmasifier.models import ModelCard, save_model
from brahmasifier.pixels import nan_where_filled
from brahmasifier.survey.checks import (
    AGREE_MIN_OBJECTS,
    AUTO_CONSISTENT,
    SAMPLE_BLOCK,
    SAMPLE_BLOCKS,
    GroupSample,
    band_agreement,
    misregistered_line,
    pixel_checks,
    sample_spans,
    suggest_band_groups,
)
from brahmasifier.survey.transforms import footprint_outside, rotate_bands


def _model(folder: Path, valid_only: bool, seed: int = 3) -> tuple[Path, torch.nn.Module]:
    card = ModelCard(architecture="compact", model_kwargs={"widths": [8, 16], "depths": [1, 1]},
                     normalization={"name": "asinh_mad", "valid_only": valid_only})
    model = varied_model(card, seed)
    return save_model(model, card, folder / "model"), model


@pytest.fixture(scope="module")
def objects() -> np.ndarray:
    rng = np.random.default_rng(21)
    clean = structured_object(rng, noise=0.05)  # bright: the arc's place, not the noise's texture, drives the logit
    footprint = clean.copy()
    footprint[:, footprint_outside(41)] = 0.0
    other_fill = clean.copy()
    other_fill[:, footprint_outside(41)] = -7.0
    misregistered = rotate_bands(clean, np.array([25.0, 0.0, 0.0, 0.0, 25.0]))
    return np.stack([clean, footprint, other_fill, misregistered, structured_object(rng)])


def _store(path: Path, images: np.ndarray) -> Path:
    index = pd.DataFrame({"id": [f"o{k}" for k in range(len(images))], "stem": [f"o{k}" for k in range(len(images))],
                          "label": -1, "domain": "unknown", "n_nan": 0})
    write_store(path, images, index)
    return path


def test_valid_only_gives_the_same_logit_on_clean_images(tmp_path: Path, objects: np.ndarray) -> None:
    _, plain = _model(tmp_path / "a", valid_only=False)
    _, masked = _model(tmp_path / "b", valid_only=True)
    x = torch.from_numpy(objects[[0, 4]])
    with torch.no_grad():
        assert torch.equal(plain(x), masked(x))


def test_a_masked_pixels_value_does_not_change_the_logit(tmp_path: Path, objects: np.ndarray) -> None:
    _, model = _model(tmp_path / "m", valid_only=True)
    a, b = objects[1].copy()[None], objects[2].copy()[None]
    nan_where_filled(a)
    nan_where_filled(b)
    with torch.no_grad():
        la, lb = model(torch.from_numpy(a)), model(torch.from_numpy(b))
        raw_a, raw_b = model(torch.from_numpy(objects[1][None])), model(torch.from_numpy(objects[2][None]))
    assert torch.equal(la, lb)
    assert not torch.equal(raw_a, raw_b)  # unmasked, the fill value reaches the logit


def test_predict_counts_and_columns(tmp_path: Path, objects: np.ndarray) -> None:
    model_dir, _ = _model(tmp_path, valid_only=True)
    store = _store(tmp_path / "store", objects)
    summary = predict(PredictConfig(models=[model_dir], data=[store], out=tmp_path / "s.csv", probs_out=tmp_path / "p.csv",
                                    onnx=False, progress=False, workers=0, tta="none", precision="32-true"))
    probs = pd.read_csv(tmp_path / "p.csv").set_index("id")
    assert probs.loc["o0", "masked_fraction"] == 0.0
    assert probs.loc["o1", "masked_fraction"] == pytest.approx(footprint_outside(41).mean())
    assert probs.loc["o1", "logit"] == probs.loc["o2", "logit"]
    assert probs.loc["o3", "misregistered"] == 1 and probs.loc["o0", "misregistered"] == 0
    assert abs(probs.loc["o3", "band_angle_g"] - 25.0) < 4.0
    assert summary.n_with_masked == 3  # the footprints and the misregistered object's rotated corners
    assert summary.n_misregistered == 1
    assert "3 objects have masked pixels" in summary.describe() and "1 object flagged misregistered" in summary.describe()
    assert "20% flagged" in summary.describe() and "--repair-score 0" in summary.describe()  # 1 of 5: far above ~1%


def test_the_summary_suggests_repairing_every_object_only_when_many_are_flagged() -> None:
    few = misregistered_line(4, 100, register_bands=False, n_registered=0, repair_score=None)
    assert few.startswith("4 objects flagged misregistered") and "predict --register-bands (its default) re-aligns them" in few
    assert "--repair-score" not in few
    many = misregistered_line(5, 100, register_bands=True, n_registered=5, repair_score=None)
    assert "5 objects had bands re-aligned" in many and "5% flagged" in many and "--repair-score 0" in many
    assert "--repair-score 0" in misregistered_line(5, 100, register_bands=True, n_registered=5, repair_score=0.1)
    done = misregistered_line(50, 100, register_bands=True, n_registered=90, repair_score=0.0)
    assert "flagged, where" not in done
    assert misregistered_line(0, 0, register_bands=False, n_registered=0, repair_score=None) == (
        "0 objects flagged misregistered (bands rotated against each other; column misregistered)")


def test_predict_reads_the_groups_the_flagged_bands_turn_in(tmp_path: Path) -> None:
    """60 objects with g and y turned against r, i, z: auto uses gy,riz; with none the summary names them; given, silent."""
    rng = np.random.default_rng(8)
    turned = [rotate_bands(structured_object(rng), np.array([a, 0.0, 0.0, 0.0, a]))
              for a in rng.choice([-1, 1], 60) * rng.uniform(15.0, 30.0, 60)]
    model_dir, _ = _model(tmp_path, valid_only=True)
    store = _store(tmp_path / "store", np.stack(turned))
    settings = {"models": [model_dir], "data": [store], "onnx": False, "progress": False, "workers": 0, "tta": "none",
                "precision": "32-true"}
    auto = predict(PredictConfig(out=tmp_path / "auto" / "s.csv", probs_out=tmp_path / "auto" / "p.csv",
                                 **settings))  # type: ignore[arg-type]
    assert auto.band_groups == "gy,riz" and "band groups gy,riz (--band-groups auto)" in auto.describe()
    assert "flagged of 60 sampled objects have each group's bands within 15 degrees" in auto.describe()
    probs = pd.read_csv(tmp_path / "auto" / "p.csv")
    assert np.array_equal(probs["band_angle_g"], probs["band_angle_y"]) and not probs["band_angle_i"].any()
    assert (probs["bands_registered"] == 2).mean() > 0.9  # every object turned back by its group's angle
    assert "--band-groups gy,riz estimates one angle per group" not in auto.describe()
    alone = predict(PredictConfig(out=tmp_path / "a" / "s.csv", band_groups="none", **settings))  # type: ignore[arg-type]
    assert alone.n_misregistered >= 50 and alone.suggested_groups == "gy,riz" and alone.band_groups == ""
    assert "--band-groups gy,riz estimates one angle per group" in alone.describe()
    assert "--band-groups auto" not in alone.describe()
    given = predict(PredictConfig(out=tmp_path / "b" / "s.csv", band_groups="gy,riz", **settings))  # type: ignore[arg-type]
    assert given.band_groups == "gy,riz" and "--band-groups" not in given.describe()
    assert pd.read_csv(tmp_path / "b" / "s.csv").equals(pd.read_csv(tmp_path / "auto" / "s.csv"))
    kept = {**settings, "out": tmp_path / "k" / "s.csv", "keep_parts": True}
    first = predict(PredictConfig(**kept))  # type: ignore[arg-type]
    again = predict(PredictConfig(**kept))  # type: ignore[arg-type]
    told = predict(PredictConfig(band_groups="gy,riz", **kept))  # type: ignore[arg-type]
    assert first.parts_reused == 0 and again.parts_reused == again.parts_total  # the same sample, the same groups
    assert told.parts_reused == 0  # given groups have no per-band fallback: read groups' parts are not theirs


def test_the_auto_sample_spreads_over_the_input_and_its_counts_add(objects: np.ndarray) -> None:
    assert sample_spans(0) == [] and sample_spans(100) == [(0, 100)] and sample_spans(4096) == [(0, 4096)]
    spans = sample_spans(10**9)
    assert len(spans) == SAMPLE_BLOCKS and spans[0][0] == 0 and spans[-1][1] == 10**9
    assert all(stop - start == SAMPLE_BLOCK for start, stop in spans)
    assert all(a[1] <= b[0] for a, b in pairwise(spans))  # in order, never overlapping
    zeros = np.zeros(len(objects), np.int32)
    whole, halves = GroupSample(), GroupSample()
    whole.add(objects, zeros)
    halves.add(objects[:2], zeros[:2])
    halves.add(objects[2:], zeros[2:])
    assert (whole.n_sampled, whole.n_flagged) == (halves.n_sampled, halves.n_flagged) == (5, 1)
    assert whole.groups == "" and whole.describe() == "" and GroupSample().groups == ""  # 1 flagged of 5: too few


def test_auto_groups_only_where_the_flagged_objects_share_them() -> None:
    """Angles turned in groups g, y / r, i, z name them; mixed with bands turned each alone, one angle per band."""
    rng = np.random.default_rng(5)
    grouped = rng.uniform(-30.0, 30.0, (300, 5))[:, [0, 1, 1, 1, 0]] + rng.normal(0.0, 1.0, (300, 5))
    alone = rng.uniform(-30.0, 30.0, (300, 5))
    pure = GroupSample(n_sampled=1000, flagged_angles=[grouped])
    assert pure.candidate == pure.groups == "gy,riz" and pure.consistent > 0.95
    assert "band groups gy,riz (--band-groups auto)" in pure.describe() and "re-aligned" in pure.describe()
    assert "no repair" in pure.describe(register=False)
    # every pair of r, i, z agrees in 40% of the objects, but all three in a tenth only: no group of three to use
    exact = rng.uniform(-30.0, 30.0, (300, 5))[:, [0, 1, 1, 1, 0]]
    pairs = [exact[:40]]
    for apart in (3, 1, 2):
        part = exact[:96].copy()
        part[:, apart] += rng.choice([-1, 1], 96) * rng.uniform(20.0, 40.0, 96)
        pairs.append(part)
    partial = GroupSample(n_sampled=1000, flagged_angles=pairs)
    assert partial.candidate == "gy,riz" and partial.consistent < AUTO_CONSISTENT and partial.groups == ""
    assert "one angle per band (--band-groups auto)" in partial.describe()
    assert GroupSample(n_sampled=1000, flagged_angles=[alone]).candidate == ""


def test_objects_turned_band_by_band_keep_their_own_angles_when_auto_read_groups() -> None:
    """With groups read by auto, an object whose bands turned each on its own keeps its per-band angles and repair."""
    rng = np.random.default_rng(12)
    grouped = [rotate_bands(structured_object(rng, noise=0.3), np.array([a, 0.0, 0.0, 0.0, a])) for a in (20.0, -25.0)]
    own = np.array([25.0, 0.0, -20.0, 15.0, -25.0])
    apart = rotate_bands(structured_object(rng, noise=0.3), own)
    images = np.stack([*grouped, apart])
    images[:, :, footprint_outside(41)] = 0.0  # cut to the circle alike: no band's corners say its angle
    zeros = np.zeros(len(images), np.int32)
    _, given = pixel_checks(images, zeros, register=True, repair_score=0.0, band_groups="gy,riz")
    _, read = pixel_checks(images, zeros, register=True, repair_score=0.0, band_groups="gy,riz", groups_read=True)
    angles = {name: np.stack([c[f"band_angle_{b}"] for b in "grizy"], axis=1) for name, c in (("given", given),
                                                                                            ("read", read))}
    assert np.array_equal(angles["given"][:2], angles["read"][:2])  # turned in the groups: the groups' angles
    assert not angles["given"][2, [1, 2, 3]].any()  # given groups force r, i, z onto one angle ...
    assert np.abs(angles["read"][2] - (own - np.median(own))).max() < 4.0  # ... read ones let each band have its own
    assert read["misregistered"][2] == 1 and read["bands_registered"][2] == 4  # and it is repaired band by band
    _, alone = pixel_checks(images[2:], zeros[2:], register=True)
    assert np.array_equal(angles["read"][2], [alone[f"band_angle_{b}"][0] for b in "grizy"])


def test_band_groups_from_agreeing_angles() -> None:
    rng = np.random.default_rng(4)
    own = rng.uniform(-30.0, 30.0, (200, 5))
    def suggest(angles: np.ndarray, n_scored: int) -> str:
        return suggest_band_groups(band_agreement(angles), len(angles), n_scored)

    assert suggest(own, 1000) == ""  # every band on its own angle
    shared = own[:, [0, 1, 1, 1, 0]] + rng.normal(0.0, 1.0, (200, 5))
    assert suggest(shared, 1000) == "gy,riz"
    halves = band_agreement(shared[:120]) + band_agreement(shared[120:])  # counts add over batches
    assert np.array_equal(halves, band_agreement(shared)) and suggest_band_groups(halves, 200, 1000) == "gy,riz"
    assert suggest(shared, 5000) == ""  # 4% flagged: as aligned cutouts' colourful lenses
    assert suggest(shared[:AGREE_MIN_OBJECTS - 1], 100) == ""  # too few objects to say
    assert suggest(own[:, [0, 0, 0, 0, 0]], 1000) == ""  # one group: nothing turned against anything
    line = misregistered_line(100, 200, register_bands=True, n_registered=100, repair_score=None, suggested_groups="gy,riz")
    assert "50% flagged, and their bands turn in groups gy,riz" in line and "--band-groups gy,riz" in line
    assert "--repair-score" not in line  # the groups' advice re-aligns every object
    assert "--band-groups" not in misregistered_line(100, 200, register_bands=True, n_registered=100, repair_score=None,
                                                     band_groups="gy,riz", suggested_groups="gy,riz")


class _AlignmentScore(torch.nn.Module):
    """A logit that depends on how the bands line up: cosine similarity of g with i and of y with z (invalid pixels: 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.nan_to_num(x - torch.nanmedian(x.flatten(2), dim=2).values[..., None, None])

        def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a * b).sum(dim=(1, 2)) / (a.norm(dim=(1, 2)) * b.norm(dim=(1, 2)))

        return 10.0 * (cosine(z[:, 0], z[:, 2]) + cosine(z[:, 4], z[:, 3]))


def test_register_bands_recovers_the_clean_logit(objects: np.ndarray) -> None:
    score = _AlignmentScore()
    clean, misregistered = objects[[0]], objects[[3]]
    as_is, _ = pixel_checks(misregistered, np.zeros(1, np.int32))
    repaired, columns = pixel_checks(misregistered, np.zeros(1, np.int32), register=True)
    clean_in, _ = pixel_checks(clean, np.zeros(1, np.int32), register=True)
    with torch.no_grad():
        target, before, after = (float(score(torch.from_numpy(a))) for a in (clean_in, as_is, repaired))
    assert columns["misregistered"][0] == 1
    assert abs(before - target) > 1.0
    assert abs(after - target) < 0.1 * abs(before - target)


def test_register_bands_leaves_clean_objects_alone(tmp_path: Path, objects: np.ndarray) -> None:
    model_dir, _ = _model(tmp_path, valid_only=True)
    store = _store(tmp_path / "store", objects)
    logits = {}
    for register in (False, True):
        out = tmp_path / f"r{int(register)}"
        summary = predict(PredictConfig(models=[model_dir], data=[store], out=out / "s.csv", probs_out=out / "p.csv",
                                        onnx=False, progress=False, workers=0, tta="none", register_bands=register,
                                        precision="32-true"))
        logits[register] = pd.read_csv(out / "p.csv").set_index("id")["logit"]
    assert summary.register_bands and "re-aligned before scoring" in summary.describe()
    for clean in ("o0", "o1", "o2", "o4"):
        assert logits[True][clean] == logits[False][clean]
    assert logits[True]["o3"] != logits[False]["o3"]


def test_onnx_reads_masked_pixels_as_pytorch_does(tmp_path: Path, objects: np.ndarray) -> None:
    model_dir, _ = _model(tmp_path, valid_only=True)
    store = _store(tmp_path / "store", objects)
    logits = {}
    for onnx in (False, True):
        out = tmp_path / f"onnx{int(onnx)}"
        predict(PredictConfig(models=[model_dir], data=[store], out=out / "s.csv", probs_out=out / "p.csv", onnx=onnx,
                              progress=False, workers=0, tta="none", precision="32-true"))
        logits[onnx] = pd.read_csv(out / "p.csv")["logit"].to_numpy()
    np.testing.assert_allclose(logits[True], logits[False], rtol=1e-5, atol=1e-5)
