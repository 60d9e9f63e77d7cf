"""Physical populations: what is in a cutout, before any pixel is drawn.

A draw returns a :class:`Scene`: the mass model (lenses only), a list of light components
(each with a flux per band in nJy and a flag saying whether it is seen through the lens)
and the catalogue row with the challenge's column names. Pixels are made by
:mod:`brahmasifier.simulation.render`; nothing here depends on lenstronomy.

Conventions (also in the docs): ellipticities are ``(1-q)/(1+q)``, position angles are in
radians counter-clockwise from the +x axis, positions in arcsec from the stamp centre,
magnitudes AB, sizes are Sérsic half-light radii along the intermediate axis (lenstronomy).

The relations are simple but physical:
- deflectors: redshift and velocity dispersion → Einstein radius with a flat ΛCDM
  (θ_E = 4π (σ/c)² D_ls/D_s), Faber–Jackson luminosity with passive evolution, an
  early-type colour track and K-correction, a σ–size relation;
- sources: Schechter luminosity function, flat-f_ν blue colours (g−i < 1.5), a size–luminosity
  relation shrinking with (1+z), optional star-forming clumps that are bluer still;
- non-lenses: the same elliptical population plus spirals, ring galaxies, edge-on discs,
  ellipticals with blue unlensed companions where arcs would be, mergers with tidal arcs,
  and random faint galaxies.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from brahmasifier.bands import BANDS, MISSING_VALUE
from brahmasifier.simulation.instrument import mag_to_njy, njy_to_mag

N_BANDS = len(BANDS)
SPEED_OF_LIGHT_KMS = 299_792.458
ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0

#: Lens parameter columns of the challenge's ``parameters.fits`` (after the ID, RA, Dec).
LENS_COLUMNS: tuple[str, ...] = (
    "Rein", "zlens", "vel disp", "ell_m", "ell_m_PA", "sh", "sh_PA", "ell_l", "ell_l_PA", "Reff_l", "n_l_sers",
    *(f"mag_lens_{b}" for b in BANDS),
    "zsrc", "srcx", "srcy",
    *(f"mag_src_{b}" for b in BANDS),
    "ell_s", "ell_s_PA", "Reff_s", "n_s_sers",
)  # fmt: skip
#: Non-lens parameter columns (after the ID, RA, Dec).
NONLENS_COLUMNS: tuple[str, ...] = ("z_central", *(f"mag_lens_{b}" for b in BANDS))

#: Default non-lens mixes per domain (fractions; normalised when used). The HSC mix follows
#: the data-release note (33% spirals, 30% LRGs incl. blue companions, 5% rings/mergers/
#: features, 32% random galaxies); the SLSim mix leans on hard negatives.
NONLENS_MIX: dict[str, dict[str, float]] = {
    "slsim": {
        "elliptical": 0.25, "elliptical_companion": 0.20, "spiral": 0.15, "ring": 0.06,
        "edge_on": 0.09, "merger": 0.10, "random": 0.15,
    },
    "hsc": {
        "elliptical": 0.15, "elliptical_companion": 0.15, "spiral": 0.33, "ring": 0.02,
        "edge_on": 0.03, "merger": 0.02, "random": 0.30,
    },
}  # fmt: skip


@dataclass(frozen=True)
class PopulationConfig:
    """Knobs of the populations and the lens selection, as data."""

    min_arc_snr: float = 40.0  # S/N of the lensed light over sky + deflector residuals (render.arc_statistics), g+r+i
    min_magnification: float = 2.5  # total magnification: multiple images / arcs, not weak lensing
    min_rein_over_seeing: float = 0.5  # θ_E ≥ this × i-band FWHM
    max_rein: float = 3.0  # arcsec; larger rings do not fit a 41×41 cutout
    mean_neighbours: float = 1.0  # Poisson mean of unrelated field galaxies per cutout
    star_probability: float = 0.12
    max_centre_offset: float = 0.15  # arcsec, random offset of the central object
    nonlens_mix: dict[str, dict[str, float]] = field(default_factory=lambda: {k: dict(v) for k, v in NONLENS_MIX.items()})


@dataclass
class LightComponent:
    """One light profile; ``flux`` is per band in nJy (unlensed flux for lensed components).

    ``profile`` is ``sersic`` (lenstronomy ``SERSIC_ELLIPSE`` keys), ``gaussian``, ``point``,
    ``ring`` (elliptical Gaussian ring, optionally limited in azimuth: a tidal arc) or
    ``spiral`` (a Sérsic disc modulated by logarithmic arms).
    """

    role: str
    profile: str
    params: dict[str, float]
    flux: np.ndarray
    lensed: bool = False


@dataclass
class Scene:
    """Everything needed to draw one cutout and to describe it in the catalogue."""

    label: int  # 1 lens, 0 non-lens
    subtype: str
    lens_kwargs: list[dict[str, float]] | None  # lenstronomy ['SIE', 'SHEAR'] kwargs
    components: list[LightComponent]
    psf_scale: np.ndarray  # (5,) multiplies the instrument's nominal seeing FWHM
    psf_beta: float
    row: dict[str, object]  # catalogue row (challenge column names), without the ID

    @property
    def rein(self) -> float:
        value = self.row.get("Rein", MISSING_VALUE)
        return float(value)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- cosmology
@functools.lru_cache(maxsize=1)
def _distance_table() -> tuple[np.ndarray, np.ndarray]:
    """Comoving distance (Mpc) on a redshift grid, flat ΛCDM H0=70, Ωm=0.3 (astropy)."""
    from astropy.cosmology import FlatLambdaCDM

    z = np.linspace(0.0, 6.0, 1201)
    dc = FlatLambdaCDM(H0=70.0, Om0=0.3).comoving_distance(z).value
    return z, np.asarray(dc, dtype=np.float64)


def comoving_distance(z: float) -> float:
    zg, dc = _distance_table()
    return float(np.interp(z, zg, dc))


def angular_diameter_distance(z1: float, z2: float | None = None) -> float:
    """D_A(z1) or, with z2, D_A(z1, z2) in Mpc (flat universe)."""
    if z2 is None:
        return comoving_distance(z1) / (1.0 + z1)
    return (comoving_distance(z2) - comoving_distance(z1)) / (1.0 + z2)


def distance_modulus(z: float) -> float:
    dl = comoving_distance(z) * (1.0 + z)
    return 5.0 * math.log10(dl * 1e5)


def kpc_per_arcsec(z: float) -> float:
    return angular_diameter_distance(z) * 1e3 / ARCSEC_PER_RAD


def einstein_radius(sigma_kms: float, z_lens: float, z_source: float) -> float:
    """SIS Einstein radius in arcsec: θ_E = 4π (σ/c)² D_ls / D_s."""
    ratio = angular_diameter_distance(z_lens, z_source) / angular_diameter_distance(z_source)
    return 4.0 * math.pi * (sigma_kms / SPEED_OF_LIGHT_KMS) ** 2 * ratio * ARCSEC_PER_RAD


# ----------------------------------------------------------------------------- colours
#: Observed-frame early-type colours (g-r, r-i, i-z, z-y) and r-band K-correction vs z
#: (approximate passive elliptical SED; the 4000 Å break crosses g-r near z≈0.4, r-i near 0.7).
_ETG_Z = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.2])
_ETG_COLOURS = np.array(
    [
        [0.75, 0.38, 0.25, 0.12],
        [0.95, 0.42, 0.28, 0.14],
        [1.45, 0.58, 0.36, 0.20],
        [1.75, 0.90, 0.46, 0.26],
        [1.90, 1.22, 0.62, 0.32],
        [1.98, 1.38, 0.85, 0.42],
        [2.00, 1.45, 1.05, 0.60],
    ]
)
_ETG_KCORR_R = np.array([0.0, 0.12, 0.45, 0.98, 1.48, 1.90, 2.30])


def _mags_from_i_and_colours(mag_i: float, colours: np.ndarray) -> np.ndarray:
    """Band magnitudes (g,r,i,z,y) from i and the 4 adjacent colours."""
    gr, ri, iz, zy = colours
    mag_r = mag_i + ri
    return np.array([mag_r + gr, mag_r, mag_i, mag_i - iz, mag_i - iz - zy])


def etg_colours(rng: np.random.Generator, z: float, scatter: float = 0.06) -> np.ndarray:
    """Observed colours of an early-type galaxy at redshift z, with scatter."""
    base = np.array([np.interp(z, _ETG_Z, _ETG_COLOURS[:, k]) for k in range(4)])
    return base + rng.normal(0.0, scatter, 4)


def blue_colours(rng: np.random.Generator, extra_blue: float = 0.0) -> np.ndarray:
    """Star-forming colours (g-r, r-i, i-z, z-y), g-i < 1.5 (as the HSC lens sources)."""
    colours = np.array(
        [rng.uniform(-0.05, 0.55), rng.uniform(-0.1, 0.45), rng.uniform(-0.1, 0.35), rng.uniform(-0.1, 0.3)]
    )
    colours[:2] -= extra_blue
    return colours


def intermediate_colours(rng: np.random.Generator, z: float) -> np.ndarray:
    """Colours between blue and early-type (discs, bulge+disc mixtures)."""
    w = rng.uniform(0.2, 0.8)
    return w * etg_colours(rng, z) + (1.0 - w) * blue_colours(rng)


def fluxes(mags: np.ndarray) -> np.ndarray:
    return np.array([mag_to_njy(float(m)) for m in mags])


def mags_of(flux: np.ndarray) -> np.ndarray:
    return np.array([njy_to_mag(float(f)) if f > 0 else MISSING_VALUE for f in flux])


# ----------------------------------------------------------------------------- helpers
def ellipticity(q: float, phi: float) -> tuple[float, float, float]:
    """(e1, e2, |e|) of lenstronomy from axis ratio q and angle phi."""
    e = (1.0 - q) / (1.0 + q)
    return e * math.cos(2 * phi), e * math.sin(2 * phi), e


def sersic(role: str, x: float, y: float, r_eff: float, n: float, q: float, phi: float, flux: np.ndarray,
           lensed: bool = False) -> LightComponent:  # fmt: skip
    e1, e2, _ = ellipticity(q, phi)
    params = {"R_sersic": r_eff, "n_sersic": n, "e1": e1, "e2": e2, "center_x": x, "center_y": y}
    return LightComponent(role, "sersic", params, flux, lensed)


def _schechter_mag(rng: np.random.Generator, m_star: float, alpha: float, bright: float, faint: float) -> float:
    """Draw an absolute magnitude from a Schechter function (rejection sampling)."""
    grid = np.linspace(bright, faint, 200)
    x = 10.0 ** (-0.4 * (grid - m_star))
    density = x ** (alpha + 1.0) * np.exp(-x)
    peak = density.max()
    while True:
        m = rng.uniform(bright, faint)
        xv = 10.0 ** (-0.4 * (m - m_star))
        if rng.uniform(0.0, peak) < xv ** (alpha + 1.0) * math.exp(-xv):
            return m


def _psf(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Per-object seeing: a common factor (the night/coadd) and a small per-band jitter."""
    common = math.exp(rng.normal(0.0, 0.10))
    return common * np.exp(rng.normal(0.0, 0.03, N_BANDS)), float(rng.uniform(2.5, 4.5))


