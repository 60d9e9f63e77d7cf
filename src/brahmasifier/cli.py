"""Command-line interface: a thin layer that parses arguments and calls the Python API.

Each subcommand lives in ``brahmasifier.commands.<name>`` and provides ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``. Those modules import heavy
libraries (torch, lenstronomy) inside ``run`` only, so ``--help`` stays fast.

Every subcommand takes ``--config FILE`` (YAML settings, overridden by the options given;
:func:`brahmasifier.commands._options.apply_config_file`; ``train`` layers its own under a
resumed run's ``config.yaml``). ``--quiet`` / ``--verbose`` (before or after COMMAND) or
``BRAHMASIFIER_LOG=LEVEL`` set the one logging setup (:mod:`brahmasifier.log`).

Error policy (one place, :func:`main`): a :class:`~brahmasifier.errors.BrahmasifierError` (bad
input or settings, which the user can fix) and an ``OSError`` (permission denied, disk full, a
file that vanished: the operating system's message names the path) become one line
``brahmasifier COMMAND: error: MESSAGE`` and exit code 2. Every other exception is a bug and
keeps its traceback. ``BRAHMASIFIER_DEBUG=1`` shows the traceback of user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
from collections.abc import Sequence

from brahmasifier import __version__
from brahmasifier.commands._options import apply_config_file
from brahmasifier.errors import BrahmasifierError
from brahmasifier.log import setup_logging

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommands in the order of the data flow.
COMMANDS: tuple[str, ...] = ("simulate", "inject", "perturb", "pack", "info", "train", "predict", "check", "export",
                             "evaluate", "inspect", "demo")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults of options that take values; on/off flags (``--no-x``) would only confuse."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by ``main`` and by the docs/tests)."""
    parser = argparse.ArgumentParser(
        prog="brahmasifier",
        description="Find strong gravitational lenses in 5-band (grizy) 41x41 survey cutouts.",
    )
    parser.add_argument("--version", action="version", version=f"brahmasifier {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", dest="_verbosity", action="store_const", const=-1, default=0,
                          help="messages on stderr: warnings and errors only (env BRAHMASIFIER_LOG=LEVEL overrides)")
    loudness.add_argument("-v", "--verbose", dest="_verbosity", action="store_const", const=1,
                          help="messages on stderr: also debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"brahmasifier.commands.{name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(p)
        if not any(a.dest == "config" for a in p._actions):
            p.add_argument("--config", metavar="FILE", default=None,
                           help="YAML file of settings: keys are this command's option names (e.g. out: DIR); "
                                "options given here win")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brahmasifier`` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command, config = _config_file(argv)
    # train reads its file itself (under a resumed run's config.yaml)
    if command is not None and config is not None and command != "train":
        try:
            apply_config_file(_subparser(parser, command), config)
        except BrahmasifierError as exc:
            print(f"brahmasifier {command}: error: {exc}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    setup_logging(args._verbosity)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume where supported", file=sys.stderr)
        return 130
    except (BrahmasifierError, OSError) as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_is_closed():
            # `brahmasifier pack … | head -1`: the reader has what it wanted; the work is done and
            # written. End quietly, as a Unix tool ended by SIGPIPE does (128 + 13). A broken
            # pipe to a worker process (stdout still open) is reported like any OSError.
            return 141
        # Bad input (missing folders, unreadable stores or models, invalid settings) is the
        # user's to fix: one clear line, no traceback, unless BRAHMASIFIER_DEBUG=1 asks for it.
        # Anything else is a bug in brahmasifier and propagates with its traceback.
        if os.environ.get("BRAHMASIFIER_DEBUG") == "1":
            raise
        message = str(exc)
        out = getattr(args, "out", None)
        if isinstance(exc, OSError) and not exc.filename and out and str(out) not in message:
            # an OSError without a path (disk full in a worker's write, a lost mount): say where it wrote
            message += f" (while writing {out}; free space or fix it there, then rerun the same command to resume)"
        print(f"brahmasifier {args.command}: error: {message}", file=sys.stderr)
        print("(set BRAHMASIFIER_DEBUG=1 for the full traceback)", file=sys.stderr)
        return 2


def _config_file(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """``(COMMAND, FILE)`` of a command line with ``COMMAND ... --config FILE`` (else ``None`` in place of each)."""
    if not argv or argv[0] not in COMMANDS:
        return None, None
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(list(argv[1:]))
    return argv[0], known.config


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``command``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _stdout_is_closed() -> bool:
    """True when standard output is a pipe whose reader has gone; it is then pointed at /dev/null.

    A pipe without a reader polls as ``POLLERR`` (Linux, macOS); the redirect keeps the
    interpreter's own flush at exit from printing a second broken-pipe message.
    """
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        closed = any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows) or no real stdout (captured)
        return False
    if closed:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    return closed


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
