"""Issue 25, "outputs and concurrency": nothing inside an input is overwritten, one run per output, verified ONNX cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brahmasifier.io.naming import band_filename, blind_stem

from .tiny import cli, labelled_store, one_line_error, predict, read_csv_text


def test_out_naming_an_input_band_file_is_refused_and_the_file_kept(tmp_path: Path, data: Path, model: Path) -> None:
    band = data / band_filename(blind_stem(0), "g")
    before = band.read_bytes()
    ran = predict(data, model, tmp_path / "out", "--out", band)
    one_line_error(ran, "inside the input")
    assert band.read_bytes() == before


def test_probs_naming_the_store_index_is_refused(tmp_path: Path, model: Path) -> None:
    store = labelled_store(tmp_path / "store", 4)
    index = (store / "index.parquet").read_bytes()
    ran = predict(store, model, tmp_path / "out", "--probs", store / "index.parquet")
    one_line_error(ran, "inside the input", "index.parquet")
    assert (store / "index.parquet").read_bytes() == index
    report = cli("evaluate", "--probs", tmp_path / "p.csv", "--labels", store, "--out", store / "report")
    one_line_error(report, "inside the input")


def test_export_onto_the_model_weights_is_refused(tmp_path: Path, model: Path) -> None:
    weights = model / "model" / "model.safetensors"
    before = weights.read_bytes()
    one_line_error(cli("export", "--model", model, "--out", weights), "inside the input")
    assert weights.read_bytes() == before


def test_a_second_predict_to_the_same_out_is_refused_while_the_first_runs(tmp_path: Path, data: Path, model: Path) -> None:
    from brahmasifier._runlock import RunLock

    out = tmp_path / "out"
    with RunLock(out / ".submission.csv.lock"):  # the lock a running predict holds
        ran = predict(data, model, out)
        one_line_error(ran, "another `brahmasifier predict`", str(os.getpid()))
    assert not (out / "submission.csv").exists()
    ran = predict(data, model, out)  # once it is gone the output is free again, and no lock file is left
    assert ran.rc == 0, ran.err
    assert sorted(p.name for p in out.iterdir()) == ["probs.csv", "rejected.csv", "submission.csv"]


def test_the_lock_of_a_killed_run_is_free_at_once(tmp_path: Path) -> None:
    from brahmasifier._runlock import RunLock
    from brahmasifier.errors import OutputExistsError

    lock = tmp_path / "lock"
    code = ("import sys, time; from brahmasifier._runlock import RunLock; l = RunLock(sys.argv[1]).__enter__(); "
            "print('locked', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(OutputExistsError, match=str(child.pid)):
            RunLock(lock).__enter__()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    with RunLock(lock):  # SIGKILL released it: no stale lock to take over
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


def test_pack_and_the_simulation_use_the_one_lock(tmp_path: Path) -> None:
    from brahmasifier import _runlock
    from brahmasifier.io import pack
    from brahmasifier.simulation import runs

    assert issubclass(runs.RunLock, _runlock.RunLock) and pack.RunLock is _runlock.RunLock
    assert not hasattr(pack, "_exclusive_lock")


def test_a_tampered_or_corrupt_cached_onnx_graph_is_exported_again(tmp_path: Path, data: Path, model: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAHMASIFIER_CACHE_DIR", str(tmp_path / "cache"))
    first = predict(data, model, tmp_path / "a")
    assert first.rc == 0, first.err
    (graph,) = (tmp_path / "cache" / "onnx").glob("*.onnx")
    reference = read_csv_text(tmp_path / "a" / "probs.csv")["logit"].astype(float).to_numpy()
    import onnx

    proto = onnx.load(str(graph))  # tamper: add 0.35 to every logit, a well-formed graph
    bias = onnx.helper.make_tensor("tamper_bias", onnx.TensorProto.FLOAT, [], [0.35])
    proto.graph.initializer.append(bias)
    out_name = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [f"{o}_pre" if o == out_name else o for o in node.output]
    proto.graph.node.append(onnx.helper.make_node("Add", [f"{out_name}_pre", "tamper_bias"], [out_name]))
    onnx.save(proto, str(graph))
    second = predict(data, model, tmp_path / "b")
    assert second.rc == 0, second.err
    got = read_csv_text(tmp_path / "b" / "probs.csv")["logit"].astype(float).to_numpy()
    np.testing.assert_allclose(got, reference, atol=1e-5)
    graph.write_bytes(b"not an onnx graph")  # corrupt
    third = predict(data, model, tmp_path / "c")
    assert third.rc == 0, third.err
    np.testing.assert_allclose(read_csv_text(tmp_path / "c" / "probs.csv")["logit"].astype(float).to_numpy(), reference,
                               atol=1e-5)


def test_the_cache_key_covers_every_module_of_the_model() -> None:
    from brahmasifier.inference.onnx import graph_sources
    from brahmasifier.models import ModelCard, build_model

    model = build_model(ModelCard(architecture="plain_cnn"))
    names = {p.name for p in graph_sources(model)}
    assert {"plain_cnn.py", "normalization.py", "classifier.py", "tta.py"} <= names
