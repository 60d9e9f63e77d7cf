"""The backbone registry: a name → its builder, default learning rate, input size and source files.

Modelled on timm's ``register_model`` (registry / builder / factory split): a backbone module
declares its network with one decorated builder, and everything that needs to know about
backbones reads the entry — :func:`~brahmasifier.models.backbones.create_backbone` (and so
``build_model(card)``), the learning rate and input size ``brahmasifier train --arch NAME``
starts from, and the ONNX cache key (:func:`brahmasifier.inference.onnx.graph_sources`)::

    from brahmasifier.models.backbones import register_backbone

    @register_backbone("tiny", lr=1e-3)
    def tiny(in_chans: int, num_classes: int = 1, width: int = 8) -> nn.Module:
        return TinyNet(in_chans, num_classes, width)

The builder takes the number of input bands, ``num_classes`` (1: one logit) and the card's
``model_kwargs``, and returns a module mapping ``(B, in_chans, H, W)`` to ``(B, num_classes)``; a
multi-task model (``--targets``) also needs timm's ``forward_features``, ``forward_head(...,
pre_logits=True)``, ``get_classifier()`` and ``num_features``. ``sources`` lists the files whose code
shapes the network (the builder's own file is always included), so editing any of them
re-exports a cached ONNX graph. The built-in backbones are the modules of this package (found by
:func:`load_builtin_backbones`, so a new one is one file here); a name that is not registered is
looked up in timm (``models/backbones/_factory.py``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from brahmasifier.bands import STAMP_SIZE

__all__ = ["BackboneEntry", "backbone_entry", "backbone_names", "load_builtin_backbones", "register_backbone"]

Builder = TypeVar("Builder", bound=Callable[..., Any])


@dataclass(frozen=True)
class BackboneEntry:
    """One registered backbone.

    Attributes:
        name: the ``architecture`` of a model card (``--arch``).
        builder: ``builder(in_chans, num_classes=1, **model_kwargs) -> nn.Module``.
        lr: learning rate used when ``--lr`` is not given.
        input_size: model input size (the cutout is resized to it inside the model; 41: native).
        sources: absolute paths of the files that define the network (the builder's file first).
        description: one line for the docs and errors.
    """

    name: str
    builder: Callable[..., Any]
    lr: float
    input_size: int = STAMP_SIZE
    sources: tuple[Path, ...] = field(default=())
    description: str = ""


_REGISTRY: dict[str, BackboneEntry] = {}
_BUILTINS_LOADED = False
_OWN = f"{__package__}."


def register_backbone(name: str, *, lr: float, input_size: int = STAMP_SIZE, sources: tuple[str | Path, ...] = (),
                      description: str = "") -> Callable[[Builder], Builder]:
    """Decorator registering ``builder`` as backbone ``name`` (see module docstring); returns the builder unchanged.

    ``sources`` are paths (absolute, or relative to the builder's file) of further files that shape
    the network. Registering another builder under a name already taken is a ``ValueError``.
    """
    if not name or not lr > 0 or int(input_size) < 1:
        raise ValueError(f"backbone {name!r}: a name, lr > 0 and input_size >= 1 are needed")

    def decorate(builder: Builder) -> Builder:
        own = Path(inspect.getfile(builder)).resolve()
        files = [own, *((own.parent / p).resolve() for p in sources)]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise ValueError(f"backbone {name!r}: source files not found: {', '.join(missing)}")
        previous = _REGISTRY.get(name)
        if previous is not None and (previous.builder.__module__, previous.builder.__qualname__) != (
                builder.__module__, builder.__qualname__):
            raise ValueError(f"backbone {name!r} is already registered by {previous.builder.__module__}")
        _REGISTRY[name] = BackboneEntry(name, builder, float(lr), int(input_size), tuple(dict.fromkeys(files)),
                                        description or (inspect.getdoc(builder) or "").split("\n")[0])
        return builder

    return decorate


def load_builtin_backbones() -> None:
    """Import every module of this package (each registers its backbones), once."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")


def backbone_entry(name: str) -> BackboneEntry | None:
    """The registered backbone ``name`` (None: not registered, e.g. a timm model name)."""
    load_builtin_backbones()
    return _REGISTRY.get(name)


def backbone_names() -> tuple[str, ...]:
    """Names of the registered backbones: the built-ins (by module name), then the others in registration order."""
    load_builtin_backbones()
    builtin = sorted((e.builder.__module__, name) for name, e in _REGISTRY.items() if e.builder.__module__.startswith(_OWN))
    return (*(name for _, name in builtin), *(name for name, e in _REGISTRY.items() if not e.builder.__module__.startswith(_OWN)))
