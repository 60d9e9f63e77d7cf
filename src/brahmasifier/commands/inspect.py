"""Grade the top candidates by eye in a local web app, or merge several inspectors' grade files.

Grading (one inspector, one grade file, saved at every key press; rerun to resume)::

    brahmasifier inspect preds/probs.csv --images blind/ --out grades/ana.csv --top 200 --inspector ana

opens nothing by itself: it prints the address (http://127.0.0.1:PORT/) to open in a browser
(``--open`` opens it). Keys: A/B/C/X grade and go on, arrows move, +/− zoom, / types a note.

Merging (consensus grade, Fleiss' kappa, disagreements, inspectors' calibration)::

    brahmasifier inspect --merge grades/*.csv --out merged.csv

The false positives (graded X) as an HTML atlas with the panels, and the grades back into
training::

    brahmasifier inspect --atlas merged.csv --images blind/ --out false_positives.html
    brahmasifier train --init-from runs/r1 --data store/ --extra-labels merged.csv --extra-images blind/ --out runs/r2
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

__all__ = ["HELP", "add_arguments", "run"]

HELP = "grade candidates by eye in a local web app (A/B/C/X), or merge inspectors' grades"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brahmasifier inspect``."""
    parser.add_argument("probs", nargs="?", metavar="PROBS", help="probs.csv written by `brahmasifier predict`")
    parser.add_argument("--images", default=None, metavar="DATA", help="packed store or FITS folder holding the candidates")
    parser.add_argument("--out", default=None, help="grade file to write and resume (with --merge: the merged CSV)")
    parser.add_argument("--top", type=int, default=100, help="candidates to grade, highest prob first")
    parser.add_argument("--inspector", default=None, help="your name in the grade file (default: the login name)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--open", action="store_true", help="open the app in the default web browser")
    parser.add_argument("--calibration-fraction", type=float, default=0.0, metavar="F",
                        help="fraction of the list made of known lenses and non-lenses, unmarked (0: none)")
    parser.add_argument("--calibration-data", default=None, metavar="LABELLED",
                        help="labelled FITS tree (class folders) or store to draw calibration objects from")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration draw and placement")
    parser.add_argument("--feedback", choices=("on", "off"), default="off",
                        help="say after each grade of a calibration object whether it was a known lens")
    parser.add_argument("--atlas", default=None, metavar="GRADES",
                        help="write the false-positive atlas (candidates graded X, with panels) of a grade or merged "
                             "file to --out (HTML); needs --images")
    parser.add_argument("--merge", nargs="+", default=None, metavar="GRADES",
                        help="merge these grade files instead of grading (consensus, Fleiss' kappa, disagreements)")


def _merge(args: argparse.Namespace) -> int:
    from brahmasifier._atomic import write_text_atomic
    from brahmasifier.inspect.merge import format_merge, merge_grade_files

    result = merge_grade_files(args.merge)
    print(format_merge(result))
    if args.out:
        out = Path(args.out)
        write_text_atomic(out, result.merged.to_csv(index=False))
        written = [str(out)]
        if len(result.calibration):
            calibration = out.with_name(out.stem + "_calibration.csv")
            write_text_atomic(calibration, result.calibration.to_csv(index=False))
            written.append(str(calibration))
        print(f"wrote {' and '.join(written)}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Start the grading app (or merge grade files)."""
    from brahmasifier.errors import ConfigError

    if args.atlas:
        if not args.images or not args.out:
            raise ConfigError("--atlas GRADES needs --images DATA and --out ATLAS.html")
        from brahmasifier.inspect.retrain import write_atlas

        n = write_atlas(args.atlas, args.images, args.out)
        print(f"wrote {args.out}: {n} candidates graded X")
        return 0
    if args.merge:
        if args.probs:
            raise ConfigError("give either PROBS (grade) or --merge GRADES (merge), not both")
        return _merge(args)
    if not args.probs or not args.images or not args.out:
        raise ConfigError("grading needs PROBS, --images DATA and --out GRADES.csv (or --merge GRADES to merge)")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: must be in 0..65535")
    from brahmasifier.inspect.candidates import build_list, load_images
    from brahmasifier.inspect.grades import GradeBook
    from brahmasifier.inspect.server import create_app, start_server

    inspector = args.inspector or os.environ.get("USER") or getpass.getuser()
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the grade file's name, e.g. {out}/{inspector}.csv")
    if out.exists():
        book = GradeBook.resume(out, inspector)
        print(f"resuming {out}: {book.n_graded()} of {len(book)} graded")
    else:
        table = build_list(args.probs, args.top, args.calibration_fraction, args.calibration_data, args.seed)
        book = GradeBook(out, table, inspector)
    images = load_images(book.table, args.images, args.calibration_data)
    server = start_server(create_app(book, images, feedback=args.feedback == "on"), args.port)
    book.save()
    address = f"http://127.0.0.1:{server.server_port}/"
    print(f"grading {len(book)} objects into {out} as {inspector!r}: open {address} (Ctrl-C to stop)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(address)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