def _sky_position(rng: np.random.Generator, domain: str) -> tuple[float, float]:
    """RA/Dec (deg) in a DP0-like field (slsim) or HSC-SSP-like patches (hsc)."""
    if domain == "slsim":
        return float(rng.uniform(50.0, 75.0)), float(rng.uniform(-44.0, -27.0))
    patches = ((150.1, 2.2, 1.0), (34.5, -5.0, 2.0), (214.0, 52.5, 1.0), (180.0, 0.0, 6.0))
    ra0, dec0, size = patches[int(rng.integers(len(patches)))]
    return float(ra0 + rng.uniform(-size, size)), float(dec0 + rng.uniform(-size, size))


def _centre(rng: np.random.Generator, cfg: PopulationConfig) -> tuple[float, float]:
    r = cfg.max_centre_offset * math.sqrt(rng.uniform())
    a = rng.uniform(0, 2 * math.pi)
    return r * math.cos(a), r * math.sin(a)


# ----------------------------------------------------------------------------- elliptical
@dataclass
class Elliptical:
    z: float
    sigma: float
    mags: np.ndarray
    r_eff: float
    n: float
    q: float
    phi: float


def draw_elliptical(rng: np.random.Generator, z: float | None = None, sigma: float | None = None) -> Elliptical:
    """A massive early-type galaxy (the deflector population)."""
    if z is None:
        z = float(np.clip(rng.gamma(4.0, 0.12), 0.1, 1.2))
    if sigma is None:
        sigma = float(np.clip(10 ** rng.normal(math.log10(225.0), 0.08), 140.0, 400.0))
    # Faber-Jackson (L ∝ σ^4) with ~1 mag/unit-z passive brightening.
    abs_r = -21.3 - 10.0 * math.log10(sigma / 225.0) - 1.0 * z + rng.normal(0.0, 0.35)
    mag_r = abs_r + distance_modulus(z) + float(np.interp(z, _ETG_Z, _ETG_KCORR_R))
    colours = etg_colours(rng, z)
    mags = _mags_from_i_and_colours(mag_r - colours[1], colours)
    r_kpc = 4.5 * (sigma / 225.0) ** 1.6 * 10 ** rng.normal(0.0, 0.12)
    r_eff = float(np.clip(r_kpc / kpc_per_arcsec(z), 0.2, 3.0))
    return Elliptical(z, sigma, mags, r_eff, float(rng.uniform(3.0, 6.0)), float(rng.uniform(0.5, 0.98)),
                      float(rng.uniform(0, math.pi)))  # fmt: skip


