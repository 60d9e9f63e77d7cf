"""Issue 25, "invented or falsified values": regression truth is required, checked and counted; estimates stay physical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brahmasifier.io.store import open_store, write_store

from .tiny import cli, labelled_store, read_csv_text


def _store_with_truth(path: Path, n: int = 24, **columns: object) -> Path:
    """A learnable tiny store whose index carries these truth columns (callables of the label array)."""
    labelled_store(path / "base", n)
    base = open_store(path / "base")
    index = base.index[["id", "stem", "label", "domain", "n_nan"]].copy()
    labels = index["label"].to_numpy()
    for name, make in columns.items():
        index[name] = make(labels) if callable(make) else make
    write_store(path / "store", base.read(np.arange(n)), index)
    return path / "store"


def _train(store: Path, run: Path, targets: str, *extra: object):
    return cli("train", "--data", store, "--out", run, "--targets", targets, "--epochs", "1", "--batch-size", "8",
               "--model-kwargs", json.dumps({"widths": [8, 16], "depths": [0, 1]}), "--regression-hidden", "8",
               "--val-fraction", "0.25", "--threads", "1", "--no-progress", *extra)


@pytest.mark.parametrize("truth", [
    {"Rein": -999.0}, {"Rein": np.nan}, {"Rein": "abc"}, {}, {"Rein": -1.5}])
def test_a_target_without_valid_truth_is_refused(tmp_path: Path, truth: dict[str, object]) -> None:
    store = _store_with_truth(tmp_path, zlens=lambda lab: np.where(lab == 1, 0.5, -999.0), **truth)
    ran = _train(store, tmp_path / "run", "Rein,zlens")
    assert ran.rc == 2, ran.err
    assert "no training object has valid truth for Rein" in ran.err and "--targets zlens" in ran.err
    assert len(ran.err.strip().splitlines()) <= 2


def test_thin_and_invalid_truth_is_counted_and_listed(tmp_path: Path, model: Path) -> None:
    rng = np.random.default_rng(1)

    def rein(lab: np.ndarray) -> np.ndarray:
        values = np.where(lab == 1, rng.uniform(0.5, 2.0, lab.size), -999.0)
        values[1], values[3] = -2.0, np.inf  # lenses (odd rows) with a negative θ_E and an infinite one
        return values

    def vel(lab: np.ndarray) -> np.ndarray:
        return np.where(lab == 1, np.inf, -999.0)

    store = _store_with_truth(tmp_path, Rein=rein, vel_disp=lambda lab: np.where(lab == 1, 250.0, -999.0))
    run = tmp_path / "run"
    ran = _train(store, run, "Rein")
    assert ran.rc == 0, ran.err
    assert "regression truth (training split): Rein " in ran.err and "fewer than 20" in ran.err
    assert "2 truth values are invalid" in ran.err
    rejected = read_csv_text(run / "truth_rejected.csv")
    assert sorted(rejected["reason"]) == ["not finite", "outside the physical range 0.01..10"]
    assert set(rejected["column"]) == {"Rein"}
    del vel


def test_predict_writes_no_value_outside_its_physical_range_and_counts_the_clipped(tmp_path: Path) -> None:
    from brahmasifier.inference.parameters import guard_decoded, probability_columns
    from brahmasifier.models.target_decode import LEVELS, Decoded
    from brahmasifier.models.targets import select_targets
    from brahmasifier.ranges import PHYSICAL_RANGES

    spec = select_targets("Rein,zsrc,vel_disp,sh,z_central")
    spec.n_fit[:] = 10
    spec.n_fit[spec.dim_names.index("log1p(z_central)")] = 0  # a target trained without truth
    values = pd.DataFrame({"Rein": [5e-13, 1.0], "zsrc": [-0.4, 2.0], "vel_disp": [0.99, 250.0], "sh": [1.19, 0.05],
                           "sh_PA": [10.0, 20.0], "z_central": [0.3, 0.4]})
    half = values.abs() * 0 + 0.5
    decoded = Decoded(values.copy(), {lv: half.copy() for lv in LEVELS}, {lv: half.copy() for lv in LEVELS})
    lines = guard_decoded(spec, decoded)
    assert any("clipped 4 values" in line for line in lines)
    assert any("no training truth for z_central" in line for line in lines)
    table = probability_columns(decoded)
    for column, (low, high) in PHYSICAL_RANGES.items():
        for name in [c for c in table.columns if c in {column, *(column + s for s in ("_lo68", "_hi68", "_lo95", "_hi95"))}]:
            finite = table[name].dropna()
            assert ((finite >= low) & (finite <= high)).all(), name
    assert table["z_central"].isna().all()
    assert table.loc[1, "Rein"] == 1.0 and table.loc[1, "vel_disp"] == 250.0  # in range: unchanged


def test_pack_and_info_say_loudly_when_no_object_got_parameters(tmp_path: Path) -> None:
    from brahmasifier.io.fits import write_parameters_fits

    from .tiny import image, write_labelled

    data = tmp_path / "data"
    data.mkdir()
    for k in range(3):
        write_labelled(data, f"D1_L_{k:08d}", f"LENS_{k}", image(k))
    write_parameters_fits(data / "parameters.fits", pd.DataFrame({"ID": ["OTHER_1", "OTHER_2"], "Rein": [1.0, 2.0]}))
    packed = cli("pack", data, "--out", tmp_path / "store", "--workers", "1", "--no-progress")
    assert packed.rc == 0, packed.err
    assert "0 of 3 objects got parameters" in packed.out + packed.err
    info = cli("info", tmp_path / "store")
    assert info.rc == 0, info.err
    assert "0 of 3 objects got parameters" in info.out


def test_conflicting_duplicate_ids_in_a_parameter_table_are_reported(tmp_path: Path) -> None:
    from brahmasifier.io.fits import write_parameters_fits

    from .tiny import image, write_labelled

    data = tmp_path / "data"
    data.mkdir()
    for k in range(2):
        write_labelled(data, f"D1_L_{k:08d}", f"LENS_{k}", image(k))
    write_parameters_fits(data / "parameters.fits",
                          pd.DataFrame({"ID": ["LENS_0", "LENS_1", "LENS_1"], "Rein": [1.0, 2.0, 3.0]}))
    packed = cli("pack", data, "--out", tmp_path / "store", "--workers", "1", "--no-progress")
    assert packed.rc == 0, packed.err
    assert "LENS_1" in packed.out + packed.err and "conflicting" in packed.out + packed.err
