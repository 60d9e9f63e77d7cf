"""Issue 16, item 4 and "a failing predict leaves half its outputs": every output path is checked before any work."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .tiny import predict


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write: permission bits, or (for root, whom they do not stop) /sys."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder


def _outputs_left(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.is_dir() else []


def test_out_named_like_the_reject_list_is_refused_before_scoring(tmp_path: Path, data: Path, model: Path) -> None:
    out = tmp_path / "out"
    ran = predict(data, model, out, "--out", out / "rejected.csv")  # a later --out wins in argparse
    assert ran.rc == 2 and "same file" in ran.err and "rejected.csv" in ran.err
    assert _outputs_left(out) == []


def test_probs_equal_to_out_is_refused(tmp_path: Path, data: Path, model: Path) -> None:
    out = tmp_path / "out"
    ran = predict(data, model, out, "--probs", out / "submission.csv")
    assert ran.rc == 2 and "--probs and --out are the same file" in ran.err
    assert _outputs_left(out) == []


def test_out_that_is_a_folder_is_refused_before_anything_is_written(tmp_path: Path, data: Path, model: Path) -> None:
    out = tmp_path / "out"
    (out / "submission.csv").mkdir(parents=True)
    ran = predict(data, model, out)
    assert ran.rc == 2 and "is an existing folder" in ran.err and len(ran.err.strip().splitlines()) <= 2
    assert _outputs_left(out) == ["submission.csv"]  # no probs.csv, no rejected.csv


def test_unwritable_probs_folder_is_refused_before_scoring(tmp_path: Path, data: Path, model: Path) -> None:
    out = tmp_path / "out"
    ran = predict(data, model, out, "--probs", _read_only_folder(tmp_path) / "probs.csv")
    assert ran.rc == 2 and "--probs: cannot write into" in ran.err
    assert _outputs_left(out) == []


def test_export_and_evaluate_check_their_output_before_work(tmp_path: Path, model: Path) -> None:
    from .tiny import cli

    folder = tmp_path / "model.onnx"
    folder.mkdir()
    ran = cli("export", "--model", model, "--out", folder)
    assert ran.rc == 2 and "is an existing folder" in ran.err
    (tmp_path / "probs.csv").write_text("id,prob\na,0.5\n")
    (tmp_path / "labels.csv").write_text("id,label\na,1\n")
    (tmp_path / "report").write_text("a file where the report folder goes")
    ran = cli("evaluate", "--probs", tmp_path / "probs.csv", "--labels", tmp_path / "labels.csv", "--out", tmp_path / "report")
    assert ran.rc == 2 and "exists and is not a folder" in ran.err
