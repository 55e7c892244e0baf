"""The command line: a thin edge over the use cases (`checking`, `sending`, `tracking`, `demo`).

The only package that prints, prompts or imports typer or rich. Each module adds its commands to `app`;
they are imported here in the order `mailmerge --help` lists them."""

# isort: off
from . import prepare, deliver, status, demo  # noqa: F401  (registers the commands, in this order)

# isort: on
from .app import app, main

__all__ = ["app", "main"]