def _elliptical_component(role: str, e: Elliptical, x: float, y: float) -> LightComponent:
    return sersic(role, x, y, e.r_eff, e.n, e.q, e.phi, fluxes(e.mags))


# ----------------------------------------------------------------------------- lenses
def draw_lens(rng: np.random.Generator, domain: str, cfg: PopulationConfig, seeing_i: float) -> Scene:
    """One lens candidate (deflector + source); the caller checks detectability and may redraw."""
    while True:
        deflector = draw_elliptical(rng, sigma=float(np.clip(10 ** rng.normal(math.log10(240.0), 0.08), 150.0, 400.0)))
        z_src = float(np.clip(0.3 + rng.gamma(3.0, 0.5), 0.4, 5.0))
        if z_src < deflector.z + 0.25:
            continue
        rein = einstein_radius(deflector.sigma, deflector.z, z_src)
        if cfg.min_rein_over_seeing * seeing_i <= rein <= cfg.max_rein:
            break
    x0, y0 = _centre(rng, cfg)
    q_m = float(np.clip(deflector.q + rng.normal(0.0, 0.08), 0.45, 0.99))
    phi_m = deflector.phi + rng.normal(0.0, math.radians(10.0))
    e1m, e2m, ell_m = ellipticity(q_m, phi_m)
    g1, g2 = rng.normal(0.0, 0.035, 2)
    shear = math.hypot(g1, g2)
    lens_kwargs = [
        {"theta_E": rein, "e1": e1m, "e2": e2m, "center_x": x0, "center_y": y0},
        {"gamma1": float(g1), "gamma2": float(g2), "ra_0": x0, "dec_0": y0},
    ]
    source = _draw_source(rng, z_src, x0, y0, rein)
    components = [_elliptical_component("deflector", deflector, x0, y0), *source["components"]]
    psf_scale, beta = _psf(rng)
    row: dict[str, object] = {
        "Rein": rein, "zlens": deflector.z, "vel disp": deflector.sigma,
        "ell_m": ell_m, "ell_m_PA": phi_m % math.pi, "sh": shear, "sh_PA": (0.5 * math.atan2(g2, g1)) % math.pi,
        "ell_l": (1 - deflector.q) / (1 + deflector.q), "ell_l_PA": deflector.phi % math.pi,
        "Reff_l": deflector.r_eff, "n_l_sers": deflector.n,
        **{f"mag_lens_{b}": float(m) for b, m in zip(BANDS, deflector.mags)},
        "zsrc": z_src, "srcx": source["x"], "srcy": source["y"],
        **{f"mag_src_{b}": float(m) for b, m in zip(BANDS, source["mags"])},
        "ell_s": source["ell"], "ell_s_PA": source["phi"] % math.pi, "Reff_s": source["r_eff"], "n_s_sers": source["n"],
    }  # fmt: skip
    return Scene(1, "lens", lens_kwargs, components, psf_scale, beta, row)


