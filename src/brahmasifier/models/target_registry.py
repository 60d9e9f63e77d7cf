"""The registry of regression targets: one declaration per target, the challenge's list built in.

A declaration (:func:`register_target`) says everything about a target: its name and group,
its kind (which fixes the D4 action: :mod:`brahmasifier.models.target_kinds`), its truth
column(s) (``aliases``: the names accepted in a truth table, first present wins), its encoding,
its physical range (:mod:`brahmasifier.ranges`: the one table; a new column's range is given
here and added to it, a built-in column's is there already), the submission column(s) it fills
and its error kind for the evaluation. Adding a target is one call, in any module imported
before training::

    from brahmasifier.models.target_registry import register_target

    register_target("theta_e_mass", group="lens", encoding="log", aliases=("Rein",), ranges=(0.01, 10.0))

after which ``train --targets theta_e_mass`` learns it, ``predict`` writes its columns (``X``,
``X_sigma``, intervals) in the probabilities file and fills its ``submission`` columns, and
``evaluate`` scores it. A trained model's card stores its targets' declarations, so it loads and
predicts without the registration.

The built-in declarations are the challenge's ``parameters.fits`` columns (issue 15's list,
``default=True``: what ``--targets default`` learns): column names are compared in their canonical
store spelling (``vel disp`` is ``vel_disp``, :mod:`brahmasifier.io.parameters`; the submission
writer fills both template columns from it); the non-lens ``mag_object_{b}`` is read from
``mag_lens_{b}`` of non-lens rows (the non-lens ``parameters.fits`` columns per the release note)
and fills the template's ``mag_object_{b}``; ``z_central`` is learned from non-lenses only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from brahmasifier.bands import BANDS
from brahmasifier.io.parameters import canonical_parameter_name
from brahmasifier.models.target_kinds import LENS, NONLENS, Target
from brahmasifier.ranges import add_physical_range

__all__ = ["TARGETS", "challenge_targets", "register_target", "registered_targets"]

#: Registered targets by name, in registration order (the built-ins first).
TARGETS: dict[str, Target] = {}
_DEFAULT: list[str] = []


def _per_column(value: Sequence[str] | Sequence[Sequence[str]], n: int) -> tuple[tuple[str, ...], ...]:
    """``("a", "b")`` for a scalar → ``(("a", "b"),)``; per-column sequences as they are."""
    if not value:
        return ()
    if n == 1 and all(isinstance(v, str) for v in value):
        return (tuple(str(v) for v in value),)
    return tuple(tuple(v) for v in value)


def register_target(name: str, group: str, kind: str = "scalar", columns: Sequence[str] = (), encoding: str = "",
                    aliases: Sequence[str] | Sequence[Sequence[str]] = (),
                    submission: Sequence[str] | Sequence[Sequence[str]] | None = None,
                    errors: Sequence[str] = (), ranges: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
                    default: bool = False) -> Target:
    """Declare a regression target (see module docstring); returns its :class:`~brahmasifier.models.target_kinds.Target`.

    Args:
        name: the target's name (and its first output column).
        group: ``lens`` or ``nonlens`` (the rows it is learned from and predicted for).
        kind: ``scalar``, ``spin2`` (magnitude, position angle) or ``vector`` (x, y).
        columns: output columns (default: ``(name,)`` for a scalar).
        encoding: see :data:`~brahmasifier.models.target_kinds.KIND_ENCODINGS` (default: the kind's first).
        aliases: truth-table names accepted, first present wins (a scalar: a sequence of names; a pair:
            one sequence per column; default: the column itself).
        submission: submission columns filled (as ``aliases``; default: the columns themselves; ``()``: none).
        errors: the evaluation's error kind per column (default: ``linear``, ``angle`` for a PA).
        ranges: the physical range of a scalar's column, or column → range; added to
            :data:`brahmasifier.ranges.PHYSICAL_RANGES` (truth outside is masked, estimates clipped).
        default: part of ``--targets default`` (the built-in challenge list only).

    Raises ``ValueError`` for an invalid declaration, a name or column another target has, or
    a range that contradicts the table's.
    """
    columns = tuple(columns) or (name,)
    n = len(columns)
    sub = ((),) * n if submission is not None and not submission else _per_column(submission or (), n)
    target = Target(name, group, kind, columns, encoding, _per_column(aliases, n), sub, tuple(errors))
    previous = TARGETS.get(name)
    if previous is not None:
        if previous != target:
            raise ValueError(f"regression target {name!r} is already registered as {previous}")
        return previous
    taken = {canonical_parameter_name(c) for t in TARGETS.values() for c in (t.name, *t.columns)}
    clash = sorted({canonical_parameter_name(c) for c in (name, *columns)} & taken)
    if clash:
        raise ValueError(f"regression target {name!r}: {', '.join(clash)} already name another target's column")
    bounds = {columns[0]: ranges} if isinstance(ranges, tuple) else dict(ranges or {})
    for column, (low, high) in bounds.items():
        add_physical_range(column, float(low), float(high))
    TARGETS[name] = target
    if default:
        _DEFAULT.append(name)
    return target


def registered_targets() -> tuple[Target, ...]:
    """Every registered target, in registration order."""
    return tuple(TARGETS.values())


def challenge_targets() -> tuple[Target, ...]:
    """The built-in challenge targets (``--targets default``), in order: 28 learned lens dimensions, then 6 non-lens."""
    return tuple(TARGETS[n] for n in _DEFAULT)


def _scalar(name: str, group: str, encoding: str = "identity", error: str = "linear", aliases: tuple[str, ...] = ()) -> None:
    register_target(name, group, "scalar", (name,), encoding, aliases or (name,), (name,), (error,), default=True)


# -- the challenge's parameters.fits columns (ranges: brahmasifier.ranges.PHYSICAL_RANGES) -----------------------
_scalar("Rein", LENS, "log")
_scalar("zlens", LENS, "log1p", "redshift")
_scalar("vel_disp", LENS, "log", "relative")
for _b in BANDS:
    _scalar(f"mag_lens_{_b}", LENS)
register_target("ell_l", LENS, "spin2", ("ell_l", "ell_l_PA"), "ellipticity", default=True)
_scalar("Reff_l", LENS, "log", "relative")
_scalar("n_l_sers", LENS, "log", "relative")
register_target("ell_m", LENS, "spin2", ("ell_m", "ell_m_PA"), "ellipticity", default=True)
register_target("sh", LENS, "spin2", ("sh", "sh_PA"), default=True)
_scalar("zsrc", LENS, "log1p", "redshift")
for _b in BANDS:
    _scalar(f"mag_src_{_b}", LENS)
register_target("srcx", LENS, "vector", ("srcx", "srcy"), default=True)
register_target("ell_s", LENS, "spin2", ("ell_s", "ell_s_PA"), "ellipticity", default=True)
_scalar("Reff_s", LENS, "log", "relative")
_scalar("n_s_sers", LENS, "log", "relative")
_scalar("z_central", NONLENS, "log1p", "redshift")
for _b in BANDS:
    _scalar(f"mag_object_{_b}", NONLENS, aliases=(f"mag_object_{_b}", f"mag_lens_{_b}"))
