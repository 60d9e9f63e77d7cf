"""SkyPy's galaxy models, drawn without SkyPy: the red deflectors and blue sources SLSim's catalogues hold.

The SLSim engine (:mod:`brahmasifier.simulation.slsim_engine`) draws a SkyPy catalogue per
realisation; our engine draws the same *models* galaxy by galaxy, so that its lenses look like
SLSim's and stay fast (no catalogue, no SkyPy at run time):

- redshift and absolute B magnitude from the Schechter luminosity functions of López-Sanjuan
  et al. 2017 (red: quiescent; blue: with SLSim 0.1.1's DP0-matched evolution, ``blue_model="dp0"``),
  weighted by the comoving volume — the values of :mod:`.slsim_engine.skypy_config`;
- spectra as Dirichlet mixtures of the five kcorrect templates (Herbel et al. 2017 parameters),
  apparent LSST magnitudes and stellar masses exactly as ``skypy.utils.photometry.mag_ab`` and
  ``KCorrectTemplates.stellar_mass`` compute them, from the template maggies tabulated by
  ``experiments/make_skypy_tables.py`` (``data/skypy_tables.npz``; a test compares with SkyPy);
- deflector sizes from Shen et al. 2003 (early type, SkyPy's ``early_type_lognormal_size``),
  source sizes from SLSim's ``Galaxies(source_size="Bernardi")`` relation, ellipticities from
  SkyPy's ``beta_ellipticity`` turned into an axis ratio as SLSim does (``epsilon2e``);
- deflector velocity dispersions from SLSim's abundance matching, one tabulated curve per SLSim
  engine catalogue realisation: the matching's high-mass end varies a lot between realisations
  and coherently within one, and the SLSim engine takes the same number of lenses from each, so
  a lens draws one curve (uniformly) and its deflector with it.

Deflectors are drawn with weight ∝ θ_E(z_s → ∞)² (the area in which SLSim's ``LensPop`` places
test sources), through a proposal on a (z, M_B) grid thinned by the exact weight; sources
from the volume-weighted luminosity function within SLSim's source cuts. All randomness comes
from the passed ``numpy.random.Generator``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from brahmasifier.simulation.cosmology import ARCSEC_PER_RAD, SPEED_OF_LIGHT_KMS, comoving_distances, comoving_volume_element

__all__ = [
    "BLUE", "RED", "Galaxies", "GalaxyModel", "draw_blue_with_magnitude", "draw_deflector_candidates", "draw_sources",
    "n_sigma_curves", "photometry", "theta_e_infinity", "velocity_dispersion",
]

_BANDS = 5
#: Catalogue cuts of SLSim's galaxy-galaxy tutorial (SlsimConfig's defaults): g < 26 for both.
G_LIMIT = 26.0


@dataclass(frozen=True)
class GalaxyModel:
    """One SkyPy galaxy population: Schechter LF in M_B, Dirichlet SED coefficients, ellipticity."""

    name: str
    m_star: tuple[float, ...]  # polynomial in z (c0, c1, ...) of M*(z)
    phi_star: float  # Mpc^-3
    phi_tau: float  # φ*(z) = phi_star exp(-z / phi_tau)
    alpha: float
    alpha0: tuple[float, ...]
    alpha1: tuple[float, ...]
    weight: tuple[float, ...]
    e_ratio: float
    e_sum: float
    z_min: float
    z_max: float

    def schechter(self, m_abs: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Number density per unit magnitude, φ(M_B; z), in Mpc⁻³."""
        m_star = np.polyval(self.m_star[::-1], z)
        x = 10.0 ** (0.4 * (m_star - m_abs))
        return 0.4 * math.log(10.0) * self.phi_star * np.exp(-z / self.phi_tau) * x ** (self.alpha + 1.0) * np.exp(-x)


#: Quiescent (deflectors), SLSim's deflector cut 0.01 < z < 2.5.
RED = GalaxyModel("red", (-20.46, -0.80), 2.78612e-3, 1.05925, -0.53,
                  (2.461, 2.358, 2.568, 2.268, 2.402), (2.410, 2.340, 2.200, 2.540, 2.464),
                  (3.84e09, 1.57e06, 3.91e08, 4.66e10, 3.03e07), 0.2, 7.0, 0.01, 2.5)
#: Star-forming (sources), SLSim 0.1.1's DP0 evolution, source cut 0.1 < z < 5.
BLUE = GalaxyModel("blue", (-20.485, -2.03, 0.49, -0.03), 2.00608e-3, 43.42936, -1.29,
                   (2.079, 3.524, 1.917, 1.992, 2.536), (2.265, 3.862, 1.921, 1.685, 2.480),
                   (3.47e09, 3.31e06, 2.13e09, 1.64e10, 1.01e09), 0.45, 3.5, 0.1, 5.0)

