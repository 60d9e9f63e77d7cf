"""Settings of the SLSim engine, as data (they go verbatim into ``simulation.json``).

Defaults and why:

- ``coadd_years=1``: the challenge's DP0 injections are at LSST 1-year depth; lenstronomy's
  ``LSST`` observation settings scale the 10-year visits (``num_exposures``) by it.
- One **catalogue realisation** is a SkyPy draw of ``catalogue_area_deg2`` (0.25 deg²);
  ``LensPop`` is given ``lens_area_factor`` × that area (4, i.e. 1 deg²), so its deflectors
  and sources are re-drawn from the catalogue with replacement, as SLSim's tutorials do
  (0.5 deg² of galaxies for 10 deg² of lenses). One call of ``draw_population`` then yields
  ~30 lenses (19–48 in four 1-deg² draws: the massive deflectors of a small catalogue vary a
  lot), and ``objects_per_realisation`` objects per class (25) are taken from each
  realisation. SkyPy's cost is mostly fixed (0.1 deg²: ~10 s, 0.4 deg²: ~13 s here), so a
  larger catalogue with a smaller factor costs little and repeats each deflector galaxy
  less (each is tested ``lens_area_factor`` times per draw).
- ``sampling="population"``: ``LensPop.draw_population`` — every deflector is tested against
  the Poisson number of sources behind it, so lenses come cross-section weighted, as SLSim's
  population forecasts. ``"random"``: ``LensPop.select_lens_at_random`` (one deflector and one
  source at a time until one passes: much smaller θ_E, what SLSim's DP0 injection helpers
  call for a ``LensPop``).
- Lens cuts (``LensPop``'s ``kwargs_lens_cuts``): image separation 0.8–10″ (SLSim's
  tutorial) and a lensed-arc magnitude ``i < 24`` (``mag_arc_limit``).
- Population cuts: deflectors ``g < 26, 0.01 < z < 2.5``; sources ``g < 26, 0.1 < z < 5``
  (SLSim's galaxy–galaxy tutorial).
- Non-lenses (``nonlens_mix``, fractions): ``deflector`` — a lone deflector of a selected lens
  system (its source removed); ``false_positive`` — SLSim's ``FalsePositive``: a deflector
  with 1–3 unlensed blue galaxies from the source population inside its lensing test area;
  ``blue`` — a lone blue galaxy of the source population. With ``lens_selected_nonlenses``
  the deflectors of both non-lens kinds are deflectors of *selected lens systems* (so the
  deflector population is the same in both classes; SLSim's ``FalsePositivePop`` alone
  draws any red galaxy, most of them far fainter than lens deflectors). With
  ``match_blue_brightness`` a lone blue galaxy is the catalogue galaxy closest in i-band
  magnitude to the deflector of a selected lens system.
- ``gamma_pl=None``: deflectors are SLSim's default ``EPL_SERSIC`` with slope γ = 2 (an SIE); a
  number or ``{"mean": m, "std_dev": s}`` draws other slopes (``EllipticalLensGalaxies(gamma_pl=...)``;
  θ_E stays the SIS value of the velocity dispersion, SLSim's ``sis_convention``).
- ``los_file=None``: the line-of-sight table SLSim reads (``data/glass/*.h5``) is not in the
  sdist, so external convergence and shear are **zero** unless a file is given
  (``simulation.json`` says so).
- ``skypy_config=None``: the galaxy catalogues come from our SkyPy configuration
  (:mod:`.skypy_config`); a path uses that file instead — SLSim's own
  ``lsst-like_triple_SF.yml`` is the challenge's (it adds a faint red population that ours
  lacks). Its magnitude grid is SkyPy's default (1000 redshifts): slower per realisation.
- ``scene_offset=0``: the scene (deflector, sources, companions; a lone galaxy) sits at the
  stamp centre; ``> 0`` shifts each object's whole scene by a uniform random offset in
  ``[−scene_offset, scene_offset]`` pixels per axis (catalogue centres are not lens centres;
  SLSim-own-configuration sets used ±2 px). The offset is rendered exactly (every profile
  centre moved, no resampling) and recorded as ``sim_offset_x``/``sim_offset_y`` (arcsec);
  ``srcx``/``srcy`` stay positions from the stamp centre. At 0 nothing is drawn, so the
  bytes of a seed are those of earlier versions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from brahmasifier.settings import Problems
from brahmasifier.simulation.nonlens_kinds import check_mix, kinds_for
from brahmasifier.simulation.scene import MAX_SCENE_OFFSET
from brahmasifier.simulation.slsim_engine.skypy_config import BLUE_MODELS, check_skypy_file

__all__ = ["MAX_SCENE_OFFSET", "SAMPLINGS", "SlsimConfig"]

SAMPLINGS: tuple[str, ...] = ("population", "random")


@dataclass(frozen=True)
class SlsimConfig:
    """Knobs of the SLSim engine (see the module docstring for the defaults)."""

    coadd_years: float = 1.0
    catalogue_area_deg2: float = 0.25
    lens_area_factor: float = 4.0
    objects_per_realisation: int = 25
    sampling: str = "population"
    min_image_separation: float = 0.8
    max_image_separation: float = 10.0
    mag_arc_limit: dict[str, float] = field(default_factory=lambda: {"i": 24.0})
    deflector_cut: dict[str, object] = field(default_factory=lambda: {"band": "g", "band_max": 26.0, "z_min": 0.01, "z_max": 2.5})
    source_cut: dict[str, object] = field(default_factory=lambda: {"band": "g", "band_max": 26.0, "z_min": 0.1, "z_max": 5.0})
    nonlens_mix: dict[str, float] = field(default_factory=lambda: {"deflector": 1 / 3, "false_positive": 1 / 3, "blue": 1 / 3})
    lens_selected_nonlenses: bool = True
    match_blue_brightness: bool = True
    false_positive_sources: tuple[int, ...] = (1, 2, 3)
    blue_model: str = "dp0"
    kcorrect_resolution: int = 200
    los_file: str | None = None
    gamma_pl: float | dict[str, float] | None = None  # EPL slope: fixed, or {"mean", "std_dev"}; None: 2 (SIE)
    max_population_draws: int = 40  # calls of draw_population per realisation before giving up
    skypy_config: str | None = None  # a SkyPy YAML of the user's (e.g. SLSim's own); None: ours
    scene_offset: float = 0.0  # largest scene offset per axis, pixels (uniform); 0: centred

    def __post_init__(self) -> None:
        problems = Problems("SlsimConfig: bad ")
        problems.choice("sampling", self.sampling, SAMPLINGS)
        problems.choice("blue_model", self.blue_model, BLUE_MODELS)
        if check_mix(self.nonlens_mix, "slsim"):  # the kinds of the registry the SLSim engine draws
            problems.add(f"nonlens_mix {self.nonlens_mix!r} (non-negative fractions of {', '.join(kinds_for('slsim'))})")
        if not (isinstance(self.coadd_years, (int, float)) and float(self.coadd_years).is_integer()
                and 1 <= self.coadd_years <= 10):
            problems.add(f"coadd_years {self.coadd_years!r} (an integer from 1 to 10: lenstronomy's LSST depths)")
        if not (self.catalogue_area_deg2 > 0 and self.lens_area_factor > 0):
            problems.add("catalogue_area_deg2 and lens_area_factor must be positive")
        if self.objects_per_realisation < 1 or self.kcorrect_resolution < 2:
            problems.add("objects_per_realisation must be >= 1 and kcorrect_resolution >= 2")
        problems.within("scene_offset", self.scene_offset, 0.0, MAX_SCENE_OFFSET, unit="pixels")
        gamma = self.gamma_pl
        fixed_ok = isinstance(gamma, (int, float)) and 1.0 < gamma < 3.0
        gaussian_ok = (isinstance(gamma, dict) and set(gamma) == {"mean", "std_dev"} and 1.0 < gamma["mean"] < 3.0
                       and gamma["std_dev"] >= 0 and 1.0 < gamma["mean"] - 3 * gamma["std_dev"]
                       and gamma["mean"] + 3 * gamma["std_dev"] < 3.0)  # draws stay inside (1, 3): ±3σ inside
        if gamma is not None and not fixed_ok and not gaussian_ok:
            problems.add(f"gamma_pl {gamma!r} (a slope in (1, 3) or {{'mean': m, 'std_dev': s}})")
        problems.check()
        if self.skypy_config is not None:
            check_skypy_file(self.skypy_config)

    @property
    def lens_cuts(self) -> dict[str, object]:
        """``kwargs_lens_cuts`` of ``LensPop``."""
        return {"min_image_separation": self.min_image_separation, "max_image_separation": self.max_image_separation,
                "mag_arc_limit": dict(self.mag_arc_limit)}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready settings (tuples become lists)."""
        data = asdict(self)
        data["false_positive_sources"] = list(self.false_positive_sources)
        return data
