"""Every module of the package stays under the 400-line line (one job per module; docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

import brahmasifier

MAX_LINES = 400
PACKAGE = Path(brahmasifier.__file__).parent


def test_no_module_over_the_line() -> None:
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 100  # the walk found the package
    over = {name: n for name, n in sorted(sizes.items()) if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by job): {over}"


def test_every_module_declares_its_public_names() -> None:
    missing = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if p.name != "__main__.py" and "__all__" not in p.read_text(encoding="utf-8")]
    assert not missing, f"modules without __all__: {missing}"
