"""experiments/cross_simulator.py --quick on tiny stand-ins (our engine plays SLSim here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.table import Table

pytest.importorskip("lenstronomy")

from tests.experiment_scripts import load_script

from brahmasifier.simulation import simulate_dataset


def test_quick_mode_trains_each_kind_of_data_and_scores_each_test_set(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    slsim_test, slsim_train = tmp_path / "slsim_test", tmp_path / "slsim_train"
    simulate_dataset(slsim_test, 8, seed=31, domains="slsim", layout="test", workers=1, progress=False, preview=False)
    simulate_dataset(slsim_train, 20, seed=32, domains="slsim", workers=1, progress=False, preview=False)
    module = load_script("cross_simulator")
    work = tmp_path / "work"
    runs = ["ours+slsim", "inject", "slsim/plain_cnn", "ours/aug_noise", "inject_lrg"]
    argv = ["--quick", "--work", str(work), "--slsim-test", str(slsim_test), "--slsim-train", str(slsim_train),
            "--workers", "1", "--runs", *runs, "--tests", "ours", "slsim"]
    results = module.main(argv)
    assert [(r["run"], r["test"]) for r in results] == [(r, t) for r in runs for t in ("ours", "slsim")]
    for r in results:
        o = r["overall"]
        assert o["n"] == 16 and 0.0 <= o["auc"]["value"] <= 1.0 and o["auc"]["ci68"] is not None
        assert set(o) == {"auc", "tpr@1e-02", "tpr@1e-03", "n"} and r["kinds"]  # AUC per non-lens kind
    config = (work / results[6]["folder"] / "config.yaml").read_text()
    assert "aug_noise: 0.5" in config and "aug_noise: 0.0" in (work / results[0]["folder"] / "config.yaml").read_text()
    assert "arch: plain_cnn" in (work / results[4]["folder"] / "config.yaml").read_text()
    # Every training set has the same size: 32 objects, half lenses (the mix: 8 + 8 of each engine).
    assert all(r["n_train"] == {"lenses": 16, "nonlenses": 16} for r in results)
    # inject_lrg: arcs only in lone deflectors; its non-lenses are the population of every kind.
    hosts = Table.read(work / "ours_lrg_hosts_n26_seed4" / "slsim_nonlenses" / "parameters.fits")
    lenses = Table.read(work / "inject_lrg_n16_seed5" / "slsim_lenses" / "parameters.fits")
    assert set(hosts["sim_subtype"].astype(str)) == {"deflector"}
    assert set(lenses["host_id"].astype(str)) <= set(hosts["Object ID"].astype(str))
    assert len(list((work / "ours_hosts_n26_seed2_nonlenses_subset16").rglob("*_g.fits"))) == 16  # the first 16 of
    population = Table.read(work / "ours_hosts_n26_seed2" / "slsim_nonlenses" / "parameters.fits")[:16]
    assert len(set(population["sim_subtype"].astype(str))) > 1
    assert json.loads((work / "results.json").read_text())["results"] == results
    assert "| inject → slsim |" in (work / "results.md").read_text() and "| ours/aug_noise → slsim |" in capsys.readouterr().out
    assert module.main(argv) == results  # everything kept: a rerun only re-reads the results
    with pytest.raises(SystemExit, match="expected DATA"):
        module.main(["--runs", "ours/nonsense"])
