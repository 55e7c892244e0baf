"""The command line: a thin edge over the use cases (`checking`, `sending`, `tracking`, `demo`).

The only package that prints, prompts or imports typer or rich. `main` chooses the interface language
first, then imports the commands (`commands`), whose help texts are translated as they are defined.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from pathlib import Path

CAMPAIGN_OPTIONS = ("--campaign", "-c")
CAMPAIGN_ENV = "MAILMERGE_CAMPAIGN"


def main() -> None:
    from ..campaign import peek_language
    from ..i18n import choose_language, use_language

    utf8_output()
    use_language(choose_language(peek_language(campaign_folder(sys.argv[1:]))))
    from .commands import app

    app(prog_name="mailmerge")


def campaign_folder(args: list[str]) -> Path:
    """The campaign folder the command line names, before Typer parses it: its language is needed to
    write the help and every message in it."""
    for index, arg in enumerate(args):
        if arg in CAMPAIGN_OPTIONS and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--campaign="):
            return Path(arg.partition("=")[2])
    return Path(os.environ.get(CAMPAIGN_ENV) or ".")


def utf8_output() -> None:
    """Vietnamese must survive a Windows code page (cp1252, cp1258) and output redirected to a file: the
    CLI always writes UTF-8, which Windows Terminal, PowerShell and Excel's text import all read."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(encoding="utf-8", errors="replace")
