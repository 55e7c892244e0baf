"""The command-line application: the `mailmerge` command, its consoles and shared options, and the one
place where `MailmergeError` becomes a clean message and an exit code (`reporting`)."""

from __future__ import annotations

import codecs
import io
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from .. import __version__
from ..errors import InputError, MailmergeError
from .interrupts import EXIT_CODE, ctrl_c

app = typer.Typer(
    help="Personalised invitation letters (PDF, Decree 30/2020 layout) sent by email and tracked to the reply.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
# markup is off: names and server replies are printed as they are; our own styling passes markup=True
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

CampaignOption = Annotated[
    Path,
    typer.Option(
        "--campaign",
        "-c",
        envvar="MAILMERGE_CAMPAIGN",
        file_okay=False,
        metavar="DIR",
        help="Campaign folder (holds campaign.toml).",
        show_default="current folder",
    ),
]
LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger", dir_okay=False, metavar="FILE", help="Ledger file.", show_default="ledger.db in the campaign folder"
    ),
]
OnlyOption = Annotated[
    list[str] | None,
    typer.Option("--only", metavar="ID|EMAIL", help="Only this recipient (ID or email); repeat for more."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ConnectionsOption = Annotated[int, typer.Option(metavar="N", help="SMTP connections used in parallel.", min=1, max=16)]


def show_version(value: bool) -> None:
    if value:
        out.print(f"mailmerge {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=show_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Personalised invitation letters (PDF, Decree 30/2020 layout) sent by email and tracked to the reply."""


@contextmanager
def reporting() -> Iterator[None]:
    """Every command runs inside this: known errors become a message and exit code 1; Ctrl-C follows
    `interrupts` (a first press stops cleanly with exit code 130, a second one stops at once)."""
    with ctrl_c.installed():
        try:
            yield
        except InputError as error:
            err.print(
                f"[bold red]Error:[/] {len(error.problems)} problem(s) found, nothing was rendered or sent:",
                markup=True,
            )
            for problem in error.problems:
                err.print(f"  {problem}")
            raise typer.Exit(error.exit_code) from None
        except MailmergeError as error:
            print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err.print("Interrupted. `mailmerge status` shows where every invitation stands.")
            raise typer.Exit(EXIT_CODE) from None


def print_error(error: MailmergeError) -> None:
    """ "Error:" in red, then the message as it is (it may hold brackets that are not markup)."""
    err.print("[bold red]Error:[/] ", end="", markup=True)
    err.print(str(error))


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no recipients"


def main() -> None:
    utf8_output()
    app(prog_name="mailmerge")


def utf8_output() -> None:
    """Vietnamese must survive a Windows code page (cp1252, cp1258) and output redirected to a file: the
    CLI always writes UTF-8, which Windows Terminal, PowerShell and Excel's text import all read."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            stream.reconfigure(encoding="utf-8", errors="replace")
