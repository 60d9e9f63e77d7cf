"""How well does each lens-light subtraction show the arc? Measured on simulated lenses with truth.

Usage: python experiments/inspect_panels.py [--n 40] [--seed 7] [--domains slsim hsc]

For ``n`` lenses per domain of our engine (``make_object`` with noise; the truth is the same
scene rendered without noise, lensed light only), three maps of the g+r+i light are compared:

- ``plain``: the image minus its sky level (what the plain RGB shows, before any stretch);
- ``mge``: the residual of :func:`brahmasifier.evaluation.lens_light.fit_lens_light`;
- ``template``: g and r minus the i band scaled by the lens light's g/i and r/i colour (fitted
  by least squares in the central 3 px disc); i itself is left out, since it is the template.

The metric, the same for every map M: the **arc contrast**
``C = mean_A(arc) / rms_R(M − arc)``, where ``arc`` is the truth (noiseless lensed light, same
bands), ``A`` the arc's pixels (truth above 1σ of the summed sky noise), and ``R`` the disc of
radius ``θ_E/0.2″ + 4`` px around the stamp centre, where an inspector looks for the arc:
``M − arc`` is everything the arc must stand out of (lens light, noise, fit errors). For the
residual maps C is the arc's S/N per pixel against noise and fit errors; for the plain map the
arc's contrast against the lens galaxy. Also reported: the χ² per pixel of the MGE residual in
the central 10 px disc for the same galaxies drawn without their lensed source (true variance).
"""

from __future__ import annotations

import argparse
import copy
import math

import numpy as np

from brahmasifier.bands import BANDS, PIXEL_SCALE
from brahmasifier.evaluation.lens_light import fit_lens_light
from brahmasifier.simulation.generate import make_object, object_rng
from brahmasifier.simulation.render import Renderer
from brahmasifier.sky import sky_stats

GRI = [BANDS.index(b) for b in "gri"]


def contrast(display: np.ndarray, arc: np.ndarray, arc_pixels: np.ndarray, region: np.ndarray) -> float:
    clutter = display - arc
    rms = float(np.sqrt(np.mean((clutter[region] - np.median(clutter[region])) ** 2)))
    return float(arc[arc_pixels].mean() / rms)


def template_residual(image: np.ndarray, level: np.ndarray) -> np.ndarray:
    data = image - level[:, None, None]
    n = data.shape[-1]
    y, x = np.mgrid[0:n, 0:n] - n // 2
    core = x**2 + y**2 <= 9
    i = data[BANDS.index("i")]
    out = np.zeros_like(i)
    for b in ("g", "r"):
        band = data[BANDS.index(b)]
        ratio = float((band[core] * i[core]).sum() / max((i[core] ** 2).sum(), 1e-12))
        out += band - ratio * i
    return out


def variance(renderer: Renderer, model: np.ndarray) -> np.ndarray:
    return np.stack([inst.background_rms**2 + np.clip(model[b], 0, None) * inst.poisson_njy_per_count
                     for b, inst in enumerate(renderer.lsst)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--domains", nargs="+", default=["slsim", "hsc"])
    args = parser.parse_args()
    for domain in args.domains:
        renderer = Renderer(domain)
        rows = []
        chi2s = []
        for k in range(args.n):
            obj = make_object(renderer, 1, k, args.seed)
            arc = renderer.render(obj.scene, None, noise=False, lensed_only=True).image.astype(np.float64)
            level, sigma = sky_stats(obj.image.astype(np.float64))
            fit = fit_lens_light(obj.image)
            arc_gri = arc[GRI].sum(axis=0)
            noise_gri = math.sqrt(float((sigma[GRI] ** 2).sum()))
            arc_pixels = arc_gri > noise_gri
            if not arc_pixels.any():
                continue
            n = arc_gri.shape[0]
            y, x = np.mgrid[0:n, 0:n] - n // 2
            region = x**2 + y**2 <= (obj.scene.rein / PIXEL_SCALE + 4) ** 2
            plain = (obj.image[GRI] - level[GRI, None, None]).sum(axis=0)
            mge = fit.residual[GRI].sum(axis=0)
            arc_gr = arc[[BANDS.index("g"), BANDS.index("r")]].sum(axis=0)
            rows.append((contrast(plain, arc_gri, arc_pixels, region), contrast(mge, arc_gri, arc_pixels, region),
                         contrast(template_residual(obj.image, level), arc_gr, arc_pixels, region)))
            # The same galaxy without its lensed source: is the residual consistent with the noise?
            scene = copy.copy(obj.scene)
            scene.components = [c for c in obj.scene.components if not c.lensed]
            renderer.new_object()
            model = renderer.render(scene, None, noise=False).image.astype(np.float64)
            noisy = renderer.render(scene, object_rng(args.seed + 1, domain, 0, k), noise=True).image
            resid = fit_lens_light(noisy).residual
            central = x**2 + y**2 <= 100
            chi2s.append(float((resid[:, central] ** 2 / variance(renderer, model)[:, central]).mean()))
        table = np.array(rows)
        ratio_mge = table[:, 1] / table[:, 0]
        ratio_tpl = table[:, 2] / table[:, 0]
        print(f"{domain}: {len(table)} lenses (seed {args.seed})")
        print(f"  arc contrast, median [16%, 84%]: plain {np.median(table[:, 0]):.2f} "
              f"[{np.percentile(table[:, 0], 16):.2f}, {np.percentile(table[:, 0], 84):.2f}], "
              f"MGE residual {np.median(table[:, 1]):.2f} [{np.percentile(table[:, 1], 16):.2f}, "
              f"{np.percentile(table[:, 1], 84):.2f}], template residual {np.median(table[:, 2]):.2f}")
        print(f"  ratio to plain, median [16%, 84%]: MGE {np.median(ratio_mge):.2f} "
              f"[{np.percentile(ratio_mge, 16):.2f}, {np.percentile(ratio_mge, 84):.2f}], "
              f"template {np.median(ratio_tpl):.2f} [{np.percentile(ratio_tpl, 16):.2f}, "
              f"{np.percentile(ratio_tpl, 84):.2f}]; MGE ≥ 2× plain for {np.mean(ratio_mge >= 2):.0%}")
        print(f"  lens-free galaxies: MGE residual χ²/pixel (central 10 px disc, 5 bands) median "
              f"{np.median(chi2s):.2f} [16%: {np.percentile(chi2s, 16):.2f}, 84%: {np.percentile(chi2s, 84):.2f}]")


if __name__ == "__main__":
    main()
