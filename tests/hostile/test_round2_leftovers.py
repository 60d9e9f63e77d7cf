"""Issue 25: leftovers removed, messages name the path and add up, simulate checks free space, catalogue values checked."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from .tiny import cli, write_blind


def test_a_resumed_pack_leaves_no_orphan_temporary_shards(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 3)
    out = tmp_path / "store"
    (out / "shards").mkdir(parents=True)
    orphan = out / "shards" / ".images-00000.npy.tmp-abc123.npy"  # what a killed pack leaves
    orphan.write_bytes(b"\0" * 1000)
    ran = cli("pack", data, "--out", out, "--workers", "1", "--no-progress")
    assert ran.rc == 0, ran.err
    assert not orphan.exists()
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["images-00000.npy"]


def test_pack_says_what_the_run_count_is(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 3)
    (data / "object_00002_g.fits").write_bytes(b"garbage")
    ran = cli("pack", data, "--out", tmp_path / "store", "--workers", "1", "--no-progress")
    assert ran.rc == 0, ran.err
    assert "packed 2 objects" in ran.out and "3 objects read in this run, stored or rejected" in ran.out


def test_a_disk_full_error_without_a_path_names_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("brahmasifier.io.pack_fits", full)
    data = tmp_path / "data"
    data.mkdir()
    write_blind(data, 1)
    ran = cli("pack", data, "--out", tmp_path / "store", "--no-progress")
    assert ran.rc == 2 and "No space left" in ran.err and str(tmp_path / "store") in ran.err


def test_simulate_checks_free_space_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage._replace(free=10_000))
    ran = cli("simulate", "--out", tmp_path / "sim", "--n-per-class", "5", "--no-progress", "--no-preview")
    assert ran.rc == 2 and "sim" in ran.err and "Traceback" not in ran.err
    assert not (tmp_path / "sim").exists() or not any((tmp_path / "sim").iterdir())


@pytest.mark.parametrize(("column", "value"), [("z_central", "-5"), ("mag_lens_i", "-40"), ("mag_lens_r", "inf")])
def test_an_impossible_catalogue_value_is_refused_and_named(tmp_path: Path, column: str, value: str) -> None:
    from brahmasifier.errors import InputError
    from brahmasifier.simulation.inject.hosts import load_catalog

    path = tmp_path / "catalog.csv"
    path.write_text(f"id,{column}\nhost_1,{value}\nhost_2,-999\n")
    with pytest.raises(InputError, match=f"{column}.*host_1"):
        load_catalog(path)
