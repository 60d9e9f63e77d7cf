"""Our SkyPy configuration of the galaxy catalogues SLSim draws deflectors and sources from.

The ``slsim`` sdist on PyPI (0.1.1) ships no ``data/`` folder, so its default configuration
file (``data/SkyPy/lsst-like_triple_SF.yml``) is not installed; this module writes ours,
assembled only from models that SkyPy documents, with the parameters named below:

- **Redshifts and absolute B-band magnitudes**: ``skypy.galaxies.schechter_lf`` (a Schechter
  luminosity function with ``M*(z)`` and ``φ*(z)``, sampled with shot noise over the sky
  area, to apparent magnitude ``mag_lim`` = 30).
  *Blue (star-forming)*: the B-band luminosity function of star-forming galaxies of
  López-Sanjuan et al. 2017 (A&A 599, A62): ``M* = −20.485 − 1.03 z``,
  ``φ* = 3.126e-3 exp(−z/43.43) Mpc⁻³``, ``α = −1.29`` — SkyPy's documented example
  ("Schechter Luminosity Function"). ``blue_model="dp0"`` (default) instead uses the
  evolution that SLSim 0.1.1 adopts to match the DP0 galaxy counts (its commit "modified M*
  and phi* parameter to match Dp0 galaxy peak"): ``M*(z) = −20.485 − 2.03 z + 0.49 z² −
  0.03 z³``, ``φ*`` scaled to 2.006e-3. *Red (quiescent)*: the quiescent B-band function of
  the same paper, ``M* = −20.46 − 0.80 z``, ``φ* = 2.786e-3 exp(−z/1.059)``, ``α = −0.53``.
- **Spectra and photometry**: ``skypy.galaxies.spectrum.dirichlet_coefficients`` over the five
  kcorrect templates (Blanton & Roweis 2007) with the Dirichlet parameters of Herbel et al.
  2017 (JCAP 08, 035) for blue and red galaxies, as in SkyPy's documented "Optical
  Photometry" example; stellar masses from ``kcorrect.stellar_mass`` (B band); apparent
  magnitudes in the ``lsst2016-{g,r,i,z,y}`` speclite filters from
  ``kcorrect.apparent_magnitudes``.
- **Sizes**: ``skypy.galaxies.morphology.late_type_lognormal_size`` /
  ``early_type_lognormal_size`` with Shen et al. 2003 (MNRAS 343, 978) Table 1
  (``α, β, γ = 0.21, 0.53, −1.31``; ``a, b = 0.60, −4.63``; ``M0 = −20.52``;
  ``σ1, σ2 = 0.48, 0.25``) — SkyPy's documented "Galaxy Size Distributions" example —
  and ``angular_size``. (SLSim's ``Galaxies`` replaces source sizes by its own
  magnitude–size relation, ``source_size="Bernardi"``.)
- **Ellipticities**: ``skypy.galaxies.morphology.beta_ellipticity`` (Kacprzak et al. 2020,
  arXiv:1906.01018, §III.A) with ``e_ratio, e_sum = 0.45, 3.5`` (blue) and ``0.2, 7`` (red),
  the values of SLSim's LSST-like configurations.
- **Cosmology**: flat ΛCDM, H0 = 70 km/s/Mpc, Ωm = 0.3 (the cosmology SLSim's tutorials use).

Speed: ``apparent_magnitudes`` integrates the templates through the filters on a redshift
grid of ``resolution`` points and interpolates (SkyPy's default 1000 points, 5 filters,
~8–15 s per population here). We use 200 points: on 5000 random (z, coefficient) draws the
magnitudes differ from the 1000-point ones by a median 7e-5 mag, 99th percentile 0.013 mag
(largest 0.09), and it is 4.7× faster (``python experiments/skypy_resolution.py``).

**A SkyPy file of the user's** (``SlsimConfig.skypy_config``, ``simulate --skypy-config FILE``),
e.g. SLSim's own ``data/SkyPy/lsst-like_triple_SF.yml`` from SLSim's repository (tag ``v0.1.1``;
the PyPI sdist lacks ``data/``): SLSim's ``SkyPyPipeline`` reads it and sets its sky area by
replacing the text ``fsky: 0.1 deg2`` and its cosmology line, so :func:`check_skypy_file`
refuses, before any work and in one line naming the file, a file that is missing, not YAML,
lacks that ``fsky`` line or the ``blue``/``red`` tables SLSim reads, or lacks the
default-cosmology line SLSim replaces (without it the catalogue would not use the
engine's cosmology).
"""

