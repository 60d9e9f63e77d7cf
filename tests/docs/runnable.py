"""The runnable-block convention of the documentation pages (see ``docs/contributing.md``).

A page marks a fenced shell block as runnable with an HTML comment right above it (invisible on
GitHub and in the built site)::

    <!-- runnable: N=10 EPOCHS=1 -->
    ```bash
    N=1000          # objects per class
    EPOCHS=15
    brahmasifier simulate --out sim/train --n-per-class $N --seed 0
    ```

Every runnable block of one page runs, in page order, as one ``bash -euo pipefail`` script in
a fresh temporary folder, so later blocks see what earlier ones wrote. ``NAME=value`` after
``runnable:`` replaces the block's own line ``NAME=...`` (each must exist: a stale override is an
error), which is how a tutorial shows real sizes and the test runs tiny ones. A hidden set-up
block, for what the reader has and the test must make (e.g. a stand-in for the challenge's
download), is a comment of its own::

    <!-- runnable-setup
    brahmasifier simulate --out data --n-per-class 5 --seed 3
    -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "extract_blocks", "page_script", "runnable_pages"]

REPO = Path(__file__).resolve().parents[2]

_MARK = re.compile(r"^<!--\s*runnable(?::(?P<vars>[^>]*?))?\s*-->\s*$")
_SETUP = re.compile(r"^<!--\s*runnable-setup\s*$")
_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>bash|sh|shell|console)\s*$")
_ANY_FENCE = re.compile(r"^(?P<fence>```+|~~~+)")
_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=")


@dataclass(frozen=True)
class Block:
    """One runnable block: its code, the overrides of its marker, and where it starts."""

    code: str
    overrides: dict[str, str]
    line: int
    hidden: bool = False


def _parse_overrides(text: str, where: str) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"{where}: runnable override {item!r} is not NAME=VALUE")
        overrides[name] = value
    return overrides


def extract_blocks(text: str, source: str = "<page>") -> list[Block]:
    """The runnable blocks of a Markdown page, in order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if _SETUP.match(line):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "-->"), None)
            if end is None:
                raise ValueError(f"{source}:{i + 1}: runnable-setup comment is not closed with a line '-->'")
            blocks.append(Block("\n".join(lines[i + 1:end]), {}, i + 1, hidden=True))
            i = end + 1
            continue
        other = _ANY_FENCE.match(line)
        if other:  # a fenced block not marked runnable (perhaps an example of a marker): skip it whole
            fence = other.group("fence")
            i = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == fence[0] * len(fence)), len(lines)) + 1
            continue
        mark = _MARK.match(line)
        if mark:
            where = f"{source}:{i + 1}"
            overrides = _parse_overrides(mark.group("vars") or "", where)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            fence = _FENCE.match(lines[j].strip()) if j < len(lines) else None
            if fence is None:
                raise ValueError(f"{where}: a runnable marker must be followed by a ```bash block")
            close = next((k for k in range(j + 1, len(lines)) if lines[k].strip() == fence.group("fence")), None)
            if close is None:
                raise ValueError(f"{where}: the block after the runnable marker is not closed")
            blocks.append(Block("\n".join(lines[j + 1:close]), overrides, i + 1))
            i = close + 1
            continue
        i += 1
    return blocks


def _apply_overrides(block: Block, source: str) -> str:
    out = block.code.splitlines()
    for name, value in block.overrides.items():
        hits = [k for k, text in enumerate(out) if (m := _ASSIGN.match(text)) and m.group("name") == name]
        if not hits:
            raise ValueError(f"{source}:{block.line}: override {name}= has no line '{name}=...' in its block")
        for k in hits:
            out[k] = f"{name}={value}"
    return "\n".join(out)


def page_script(path: Path) -> str | None:
    """The bash script of a page's runnable blocks (overrides applied), or None if it has none."""
    source = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
    blocks = extract_blocks(path.read_text(encoding="utf-8"), source)
    if not blocks:
        return None
    parts = [f"# --- {source}:{b.line}{' (hidden set-up)' if b.hidden else ''}\n{_apply_overrides(b, source)}" for b in blocks]
    return "\n\n".join(parts) + "\n"


def runnable_pages() -> list[Path]:
    """README.md and every page under docs/ that has a runnable block."""
    candidates = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [p for p in candidates if "_build" not in p.parts and page_script(p) is not None]
