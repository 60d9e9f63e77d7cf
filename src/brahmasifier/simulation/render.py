"""Pixels from a :class:`~brahmasifier.simulation.scene.Scene`, with lenstronomy.

Why not one lenstronomy ``ImageModel`` per band: the geometry of a cutout is the same in all
five bands, only the fluxes and the PSF change. So each light component is evaluated once
(lenstronomy ``LightModel``; lensed ones at the positions ``LensModel.ray_shooting`` maps the
supersampled pixel grid to), binned to pixels, combined per band with the band fluxes, and
convolved (FFT) with that band's pixelised Moffat PSF. This is lenstronomy's own scheme with
``supersampling_convolution=False`` (a test checks one band against ``ImageModel``), done for
five bands at the price of one.

Domains:

- ``slsim``: rendered on the 0.2″ LSST grid, LSST-seeing Moffat PSF, white sky + shot noise
  at LSST 1-year depth.
- ``hsc``: rendered on a 0.168″ grid with sharper HSC seeing and HSC-depth noise, then
  degraded like the challenge's HSC pipeline: Gaussian convolution to LSST seeing, a
  flux-preserving resampling to 0.2″ (exact pixel-overlap weights), extra sky + shot noise
  to reach LSST depth. Its noise is therefore correlated and its PSF core differs.

Pixel values are nJy per pixel (see :mod:`brahmasifier.simulation.instrument`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from brahmasifier.bands import BANDS, PIXEL_SCALE, STAMP_SIZE
from brahmasifier.errors import DependencyNotFoundError
from brahmasifier.simulation.instrument import HSC_INPUT, LSST_1YR, BandInstrument, HscBand
from brahmasifier.simulation.lens_systems import lens_model, lens_model_list
from brahmasifier.simulation.scene import LightComponent, Scene

try:  # lenstronomy is the optional extra brahmasifier[sim]
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise DependencyNotFoundError(
        "brahmasifier.simulation needs lenstronomy: pip install 'brahmasifier[sim]'"
    ) from exc

from scipy.signal import fftconvolve

__all__ = [
    "DOMAINS", "HSC_SHOT_NOISE_FACTOR", "LENS_MODEL_LIST", "MARGIN_PIXELS", "PSF_SIZE", "SUPERSAMPLING", "Grid",
    "RenderResult", "Renderer", "gaussian_kernel", "moffat_kernel", "overlap_matrix",
]

DOMAINS: tuple[str, ...] = ("slsim", "hsc")
#: Pixels rendered around the stamp so that light just outside it is convolved in.
MARGIN_PIXELS = 4
SUPERSAMPLING = 3
PSF_SIZE = 25  # pixels (odd); 5″ at 0.2″/pix holds the Moffat wings
LENS_MODEL_LIST = ["SIE", "SHEAR"]
#: HSC input shot-noise variance relative to LSST 1-yr (longer effective exposure).
HSC_SHOT_NOISE_FACTOR = 0.25


def moffat_kernel(fwhm: float, beta: float, pixel_scale: float, size: int = PSF_SIZE, oversample: int = 5) -> np.ndarray:
    """Pixel-integrated circular Moffat PSF, normalised to unit sum."""
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    n = size * oversample
    c = (np.arange(n) - (n - 1) / 2.0) * pixel_scale / oversample
    r2 = c[:, None] ** 2 + c[None, :] ** 2
    fine = (1.0 + r2 / alpha**2) ** (-beta)
    kernel = fine.reshape(size, oversample, size, oversample).sum(axis=(1, 3))
    return kernel / kernel.sum()


def gaussian_kernel(sigma_pix: float) -> np.ndarray:
    """Normalised, pixel-integrated Gaussian kernel (identity for sigma ≈ 0)."""
    if sigma_pix < 1e-3:
        return np.ones((1, 1))
    from scipy.special import erf

    half = math.ceil(4 * sigma_pix)
    edges = np.arange(-half, half + 2) - 0.5
    cdf = 0.5 * (1 + erf(edges / (math.sqrt(2) * sigma_pix)))
    k1 = np.diff(cdf)
    k = np.outer(k1, k1)
    return k / k.sum()


def overlap_matrix(n_in: int, p_in: float, n_out: int, p_out: float) -> np.ndarray:
    """Flux-preserving 1-D resampling weights: fraction of input pixel i inside output pixel o.

    Both grids are centred on 0. ``out = R @ img @ R.T`` conserves flux exactly where the
    input covers the output (what ``reproject``'s exact/adaptive modes do for aligned grids).
    """
    e_in = (np.arange(n_in + 1) - n_in / 2.0) * p_in
    e_out = (np.arange(n_out + 1) - n_out / 2.0) * p_out
    lo = np.maximum(e_out[:-1, None], e_in[None, :-1])
    hi = np.minimum(e_out[1:, None], e_in[None, 1:])
    return np.clip(hi - lo, 0.0, None) / p_in


@dataclass(frozen=True)
class Grid:
    """A square pixel grid centred on the stamp centre, with its supersampled coordinates."""

    n: int
    pixel_scale: float
    supersampling: int

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates (arcsec) of the grid, x and y."""
        m = self.n * self.supersampling
        c = (np.arange(m) - (m - 1) / 2.0) * self.pixel_scale / self.supersampling
        x, y = np.meshgrid(c, c)  # x along columns, y along rows (lenstronomy array2image order)
        return x.ravel(), y.ravel()

    def bin(self, values: np.ndarray) -> np.ndarray:
        """Sum supersampled values into pixels."""
        s, n = self.supersampling, self.n
        return values.reshape(n, s, n, s).sum(axis=(1, 3))


@dataclass
class RenderResult:
    """One rendered cutout and what is in it (the tests look at the components)."""

    image: np.ndarray  # float32 (5, 41, 41), nJy / pixel
    roles: tuple[str, ...]  # role of every component drawn
    lensed_roles: tuple[str, ...]  # roles of components drawn through the lens model
    psf_fwhm: np.ndarray  # (5,) final (LSST) FWHM in arcsec


class Renderer:
    """Draws scenes of one domain; build once per process and reuse (lenstronomy objects inside)."""

    def __init__(self, domain: str, lsst: dict[str, BandInstrument] | None = None,
                 hsc: dict[str, HscBand] | None = None, supersampling: int = SUPERSAMPLING) -> None:
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
        self.domain = domain
        self.lsst = [(lsst or LSST_1YR)[b] for b in BANDS]
        self.hsc = [(hsc or HSC_INPUT)[b] for b in BANDS]
        self.out_grid = Grid(STAMP_SIZE + 2 * MARGIN_PIXELS, PIXEL_SCALE, supersampling)
        if domain == "hsc":
            p = self.hsc[0].pixel_scale
            n = math.ceil(self.out_grid.n * PIXEL_SCALE / p)
            n += (n + 1) % 2  # odd, so both grids share the centre pixel
            self.grid = Grid(n, p, supersampling)
            self.resample: np.ndarray | None = overlap_matrix(n, p, self.out_grid.n, PIXEL_SCALE)
        else:
            self.grid = self.out_grid
            self.resample = None
        self.x, self.y = self.grid.coordinates()
        self.subpixel_area = (self.grid.pixel_scale / self.grid.supersampling) ** 2
        self._sersic = LightModel(["SERSIC_ELLIPSE"])
        self._lens = LensModel(LENS_MODEL_LIST)
        self._psf_cache: dict[tuple[str, int, float, float], np.ndarray] = {}
        # Per-object memo of binned unit images, keyed by component identity (the component is
        # kept alive in the value so its id cannot be reused). Source redraws and the final
        # render reuse the deflector/source images computed for the selection.
        self._units: dict[int, tuple[LightComponent, np.ndarray]] = {}
        self._rays: tuple[object, np.ndarray, np.ndarray] | None = None

    def lens_model(self, lens_kwargs: list[dict[str, float]]) -> object:
        """The lenstronomy ``LensModel`` of these kwargs (:func:`~brahmasifier.simulation.lens_systems.lens_model_list`)."""
        models = lens_model_list(lens_kwargs)
        return self._lens if list(models) == LENS_MODEL_LIST else lens_model(models)

    def new_object(self) -> None:
        """Forget the per-object memo (call before drawing a new object)."""
        self._units.clear()
        self._rays = None

    # ---------------------------------------------------------------- components
    def _profile(self, comp: LightComponent, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Supersampled flux per subpixel of ``comp`` for a unit total flux (before lensing)."""
        p = comp.params
        if comp.profile == "sersic":
            kwargs = [{"amp": 1.0, **p}]
            sb = self._sersic.surface_brightness(x, y, kwargs)
            return sb * (self.subpixel_area / self._sersic.total_flux(kwargs, norm=True)[0])
        if comp.profile == "gaussian":
            s2 = p["sigma"] ** 2
            r2 = (x - p["center_x"]) ** 2 + (y - p["center_y"]) ** 2
            return np.exp(-0.5 * r2 / s2) * (self.subpixel_area / (2.0 * math.pi * s2))
        if comp.profile in ("ring", "spiral"):
            values = self._ring(p, x, y) if comp.profile == "ring" else self._spiral(p, x, y)
            total = values.sum()
            return values / total if total > 0 else values
        raise ValueError(f"unknown light profile {comp.profile!r}")

    @staticmethod
    def _elliptical_coords(p: dict[str, float], x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e = math.hypot(p["e1"], p["e2"])
        phi = 0.5 * math.atan2(p["e2"], p["e1"])
        q = (1 - e) / (1 + e)
        dx, dy = x - p["center_x"], y - p["center_y"]
        xr = math.cos(phi) * dx + math.sin(phi) * dy
        yr = -math.sin(phi) * dx + math.cos(phi) * dy
        r = np.sqrt(q * xr**2 + yr**2 / q)
        return r, np.arctan2(yr / math.sqrt(q), xr * math.sqrt(q)), np.arctan2(dy, dx)

    def _ring(self, p: dict[str, float], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, _, azimuth = self._elliptical_coords(p, x, y)
        values = np.exp(-0.5 * ((r - p["radius"]) / p["width"]) ** 2)
        if p.get("arc_width", 0.0) > 0:
            d = np.angle(np.exp(1j * (azimuth - p["arc_phi"])))
            values *= np.exp(-0.5 * (d / p["arc_width"]) ** 2)
        return values

    def _spiral(self, p: dict[str, float], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        keys = ("R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y")
        disc = self._sersic.surface_brightness(x, y, [{"amp": 1.0, **{k: p[k] for k in keys}}])
        r, theta, _ = self._elliptical_coords(p, x, y)
        r = np.maximum(r, 1e-3)
        psi = p["n_arms"] * (theta - np.log(r / p["R_sersic"]) / math.tan(p["pitch"])) - p["phase"]
        arms = (0.5 * (1 + np.cos(psi))) ** p["sharpness"]
        return disc * arms * (1.0 - np.exp(-((r / (0.4 * p["R_sersic"])) ** 2)))

    def _point(self, p: dict[str, float]) -> np.ndarray:
        """Bilinear deposit of a unit point source on the supersampled grid."""
        m = self.grid.n * self.grid.supersampling
        step = self.grid.pixel_scale / self.grid.supersampling
        out = np.zeros(m * m)
        fx = p["center_x"] / step + (m - 1) / 2.0
        fy = p["center_y"] / step + (m - 1) / 2.0
        ix, iy = math.floor(fx), math.floor(fy)
        wx, wy = fx - ix, fy - iy
        for dx, dy, w in ((0, 0, (1 - wx) * (1 - wy)), (1, 0, wx * (1 - wy)), (0, 1, (1 - wx) * wy), (1, 1, wx * wy)):
            jx, jy = ix + dx, iy + dy
            if 0 <= jx < m and 0 <= jy < m:
                out[jy * m + jx] += w
        return out

    def component_images(self, scene: Scene, lensed_only: bool = False) -> tuple[np.ndarray, np.ndarray, list[LightComponent]]:
        """Unit-flux pixel images (C, n, n) on the render grid, their fluxes (C, 5), the components."""
        comps = [c for c in scene.components if c.lensed or not lensed_only]
        if any(c.lensed for c in comps) and scene.lens_kwargs is None:
            raise ValueError("scene has lensed light but no lens model")
        units = np.empty((len(comps), self.grid.n, self.grid.n))
        for k, comp in enumerate(comps):
            memo = self._units.get(id(comp))
            if memo is not None and memo[0] is comp:
                units[k] = memo[1]
                continue
            if comp.profile == "point":
                values = self._point(comp.params)
            elif comp.lensed:
                assert scene.lens_kwargs is not None, "checked above: lensed light needs a lens model"
                values = self._profile(comp, *self._ray_shoot(scene.lens_kwargs))
            else:
                values = self._profile(comp, self.x, self.y)
            units[k] = self.grid.bin(values)
            self._units[id(comp)] = (comp, units[k])
        fluxes = np.array([c.flux for c in comps]).reshape(len(comps), len(BANDS))
        return units, fluxes, comps

    def _ray_shoot(self, lens_kwargs: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Source-plane positions of the supersampled grid (memoised per lens model)."""
        if self._rays is None or self._rays[0] is not lens_kwargs:
            bx, by = self.lens_model(lens_kwargs).ray_shooting(self.x, self.y, lens_kwargs)  # type: ignore[attr-defined]
            self._rays = (lens_kwargs, bx, by)
        return self._rays[1], self._rays[2]

    # ---------------------------------------------------------------- PSFs
    def _kernel(self, kind: str, band: int, fwhm: float, beta: float) -> np.ndarray:
        # Quantised (0.005″ in FWHM, 0.25 in β: far below what the data can tell) so kernels are reused.
        key = (kind, band, round(fwhm * 200.0) / 200.0, beta if math.isinf(beta) else round(beta * 4.0) / 4.0)
        kernel = self._psf_cache.get(key)
        if kernel is None:
            if kind in ("lsst", "hsc") and math.isinf(key[3]):  # β = ∞: Gaussian
                kernel = gaussian_kernel(key[2] / 2.3548 / (PIXEL_SCALE if kind == "lsst" else self.grid.pixel_scale))
            elif kind == "lsst":
                kernel = moffat_kernel(key[2], key[3], PIXEL_SCALE)
            elif kind == "hsc":
                kernel = moffat_kernel(key[2], key[3], self.grid.pixel_scale, size=int(PSF_SIZE * 1.2) | 1)
            else:  # degradation kernel: Gaussian adding the missing FWHM in quadrature
                kernel = gaussian_kernel(key[2] / 2.3548 / self.grid.pixel_scale)
            if len(self._psf_cache) > 4096:
                self._psf_cache.clear()
            self._psf_cache[key] = kernel
        return kernel

    def psf_fwhm(self, scene: Scene) -> np.ndarray:
        """Final LSST-like FWHM per band of this object."""
        return np.array([inst.seeing_fwhm for inst in self.lsst]) * scene.psf_scale

    # ---------------------------------------------------------------- images
    def render(self, scene: Scene, rng: np.random.Generator | None, noise: bool = True,
               lensed_only: bool = False, convolve: bool = True) -> RenderResult:
        """Draw ``scene``; ``rng`` feeds every noise draw (None only with ``noise=False``)."""
        if noise and rng is None:
            raise ValueError("noise=True needs a numpy Generator")
        units, fluxes, comps = self.component_images(scene, lensed_only=lensed_only)
        model = np.einsum("cb,cij->bij", fluxes, units) if len(comps) else np.zeros((5, self.grid.n, self.grid.n))
        fwhm = self.psf_fwhm(scene)
        if self.domain == "slsim":
            image = np.empty_like(model)
            for b in range(len(BANDS)):
                image[b] = (fftconvolve(model[b], self._kernel("lsst", b, fwhm[b], scene.psf_beta), mode="same")
                            if convolve else model[b])
            image = self._crop(image)
            if noise:
                assert rng is not None, "checked above: noise needs a Generator"
                image = self._add_lsst_noise(image, rng, extra_background=None)
        else:
            image = self._degrade_hsc(model, fwhm, scene.psf_beta, rng, noise, convolve)
        roles = tuple(c.role for c in comps)
        lensed = tuple(c.role for c in comps if c.lensed)
        return RenderResult(image.astype(np.float32), roles, lensed, fwhm)

    def _crop(self, image: np.ndarray) -> np.ndarray:
        m = (image.shape[-1] - STAMP_SIZE) // 2
        return image[..., m : m + STAMP_SIZE, m : m + STAMP_SIZE]

    def noise_variance(self, image: np.ndarray, extra_background: np.ndarray | None = None) -> np.ndarray:
        """Per-pixel variance (nJy²) of the LSST noise :meth:`render` adds to the noiseless ``(5, H, W)`` ``image``."""
        var = np.empty(image.shape, dtype=np.result_type(image.dtype, np.float32))  # the image's float dtype: same bytes
        for b, inst in enumerate(self.lsst):
            bkg_var = inst.background_rms**2 if extra_background is None else extra_background[b] ** 2
            var[b] = bkg_var + np.clip(image[b], 0.0, None) * inst.poisson_njy_per_count
        return var

    def _add_lsst_noise(self, image: np.ndarray, rng: np.random.Generator, extra_background: np.ndarray | None) -> np.ndarray:
        """Sky/read noise + Gaussian-approximated shot noise of the sources, per band."""
        out = image.copy()
        var = self.noise_variance(image, extra_background)
        for b in range(len(self.lsst)):
            out[b] += rng.standard_normal(image[b].shape) * np.sqrt(var[b])
        return out

    def _degrade_hsc(self, model: np.ndarray, fwhm_lsst: np.ndarray, beta: float,
                     rng: np.random.Generator | None, noise: bool, convolve: bool) -> np.ndarray:
        """HSC-like image (sharp, deep, 0.168″) → LSST seeing, 0.2″ pixels and LSST depth."""
        r = self.resample
        assert r is not None
        out = np.empty((len(BANDS), STAMP_SIZE, STAMP_SIZE))
        extra_rms = np.empty(len(BANDS))
        for b, (hsc, lsst) in enumerate(zip(self.hsc, self.lsst, strict=True)):
            fwhm_hsc = min(hsc.seeing_fwhm * math.sqrt(fwhm_lsst[b] / lsst.seeing_fwhm), 0.92 * fwhm_lsst[b])
            image = model[b]
            if convolve:
                image = fftconvolve(image, self._kernel("hsc", b, fwhm_hsc, max(beta - 0.5, 2.0)), mode="same")
            if noise:
                assert rng is not None, "checked in render: noise needs a Generator"
                hsc_var = hsc.background_rms**2 + np.clip(image, 0, None) * HSC_SHOT_NOISE_FACTOR * lsst.poisson_njy_per_count
                image = image + rng.standard_normal(image.shape) * np.sqrt(hsc_var)
            matching_fwhm = math.sqrt(max(fwhm_lsst[b] ** 2 - fwhm_hsc**2, 0.0))
            kernel = self._kernel("match", b, matching_fwhm, 0.0) if convolve else np.ones((1, 1))
            if kernel.size > 1:
                image = fftconvolve(image, kernel, mode="same")
            image = r @ image @ r.T
            out[b] = self._crop(image)
            # White HSC noise after the match kernel and the resampling (both linear).
            carried = hsc.background_rms**2 * float((kernel**2).sum()) * float((r**2).sum(axis=1).mean()) ** 2
            extra_rms[b] = math.sqrt(max(lsst.background_rms**2 - carried, 0.0))
        if noise:
            assert rng is not None, "checked in render: noise needs a Generator"
            out = self._add_lsst_noise(out, rng, extra_background=extra_rms)
        return out

    # ---------------------------------------------------------------- selection
    def arc_statistics(self, scene: Scene, bands: tuple[str, ...] = ("g", "r", "i"),
                       confusion: float = 0.5) -> tuple[float, float]:
        """(S/N of the lensed light against sky *and* the deflector, i-band magnification).

        Noise per pixel is ``sqrt(sky² + (confusion × unlensed light)²)``: an arc on top of a
        bright deflector counts only where it stands out of the residuals a smooth deflector
        model would leave (SLSim's arc/lens contrast cut in spirit). Computed on the LSST grid
        with the LSST PSF for both domains: it is a selection statistic, and the final noise
        of both domains is LSST's.
        """
        units, fluxes, comps = self.component_images(scene)
        lensed = np.array([c.lensed for c in comps])
        if not lensed.any():
            return 0.0, 0.0
        i = BANDS.index("i")
        lensed_i = fluxes[lensed, i]
        magnification = float((units[lensed].sum(axis=(1, 2)) * lensed_i).sum() / lensed_i.sum())
        fwhm = self.psf_fwhm(scene)
        snr2 = 0.0
        for band in bands:
            b = BANDS.index(band)
            kernel = self._kernel("lsst", b, fwhm[b], scene.psf_beta)
            pair = [np.einsum("c,cij->ij", fluxes[mask, b], units[mask]) for mask in (lensed, ~lensed)]
            arc, light = (self._crop(fftconvolve(self._to_lsst_grid(m), kernel, mode="same")) for m in pair)
            var = self.lsst[b].background_rms ** 2 + (confusion * light) ** 2
            snr2 += float((arc**2 / var).sum())
        return math.sqrt(snr2), magnification

    def _to_lsst_grid(self, model: np.ndarray) -> np.ndarray:
        return model if self.resample is None else self.resample @ model @ self.resample.T
