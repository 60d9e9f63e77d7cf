"""Every runnable block of the documentation runs, so the pages cannot drift from the code.

Pages mark shell blocks as runnable (``tests/docs/runnable.py``, ``docs/contributing.md``); each
page with one is a test: its blocks run in order as one bash script in a temporary folder, with
the tiny sizes its markers give, through the real ``brahmasifier`` command of this checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .runnable import REPO, extract_blocks, page_script, runnable_pages

PAGES = runnable_pages()


def _shim(bin_dir: Path) -> None:
    """``brahmasifier`` and ``python`` on PATH: this interpreter, this checkout's package."""
    bin_dir.mkdir()
    for name, target in (("brahmasifier", f'exec "{sys.executable}" -m brahmasifier.cli "$@"'),
                         ("python", f'exec "{sys.executable}" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{target}\n")
        (bin_dir / name).chmod(0o755)


def _env(tmp: Path, docs_data: Path | None) -> dict[str, str]:
    env = {**os.environ,
           "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
           "BRAHMASIFIER_CACHE_DIR": str(tmp / "cache"),
           "MPLBACKEND": "Agg"}
    if docs_data is not None:
        env["DOCS_DATA"] = str(docs_data)
    return env


def _run(script: str, cwd: Path, env: dict[str, str], what: str) -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"{what}: a documented command failed (exit {done.returncode}).\n"
        f"--- script ---\n{script}\n--- output (tail) ---\n{(done.stdout + done.stderr)[-6000:]}")


#: What ``$DOCS_DATA`` holds for the pages' hidden set-up blocks (docs/contributing.md), made once.
DOCS_DATA_SCRIPT = """
brahmasifier simulate --out release --n-per-class 8 --seed 3 --no-preview --no-progress
brahmasifier simulate --out blind --n-per-class 4 --seed 4 --layout test --no-preview --no-progress
mv blind/images release/test_dataset
brahmasifier simulate --out cutouts --n-per-class 3 --seed 5 --layout test --no-preview --no-progress
brahmasifier train --data release/slsim_lenses release/slsim_nonlenses release/hsc_lenses release/hsc_nonlenses \\
    --out run --epochs 1 --no-progress
"""


@pytest.fixture(scope="module")
def docs_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in release, a folder of neutral-name cutouts and a trained model, shared by the pages."""
    root = tmp_path_factory.mktemp("docs_data")
    _shim(root / "bin")
    data = root / "data"
    data.mkdir()
    _run(DOCS_DATA_SCRIPT, data, _env(root, None), "tests/docs DOCS_DATA")
    return data


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_page_commands_run(page: Path, tmp_path: Path, docs_data: Path) -> None:
    script = page_script(page)
    assert script is not None
    work = tmp_path / "work"
    work.mkdir()
    (work / "configs").symlink_to(REPO / "configs")  # pages show `--config configs/...` from the repo root
    _shim(tmp_path / "bin")
    _run(script, work, _env(tmp_path, docs_data), str(page.relative_to(REPO)))


def test_the_tutorials_have_runnable_blocks() -> None:
    names = {str(p.relative_to(REPO)) for p in PAGES}
    for page in ("README.md", "docs/tutorials/pipeline.md", "docs/tutorials/challenge.md", "docs/tutorials/inject.md"):
        assert page in names, f"{page} has no runnable block"


def test_markers_are_parsed() -> None:
    text = ("intro\n<!-- runnable: N=2 -->\n```bash\nN=1000  # per class\necho $N\n```\n"
            "<!-- runnable-setup\nmkdir data\n-->\n```bash\nnot run\n```\n")
    blocks = extract_blocks(text)
    assert [b.hidden for b in blocks] == [False, True]
    assert blocks[0].overrides == {"N": "2"} and blocks[0].code.startswith("N=1000")
    assert blocks[1].code == "mkdir data"


def test_markers_inside_other_blocks_are_examples() -> None:
    text = "````markdown\n<!-- runnable -->\n```bash\necho example\n```\n````\n<!-- runnable -->\n```bash\necho real\n```\n"
    assert [b.code for b in extract_blocks(text)] == ["echo real"]


def test_stale_override_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable: EPOCHS=1 -->\n```bash\nN=3\necho $N\n```\n")
    with pytest.raises(ValueError, match="EPOCHS"):
        page_script(page)
    page.write_text("<!-- runnable: N=1 -->\n```bash\nN=3\necho $N\n```\n")
    assert "N=1\necho $N" in (page_script(page) or "")


def test_marker_without_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="must be followed"):
        extract_blocks("<!-- runnable -->\nsome text\n")
