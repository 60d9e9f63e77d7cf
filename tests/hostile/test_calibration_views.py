"""Issue 22: predict says when it scores with other TTA views than the ones the calibration was fitted on."""

from __future__ import annotations

from pathlib import Path

from .tiny import predict, saved_model, write_blind


def test_predict_notes_a_tta_other_than_the_calibrations(tmp_path: Path) -> None:
    write_blind(tmp_path / "blind", 3)
    new = saved_model(tmp_path / "new", training={"calibration_tta": "flips"})
    old = saved_model(tmp_path / "old")  # a card written before calibration_tta was recorded: single view
    same = predict(tmp_path / "blind", new, tmp_path / "a", "--tta", "flips", "--no-onnx")
    assert same.rc == 0 and "were fitted on" not in same.out + same.err
    other = predict(tmp_path / "blind", new, tmp_path / "b", "--tta", "d4", "--no-onnx")
    assert other.rc == 0 and "fitted on --tta flips views; scored with --tta d4" in other.out + other.err
    legacy = predict(tmp_path / "blind", old, tmp_path / "c", "--tta", "flips", "--no-onnx")
    assert legacy.rc == 0 and "fitted on --tta none views" in legacy.out + legacy.err