def redraw_source(rng: np.random.Generator, scene: Scene) -> Scene:
    """Same deflector, a new source (cheaper than a new system when an arc is too faint)."""
    row = scene.row
    x0, y0 = scene.lens_kwargs[0]["center_x"], scene.lens_kwargs[0]["center_y"]  # type: ignore[index]
    source = _draw_source(rng, float(row["zsrc"]), x0, y0, scene.rein)  # type: ignore[arg-type]
    components = [c for c in scene.components if not c.lensed] + source["components"]
    new_row = dict(row)
    new_row.update({"srcx": source["x"], "srcy": source["y"], "ell_s": source["ell"], "ell_s_PA": source["phi"] % math.pi,
                    "Reff_s": source["r_eff"], "n_s_sers": source["n"],
                    **{f"mag_src_{b}": float(m) for b, m in zip(BANDS, source["mags"])}})  # fmt: skip
    return Scene(1, scene.subtype, scene.lens_kwargs, components, scene.psf_scale, scene.psf_beta, new_row)


def _draw_source(rng: np.random.Generator, z: float, x0: float, y0: float, rein: float) -> dict[str, object]:
    """A blue Sérsic source (+ clumps) placed where it is multiply imaged most of the time."""
    abs_mag = _schechter_mag(rng, -21.3, -1.3, -23.5, -19.5)
    mag_i = abs_mag + distance_modulus(z) - 2.5 * math.log10(1.0 + z)
    colours = blue_colours(rng)
    mags = _mags_from_i_and_colours(mag_i, colours)
    r_kpc = 3.0 * 10 ** (-0.1 * (abs_mag + 21.0)) * (1.0 + z) ** -0.5 * 10 ** rng.normal(0.0, 0.15)
    r_eff = float(np.clip(r_kpc / kpc_per_arcsec(z), 0.05, 1.0))
    n = float(rng.uniform(0.5, 2.0))
    q = float(rng.uniform(0.4, 1.0))
    phi = float(rng.uniform(0, math.pi))
    radius = rein * 0.6 * math.sqrt(rng.uniform())
    angle = rng.uniform(0, 2 * math.pi)
    xs, ys = x0 + radius * math.cos(angle), y0 + radius * math.sin(angle)
    total = fluxes(mags)
    n_clumps = int(min(rng.poisson(1.2), 4))
    clump_fracs = rng.uniform(0.03, 0.10, n_clumps)
    components = [sersic("source", xs, ys, r_eff, n, q, phi, total * (1.0 - clump_fracs.sum()), lensed=True)]
    for frac in clump_fracs:
        clump_colours = blue_colours(rng, extra_blue=0.25)
        shape = fluxes(_mags_from_i_and_colours(0.0, clump_colours))
        shape = shape / shape[2]
        cx, cy = rng.normal(0.0, r_eff, 2)
        params = {"sigma": float(rng.uniform(0.02, 0.06)), "center_x": xs + cx, "center_y": ys + cy}
        components.append(LightComponent("source_clump", "gaussian", params, total[2] * frac * shape, lensed=True))
    e = (1 - q) / (1 + q)
    all_mags = mags_of(sum(c.flux for c in components))
    return {"components": components, "x": xs, "y": ys, "mags": all_mags, "r_eff": r_eff, "n": n, "ell": e, "phi": phi}


