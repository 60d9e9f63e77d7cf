"""Sphinx directive ``brahmasifier-cli``: the command-line reference, generated from the parser.

``cli_reference_rst()`` walks :func:`brahmasifier.cli.build_parser` — the same parser the
``brahmasifier`` command runs — and writes each subcommand's description, usage and every
option (all its spellings, its metavar, its help with the default, hidden deprecated spellings
marked as such) as Sphinx ``program``/``option`` directives, so tutorials can link an option with
``{option}`brahmasifier train --epochs``` and a renamed option breaks the build. Nothing here is
written by hand: a new subcommand or option in ``cli.py``/``commands/`` appears by itself.
``tests/docs/test_cli_reference.py`` checks that every option string of every subcommand is in
the built page.
"""

from __future__ import annotations

import argparse
import inspect
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["cli_reference_rst", "setup", "subcommands"]

_SPECIAL = re.compile(r"([\\`*_|\[\]<>])")


def _escape(text: str) -> str:
    """Text shown as written: reStructuredText's inline markup characters escaped."""
    return _SPECIAL.sub(r"\\\1", text)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Subcommand name → its parser, in the order ``cli.COMMANDS`` registers them."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if sub not in found.values():
                    found[name] = sub
    return found


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's help as ``--help`` prints it (defaults included), on one line."""
    if action.help == argparse.SUPPRESS:
        return "Hidden from ``--help``: an old spelling kept for compatibility (see the notes printed when used)."
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    return _escape(" ".join(text.split()))


def _signature(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """``--out RUN_DIR, --output RUN_DIR`` or ``FITS_ROOT ...`` for the option directive."""
    formatter = parser._get_formatter()
    if not action.option_strings:
        metavar = formatter._metavar_formatter(action, action.dest)(1)[0]
        return metavar
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    args = formatter._format_args(action, formatter._get_default_metavar_for_optional(action))
    args = args.replace(" ", "\u00a0")  # the option directive splits names from arguments at a space
    return ", ".join(f"{opt} {args}" for opt in action.option_strings)


def _description(text: str) -> list[str]:
    """A command module's docstring, as reStructuredText lines (it is written in it, like every docstring)."""
    return inspect.cleandoc(text).splitlines() if text else []


def _option_lines(parser: argparse.ArgumentParser, action: argparse.Action) -> list[str]:
    lines = [f".. option:: {_signature(parser, action)}", ""]
    body = _help(parser, action)
    if action.choices is not None and not isinstance(action.choices, dict):
        body += "; choices: " + ", ".join(f"``{c}``" for c in action.choices)
    return [*lines, "   " + (body or "(no help text)"), ""]


def _options_rst(program: str, parser: argparse.ArgumentParser) -> list[str]:
    """``program``/``option`` directives, under a rubric per argument group (as ``--help`` groups them)."""
    lines = [f".. program:: {program}", ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions
                   if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        if group.title not in ("options", "optional arguments"):
            lines += [f".. rubric:: {_escape(group.title or '')}", ""]
            if group.description:
                lines += [_escape(" ".join(group.description.split())), ""]
        for action in actions:
            lines += _option_lines(parser, action)
    return lines


def cli_reference_rst(parser: argparse.ArgumentParser) -> list[tuple[str, list[str], list[str]]]:
    """One ``(program, description rst lines, options rst lines)`` for the tool and each subcommand."""
    prog = parser.prog
    out = [(prog, _description(parser.description or ""), _options_rst(prog, parser))]
    for name, sub in subcommands(parser).items():
        out.append((f"{prog} {name}", _description(sub.description or ""), _options_rst(f"{prog} {name}", sub)))
    return out


class CliReference(SphinxDirective):
    """``brahmasifier-cli``: a section per subcommand with its usage and every option."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from brahmasifier.cli import build_parser

        parser = build_parser()
        subs = subcommands(parser)
        result: list[nodes.Node] = []
        for program, description, option_lines in cli_reference_rst(parser):
            name = program.split(" ", 1)[1] if " " in program else ""
            section = nodes.section(ids=[nodes.make_id(program)], names=[nodes.fully_normalize_name(program)])
            section += nodes.title(program, program)
            text = nodes.container()
            self.state.nested_parse(StringList(description, source=f"{program} (module docstring)"), 0, text)
            section += text.children
            usage = (subs[name] if name else parser).format_usage().strip()
            section += nodes.literal_block(usage, usage, language="text")
            holder = nodes.container()
            self.state.nested_parse(StringList(option_lines, source="brahmasifier.cli.build_parser"), 0, holder)
            section += holder.children
            self.state.document.note_implicit_target(section, section)
            result.append(section)
        return result


def setup(app: Sphinx) -> dict[str, object]:
    """Register the directive."""
    app.add_directive("brahmasifier-cli", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