from __future__ import annotations

from pathlib import Path

from brahmasifier.errors import ConfigError

__all__ = ["BLUE_MODELS", "LSST_FILTERS", "SLSIM_COSMOLOGY_LINE", "SLSIM_FSKY_LINE", "check_skypy_file", "skypy_yaml",
           "write_skypy_config"]

LSST_FILTERS: tuple[str, ...] = tuple(f"lsst2016-{b}" for b in "grizy")
#: The text SLSim's ``SkyPyPipeline`` replaces to set a catalogue's sky area.
SLSIM_FSKY_LINE = "fsky: 0.1 deg2"
#: The text SLSim's ``SkyPyPipeline`` replaces to set a catalogue's cosmology.
SLSIM_COSMOLOGY_LINE = "cosmology: !astropy.cosmology.default_cosmology.get []"
#: Evolution of the blue population's M* and φ* (see the module docstring).
BLUE_MODELS: dict[str, tuple[str, str]] = {
    "lopez-sanjuan2017": ("!astropy.modeling.models.Linear1D [-1.03, -20.485]",
                          "!astropy.modeling.models.Exponential1D [0.00312608, -43.42936]"),
    "dp0": ("!astropy.modeling.models.Polynomial1D {degree: 3, c0: -20.485, c1: -2.03, c2: 0.49, c3: -0.03}",
            "!astropy.modeling.models.Exponential1D [0.00200608, -43.42936]"),
}

_POPULATIONS: dict[str, dict[str, str]] = {
    "blue": {
        "alpha": "-1.29",
        "dirichlet": "alpha0: [2.079, 3.524, 1.917, 1.992, 2.536]\n      alpha1: [2.265, 3.862, 1.921, 1.685, 2.480]\n"
                     "      weight: [3.47e+09, 3.31e+06, 2.13e+09, 1.64e+10, 1.01e+09]",
        "size": "!skypy.galaxies.morphology.late_type_lognormal_size\n      magnitude: $blue.M\n      alpha: 0.21\n"
                "      beta: 0.53\n      gamma: -1.31\n      M0: -20.52\n      sigma1: 0.48\n      sigma2: 0.25",
        "ellipticity": "e_ratio: 0.45\n      e_sum: 3.5",
    },
    "red": {
        "alpha": "-0.53",
        "dirichlet": "alpha0: [2.461, 2.358, 2.568, 2.268, 2.402]\n      alpha1: [2.410, 2.340, 2.200, 2.540, 2.464]\n"
                     "      weight: [3.84e+09, 1.57e+06, 3.91e+08, 4.66e+10, 3.03e+07]",
        "size": "!skypy.galaxies.morphology.early_type_lognormal_size\n      magnitude: $red.M\n      a: 0.60\n"
                "      b: -4.63\n      M0: -20.52\n      sigma1: 0.48\n      sigma2: 0.25",
        "ellipticity": "e_ratio: 0.2\n      e_sum: 7",
    },
}


def _table(name: str, spec: dict[str, str], resolution: int) -> str:
    return f"""  {name}:
    z, M: !skypy.galaxies.schechter_lf
      redshift: $z_range
      M_star: $M_star_{name}
      phi_star: $phi_star_{name}
      alpha: {spec["alpha"]}
      m_lim: $mag_lim
      sky_area: $sky_area
      cosmology: $cosmology
    coeff: !skypy.galaxies.spectrum.dirichlet_coefficients
      redshift: ${name}.z
      {spec["dirichlet"]}
    stellar_mass: !skypy.galaxies.spectrum.kcorrect.stellar_mass
      coefficients: ${name}.coeff
      magnitudes: ${name}.M
      filter: bessell-B
    mag_g, mag_r, mag_i, mag_z, mag_y: !skypy.galaxies.spectrum.kcorrect.apparent_magnitudes
      coefficients: ${name}.coeff
      redshift: ${name}.z
      filters: $filters
      stellar_mass: ${name}.stellar_mass
      cosmology: $cosmology
      resolution: {resolution}
    physical_size: {spec["size"]}
    angular_size: !skypy.galaxies.morphology.angular_size
      physical_size: ${name}.physical_size
      redshift: ${name}.z
      cosmology: $cosmology
    ellipticity: !skypy.galaxies.morphology.beta_ellipticity
      {spec["ellipticity"]}
      size: !len [${name}.z]
"""


