"""``brahmasifier inspect``: grade the top candidates by eye in a local web app, merge inspectors' grades.

Modules: :mod:`~brahmasifier.inspect.candidates` (the list and its images),
:mod:`~brahmasifier.inspect.calibration` (known objects mixed in, the inspectors' completeness
and false-positive rate), :mod:`~brahmasifier.inspect.grades` (the grade file, saved at every
grade), :mod:`~brahmasifier.inspect.server` (the Flask app), :mod:`~brahmasifier.inspect.merge`
(consensus, Fleiss' kappa, disagreements). The panels themselves are
:mod:`brahmasifier.evaluation.panels`, shared with the report's gallery.
"""

__all__: list[str] = []
