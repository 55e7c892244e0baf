"""Every command, registered on `app` in the order `mailmerge --help` lists them."""

# isort: off
from . import prepare, deliver, resend, status, export, report, replies, demo, clean  # noqa: F401  (registers the commands, in this order)

# isort: on
from .app import app

__all__ = ["app"]
