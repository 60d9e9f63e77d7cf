"""The generated CLI reference lists every option of every subcommand.

Builds the reference page (``docs/cli.md``, through the ``brahmasifier-cli`` directive of
``docs/_ext/cli_reference.py``) with Sphinx's text builder and looks for every option string
that the real parser has — so a subcommand or option added in another branch is covered by
construction, and the test fails if the directive ever drops one.
"""

from __future__ import annotations

import argparse
import posixpath
import shutil
import warnings
from pathlib import Path

import pytest

from brahmasifier.cli import build_parser

from .runnable import REPO

sphinx_build = pytest.importorskip("sphinx.cmd.build", reason="sphinx is in the [dev] extra")


def _all_option_strings() -> dict[str, list[str]]:
    parser = build_parser()
    out = {"brahmasifier": [s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help")]}
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in action.choices.items():
        out[f"brahmasifier {name}"] = [s for a in sub._actions for s in a.option_strings if s not in ("-h", "--help")]
        out[f"brahmasifier {name}"] += [str(a.metavar or a.dest) for a in sub._actions if not a.option_strings]  # positionals
    return out


def _documented_options(inventory: Path) -> set[str]:
    """``program-name.OPTION`` of every ``option`` directive in the built site's ``objects.inv``."""
    from sphinx.util.inventory import InventoryFile

    with inventory.open("rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the loader's signature moves between Sphinx releases
        inv = InventoryFile.load(f, "", posixpath.join)
    return set(inv.get("std:cmdoption", {}))


def test_every_option_is_in_the_generated_reference(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "docs" / "cli.md", src / "index.md")
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(REPO / 'docs' / '_ext')!r}, {str(REPO / 'src')!r}]\n"
        "extensions = ['myst_parser', 'cli_reference']\n"
        "suppress_warnings = ['myst.xref_missing', 'ref.python', 'ref.func']\n")  # the page's links point elsewhere
    code = sphinx_build.build_main(["-q", "-b", "html", str(src), str(tmp_path / "out")])
    assert code == 0
    documented = _documented_options(tmp_path / "out" / "objects.inv")
    expected = _all_option_strings()
    assert len(expected) >= 10  # the tool and its nine subcommands at least
    missing = [f"{program} {opt}" for program, options in expected.items() for opt in options
               if f"{program.replace(' ', '-')}.{opt}" not in documented]
    assert not missing, f"options missing from the generated CLI reference: {missing}"


def test_every_subpackage_has_an_api_page() -> None:
    """A new subpackage (like ``shift``, ``survey``) must get a page under docs/api/, or its references break the build."""
    import pkgutil

    import brahmasifier

    root = Path(__file__).resolve().parents[2] / "docs" / "api"
    pages = " ".join(p.read_text() for p in root.glob("*.md"))
    packages = [m.name for m in pkgutil.iter_modules(brahmasifier.__path__) if m.ispkg and not m.name.startswith("_")]
    assert packages
    missing = [name for name in packages if f"brahmasifier-api:: brahmasifier.{name}" not in pages]
    assert not missing, f"no docs/api page for: {missing}"
