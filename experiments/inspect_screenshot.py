"""The screenshot of the grading app in docs/inspect.md, taken with headless Chromium.

Usage: python experiments/inspect_screenshot.py PROBS IMAGES OUT.png [--grades N] [--position K]

Starts ``brahmasifier inspect PROBS --images IMAGES`` on a free port with a fresh grade file
under a temporary folder, opens it in headless Chromium (``tests/evaluation/browser.py``),
grades the first ``--grades`` candidates A with real key presses (so the progress strip shows
them), moves to candidate ``--position`` and saves a 1400×900 screenshot.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "evaluation"))
from browser import Session, find_browser


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probs")
    parser.add_argument("images")
    parser.add_argument("out", type=Path)
    parser.add_argument("--grades", type=int, default=3)
    parser.add_argument("--position", type=int, default=3)
    parser.add_argument("--top", type=int, default=50)
    args = parser.parse_args()
    browser = find_browser()
    if browser is None:
        raise SystemExit("no Chromium on PATH (make browser)")
    with tempfile.TemporaryDirectory() as work:
        process = subprocess.Popen([sys.executable, "-m", "brahmasifier.cli", "inspect", args.probs, "--images", args.images,
                                    "--out", f"{work}/grades.csv", "--top", str(args.top), "--inspector", "demo",
                                    "--port", "0"], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        address = None
        for line in process.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if found:
                address = found.group(0)
                break
        if address is None:
            raise SystemExit("the server did not start")
        session = Session(browser)
        try:
            session.open(address)
            session.wait_until("document.getElementById('where').textContent.startsWith('1 /')")
            for k in range(args.grades):
                session.press("a")
                session.wait_until(f"document.getElementById('where').textContent.startsWith('{k + 2} /')")
            for _ in range(args.grades, args.position):
                session.press("ArrowRight")
            session.wait_until("Array.from(document.querySelectorAll('#panels img'))"
                               ".every(i => i.complete && i.naturalWidth > 0)")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(session.screenshot())
        finally:
            session.close()
            process.terminate()
            process.wait()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
