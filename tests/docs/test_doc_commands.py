"""Every ``brahmasifier COMMAND --option`` written in the README or a docs page exists.

Runnable blocks are also run (``test_tutorials.py``); this check covers every other code block
too — the GPU, SLURM and science pages whose commands need hardware or hours — so a renamed
option or subcommand cannot survive in any page. Options are compared exactly (argparse would
also accept an abbreviation; the pages should not rely on that).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from brahmasifier.cli import build_parser

from .runnable import REPO

_FENCE = re.compile(r"^(```+|~~~+)\s*(bash|sh|shell|console)?\s*$")
_CALL = re.compile(r"\bbrahmasifier\)?\"?\s+(?P<rest>.*)")


def _code_blocks(text: str) -> list[str]:
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i].strip())
        if m and m.group(2):
            end = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == m.group(1)), len(lines))
            blocks.append("\n".join(lines[i + 1:end]))
            i = end + 1
        elif m:  # a fence of another language: skip its body
            i = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == m.group(1)), len(lines)) + 1
        else:
            i += 1
    return blocks


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def commands_in(text: str) -> list[tuple[str, list[str]]]:
    """``(subcommand, [--options])`` of every ``brahmasifier`` call in the page's shell blocks."""
    calls = []
    for block in _code_blocks(text):
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0] if not line.lstrip().startswith("#SBATCH") else ""
            for part in re.split(r"&&|\|\||;|\|", line):
                m = _CALL.search(part)
                if not m:
                    continue
                words = m.group("rest").split()
                if not words or words[0].startswith("-"):
                    continue
                calls.append((words[0], [w.split("=", 1)[0] for w in words[1:] if w.startswith("--")]))
    return calls


PAGES = [REPO / "README.md", *sorted(p for p in (REPO / "docs").rglob("*.md") if "_build" not in p.parts)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_documented_options_exist(page: Path) -> None:
    subs = _subparsers()
    problems = []
    for command, options in commands_in(page.read_text(encoding="utf-8")):
        if command not in subs:
            problems.append(f"'brahmasifier {command}': no such subcommand")
            continue
        known = {s for a in subs[command]._actions for s in a.option_strings}
        problems += [f"'brahmasifier {command} {opt}': no such option" for opt in options if opt not in known]
    assert not problems, f"{page.relative_to(REPO)}:\n" + "\n".join(problems)


def test_the_check_finds_calls_and_bad_options() -> None:
    text = ("```bash\nbrahmasifier train --data s \\\n    --epochs 2 --no-such-flag  # --not-this\n"
            "ls && brahmasifier info x\n```\n")
    assert commands_in(text) == [("train", ["--data", "--epochs", "--no-such-flag"]), ("info", [])]
    assert commands_in("```text\nbrahmasifier train --x\n```\n") == []


def test_readme_links_exist() -> None:
    """The README is read on GitHub, outside the Sphinx build that checks the pages' links."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+://", t) and not t.startswith("#")]
    assert local, "the README links into the docs"
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
