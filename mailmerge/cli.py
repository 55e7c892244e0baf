"""The command line: a thin edge over `workflow`. The only module that imports typer or rich; it turns
`MailmergeError` into a clean message and exit code 1, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import workflow
from .campaign import init_campaign
from .errors import InputError, MailmergeError

app = typer.Typer(
    help="Personalised invitation letters (PDF, Decree 30/2020 layout) sent by email and tracked to the reply.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CampaignOption = Annotated[
    Path,
    typer.Option(
        "--campaign",
        "-c",
        envvar="MAILMERGE_CAMPAIGN",
        file_okay=False,
        help="Campaign folder (holds campaign.toml).",
        show_default="current folder",
    ),
]


@contextmanager
def reporting() -> Iterator[None]:
    """Every command runs inside this: known errors become a message and exit code 1."""
    try:
        yield
    except InputError as error:
        err.print(
            f"[bold red]Error:[/] {len(error.problems)} problem(s) found, nothing was rendered or sent:", markup=True
        )
        for problem in error.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(error.exit_code) from None
    except MailmergeError as error:
        err.print("[bold red]Error:[/] ", end="")
        err.print(str(error), markup=False)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise typer.Exit(130) from None


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Folder to create or complete.")]) -> None:
    """Scaffold a campaign folder (campaign.toml, recipients.csv, templates/); never overwrites a file."""
    with reporting():
        written = init_campaign(folder)
        for path in written:
            out.print(f"created {path}")
        if not written:
            out.print(f"{folder} already has every file; nothing was changed.")
        else:
            out.print(
                f"Edit {folder / 'campaign.toml'} and {folder / 'recipients.csv'}, then run "
                f"`mailmerge check --campaign {folder}`."
            )


@app.command()
def check(campaign: CampaignOption = Path(".")) -> None:
    """Validate everything and render every letter (PDF included) without sending anything."""
    with reporting(), progress_bar() as bar:
        loaded_total = bar.add_task("Rendering letters", total=None)
        report = workflow.check(campaign, on_rendered=lambda _: bar.advance(loaded_total))
    groups = Table("group", "recipients", title=f"{len(report.recipients)} recipients", title_justify="left")
    for group, count in report.groups.items():
        groups.add_row(group, str(count))
    out.print(groups)
    out.print(f"Letters rendered: {len(report.render_seconds)} PDFs, median {report.median_render_ms:.0f} ms each")
    out.print(
        "Fonts embedded: "
        + ", ".join(f"{name}{'' if embedded else ' (NOT embedded)'}" for name, embedded in sorted(report.fonts.items()))
    )
    for warning in report.warnings:
        out.print(f"[yellow]Warning:[/] {warning}")
    out.print("[green]No problems found.[/] Nothing was sent.")


@app.command()
def preview(
    campaign: CampaignOption = Path("."),
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Recipient ID (order) or email; repeat for more. Default: everyone."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the files.")] = Path("preview"),
    png: Annotated[bool, typer.Option("--png", help="Also a PNG of page 1 (needs pdftoppm).")] = False,
) -> None:
    """Write the exact .eml and the PDF each recipient would get, without sending."""
    if png and not shutil.which("pdftoppm"):
        err.print("Warning: pdftoppm is not installed (Debian: poppler-utils); no PNG will be written.")
    with reporting(), progress_bar() as bar:
        task = bar.add_task("Writing previews", total=None)
        written = workflow.preview(campaign, out_dir, wanted=to or (), png=png, on_written=lambda _: bar.advance(task))
    emails = sum(1 for path in written if path.suffix == ".eml")
    out.print(f"Wrote {emails} email(s) with their PDF to {out_dir}/ ({len(written)} files). Nothing was sent.")


def main() -> None:
    app(prog_name="mailmerge")