# ----------------------------------------------------------------------------- non-lenses
def _random_galaxy(rng: np.random.Generator, role: str, x: float, y: float, mag_i: float, z: float) -> LightComponent:
    red = rng.uniform() < 0.4
    colours = etg_colours(rng, z) if red else blue_colours(rng)
    n = float(rng.uniform(2.5, 5.0) if red else rng.uniform(0.6, 2.0))
    r_eff = float(np.clip(10 ** rng.normal(math.log10(0.45), 0.2) * 10 ** (-0.1 * (mag_i - 22.0)), 0.1, 2.0))
    return sersic(role, x, y, r_eff, n, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, math.pi)),
                  fluxes(_mags_from_i_and_colours(mag_i, colours)))  # fmt: skip


def _disc_galaxy(rng: np.random.Generator, x: float, y: float, z: float, mag_i: float, q: float,
                 arms: bool) -> list[LightComponent]:  # fmt: skip
    """Bulge + exponential disc (+ blue spiral arms)."""
    phi = float(rng.uniform(0, math.pi))
    bulge_frac = rng.uniform(0.1, 0.5)
    total_i = mag_to_njy(mag_i)
    r_disc = float(np.clip(10 ** rng.normal(math.log10(0.9), 0.15) * 10 ** (-0.12 * (mag_i - 20.5)), 0.3, 2.5))
    bulge_flux = fluxes(_mags_from_i_and_colours(0.0, etg_colours(rng, z)))
    bulge_flux *= total_i * bulge_frac / bulge_flux[2]
    disc_flux = fluxes(_mags_from_i_and_colours(0.0, intermediate_colours(rng, z)))
    arm_frac = rng.uniform(0.25, 0.5) if arms else 0.0
    disc_flux *= total_i * (1 - bulge_frac) * (1 - arm_frac) / disc_flux[2]
    out = [
        sersic("bulge", x, y, r_disc * rng.uniform(0.15, 0.35), float(rng.uniform(2.5, 4.0)), min(1.0, q + 0.3), phi,
               bulge_flux),
        sersic("disc", x, y, r_disc, 1.0, q, phi, disc_flux),
    ]  # fmt: skip
    if arms:
        arm_flux = fluxes(_mags_from_i_and_colours(0.0, blue_colours(rng, extra_blue=0.1)))
        arm_flux *= total_i * (1 - bulge_frac) * arm_frac / arm_flux[2]
        e1, e2, _ = ellipticity(q, phi)
        params = {"R_sersic": r_disc * 1.2, "n_sersic": 1.0, "e1": e1, "e2": e2, "center_x": x, "center_y": y,
                  "n_arms": float(rng.choice([2, 2, 3])), "pitch": float(rng.uniform(0.2, 0.45)),
                  "phase": float(rng.uniform(0, 2 * math.pi)), "sharpness": float(rng.uniform(2.0, 6.0))}  # fmt: skip
        out.append(LightComponent("spiral_arms", "spiral", params, arm_flux))
    return out


