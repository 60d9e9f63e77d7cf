"""Fixtures shared by the hostile-input tests: a tiny saved model and a tiny blind folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tiny import saved_model, write_blind


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained model folder, made once per test module (as each module did before)."""
    return saved_model(tmp_path_factory.mktemp("model") / "run")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A blind-set folder of two objects."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_blind(folder, 2)
    return folder
