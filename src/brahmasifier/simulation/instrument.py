"""Per-band instrument descriptions, kept as data apart from the lensing physics.

Pixel values everywhere in the simulator are **nJy per pixel** (what Rubin DP0 coadds use):
an AB magnitude ``m`` is ``10 ** ((31.4 - m) / 2.5)`` nJy. :data:`NJY_ZERO_POINT` is the
``ZP`` written into every band file's header.

LSST numbers are lenstronomy's ``SimulationAPI.ObservationConfig.LSST`` settings with
``coadd_years=1`` (``num_exposures = 10-year visits // 10``; a test checks they still match
the installed lenstronomy). Their 5σ point-source depths come out ~0.2–0.4 mag deeper than
the published Rubin 1-year coadd depths; we keep lenstronomy's values and say so here.

HSC numbers describe the *input* of the degraded-HSC domain (finer 0.168″ pixels, sharper
~0.6″ seeing, deeper); the degraded images end at LSST seeing, pixel scale and depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from brahmasifier.bands import BANDS, PIXEL_SCALE

__all__ = [
    "HSC_INPUT", "LSST_1YR", "NJY_ZERO_POINT", "PIXEL_UNIT", "BandInstrument", "HscBand", "check_instruments",
    "mag_to_njy", "njy_to_mag",
]

#: AB magnitude of 1 nJy: ``m = NJY_ZERO_POINT - 2.5 log10(flux / nJy)``.
NJY_ZERO_POINT: float = 31.4
#: Unit of pixel values in written files (FITS ``BUNIT``).
PIXEL_UNIT: str = "nJy"


def mag_to_njy(magnitude: float) -> float:
    """Flux in nJy of an AB magnitude."""
    return 10.0 ** ((NJY_ZERO_POINT - magnitude) / 2.5)


def njy_to_mag(flux_njy: float) -> float:
    """AB magnitude of a flux in nJy (``-999`` style callers must handle flux <= 0)."""
    return NJY_ZERO_POINT - 2.5 * math.log10(flux_njy)


@dataclass(frozen=True)
class BandInstrument:
    """One LSST band's observing setup (lenstronomy ``SingleBand`` conventions, electrons)."""

    band: str
    magnitude_zero_point: float  # AB mag giving 1 e-/s
    sky_brightness: float  # AB mag / arcsec^2
    seeing_fwhm: float  # arcsec, median PSF FWHM
    exposure_time: float  # s, per exposure
    num_exposures: int
    read_noise: float = 10.0  # e- per exposure
    pixel_scale: float = PIXEL_SCALE
    moffat_beta: float = 3.5  # median Moffat index of the PSF wings

    @property
    def total_exposure_time(self) -> float:
        """Summed exposure time of the coadd (s)."""
        return self.exposure_time * self.num_exposures

    @property
    def njy_per_count_rate(self) -> float:
        """NJy corresponding to 1 e-/s."""
        return 10.0 ** ((NJY_ZERO_POINT - self.magnitude_zero_point) / 2.5)

    @property
    def background_rms_cps(self) -> float:
        """Sky + read noise per pixel in e-/s (same formula as lenstronomy's ``bkg_noise``)."""
        t = self.total_exposure_time
        sky_cps = 10.0 ** (-0.4 * (self.sky_brightness - self.magnitude_zero_point)) * self.pixel_scale**2
        return math.sqrt(self.num_exposures * self.read_noise**2 + t * sky_cps) / t

    @property
    def background_rms(self) -> float:
        """Sky + read noise per pixel in nJy."""
        return self.background_rms_cps * self.njy_per_count_rate

    @property
    def poisson_njy_per_count(self) -> float:
        """Variance factor of source shot noise: ``var[nJy^2] = flux[nJy] * this``."""
        return self.njy_per_count_rate / self.total_exposure_time

    def point_source_depth(self, n_sigma: float = 5.0) -> float:
        """Background-limited ``n_sigma`` point-source magnitude for a Gaussian PSF of this seeing."""
        sigma_pix = self.seeing_fwhm / 2.3548 / self.pixel_scale
        n_eff = 4.0 * math.pi * sigma_pix**2
        return njy_to_mag(n_sigma * self.background_rms * math.sqrt(n_eff))


#: LSST 1-year coadd settings (lenstronomy ObservationConfig.LSST, coadd_years=1).
LSST_1YR: dict[str, BandInstrument] = {
    "g": BandInstrument("g", 28.30, 22.26, 0.77, 15.0, 20),
    "r": BandInstrument("r", 28.13, 21.20, 0.73, 15.0, 46),
    "i": BandInstrument("i", 27.79, 20.48, 0.71, 15.0, 46),
    "z": BandInstrument("z", 27.40, 19.60, 0.69, 15.0, 40),
    "y": BandInstrument("y", 26.58, 18.61, 0.68, 15.0, 40),
}


@dataclass(frozen=True)
class HscBand:
    """One band of the sharper, deeper HSC-like images that the HSC domain degrades."""

    band: str
    seeing_fwhm: float  # arcsec (HSC COSMOS/Deep-like good seeing)
    depth_5sigma: float  # AB mag, 5σ point source
    pixel_scale: float = 0.168
    moffat_beta: float = 3.0

    @property
    def background_rms(self) -> float:
        """Background noise per HSC pixel in nJy implied by the 5σ depth."""
        sigma_pix = self.seeing_fwhm / 2.3548 / self.pixel_scale
        n_eff = 4.0 * math.pi * sigma_pix**2
        return mag_to_njy(self.depth_5sigma) / 5.0 / math.sqrt(n_eff)


#: HSC-SSP-like input (Aihara et al. PDR3 Deep/UltraDeep-like depths, good seeing).
HSC_INPUT: dict[str, HscBand] = {
    "g": HscBand("g", 0.66, 27.0),
    "r": HscBand("r", 0.62, 26.8),
    "i": HscBand("i", 0.56, 26.5),
    "z": HscBand("z", 0.60, 26.0),
    "y": HscBand("y", 0.62, 25.3),
}


def check_instruments() -> None:
    """Fail loudly if a band table does not cover exactly :data:`BANDS`."""
    for name, table in (("LSST_1YR", LSST_1YR), ("HSC_INPUT", HSC_INPUT)):
        if tuple(table) != BANDS:
            raise ValueError(f"{name} bands {tuple(table)} != {BANDS}")


check_instruments()