def skypy_yaml(sky_area_deg2: float, blue_model: str = "dp0", mag_lim: float = 30.0, z_max: float = 5.0,
               resolution: int = 200) -> str:
    """The SkyPy pipeline configuration (YAML text) of one catalogue realisation.

    Args:
        sky_area_deg2: sky area of the catalogue in square degrees.
        blue_model: evolution of the blue luminosity function, a key of :data:`BLUE_MODELS`.
        mag_lim: apparent-magnitude limit of the Schechter sampling (SkyPy's ``m_lim``).
        z_max: largest redshift of the grid.
        resolution: redshift points of the magnitude interpolation.

    Returns:
        YAML text for ``skypy.pipeline.Pipeline.read``.

    Raises:
        ConfigError: unknown ``blue_model`` or a non-positive area.
    """
    if blue_model not in BLUE_MODELS:
        raise ConfigError(f"unknown blue_model {blue_model!r}; expected one of {', '.join(BLUE_MODELS)}")
    if not sky_area_deg2 > 0:
        raise ConfigError(f"sky area must be positive, got {sky_area_deg2}")
    m_star_blue, phi_star_blue = BLUE_MODELS[blue_model]
    header = f"""cosmology: !astropy.cosmology.FlatLambdaCDM
  H0: 70
  Om0: 0.3
z_range: !numpy.arange [0.0, {z_max + 0.01:.2f}, 0.01]
M_star_blue: {m_star_blue}
phi_star_blue: {phi_star_blue}
M_star_red: !astropy.modeling.models.Linear1D [-0.80, -20.46]
phi_star_red: !astropy.modeling.models.Exponential1D [0.00278612, -1.05925]
mag_lim: {mag_lim}
sky_area: {sky_area_deg2!r} deg2
filters: {list(LSST_FILTERS)}
tables:
"""
    return header + "".join(_table(name, spec, resolution) for name, spec in _POPULATIONS.items())


def write_skypy_config(path: Path, **kwargs: object) -> Path:
    """Write :func:`skypy_yaml` to ``path`` and return it.

    Args:
        path: file to write.
        **kwargs: arguments of :func:`skypy_yaml`.

    Returns:
        ``path``.
    """
    path.write_text(skypy_yaml(**kwargs))  # type: ignore[arg-type]
    return path


def _load_tolerant(text: str) -> object:
    """YAML text read with a ``SafeLoader`` that takes SkyPy's ``!module.function`` tags as plain values.

    A syntax and structure check only: no tag is resolved, so no object is built from the file.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", any_tag)
    return yaml.load(text, Loader=Loader)  # a SafeLoader subclass


def check_skypy_file(path: str | Path) -> Path:
    """Check a user's SkyPy configuration before any work (see the module docstring).

    Args:
        path: the YAML file.

    Returns:
        The path, resolved.

    Raises:
        ConfigError: missing or unreadable file, not YAML, or without what SLSim needs in it.
    """
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"--skypy-config {file}: no such file (SLSim's own configuration is data/SkyPy/"
                          "lsst-like_triple_SF.yml in SLSim's repository at tag v0.1.1; the PyPI package lacks it)")
    try:
        text = file.read_text(encoding="utf-8")
        data = _load_tolerant(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--skypy-config {file}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--skypy-config {file}: not YAML ({' '.join(str(exc).split())})") from None
    problems = []
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not {"blue", "red"} <= set(tables):
        problems.append("no 'tables' with 'blue' and 'red' (the populations SLSim reads)")
    if SLSIM_FSKY_LINE not in text:
        problems.append(f"no line '{SLSIM_FSKY_LINE}' (SLSim sets the catalogue's sky area by replacing it)")
    if SLSIM_COSMOLOGY_LINE not in text:
        problems.append(f"no line '{SLSIM_COSMOLOGY_LINE}' (SLSim sets the engine's cosmology by replacing it; "
                        "another cosmology would differ from the lens populations)")
    if problems:
        raise ConfigError(f"--skypy-config {file}: " + "; ".join(problems))
    return file.resolve()