def draw_nonlens(rng: np.random.Generator, domain: str, cfg: PopulationConfig) -> Scene:
    """One non-lens of a subtype drawn from the domain's mix."""
    mix = cfg.nonlens_mix[domain]
    names = list(mix)
    weights = np.array([mix[n] for n in names], dtype=float)
    subtype = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    x0, y0 = _centre(rng, cfg)
    comps: list[LightComponent]
    if subtype in ("elliptical", "elliptical_companion"):
        e = draw_elliptical(rng, sigma=float(np.clip(10 ** rng.normal(math.log10(245.0), 0.08), 150.0, 400.0)))
        z = e.z
        comps = [_elliptical_component("central", e, x0, y0)]
        if subtype == "elliptical_companion":
            for _ in range(int(rng.integers(1, 4))):
                r = rng.uniform(0.7, 2.6)
                a = rng.uniform(0, 2 * math.pi)
                mag_i = rng.uniform(21.5, 25.0)
                flux = fluxes(_mags_from_i_and_colours(mag_i, blue_colours(rng)))
                tangential = a + math.pi / 2
                comps.append(sersic("companion", x0 + r * math.cos(a), y0 + r * math.sin(a),
                                    float(rng.uniform(0.08, 0.4)), float(rng.uniform(0.5, 1.5)),
                                    float(rng.uniform(0.25, 0.9)),
                                    tangential + rng.normal(0, 0.4) if rng.uniform() < 0.6 else rng.uniform(0, math.pi),
                                    flux))  # fmt: skip
    elif subtype in ("spiral", "edge_on"):
        z = float(np.clip(rng.gamma(3.0, 0.12), 0.05, 1.2))
        mag_i = float(rng.uniform(18.5, 22.5))
        q = float(rng.uniform(0.35, 1.0)) if subtype == "spiral" else float(rng.uniform(0.08, 0.25))
        comps = _disc_galaxy(rng, x0, y0, z, mag_i, q, arms=subtype == "spiral")
    elif subtype == "ring":
        e = draw_elliptical(rng)
        z = e.z
        comps = [_elliptical_component("central", e, x0, y0)]
        q = float(rng.uniform(0.5, 1.0))
        e1, e2, _ = ellipticity(q, float(rng.uniform(0, math.pi)))
        ring_i = mag_to_njy(float(rng.uniform(20.5, 23.5)))
        flux = fluxes(_mags_from_i_and_colours(0.0, blue_colours(rng)))
        params = {"radius": float(rng.uniform(0.8, 2.2)), "width": float(rng.uniform(0.08, 0.3)), "e1": e1, "e2": e2,
                  "center_x": x0, "center_y": y0, "arc_phi": 0.0, "arc_width": 0.0}  # fmt: skip
        comps.append(LightComponent("ring", "ring", params, flux * ring_i / flux[2]))
    elif subtype == "merger":
        e = draw_elliptical(rng)
        z = e.z
        comps = [_elliptical_component("central", e, x0, y0)]
        sep, a = rng.uniform(0.8, 2.5), rng.uniform(0, 2 * math.pi)
        comps.append(_random_galaxy(rng, "merger_partner", x0 + sep * math.cos(a), y0 + sep * math.sin(a),
                                    float(e.mags[2] + rng.uniform(0.0, 2.0)), z))  # fmt: skip
        flux = fluxes(_mags_from_i_and_colours(0.0, intermediate_colours(rng, z)))
        tail_i = mag_to_njy(float(e.mags[2] + rng.uniform(1.0, 3.0)))
        params = {"radius": float(rng.uniform(1.0, 2.5)), "width": float(rng.uniform(0.1, 0.35)), "e1": 0.0, "e2": 0.0,
                  "center_x": x0, "center_y": y0, "arc_phi": float(rng.uniform(0, 2 * math.pi)),
                  "arc_width": float(rng.uniform(0.4, 1.2))}  # fmt: skip
        comps.append(LightComponent("tidal_tail", "ring", params, flux * tail_i / flux[2]))
    else:  # random faint galaxy
        z = float(np.clip(rng.gamma(3.0, 0.2), 0.2, 2.0))
        comps = [_random_galaxy(rng, "central", x0, y0, float(rng.uniform(19.5, 23.5)), z)]
    central_roles = {"central", "bulge", "disc", "spiral_arms"}
    central_flux = sum(c.flux for c in comps if c.role in central_roles)
    psf_scale, beta = _psf(rng)
    row: dict[str, object] = {"z_central": z, **{f"mag_lens_{b}": float(m) for b, m in zip(BANDS, mags_of(central_flux))}}
    return Scene(0, subtype, None, comps, psf_scale, beta, row)


