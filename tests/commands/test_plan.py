"""The one plan check (``_plan.py``): a rerun with other settings is refused naming what differs, or its parts dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brahmasifier._plan import plan_differences, read_plan, same_plan
from brahmasifier.errors import OutputExistsError


def test_plans_compare_as_json_and_name_their_differences(tmp_path: Path) -> None:
    plan = {"seed": 1, "domains": ("slsim",), "n": 2}
    assert same_plan({"seed": 1, "domains": ["slsim"], "n": 2}, plan)  # a tuple read back as a list is the same plan
    assert not same_plan(None, plan)
    assert plan_differences({"seed": 1, "domains": ["slsim"], "old": True}, {"seed": 2, "domains": ["slsim"], "n": 2}) == (
        "seed was 1, now 2; old was true, now (not set); n was (not set), now 2")
    many = plan_differences(dict.fromkeys("abcde", 0), dict.fromkeys("abcde", 1))
    assert many.endswith("; 2 more") and many.count(" was ") == 3
    (tmp_path / "plan.json").write_text("{not json")
    assert read_plan(tmp_path / "plan.json") is None and read_plan(tmp_path / "missing.json") is None


def test_a_simulation_with_other_settings_is_refused_naming_them(tmp_path: Path) -> None:
    from brahmasifier.simulation.runs import MANIFEST, check_resume

    settings = {"seed": 1, "n_per_class": 2}
    (tmp_path / MANIFEST).write_text(json.dumps({"settings": settings}))
    assert check_resume(tmp_path, settings) == {"settings": settings}
    with pytest.raises(OutputExistsError, match=r"different settings \(.*simulation.json: seed was 1, now 3\)"):
        check_resume(tmp_path, {**settings, "seed": 3})
    chunks = tmp_path / "fresh" / ".chunks"
    chunks.mkdir(parents=True)
    (chunks / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(OutputExistsError, match="unfinished simulation with different settings .*n_per_class was 2, now 4"):
        check_resume(tmp_path / "fresh", {**settings, "n_per_class": 4}, folder=chunks)
