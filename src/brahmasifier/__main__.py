"""`python -m brahmasifier` runs the command-line interface."""

from brahmasifier.cli import main

raise SystemExit(main())
