"""The target spec's conventions match what the renderer draws, and its D4 action matches the images'.

A noise-free elliptical Sérsic at a known position and position angle is rendered; its
centroid and second moments, measured on the pixels with x along columns and y along rows,
give back the catalogue values (the simulator's conventions, ``simulation/truth.py``), and after
every flip/rotation of the image the measured values equal the spec's transformed targets,
decoded back to catalogue columns.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lenstronomy")

import torch

from brahmasifier.bands import BANDS, PIXEL_SCALE, STAMP_SIZE
from brahmasifier.data.transforms import d4_apply
from brahmasifier.models.conventions import SIMULATOR_CONVENTIONS, TruthConventions
from brahmasifier.models.target_decode import decode
from brahmasifier.models.targets import LENS, Target, TargetSet
from brahmasifier.simulation.render import Renderer
from brahmasifier.simulation.scene import Scene, sersic
from brahmasifier.simulation.truth import CONVENTIONS, ellipticity_from_e1e2


def test_regression_conventions_are_the_simulators() -> None:
    assert SIMULATOR_CONVENTIONS == TruthConventions.from_dict(dict(CONVENTIONS))


def _measure(image: np.ndarray) -> tuple[float, float, float]:
    """Centroid (x, y) in arcsec from the stamp centre and PA (radians CCW from +x, mod π) from moments."""
    c = (STAMP_SIZE - 1) / 2.0
    rows, cols = np.mgrid[0:STAMP_SIZE, 0:STAMP_SIZE]
    x, y = (cols - c) * PIXEL_SCALE, (rows - c) * PIXEL_SCALE
    w = image / image.sum()
    mx, my = float((w * x).sum()), float((w * y).sum())
    qxx, qyy, qxy = ((w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum(), (w * (x - mx) * (y - my)).sum())
    return mx, my, 0.5 * math.atan2(2 * qxy, qxx - qyy) % math.pi


def _angle_diff(a: float, b: float) -> float:
    return abs(math.remainder(a - b, math.pi))


def test_simulator_conventions_and_d4_action_match_rendered_pixels() -> None:
    x0, y0, q, phi = 0.6, -0.4, 0.45, 0.5
    component = sersic("central", x0, y0, 0.5, 1.0, q, phi, np.full(len(BANDS), 1e5))
    scene = Scene(0, "test", None, [component], np.ones(len(BANDS)), 3.5, {})
    image = Renderer("slsim").render(scene, None, noise=False).image[2].astype(np.float64)
    mx, my, pa = _measure(image)
    assert SIMULATOR_CONVENTIONS.x_axis == "+col" and SIMULATOR_CONVENTIONS.y_axis == "+row"
    assert (mx, my) == pytest.approx((x0, y0), abs=0.02) and _angle_diff(pa, phi) < math.radians(2)

    spec = TargetSet((Target("srcx", LENS, "vector", ("srcx", "srcy")),
                      Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity")))
    ell, pa = ellipticity_from_e1e2(component.params["e1"], component.params["e2"])  # the catalogue row, as both engines write it
    table = pd.DataFrame({"srcx": [x0], "srcy": [y0], "ell_l": [ell], "ell_l_PA": [pa]})
    encoded, _ = spec.encode(table, np.ones(1))
    for element in range(8):
        view = d4_apply(torch.from_numpy(image), element).numpy()
        vx, vy, vpa = _measure(view)
        view_truth = decode(spec, spec.d4_apply_targets(encoded, element), np.full((1, 4), 1e-12)).values.iloc[0]
        assert (vx, vy) == pytest.approx((view_truth["srcx"], view_truth["srcy"]), abs=0.02), f"element {element}"
        # the moments give lenstronomy's φ (from +x towards +y); the catalogue PA is 90° − φ
        assert _angle_diff(math.radians(90.0 - view_truth["ell_l_PA"]), vpa) < math.radians(2), f"element {element}"
        assert view_truth["ell_l"] == pytest.approx(q, abs=1e-6)


@pytest.mark.parametrize(("dx", "dy", "degrees"), [(1.5, -2.0, 0.0), (0.0, 0.0, 30.0), (-1.2, 0.7, -75.0), (2.0, 1.0, 135.0)])
def test_survey_moves_act_on_the_targets_as_on_the_rendered_pixels(dx: float, dy: float, degrees: float) -> None:
    """A rendered Sérsic, shifted and turned by the survey augmentation's own functions, is where the targets say.

    Its centroid and moment PA are measured where ``TargetSet.move_targets`` puts its catalogue
    position and position angle, given the geometry ``SurveyAugment`` reports for those calls.
    """
    from brahmasifier.data.augment import AugmentGeometry, SurveyAugment, rotate_footprint, shift

    x0, y0, q, phi = 0.6, -0.4, 0.45, 0.5
    component = sersic("central", x0, y0, 0.5, 1.0, q, phi, np.full(len(BANDS), 1e5))
    scene = Scene(0, "test", None, [component], np.ones(len(BANDS)), 3.5, {})
    image = torch.from_numpy(Renderer("slsim").render(scene, None, noise=False).image.astype(np.float64))[None]
    moved = shift(image, torch.tensor([dx]), torch.tensor([dy]))
    moved = torch.nan_to_num(rotate_footprint(moved, torch.tensor([degrees])))
    # what SurveyAugment reports for this rotate_footprint angle (content turned by −angle, col → row)
    geometry = AugmentGeometry(torch.tensor([[dx, dy]], dtype=torch.float64), torch.tensor([-degrees], dtype=torch.float64))
    vx, vy, vpa = _measure(moved[0, 2].numpy())

    spec = TargetSet((Target("srcx", LENS, "vector", ("srcx", "srcy")),
                      Target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity")))
    ell, pa = ellipticity_from_e1e2(component.params["e1"], component.params["e2"])
    encoded, _ = spec.encode(pd.DataFrame({"srcx": [x0], "srcy": [y0], "ell_l": [ell], "ell_l_PA": [pa]}), np.ones(1))
    after = spec.move_targets(encoded, geometry.shift.numpy(), geometry.rotation.numpy(), SurveyAugment().pixel_scale)
    truth = decode(spec, after, np.full((1, 4), 1e-12)).values.iloc[0]
    assert (vx, vy) == pytest.approx((truth["srcx"], truth["srcy"]), abs=0.03)
    assert _angle_diff(math.radians(90.0 - truth["ell_l_PA"]), vpa) < math.radians(2)
    assert truth["ell_l"] == pytest.approx(q, abs=1e-6)
    if degrees:  # the sense matters: the opposite turn would put the PA elsewhere
        wrong = decode(spec, spec.move_targets(encoded, geometry.shift.numpy(), -geometry.rotation.numpy(), 0.2),
                       np.full((1, 4), 1e-12)).values.iloc[0]
        assert _angle_diff(math.radians(90.0 - wrong["ell_l_PA"]), vpa) > math.radians(10)
