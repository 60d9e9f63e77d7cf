"""Settings of the injection (``brahmasifier inject``), as data: they go verbatim into ``simulation.json``.

Defaults and why:

- ``theta_e="relation"``: the host's velocity dispersion from its redshift and r magnitude
  through the Faber–Jackson relation of our deflector population
  (:func:`brahmasifier.simulation.galaxies.faber_jackson_sigma`, with its 0.35 mag scatter),
  then θ_E of a singular isothermal sphere for the drawn source's redshift. ``"distribution"``:
  θ_E drawn log-normally (median ``theta_e_median`` = 0.74″, σ_ln ``theta_e_sigma_ln`` = 0.4),
  the θ_E of SLSim-like LSST 1-year lenses (issue 13), and the velocity dispersion that gives it.
- Detectability (kept injections): matched-filter S/N of the noiseless arc
  (:func:`brahmasifier.simulation.measures.matched_filter_snr`) against the host's measured
  noise, summed in quadrature over ``snr_bands`` (``i``), at least ``min_arc_snr`` = 20 (the 5th
  percentile of SLSim-like 1-year arcs is ≈ 21, issue 13); total magnification at least
  ``min_magnification`` = 2 (multiple images or arcs, not weak lensing); θ_E between
  ``min_rein_over_seeing`` × the i-band FWHM (0.5, as our engine) and ``max_rein`` (3″).
  Each host gets up to ``attempts_per_host`` sources; a host none passes is listed, unused.
- ``psf="auto"``: per band, the FWHM from the host's catalogue columns (``psf_fwhm_<b>`` or
  ``sim_psf_fwhm_<b>``) where present, else the instrument's median seeing
  (:data:`brahmasifier.simulation.instrument.LSST_1YR`); a Moffat profile of index
  ``psf_beta`` (instrument: 3.5). ``"instrument"`` always uses the instrument's seeing.
- Noise: the arc's own Poisson noise only (the host's pixels already hold sky, read and host
  shot noise), in electrons of the instrument's coadd: ``counts = flux[nJy] × t / c`` with ``t``
  the total exposure time and ``c`` the nJy per e⁻/s of the band (LSST 1-year: i band 690 s,
  27.8 nJy per e⁻/s, i.e. gain 1 e⁻/ADU on counts), drawn exactly (``Generator.poisson``).
- ``nonlenses="paired"``: every host that receives an arc is also written unmodified as a
  non-lens. The detectability cut selects hosts (a faint, quiet host makes an arc easier to
  detect), so only paired negatives keep the two classes' host populations identical after
  selection; a classifier then has nothing but the arc to go by. ``"none"``: lenses only.
- Hosts: labelled lenses (label 1) are never hosts; a host with non-finite pixels (masked in
  the packed store) is refused unless ``max_nan_pixels`` allows it; ``host_query`` (a pandas
  query on the host table, e.g. ``"mag_lens_i < 21"``) narrows the candidates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from brahmasifier.bands import BANDS
from brahmasifier.settings import Problems

__all__ = ["NONLENS_MODES", "PSF_MODES", "SOURCE_ENGINES", "THETA_E_MODES", "InjectConfig"]

SOURCE_ENGINES: tuple[str, ...] = ("ours", "slsim")
THETA_E_MODES: tuple[str, ...] = ("relation", "distribution")
PSF_MODES: tuple[str, ...] = ("auto", "instrument")
NONLENS_MODES: tuple[str, ...] = ("paired", "none")


@dataclass(frozen=True)
class InjectConfig:
    """Knobs of the injection (see the module docstring for the defaults and their reasons)."""

    source_engine: str = "ours"
    theta_e: str = "relation"
    theta_e_median: float = 0.74
    theta_e_sigma_ln: float = 0.4
    min_sigma: float = 100.0  # km/s; velocity dispersions are kept in [min_sigma, max_sigma]
    max_sigma: float = 450.0
    min_arc_snr: float = 20.0
    snr_bands: tuple[str, ...] = ("i",)
    min_magnification: float = 2.0
    min_rein_over_seeing: float = 0.5
    max_rein: float = 3.0
    attempts_per_host: int = 8
    centre_radius: float = 1.2  # arcsec: aperture of the light-weighted centre and moments
    psf: str = "auto"
    psf_beta: float = 3.5
    nonlenses: str = "paired"
    max_nan_pixels: int = 0
    host_query: str | None = None
    hosts_per_chunk: int = 32
    chunks_per_catalogue: int = 8  # slsim sources: one SkyPy catalogue per this many chunks
    slsim_catalogue_deg2: float = 0.25  # slsim sources: sky area of each SkyPy catalogue (SlsimConfig's default)

    def __post_init__(self) -> None:
        problems = Problems("InjectConfig: bad ")
        for name, value, allowed in (("source_engine", self.source_engine, SOURCE_ENGINES),
                                     ("theta_e", self.theta_e, THETA_E_MODES), ("psf", self.psf, PSF_MODES),
                                     ("nonlenses", self.nonlenses, NONLENS_MODES)):
            problems.choice(name, value, allowed)
        bad_bands = [b for b in self.snr_bands if b not in BANDS]
        if bad_bands or not self.snr_bands:
            problems.add(f"snr_bands {self.snr_bands!r} (a non-empty subset of {', '.join(BANDS)})")
        if not (self.theta_e_median > 0 and self.theta_e_sigma_ln >= 0 and 0 < self.min_sigma < self.max_sigma):
            problems.add("theta_e_median, min_sigma < max_sigma must be positive and theta_e_sigma_ln >= 0")
        if not (self.max_rein > 0 and self.centre_radius > 0 and self.psf_beta > 1 and self.slsim_catalogue_deg2 > 0):
            problems.add("max_rein, centre_radius and slsim_catalogue_deg2 must be positive, psf_beta > 1")
        if self.attempts_per_host < 1 or self.hosts_per_chunk < 1 or self.chunks_per_catalogue < 1 or self.max_nan_pixels < 0:
            problems.add("attempts_per_host, hosts_per_chunk and chunks_per_catalogue must be >= 1, max_nan_pixels >= 0")
        problems.finite(self)
        if not self.min_arc_snr >= 0:
            problems.add(f"min_arc_snr {self.min_arc_snr!r} must be >= 0")
        problems.check()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready settings (tuples become lists)."""
        data = asdict(self)
        data["snr_bands"] = list(self.snr_bands)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> InjectConfig:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["snr_bands"] = tuple(values.get("snr_bands", ("i",)))  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