# Shen et al. 2003 early-type sizes (SkyPy's documented example): log10 R = -0.4 a M + b.
_SHEN = {"a": 0.60, "b": -4.63, "M0": -20.52, "sigma1": 0.48, "sigma2": 0.25}
_M_GRID_STEP, _Z_GRID_STEP = 0.02, 0.01
_M_BRIGHT = -26.0


@dataclass
class Galaxies:
    """A batch of drawn galaxies (arrays of one length)."""

    z: np.ndarray
    m_abs: np.ndarray  # absolute B magnitude
    mags: np.ndarray  # (n, 5) apparent AB g, r, i, z, y
    log_mstar: np.ndarray
    r_eff: np.ndarray  # arcsec, Sérsic half-light radius
    q: np.ndarray  # axis ratio
    phi: np.ndarray  # radians, lenstronomy angle

    def __len__(self) -> int:
        return len(self.z)

    def take(self, index: np.ndarray) -> Galaxies:
        """The galaxies at ``index``."""
        return Galaxies(*(getattr(self, f)[index] for f in ("z", "m_abs", "mags", "log_mstar", "r_eff", "q", "phi")))


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, np.ndarray]:
    with resources.files("brahmasifier.simulation").joinpath("data/skypy_tables.npz").open("rb") as fh, \
            np.load(fh) as data:
        return {k: np.asarray(data[k], dtype=np.float64) for k in data.files}


def _distmod(z: np.ndarray) -> np.ndarray:
    return 5.0 * np.log10(np.maximum(comoving_distances(z) * (1.0 + z), 1e-6) * 1e5)


def _dirichlet(rng: np.random.Generator, model: GalaxyModel, z: np.ndarray) -> np.ndarray:
    """SkyPy's ``dirichlet_coefficients``: α(z) = α0^(1-z) α1^z, gamma draws × weights, normalised."""
    zz = z[:, None]
    alpha = np.power(model.alpha0, 1.0 - zz) * np.power(model.alpha1, zz)
    coeff = rng.gamma(alpha) * np.asarray(model.weight)
    return coeff / coeff.sum(axis=1, keepdims=True)


def _template_maggies(z: np.ndarray) -> np.ndarray:
    """(n, 5 templates, 5 bands) maggies at ``z``, interpolated linearly like SkyPy's ``mag_ab``."""
    t = _tables()
    grid = t["z"]
    u, n = np.modf(np.interp(z, grid, np.arange(grid.size)))
    n = n.astype(int)
    nxt = np.minimum(n + 1, grid.size - 1)
    return t["maggies"][n] + u[:, None, None] * (t["maggies"][nxt] - t["maggies"][n])


