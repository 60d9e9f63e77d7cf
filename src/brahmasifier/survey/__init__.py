"""The survey's own pixels: transforms making cutouts look like a survey's (``perturb``); the checks ``predict`` runs.

- :mod:`.transforms`: rotated/masked footprints, misregistered bands, centre offsets,
  resampling and correlated noise, masks — each with its truth row.
- :mod:`.run`: ``brahmasifier perturb`` over a store or a FITS tree (resumable, deterministic per seed).
- :mod:`.registration`: each band's rotation against the others, the ``misregistered`` flag
  (:mod:`.alignment`: the search; :mod:`.polar`: its grid and Fourier arithmetic; :mod:`.evidence`: the detector).
- :mod:`.repair`: the misregistered bands turned back (``predict --register-bands``).
- :mod:`.footprint`: each band's rotation read from a rotated footprint's filled corners.
- :mod:`.traces`: each band's rotation read from the moiré its resampling left in the noise.
- :mod:`.checks`: the per-batch checks of ``predict`` (``masked_fraction``, ``misregistered``, ``band_angle_<b>``).

Stage: after :mod:`brahmasifier.io` (it reads and writes stores), before :mod:`brahmasifier.inference`.
"""

__all__: list[str] = []
