"""The one plan check: is what an output folder holds made with these settings?

Every resumable command records what its output is made of (its *plan*: the settings that
change the bytes written) in a JSON file beside the work: ``OUT/simulation.json`` and
``OUT/.<engine>_chunks/settings.json`` (``simulate``, ``inject``; :mod:`brahmasifier.simulation.runs`),
``OUT.parts/plan.json`` (``predict``; :mod:`brahmasifier.inference.parts`). A rerun compares its
plan with the recorded one here, after a JSON round trip of both (tuples and lists, ints and
floats compare as they will be read back):

* :func:`read_plan` — the recorded plan, or ``None`` (missing, unreadable or not JSON);
* :func:`same_plan` — equal or not;
* :func:`plan_differences` — ``"KEY was A, now B"`` for each differing key (what the refusal says).

Simulation refuses another plan (``OutputExistsError``, the messages of
:func:`~brahmasifier.simulation.runs.check_resume` plus the differences); prediction discards
the parts of another plan and starts again (the parts are a cache of the output, not the output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["plan_differences", "read_plan", "same_plan"]

_MISSING = "(not set)"
#: Differences listed in one message; further ones are counted.
_SHOWN = 3


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value))


def read_plan(path: str | Path) -> dict[str, Any] | None:
    """The plan recorded in ``path`` (a JSON object), or ``None`` when it is absent or unreadable."""
    try:
        recorded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return recorded if isinstance(recorded, dict) else None


def same_plan(recorded: dict[str, Any] | None, plan: dict[str, Any]) -> bool:
    """Whether ``recorded`` (from :func:`read_plan`) is ``plan``, compared as JSON."""
    return recorded is not None and _normal(recorded) == _normal(plan)


def plan_differences(recorded: dict[str, Any], plan: dict[str, Any]) -> str:
    """``"KEY was A, now B; ..."`` for the keys whose values differ (at most three named, the rest counted)."""
    old, new = _normal(recorded), _normal(plan)
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k, _MISSING) != new.get(k, _MISSING)]
    lines = [f"{k} was {_short(old.get(k, _MISSING))}, now {_short(new.get(k, _MISSING))}" for k in keys[:_SHOWN]]
    if len(keys) > _SHOWN:
        lines.append(f"{len(keys) - _SHOWN} more")
    return "; ".join(lines)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."
