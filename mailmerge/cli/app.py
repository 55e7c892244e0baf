"""The command-line application: the `mailmerge` command, its consoles and shared options, and the one
place where `MailmergeError` becomes a clean message and an exit code (`reporting`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from .. import __version__
from ..errors import InputError, MailmergeError
from ..i18n import _, ngettext, pgettext
from ..models import ServerSettings
from .interrupts import EXIT_CODE, ctrl_c
from .labels import state_label

app = typer.Typer(
    help=_("Personalised invitation letters (PDF, Decree 30/2020 layout) sent by email and tracked to the reply."),
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
        help=_("Campaign folder (holds campaign.toml)."),
        # TRANSLATORS: shown as "[default: (current folder)]" in the help of --campaign
        show_default=_("current folder"),
    ),
]
LedgerOption = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        dir_okay=False,
        metavar="FILE",
        help=_("Ledger file."),
        # TRANSLATORS: shown as "[default: (ledger.db in the campaign folder)]" in the help of --ledger
        show_default=_("ledger.db in the campaign folder"),
    ),
]
OnlyOption = Annotated[
    list[str] | None,
    typer.Option("--only", metavar="ID|EMAIL", help=_("Only this recipient (ID or email); repeat for more.")),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help=_("Do not ask for confirmation."))]
NoPdfOption = Annotated[
    bool,
    typer.Option(
        "--no-pdf", help=_("Without the letter's PDF, whatever attach_pdf says (the campaign's attachments still go).")
    ),
]
ConnectionsOption = Annotated[
    int, typer.Option(metavar="N", help=_("SMTP connections used in parallel."), min=1, max=16)
]


def show_version(value: bool) -> None:
    if value:
        out.print(f"mailmerge {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=show_version, is_eager=True, help=_("Show the version and exit.")),
    ] = None,
) -> None:
    pass  # the options of `mailmerge` itself; its help is the app's


@contextmanager
def reporting() -> Iterator[None]:
    """Every command runs inside this: known errors become a message and exit code 1; Ctrl-C follows
    `interrupts` (a first press stops cleanly with exit code 130, a second one stops at once)."""
    with ctrl_c.installed():
        try:
            yield
        except InputError as error:
            count = len(error.problems)
            err.print(coloured(_("Error:"), "bold red") + " ", end="", markup=True)
            err.print(
                ngettext(
                    "{count} problem found, nothing was rendered or sent:",
                    "{count} problems found, nothing was rendered or sent:",
                    count,
                ).format(count=count)
            )
            for problem in error.problems:
                err.print(f"  {problem}")
            raise typer.Exit(error.exit_code) from None
        except MailmergeError as error:
            print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err.print(_("Interrupted. `mailmerge status` shows where every invitation stands."))
            raise typer.Exit(EXIT_CODE) from None


def print_error(error: MailmergeError) -> None:
    """ "Error:" in red, then the message as it is (it may hold brackets that are not markup)."""
    err.print(coloured(_("Error:"), "bold red") + " ", end="", markup=True)
    err.print(str(error))


def coloured(text: str, style: str) -> str:
    """`text` (a translated message, never markup itself) in `style`, as rich markup."""
    return f"[{style}]{escape(text)}[/]"


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def describe(counts: Counter[str], label: Callable[[str], str] = state_label) -> str:
    """Counts by state (or by what `label` names), as a list ("4 sent, 1 unknown") shown inside a sentence,
    never a sentence itself."""
    # TRANSLATORS: one item of a list of counts by state, "4 sent, 1 unknown"; {state} is the state's
    # name as translated in context "state"
    item = _("{count} {state}")
    items = [item.format(count=count, state=label(state)) for state, count in sorted(counts.items())]
    # TRANSLATORS: what separates two items of that list; a state's name may itself hold a comma
    separator = pgettext("list of counts", ", ")
    # TRANSLATORS: what the list of counts by state says when there is no one to count
    return separator.join(items) or _("no recipients")


def asked_password(settings: ServerSettings, stored: str | None, prompt: str) -> str | None:
    """`stored` (from the environment or the keyring), else for a server with a login typed at a hidden prompt."""
    if settings.username and stored is None:
        return typer.prompt(prompt, hide_input=True)
    return stored


def smtp_password(settings: ServerSettings) -> str | None:
    from ..connection import stored_password

    prompt = _("SMTP password for {username} at {host}").format(username=settings.username, host=settings.host)
    return asked_password(settings, stored_password(settings), prompt)


def imap_password(settings: ServerSettings | None) -> str | None:
    """None without [imap]."""
    if settings is None:
        return None
    from ..inbox import stored_password

    prompt = _("IMAP password for {user} at {host}").format(user=settings.username, host=settings.host)
    return asked_password(settings, stored_password(settings), prompt)