# ----------------------------------------------------------------------------- field
def add_field(rng: np.random.Generator, scene: Scene, cfg: PopulationConfig, half_size: float) -> None:
    """Unrelated neighbours and stars, the same for both classes (appended in place)."""
    for _ in range(int(rng.poisson(cfg.mean_neighbours))):
        while True:
            x, y = rng.uniform(-half_size - 1.0, half_size + 1.0, 2)
            if math.hypot(x, y) > 2.5:
                break
        # Galaxy counts rise ~0.3 dex/mag: inverse-CDF draw between i=20 and 25.5.
        u = rng.uniform()
        lo, hi = 10 ** (0.3 * 20.0), 10 ** (0.3 * 25.5)
        mag_i = math.log10(lo + u * (hi - lo)) / 0.3
        scene.components.append(_random_galaxy(rng, "neighbour", float(x), float(y), mag_i, float(rng.uniform(0.2, 1.5))))
    if rng.uniform() < cfg.star_probability:
        while True:
            x, y = rng.uniform(-half_size, half_size, 2)
            if math.hypot(x, y) > 2.0:
                break
        colours = np.array([rng.uniform(0.3, 1.4), rng.uniform(0.1, 1.2), rng.uniform(0.0, 0.5), rng.uniform(0.0, 0.3)])
        mags = _mags_from_i_and_colours(float(rng.uniform(17.5, 24.0)), colours)
        scene.components.append(LightComponent("star", "point", {"center_x": float(x), "center_y": float(y)}, fluxes(mags)))


def sky_position(rng: np.random.Generator, domain: str) -> tuple[float, float]:
    """Public wrapper: RA/Dec of a cutout centre for ``domain``."""
    return _sky_position(rng, domain)
