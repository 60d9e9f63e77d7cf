"""Brahmasifier: find strong gravitational lenses in multi-band survey cutouts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("brahmasifier")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
