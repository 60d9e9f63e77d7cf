"""Sphinx directive ``brahmasifier-api``: the API reference of a package, found by walking it.

``{brahmasifier-api} brahmasifier.io`` documents the package's docstring and then every public
module below it (names not starting with ``_``), each in its own section with
``automodule :members:`` (the members are the module's ``__all__``). Pages list packages, not
modules, so a module added by anyone appears in the reference without editing a page;
``:toplevel:`` documents only the modules directly in the package (the top-level page).

Objects are documented where they are defined. A reference through a package's re-export
(``brahmasifier.io.open_store``, defined in ``brahmasifier.io.store``) is resolved the way
Python resolves it — import the package, take the attribute, look up its defining module — in
the ``missing-reference`` handler below, so docstrings may name the public path.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.docutils import SphinxDirective

__all__ = ["public_modules", "setup"]


def public_modules(package: str, toplevel: bool = False) -> list[str]:
    """Importable public modules under ``package`` (itself first), sorted by name."""
    pkg = importlib.import_module(package)
    names = [package]
    if hasattr(pkg, "__path__"):
        for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
            parts = info.name.split(".")
            if any(p.startswith("_") for p in parts):
                continue
            if toplevel and (info.ispkg or len(parts) != len(package.split(".")) + 1):
                continue
            names.append(info.name)
    return [names[0], *sorted(names[1:])]


class ApiReference(SphinxDirective):
    """``brahmasifier-api PACKAGE``: a section per public module with its documented members."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"toplevel": directives.flag}

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        toplevel = "toplevel" in self.options
        result: list[nodes.Node] = []
        for i, module in enumerate(public_modules(package, toplevel)):
            mod = importlib.import_module(module)
            if hasattr(mod, "__path__"):  # a package: its docstring, and what it defines itself (not re-exports)
                own = [n for n in getattr(mod, "__all__", []) if getattr(getattr(mod, n, None), "__module__", None) == module]
                lines = [f".. automodule:: {module}", f"   :members: {', '.join(own)}" if own else "   :no-members:"]
            else:
                lines = [f".. automodule:: {module}", "   :members:"]
            holder = nodes.container()
            self.state.nested_parse(StringList([*lines, ""], source=f"api:{module}"), 0, holder)
            if i == 0:
                result += holder.children
                continue
            section = nodes.section(ids=[nodes.make_id("api " + module)], names=[nodes.fully_normalize_name(module)])
            section += nodes.title(module, "", nodes.literal(module, module))
            section += holder.children
            self.state.document.note_implicit_target(section, section)
            result.append(section)
        return result


def _resolve_reexport(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Node) -> Any:
    """Resolve ``package.name`` to ``defining_module.name`` when the package re-exports it."""
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", ""))
    if not target.startswith("brahmasifier.") or "." not in target:
        return None
    module_name, _, attr = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return None
    defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', attr)}"
    if defined == target or not defined.startswith("brahmasifier."):
        return None
    domain = env.get_domain("py")
    node = node.deepcopy()
    node["reftarget"] = defined
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], defined, node, contnode)


def _resolve_unqualified(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Node) -> Any:
    """Resolve a bare name (``ModelCard`` written in another module) when one documented object has it.

    Docstrings name a class of a sibling module without its module; Python's own scoping would
    find it through the import, Sphinx looks only in the current module. Where exactly one
    documented object of the package ends in ``.NAME`` it is that one; otherwise the reference
    stays unresolved and the build fails (write the full name).
    """
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", "")).lstrip(".~")
    if not target.isidentifier():
        return None
    domain = env.get_domain("py")
    matches = {name for name, *_ in domain.get_objects() if name.startswith("brahmasifier.") and name.endswith("." + target)}
    if len(matches) != 1:
        return None
    (full,) = matches
    node = node.deepcopy()
    node["reftarget"] = full
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], full, node, contnode)


def _prose_first_line(app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    """Keep napoleon from reading an attribute docstring's first ``words: more words`` as a type.

    Napoleon takes the text before the first colon of a data/attribute docstring's first line for
    an inline type (``int: the count``). This package never writes types there (they come from the
    annotations), so a leading empty comment (``..``: napoleon drops blank lines) makes the whole
    docstring prose. Runs before napoleon.
    """
    if what in ("data", "attribute", "property") and lines and lines[0].strip():
        lines[:0] = ["..", ""]  # an empty comment: renders as nothing, and is not a type


def _parsable_signature(app: Sphinx, what: str, name: str, obj: object, options: object,
                        signature: str | None, return_annotation: str | None) -> tuple[str | None, str | None] | None:
    """Write a dataclass field's ``default_factory`` as ``...`` rather than ``<factory>``.

    ``<factory>`` is not Python, so Sphinx would split the signature at every comma (``dict[str``).
    """
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def _existing_public_name(app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Node) -> Any:
    """Show a reference to an undocumented public name as code, without a link.

    A module constant without a ``#:`` comment has no entry to link to (autodoc documents
    module data only where the source documents it), yet docstrings name it. When the name exists
    and is in its module's ``__all__`` the reference is right and is shown as written; a name
    that was renamed or removed still fails the build.
    """
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", "")).lstrip(".~")
    candidates = [target] if target.startswith("brahmasifier.") else []
    if node.get("py:module"):
        candidates.append(f"{node['py:module']}.{target}")
    for candidate in candidates:
        module_name, _, attr = candidate.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, attr) and attr in getattr(module, "__all__", ()):
            return contnode
    return None


def setup(app: Sphinx) -> dict[str, object]:
    """Register the directive and the reference resolvers."""
    app.add_directive("brahmasifier-api", ApiReference)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("missing-reference", _resolve_unqualified)
    app.connect("autodoc-process-docstring", _prose_first_line, priority=400)
    app.connect("autodoc-process-signature", _parsable_signature)
    app.connect("missing-reference", _existing_public_name)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
