"""The survey augmentation's continuous moves on the regression targets: turns and shifts (``TargetSet.move_targets``).

A quarter turn equals the D4 action; a shift moves ``srcx``/``srcy`` by the pixels times the pixel
scale, along the right axes; moves round-trip; scalars never change; the conventions' sense of
the PA and mirrored axes enter as they should. The pixel-level check against a rendered object
is ``tests/simulation/test_target_conventions.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from brahmasifier.bands import PIXEL_SCALE
from brahmasifier.d4 import d4_apply
from brahmasifier.data.augment import rotate_footprint
from brahmasifier.models.conventions import SIMULATOR_CONVENTIONS, TruthConventions
from brahmasifier.models.targets import TargetSet, default_target_set

from .test_targets import _table


def _fitted(conventions: TruthConventions = SIMULATOR_CONVENTIONS) -> tuple[TargetSet, np.ndarray, np.ndarray]:
    table, labels = _table(40)
    spec = default_target_set(conventions).fit(table, labels)
    values, mask = spec.encode(table, labels)
    return spec, values.astype(np.float64), mask


def _pixel_turn(element: int) -> float:
    """The turn (degrees, from +col towards +row) that D4 ``element`` makes of the pixels (rotations only)."""
    probe = np.zeros((5, 5))
    probe[2, 3] = 1.0  # one column to the right of the centre
    r, c = divmod(int(np.argmax(d4_apply(probe, element))), 5)
    return math.degrees(math.atan2(r - 2, c - 2))


@pytest.mark.parametrize("element", [1, 2, 3])
def test_a_quarter_turn_is_the_d4_action(element: int) -> None:
    spec, values, _ = _fitted()
    n = len(values)
    turned = spec.move_targets(values, np.zeros((n, 2)), np.full(n, _pixel_turn(element)), PIXEL_SCALE)
    assert np.allclose(turned, spec.d4_apply_targets(values, element), atol=1e-9)
    assert not np.allclose(turned, values)


@pytest.mark.parametrize("element", [1, 2, 3])
def test_the_augmentations_turn_is_the_d4_turn_on_pixels(element: int) -> None:
    """``rotate_footprint`` by −θ turns the pixels by +θ (what SurveyAugment reports): equal to D4 inside the circle."""
    rng = np.random.default_rng(element)
    image = torch.from_numpy(rng.normal(size=(1, 2, 41, 41)))
    turned = rotate_footprint(image, torch.tensor([-_pixel_turn(element)], dtype=torch.float64))
    inside = torch.isfinite(turned)
    assert inside.sum() > 2 * 1200 and torch.allclose(turned[inside], d4_apply(image, element)[inside], atol=1e-9)


def test_a_shift_moves_the_source_position_by_the_pixels_and_nothing_else() -> None:
    spec, values, mask = _fitted()
    n = len(values)
    shift = np.tile([[1.5, -2.0]], (n, 1))  # 1.5 px along columns (+x), −2 px along rows (+y)
    moved = spec.move_targets(values, shift, np.zeros(n), PIXEL_SCALE)
    sl = spec.dim_names.index("srcx"), spec.dim_names.index("srcy")
    scale = spec.scale[sl[0]]
    assert np.allclose((moved - values)[:, sl[0]] * scale, 1.5 * PIXEL_SCALE)  # arcsec
    assert np.allclose((moved - values)[:, sl[1]] * scale, -2.0 * PIXEL_SCALE)
    others = [k for k in range(spec.n_dims) if k not in sl]
    assert np.array_equal(moved[:, others], values[:, others])
    # decoded: the catalogue's srcx grows by exactly 0.3″ (standardised back)
    raw, _ = spec.encode_raw(*_table(40))
    assert np.allclose(moved[mask[:, sl[0]], sl[0]] * scale, raw[mask[:, sl[0]], sl[0]] + 0.3)


def test_moves_round_trip_and_leave_scalars_alone() -> None:
    spec, values, _ = _fitted()
    n = len(values)
    rng = np.random.default_rng(1)
    shift, turn = rng.uniform(-2, 2, (n, 2)), rng.uniform(-180, 180, n)
    there = spec.move_targets(values, shift, turn, PIXEL_SCALE)
    # back: turn by −θ, then shift by −d (shift-then-turn undone in reverse order)
    back = spec.move_targets(spec.move_targets(there, np.zeros((n, 2)), -turn, PIXEL_SCALE), -shift, np.zeros(n),
                             PIXEL_SCALE)
    assert np.allclose(back, values, atol=1e-9)
    assert np.allclose(spec.move_targets(values, np.zeros((n, 2)), np.full(n, 360.0), PIXEL_SCALE), values, atol=1e-9)
    scalars = [k for k, (t, _) in enumerate((t, c) for t in spec.targets for c in t.dim_names) if t.kind == "scalar"]
    assert len(scalars) == 24 and np.array_equal(there[:, scalars], values[:, scalars])
    # a spin-2 pair keeps its modulus e at any angle, and half a turn of the image is no change at all
    ell = [spec.dim_names.index("ell_l:c1"), spec.dim_names.index("ell_l:c2")]
    turned = spec.move_targets(values, np.zeros((n, 2)), np.full(n, 37.0), PIXEL_SCALE)
    assert np.allclose(np.hypot(*turned[:, ell].T), np.hypot(*values[:, ell].T))
    half = spec.move_targets(values, np.zeros((n, 2)), np.full(n, 180.0), PIXEL_SCALE)
    assert np.allclose(half[:, ell], values[:, ell], atol=1e-9) and not np.allclose(turned[:, ell], values[:, ell])


def test_the_pa_turns_against_the_image_in_the_simulators_convention() -> None:
    """PA from +y towards +x: a turn by α from +x towards +y lowers the PA by α (sense −1); the other sense raises it."""
    assert SIMULATOR_CONVENTIONS.angle_sense == -1
    assert TruthConventions(angle_origin="+x", angle_towards="+y").angle_sense == 1
    with pytest.raises(ValueError, match="perpendicular"):
        _ = TruthConventions(angle_origin="+x", angle_towards="-x").angle_sense
    for conventions, expected in ((SIMULATOR_CONVENTIONS, 30.0 - 20.0), (TruthConventions(angle_towards="-x"), 30.0 + 20.0)):
        spec = TargetSet(tuple(t for t in default_target_set().targets if t.name == "ell_l"), conventions)
        values, _ = spec.encode(pd.DataFrame({"ell_l": [0.5], "ell_l_PA": [30.0]}), np.ones(1))
        turned = spec.move_targets(values.astype(np.float64), np.zeros((1, 2)), np.array([20.0]), PIXEL_SCALE)
        c1, c2 = turned[0]
        assert math.degrees(0.5 * math.atan2(c2, c1)) % 180.0 == pytest.approx(expected)


def test_mirrored_axes_and_pixel_units() -> None:
    """``y`` along ``-row``: a pixel turn is the opposite turn in the frame and a row shift lowers ``y``; ``pixel`` units."""
    mirrored = TruthConventions(y_axis="-row")
    assert mirrored.frame_turn(np.array([30.0]))[0] == -30.0 and SIMULATOR_CONVENTIONS.frame_turn(np.array([30.0]))[0] == 30.0
    assert np.allclose(mirrored.frame_offsets(np.array([[1.0, 2.0]]), 0.2), [[0.2, -0.4]])
    assert np.allclose(TruthConventions(x_axis="+row", y_axis="+col").frame_offsets(np.array([[1.0, 2.0]]), 0.2), [[0.4, 0.2]])
    assert np.allclose(TruthConventions(position_unit="pixel").frame_offsets(np.array([[1.0, 2.0]]), 0.2), [[1.0, 2.0]])
    with pytest.raises(ValueError, match="position_unit"):
        TruthConventions(position_unit="furlong").frame_offsets(np.zeros((1, 2)), 0.2)

