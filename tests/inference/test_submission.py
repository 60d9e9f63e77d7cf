"""The submission file: the official header, -999 fill, IDs written exactly as read."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from brahmasifier.inference.submission import (
    SUBMISSION_COLUMNS,
    SubmissionError,
    format_submission,
    read_submission,
    write_submission,
)

TEMPLATE = Path(__file__).resolve().parents[1] / "data_files" / "submission_format.csv"


def test_header_is_the_official_template() -> None:
    with open(TEMPLATE, newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == SUBMISSION_COLUMNS


def test_rows_match_the_template_byte_for_byte(tmp_path: Path) -> None:
    with open(TEMPLATE, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    ids = [r[0] for r in rows]
    preds = [int(r[1]) for r in rows]
    path = write_submission(tmp_path / "submission.csv", ids, preds)
    assert path.read_bytes() == TEMPLATE.read_bytes()


def test_ids_round_trip_exactly(tmp_path: Path) -> None:
    ids = ["75339100000000000", "99999999999999999", "GG-LENS_0.0159_0.0846", "007"]
    write_submission(tmp_path / "s.csv", ids, [1, 0, 1, 0])
    text = (tmp_path / "s.csv").read_text()
    assert "99999999999999999,0," in text and "e+" not in text and "007,0," in text
    frame = read_submission(tmp_path / "s.csv")
    assert frame["id"].tolist() == ids
    assert frame["preds"].tolist() == [1, 0, 1, 0]
    assert (frame.drop(columns=["id", "preds"]) == -999).all().all()


@pytest.mark.parametrize(
    ("ids", "preds", "message"),
    [(["a", "a"], [0, 1], "duplicate"), (["a"], [2], "0 or 1"), (["a", "b"], [1], "2 ids"), ([""], [1], "empty")],
)
def test_bad_inputs_are_refused(ids: list[str], preds: list[int], message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        format_submission(ids, preds)


def test_reader_rejects_a_wrong_header(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("id,pred\n1,0\n")
    with pytest.raises(SubmissionError, match="header"):
        read_submission(tmp_path / "s.csv")


def test_parameters_fill_their_columns_and_vel_disp_fills_both_spellings(tmp_path: Path) -> None:
    ids = ["object_00000", "object_00001", "object_00002"]
    parameters = {"vel_disp": [250.5, float("nan"), -999.0], "Rein": [1.25, 0.5, 2.0]}
    frame = read_submission(write_submission(tmp_path / "s.csv", ids, [1, 0, 1], parameters))
    assert frame["vel disp"].tolist() == frame["vel_disp"].tolist() == [250.5, -999, -999]  # NaN and -999: not predicted
    assert frame["Rein"].tolist() == [1.25, 0.5, 2.0] and (frame["zlens"] == -999).all()
    old_name = read_submission(write_submission(tmp_path / "t.csv", ids, [1, 0, 1], {"vel disp": [1.0, 2.0, 3.0]}))
    assert old_name["vel disp"].tolist() == old_name["vel_disp"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(SubmissionError, match="no submission column"):
        format_submission(ids, [1, 0, 1], {"theta_E": [1.0, 1.0, 1.0]})
    with pytest.raises(SubmissionError, match="3 ids"):
        format_submission(ids, [1, 0, 1], {"Rein": [1.0]})