def photometry(coeff: np.ndarray, z: np.ndarray, m_abs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apparent LSST magnitudes (n, 5) and log10 stellar mass of galaxies (SkyPy's kcorrect photometry).

    Args:
        coeff: (n, 5) template coefficients.
        z: redshifts.
        m_abs: absolute B-band magnitudes.

    Returns:
        ``(mags, log10 M*)``: ``m = -2.5 log10(Σ c F(z)) - 2.5 log10(1+z) + DM(z) - 2.5 log10 M*``, with
        ``M* = 10^(0.4 (M_t - M_B))`` and ``M_t = -2.5 log10(Σ c B_rest)``.
    """
    t = _tables()
    m_t = -2.5 * np.log10(coeff @ t["rest_b"])
    log_mstar = 0.4 * (m_t - m_abs)
    flux = np.einsum("nk,nkb->nb", coeff, _template_maggies(z))
    mags = -2.5 * np.log10(flux) + (-2.5 * np.log10(1.0 + z) + _distmod(z) - 2.5 * log_mstar)[:, None]
    return mags, log_mstar


def theta_e_infinity(sigma: np.ndarray) -> np.ndarray:
    """SIS Einstein radius (arcsec) of velocity dispersion ``sigma`` (km/s) for a source at infinity."""
    return 4.0 * math.pi * (np.asarray(sigma) / SPEED_OF_LIGHT_KMS) ** 2 * ARCSEC_PER_RAD


def n_sigma_curves() -> int:
    """Number of tabulated σ(M*) curves (one per SLSim engine catalogue realisation)."""
    return int(_tables()["log_sigma"].shape[0])


def velocity_dispersion(log_mstar: np.ndarray, curve: int) -> np.ndarray:
    """SLSim's abundance-matched σ(M*) in km/s, of realisation curve ``curve`` (:func:`n_sigma_curves`)."""
    t = _tables()
    return 10.0 ** np.interp(log_mstar, t["log_mstar"], t["log_sigma"][curve])


def _axis_ratio(rng: np.random.Generator, model: GalaxyModel, n: int) -> np.ndarray:
    """SkyPy ``beta_ellipticity`` ε = (1-q²)/(1+q²), then SLSim's ``epsilon2e`` and q = (1-e)/(1+e)."""
    eps = np.clip(rng.beta(model.e_sum * model.e_ratio, model.e_sum * (1.0 - model.e_ratio), n), 1e-9, 1.0)
    e = (1.0 - np.sqrt(1.0 - eps**2)) / eps
    return (1.0 - e) / (1.0 + e)


def _angular(kpc: np.ndarray, z: np.ndarray) -> np.ndarray:
    d_a_kpc = comoving_distances(z) / (1.0 + z) * 1e3
    return np.arctan(kpc / d_a_kpc) * ARCSEC_PER_RAD


def _red_sizes(rng: np.random.Generator, m_abs: np.ndarray, z: np.ndarray) -> np.ndarray:
    a, b, m0, s1, s2 = (_SHEN[k] for k in ("a", "b", "M0", "sigma1", "sigma2"))
    r_bar = 10.0 ** (-0.4 * a * m_abs + b)
    sigma = s2 + (s1 - s2) / (1.0 + 10.0 ** (-0.8 * (m_abs - m0)))
    return _angular(r_bar * np.exp(sigma * rng.standard_normal(len(z))), z)


def _bernardi_sizes(mag_g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """SLSim's source size (``param_util.galaxy_size``, Bernardi et al. 2003 as in Oguri 2006), arcsec."""
    d_l = comoving_distances(z) * (1.0 + z)
    lum = 10.0 ** (-0.4 * (mag_g - 5.0 * np.log10(d_l) - 25.0 - 5.48))
    r_kpc = 10.0**0.52 * (lum / 10.0**10.2) ** (2.0 / 3.0) / (1.0 + z) ** 2
    return r_kpc / (comoving_distances(z) / (1.0 + z) * 1e3) * ARCSEC_PER_RAD


def _finish(rng: np.random.Generator, model: GalaxyModel, z: np.ndarray, m_abs: np.ndarray, mags: np.ndarray,
            log_mstar: np.ndarray) -> Galaxies:
    n = len(z)
    r_eff = _red_sizes(rng, m_abs, z) if model is RED else _bernardi_sizes(mags[:, 0], z)
    return Galaxies(z, m_abs, mags, log_mstar, r_eff, _axis_ratio(rng, model, n), rng.uniform(0.0, math.pi, n))


@functools.lru_cache(maxsize=4)
def _proposal(model: GalaxyModel, lens_weighted: bool, theta_min: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z cell centres, M cell centres, cumulative cell probabilities, z-major) of the grid proposal."""
    t = _tables()
    z = np.arange(model.z_min + _Z_GRID_STEP / 2, model.z_max, _Z_GRID_STEP)
    m = np.arange(_M_BRIGHT + _M_GRID_STEP / 2, -10.0, _M_GRID_STEP)
    density = model.schechter(m[None, :], z[:, None]) * comoving_volume_element(z)[:, None]
    # Brightest g reachable at (z, M_B) by any template mixture: cells that can never pass g < 26 get no weight.
    ratio = _template_maggies(z)[:, :, 0] / t["rest_b"][None, :]
    g_best = m[None, :] + (_distmod(z) - 2.5 * np.log10(1.0 + z) - 2.5 * np.log10(ratio.max(axis=1)))[:, None]
    density = np.where(g_best - _M_GRID_STEP < G_LIMIT, density, 0.0)
    if lens_weighted:
        bound = _theta_bound(m)
        density = density * np.where(bound >= theta_min, bound**2, 0.0)[None, :]
    cdf = np.cumsum(density.ravel())
    return z, m, cdf / cdf[-1]


def _theta_bound(m_abs: np.ndarray) -> np.ndarray:
    """Largest θ_E(∞) a red galaxy of absolute magnitude ``m_abs`` can have (heaviest template, any σ curve)."""
    t = _tables()
    log_mstar_max = 0.4 * (-2.5 * np.log10(t["rest_b"].min()) - m_abs)
    return theta_e_infinity(10.0 ** np.interp(log_mstar_max, t["log_mstar"], t["log_sigma"].max(axis=0)))


def _propose(rng: np.random.Generator, model: GalaxyModel, n: int, lens_weighted: bool = False, theta_min: float = 0.0,
             z_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    z, m, cdf = _proposal(model, lens_weighted, theta_min)
    top = 1.0
    if z_max is not None:
        n_z = int(np.searchsorted(z + _Z_GRID_STEP / 2, z_max))
        if n_z == 0:
            return np.array([]), np.array([])
        top = float(cdf[n_z * len(m) - 1])
    cell = np.minimum(np.searchsorted(cdf, rng.uniform(0.0, top, n), side="right"), cdf.size - 1)
    iz, im = np.divmod(cell, len(m))
    zz = z[iz] + rng.uniform(-0.5, 0.5, n) * _Z_GRID_STEP
    if z_max is not None:
        zz = np.minimum(zz, z_max)
    return zz, m[im] + rng.uniform(-0.5, 0.5, n) * _M_GRID_STEP


def draw_deflector_candidates(rng: np.random.Generator, n: int, theta_min: float, curve: int) -> tuple[Galaxies, np.ndarray]:
    """Red galaxies weighted by θ_E(∞)² (SLSim's test area), with θ_E(∞) ≥ ``theta_min`` and g < 26.

    Args:
        rng: the generator.
        n: proposals to make; fewer are returned (thinning).
        theta_min: smallest θ_E(∞) of interest (half SLSim's minimum image separation).
        curve: which realisation's σ(M*) to use (:func:`velocity_dispersion`).

    Returns:
        ``(galaxies, sigma)`` of the accepted proposals (possibly none).
    """
    z, m_abs = _propose(rng, RED, n, lens_weighted=True, theta_min=theta_min)
    mags, log_mstar = photometry(_dirichlet(rng, RED, z), z, m_abs)
    sigma = velocity_dispersion(log_mstar, curve)
    theta = theta_e_infinity(sigma)
    keep = (rng.uniform(size=n) * _theta_bound(m_abs) ** 2 < theta**2) & (theta >= theta_min) & (mags[:, 0] < G_LIMIT)
    keep &= (z > RED.z_min) & (z < RED.z_max)
    idx = np.flatnonzero(keep)
    galaxies = _finish(rng, RED, z[idx], m_abs[idx], mags[idx], log_mstar[idx])
    return galaxies, sigma[idx]


def draw_sources(rng: np.random.Generator, n: int, z_max: float | None = None) -> Galaxies:
    """Blue galaxies of SLSim's source population (g < 26, 0.1 < z < 5), optionally below ``z_max``.

    Args:
        rng: the generator.
        n: proposals to make; those with g ≥ 26 are dropped, so fewer may be returned.
        z_max: only galaxies in front of this redshift (a false positive's companions).

    Returns:
        The accepted galaxies.
    """
    z, m_abs = _propose(rng, BLUE, n, z_max=z_max)
    if len(z) == 0:
        return _finish(rng, BLUE, z, m_abs, np.empty((0, _BANDS)), z)
    mags, log_mstar = photometry(_dirichlet(rng, BLUE, z), z, m_abs)
    idx = np.flatnonzero(mags[:, 0] < G_LIMIT)
    return _finish(rng, BLUE, z[idx], m_abs[idx], mags[idx], log_mstar[idx])


def draw_blue_with_magnitude(rng: np.random.Generator, mag_i: float, n_proposals: int = 512) -> Galaxies:
    """One blue galaxy of the source population with i-band magnitude ``mag_i`` (importance resampling).

    Proposals: z uniform in the source range and Dirichlet coefficients; M_B follows from ``mag_i``;
    weight φ(M_B; z) dV/dz within the g cut. One proposal is chosen with probability ∝ weight, i.e.
    from the population's distribution at that magnitude (SLSim: the catalogue galaxy closest in i).

    Args:
        rng: the generator.
        mag_i: the wanted apparent i magnitude.
        n_proposals: proposals per try.

    Returns:
        A batch of one galaxy.
    """
    for _ in range(20):
        z = rng.uniform(BLUE.z_min, BLUE.z_max, n_proposals)
        coeff = _dirichlet(rng, BLUE, z)
        mags0, _ = photometry(coeff, z, np.zeros(n_proposals))  # magnitudes at M_B = 0
        m_abs = mag_i - mags0[:, 2]
        mags, log_mstar = photometry(coeff, z, m_abs)
        weight = BLUE.schechter(m_abs, z) * comoving_volume_element(z) * (mags[:, 0] < G_LIMIT)
        if weight.sum() > 0:
            k = int(rng.choice(n_proposals, p=weight / weight.sum()))
            return _finish(rng, BLUE, z[[k]], m_abs[[k]], mags[[k]], log_mstar[[k]])
    raise ValueError(f"no blue galaxy of the source population has i = {mag_i:.2f} within g < {G_LIMIT}")
