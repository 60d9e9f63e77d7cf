"""Adding a simulation engine is one registration in one file: this one (issue 20, ``docs/architecture.md``).

The toy engine below draws Gaussian blobs with numpy (a ring around the lenses' blob): it only
has to produce valid objects. Registered by the one ``register_engine`` call of the fixture, it
is run end to end by ``simulate_dataset`` and by the real CLI (``brahmasifier simulate --engine
toy``, whose choices come from the registry), then packed into a store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.cli import main
from brahmasifier.errors import OutputExistsError
from brahmasifier.io.pack import pack_fits
from brahmasifier.io.store import open_store
from brahmasifier.simulation import simulate_dataset
from brahmasifier.simulation.engines import DrawnObject, SimulationEngine, engine_names, register_engine, unregister_engine
from brahmasifier.simulation.layout import LOCK_FILE
from brahmasifier.simulation.runs import RunLock


@dataclass(frozen=True)
class BlobConfig:
    """The toy engine's settings."""

    sigma_px: float = 2.0
    noise: float = 1.0


def draw_blob(domain: str, label: int, index: int, seed: int, config: BlobConfig) -> DrawnObject:
    """One toy object from its own seed: a Gaussian blob, with a ring around it for a lens, plus noise."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, label, index]))
    y, x = np.mgrid[:STAMP_SIZE, :STAMP_SIZE] - STAMP_SIZE // 2
    blob = np.exp(-(x**2 + y**2) / (2 * config.sigma_px**2))
    ring = label * np.exp(-((np.hypot(x, y) - 8.0) ** 2) / 2.0)
    image = np.stack([100.0 * (k + 1) * (blob + 0.3 * ring) + rng.normal(0.0, config.noise, blob.shape)
                      for k in range(len(BANDS))]).astype(np.float32)
    row: dict[str, object] = {"RA": 10.0 + index, "Dec": -5.0, "z_central": 0.3,
                              **{f"mag_lens_{b}": 21.0 for b in BANDS}}
    if label == 1:
        row.update({"Rein": 8.0 * 0.2, "zlens": 0.3, "zsrc": 1.2})
    return DrawnObject(f"TOY{domain}-{label}-{index:05d}", image, "lens" if label else "blob", row)


@pytest.fixture
def toy_engine() -> Iterator[str]:
    register_engine(SimulationEngine("toy", "Gaussian blobs (numpy)", ("slsim", "hsc"), ("slsim",),
                                     config_type=BlobConfig, draw=draw_blob))
    yield "toy"
    unregister_engine("toy")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".fits", ".txt")}


def test_a_registered_engine_runs_end_to_end_through_simulate_dataset_and_pack(toy_engine: str, tmp_path: Path) -> None:
    out = tmp_path / "toy"
    summary = simulate_dataset(out, 3, seed=7, engine=toy_engine, workers=1, progress=False, preview=True)
    assert summary.n_objects == 6 and summary.domains == ("slsim",) and not summary.skipped
    assert (out / "preview.png").is_file()
    settings = json.loads((out / "simulation.json").read_text())["settings"]
    assert settings["engine"] == "toy" and settings["config"] == {"sigma_px": 2.0, "noise": 1.0}

    store = open_store(pack_fits(out, tmp_path / "store", workers=1, progress=False).path)
    assert len(store) == 6 and store.rejected.empty
    index = store.index.set_index("id")
    assert sorted(index["label"]) == [0, 0, 0, 1, 1, 1]
    assert set(index["sim_subtype"]) == {"lens", "blob"}
    assert index.loc["TOYslsim-1-00002", "Rein"] == pytest.approx(1.6)
    row = int(np.flatnonzero(store.index["id"] == "TOYslsim-0-00001")[0])
    np.testing.assert_array_equal(store.read([row])[0], draw_blob("slsim", 0, 1, 7, BlobConfig()).image)

    assert not (out / LOCK_FILE).exists()  # the run lock is gone with the run
    assert simulate_dataset(out, 3, seed=7, engine=toy_engine, progress=False).skipped  # same settings: done
    with pytest.raises(OutputExistsError):
        simulate_dataset(out, 3, seed=7, engine=toy_engine, config=BlobConfig(sigma_px=3.0), progress=False)


def test_the_cli_offers_a_registered_engine(toy_engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert toy_engine in engine_names()
    one, two = tmp_path / "one", tmp_path / "two"
    argv = ["simulate", "--engine", toy_engine, "--n-per-class", "2", "--domains", "slsim,hsc", "--no-preview", "--no-progress"]
    assert main([*argv, "--out", str(one), "--workers", "1"]) == 0
    assert "toy engine" in capsys.readouterr().out
    assert main([*argv, "--out", str(two), "--workers", "2"]) == 0  # a process pool: same bytes
    assert _hashes(one) == _hashes(two) and len(_hashes(one)) == 8 * len(BANDS) + 4 * 2
    assert main(["pack", str(one), "--out", str(tmp_path / "store"), "--workers", "1", "--no-progress"]) == 0
    assert len(open_store(tmp_path / "store")) == 8
    assert main(["simulate", "--engine", toy_engine, "--n-per-class", "1", "--out", str(tmp_path / "x"),
                 "--skypy-config", "x.yml"]) == 2  # the slsim engine's options stay its own
    assert "slsim engine only" in capsys.readouterr().err
    assert main(["simulate", "--engine", toy_engine, "--n-per-class", "1", "--out", str(tmp_path / "x"),
                 "--scene-offset", "1"]) == 2  # and the built-in engines' ones theirs
    assert "--scene-offset: options of the built-in engines" in capsys.readouterr().err


def test_an_unregistered_engine_is_not_offered(tmp_path: Path) -> None:
    assert "toy" not in engine_names() and {"ours", "slsim"} <= set(engine_names())
    with pytest.raises(SystemExit) as exit_info:  # argparse's "invalid choice"
        main(["simulate", "--engine", "toy", "--n-per-class", "1", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2


def test_a_second_live_run_into_one_folder_is_refused(toy_engine: str, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    with RunLock(out / LOCK_FILE), pytest.raises(OutputExistsError, match="another simulation"):
        simulate_dataset(out, 1, seed=1, engine=toy_engine, workers=1, progress=False)
    assert simulate_dataset(out, 1, seed=1, engine=toy_engine, workers=1, progress=False).n_objects == 2
