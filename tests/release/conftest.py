"""The ``published_release`` fixture (see release_tree.py for what it holds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .release_tree import PublishedRelease, write_published_release


@pytest.fixture
def published_release(tmp_path: Path) -> PublishedRelease:
    """A fresh tiny published-form release under ``tmp_path`` (cheap: 21 objects, fast writer)."""
    return write_published_release(tmp_path)
