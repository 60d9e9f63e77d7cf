"""The grading app in a real headless Chromium: key presses grade, every grade is on disk at once, resume works.

The real CLI runs as a server process on 127.0.0.1 (a free port, printed by the command); the
browser is driven through the DevTools protocol (``tests/evaluation/browser.py``: real key
events, no browser download, no driver). The server is killed with SIGKILL mid-session to show
that nothing graded is lost, then restarted on the same grade file.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from brahmasifier.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from browser import Session, find_browser


def start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``brahmasifier inspect ARGS --port 0`` as a process; (process, address) once it listens."""
    process = subprocess.Popen([sys.executable, "-m", "brahmasifier.cli", "inspect", *args, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen = []
    end = time.monotonic() + 120
    while time.monotonic() < end:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found:
            return process, found.group(0)
    process.kill()
    process.wait()
    raise AssertionError(f"the server did not start: {''.join(seen)}")


def stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def where(session: Session) -> str:
    return str(session.evaluate("document.getElementById('where').textContent"))


@pytest.mark.skipif(find_browser() is None, reason="no Chromium (make browser installs it)")
def test_grading_in_a_browser_survives_reload_and_kill(
        tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame], probs_file: tuple[Path, pd.DataFrame]) -> None:
    root, _ = tiny_challenge_tree
    probs_path, probs = probs_file
    grades = tmp_path / "grades" / "ana.csv"
    args = (str(probs_path), "--images", str(root), "--out", str(grades), "--top", "6", "--inspector", "ana")
    process, address = start_cli(*args)
    browser = find_browser()
    assert browser is not None
    session = Session(browser)
    try:
        session.open(address)
        session.wait_until("document.getElementById('where').textContent === '1 / 6'")
        session.wait_until("Array.from(document.querySelectorAll('#panels img')).every(i => i.complete && i.naturalWidth === 41)")
        top = probs.sort_values("prob", ascending=False, kind="stable").head(6)["id"].tolist()
        assert session.evaluate("document.getElementById('oid').textContent").startswith(top[0])
        # Grade the first three by keyboard only: A, then X with a note typed into the note field, then B.
        session.press("a")
        session.wait_until("document.getElementById('where').textContent === '2 / 6'")
        session.press("/")
        for char in "no arc":
            session.press(char) if char != " " else session.send("Input.insertText", {"text": " "})
        session.press("Enter")
        session.wait_until("document.getElementById('status').textContent === 'saved'")
        session.press("x")
        session.wait_until("document.getElementById('where').textContent === '3 / 6'")
        session.press("b")
        session.wait_until("document.getElementById('where').textContent === '4 / 6'")
        session.wait_until("pending === 0 && document.getElementById('status').textContent === 'saved'")
        session.press("ArrowLeft")
        assert where(session) == "3 / 6"
        session.press("+")  # zoom: the panels are scaled, not replaced
        assert "scale(1.5)" in session.evaluate("document.querySelector('#panels img').style.transform")
        on_disk = pd.read_csv(grades, dtype=str, keep_default_na=False)
        assert on_disk["grade"].tolist() == ["A", "X", "B", "", "", ""]
        assert on_disk["id"].tolist() == top
        assert on_disk.loc[1, "note"] == "no arc"
        assert set(on_disk.loc[:2, "inspector"]) == {"ana"}
        # A reload shows the grades kept and opens at the first ungraded candidate.
        session.reload()
        session.wait_until("document.getElementById('where').textContent === '4 / 6'")
        assert session.evaluate("document.querySelectorAll('#strip span.gA, #strip span.gB, #strip span.gX').length") == 3
        session.wait_until("Array.from(document.querySelectorAll('#panels img')).every(i => i.complete && i.naturalWidth === 41)")
        assert session.problems() == []
        # Killed without warning: nothing graded is lost; a restart on the same file resumes there.
        stop(process, signal.SIGKILL)
        old_address = address
        assert pd.read_csv(grades, dtype=str, keep_default_na=False)["grade"].tolist() == ["A", "X", "B", "", "", ""]
        process, address = start_cli(*args)
        session.open(address)
        session.wait_until("document.getElementById('where').textContent === '4 / 6'")
        session.press("ArrowLeft")
        session.press("ArrowLeft")
        assert session.evaluate("document.getElementById('gradebox').textContent") == "X"
        assert session.evaluate("document.getElementById('note').value") == "no arc"
        session.press("c")  # regrade: the file follows, and the app goes on to the next one
        session.wait_until("document.getElementById('where').textContent === '3 / 6'")
        session.wait_until("pending === 0 && document.getElementById('status').textContent === 'saved'")
        assert pd.read_csv(grades, dtype=str, keep_default_na=False)["grade"].tolist() == ["A", "C", "B", "", "", ""]
        # The killed server's unfinished preloads failed; nothing else may have.
        assert [p for p in session.problems() if old_address not in p] == []
    finally:
        session.close()
        stop(process)
    assert not list(grades.parent.glob(".*tmp*"))  # no temporary file left behind


def test_inspect_input_errors_are_one_line(tmp_path: Path, tiny_challenge_tree: tuple[Path, pd.DataFrame],
                                           probs_file: tuple[Path, pd.DataFrame], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tiny_challenge_tree
    probs_path, probs = probs_file
    out = str(tmp_path / "g.csv")

    def error(*argv: str) -> str:
        assert main(["inspect", *argv]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[0].startswith("brahmasifier inspect: error: ")
        return lines[0]

    assert "no such probabilities file" in error(str(tmp_path / "missing.csv"), "--images", str(root), "--out", out)
    probs.drop(columns="prob").to_csv(tmp_path / "noprob.csv", index=False)
    assert "no `prob` column" in error(str(tmp_path / "noprob.csv"), "--images", str(root), "--out", out)
    pd.concat([probs, pd.DataFrame({"id": ["nowhere"], "stem": ["nowhere"], "prob": [2.0]})]).to_csv(
        tmp_path / "stranger.csv", index=False)
    assert "not found (first: id nowhere)" in error(str(tmp_path / "stranger.csv"), "--images", str(root), "--out", out)
    assert "needs PROBS, --images" in error(str(probs_path))
    assert "needs --calibration-data" in error(str(probs_path), "--images", str(root), "--out", out,
                                               "--calibration-fraction", "0.2")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert "already in use" in error(str(probs_path), "--images", str(root), "--out", out, "--port", str(port))
    assert not os.path.exists(out)  # nothing written when the start fails
