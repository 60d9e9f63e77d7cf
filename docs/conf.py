"""Sphinx configuration of Brahmasifier's documentation (``make docs``; pages in ``docs/``).

Why these tools (issue 26):

- **Sphinx** rather than MkDocs: the package's docstrings are Google style (ruff enforces
  pydocstyle's Google convention), which Sphinx's ``autodoc`` + ``napoleon`` read as written, and
  Sphinx checks every cross-reference (``-n``, nitpicky) so a renamed function or option breaks
  the build instead of leaving a dead link; the libraries our users know (timm, Lightning,
  astropy, lenstronomy) document themselves the same way.
- **myst-parser**: the pages are plain Markdown, readable on GitHub as they are and writable by
  every engineer without learning reStructuredText.
- **furo**: a maintained theme from PyPI, with its CSS and JavaScript in the wheel: the build
  fetches nothing (no intersphinx inventories, no CDN), so it works offline from a fresh clone.
- Two small local extensions (``docs/_ext/``): ``cli_reference`` writes the command-line
  reference from :func:`brahmasifier.cli.build_parser` (never by hand: new options and
  subcommands appear by themselves) and ``api_reference`` walks the package for the API pages
  (a new module appears by itself). ``sphinx-argparse`` was not used: one directive of our own
  over the parser we already build is 150 lines, and we keep every option alias and hidden
  (deprecated) spelling, which the test ``tests/docs/test_cli_reference.py`` checks.

The build is ``sphinx-build -W --keep-going -n``: every warning, including an unresolved
reference, fails ``make test``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent / "src"))  # document this checkout, not another install

from brahmasifier import __version__  # noqa: E402

project = "Brahmasifier"
author = "The Brahmasifier developers"
copyright = "2025, The Brahmasifier developers"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "cli_reference",
    "api_reference",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# No typographic quotes or dashes: the pages and the CLI help are full of `--options` and "quoted"
# shell arguments that must read (and copy) exactly as typed.
smartquotes = False
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# Markdown: GitHub-style heading anchors (#the-command-line) so links work on GitHub and here.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# Docstrings: Google style only; types come from the annotations (shown in the signature).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": True}
autodoc_inherit_docstrings = False
python_use_unqualified_type_names = True

# Offline: nothing is fetched, so names from other libraries (numpy, torch, the standard
# library...) cannot be linked; they are shown as text. Our own names must all resolve.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(builtins|typing|typing_extensions|collections|pathlib|os|io|argparse|enum|dataclasses|"
               r"concurrent|multiprocessing|threading|queue|contextlib|types|abc|datetime|logging|numbers|"
               r"signal|subprocess|functools|itertools|json|re|tempfile|shutil|zipfile|warnings)(\..*)?"),
    (r"py:.*", r"(numpy|np|numpy\.typing|npt|torch|nn|pandas|pd|pyarrow|pa|astropy|lightning|L|pl|timm|"
               r"torchmetrics|safetensors|scipy|sklearn|matplotlib|plt|lenstronomy|slsim|skypy|onnx|onnxruntime|"
               r"ort|yaml|tqdm|tensorboard|PIL|speclite|colossus|sncosmo|uncertainties|flask|werkzeug)(\..*)?"),
    # Plain builtin and typing names as annotations print them (no module prefix).
    (r"py:.*", r"(int|float|str|bytes|bool|object|None|NoneType|type|list|dict|tuple|set|frozenset|complex|"
               r"slice|range|Any|Callable|Iterable|Iterator|Sequence|Mapping|MutableMapping|Generator|"
               r"Literal|Optional|Union|ClassVar|Self|TypeVar|T|Path|ndarray|Tensor|DataFrame|Series|"
               r"Exception|ValueError|KeyError|RuntimeError|OSError|TypeError|Namespace|ArgumentParser|"
               r"Action|Module|Generator|Hashable|Collection|Protocol|Final|NamedTuple|IO|TextIO|BinaryIO|"
               r"Axes|Figure|Quantity|Cosmology|Table|HDUList)"),
    # Private names (a leading underscore) are not in the reference, by design.
    (r"py:.*", r"(.*\.)?_\w+(\..*)?"),
]

html_theme = "furo"
html_title = f"Brahmasifier {__version__}"
html_static_path: list[str] = []
html_show_sourcelink = False
