"""brahmasifier.d4: one implementation of the eight elements, on tensors and arrays alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brahmasifier.d4 import D4_SIZE, compose, d4_apply, d4_invert, frame_matrix, inverse_element, spin2_signs


def test_arrays_and_tensors_get_the_same_pixels_and_inverses_undo() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 7)).astype(np.float32)
    t = torch.from_numpy(x)
    for e in range(D4_SIZE):
        np.testing.assert_array_equal(d4_apply(x, e), d4_apply(t, e).numpy())
        np.testing.assert_array_equal(d4_invert(d4_apply(x, e), e), x)
        assert torch.equal(d4_invert(d4_apply(t, e), e), t)
        assert compose(e, inverse_element(e)) == 0
        for f in range(D4_SIZE):
            np.testing.assert_array_equal(d4_apply(d4_apply(x, e), f), d4_apply(x, compose(e, f)))
    with pytest.raises(ValueError, match="0..7"):
        d4_apply(x, 8)


def test_the_frame_matrix_moves_points_as_the_pixels_move() -> None:
    image = np.zeros((9, 9))
    image[4 + 1, 4 + 3] = 1.0  # row offset +1, col offset +3: (x, y) = (3, 1) with x along +col, y along +row
    for e in range(D4_SIZE):
        r, c = np.unravel_index(np.argmax(d4_apply(image, e)), image.shape)
        np.testing.assert_array_equal(frame_matrix(e) @ np.array([3.0, 1.0]), [c - 4, r - 4])
    assert spin2_signs(frame_matrix(1)) == (-1.0, -1.0)  # a quarter turn: 2φ → 2φ + 180°
    assert spin2_signs(frame_matrix(4)) == (1.0, -1.0)  # a left-right flip: φ → −φ
