"""Data shift: the training data's statistics (recorded in the model card), ``brahmasifier check``, OOD scores.

- :mod:`~brahmasifier.shift.stats`: per-object pixel statistics and their summary;
- :mod:`~brahmasifier.shift.embedding`: the embedding density and the per-object OOD score;
- :mod:`~brahmasifier.shift.record`: the streaming collector; the card's ``data_statistics`` at the end of training;
- :mod:`~brahmasifier.shift.compare`: distances per statistic, flags and the verdict line;
- :mod:`~brahmasifier.shift.check`: ``check_data`` (reads through :mod:`brahmasifier.inference.sources`);
- :mod:`~brahmasifier.shift.figure`: ``check.png`` and the terminal table.

``stats``, ``embedding``, ``record`` and ``compare`` import only the bottom layer (``sky``, ``pixels``,
``bands``), so training can record statistics; ``check`` sits after inference.
"""

__all__: list[str] = []
