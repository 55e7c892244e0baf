"""Commands that prepare a campaign without sending: `init`, `check`, `preview`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import checking
from ..campaign import init_campaign
from .app import (
    CampaignOption,
    app,
    err,
    out,
    progress_bar,
    reporting,
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


NOTES_SHOWN = 10


@app.command()
def check(campaign: CampaignOption = Path(".")) -> None:
    """Validate everything and render every letter (PDF included) without sending anything."""
    with reporting(), progress_bar() as bar:
        loaded_total = bar.add_task("Rendering letters", total=None)
        report = checking.check(campaign, on_rendered=lambda _: bar.advance(loaded_total))
    groups = Table("group", "recipients", title=f"{len(report.recipients)} recipients", title_justify="left")
    for group, count in report.groups.items():
        groups.add_row(group, str(count))
    out.print(groups)
    out.print(f"Letters rendered: {len(report.render_seconds)} PDFs, median {report.median_render_ms:.0f} ms each")
    out.print(
        "Fonts embedded: "
        + ", ".join(f"{name}{'' if embedded else ' (NOT embedded)'}" for name, embedded in sorted(report.fonts.items()))
    )
    for note in report.notes[:NOTES_SHOWN]:
        out.print(f"Note: {note}")
    if len(report.notes) > NOTES_SHOWN:
        out.print(f"… and {len(report.notes) - NOTES_SHOWN} more note(s) like these.")
    for warning in report.warnings:
        out.print(f"[yellow]Warning:[/] {escape(warning)}", markup=True)
    out.print("[green]No problems found.[/] Nothing was sent.", markup=True)


@app.command()
def preview(
    campaign: CampaignOption = Path("."),
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to", metavar="ID|EMAIL", help="Recipient ID (order) or email; repeat for more. Default: everyone."
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where to write the files.")] = Path("preview"),
    png: Annotated[bool, typer.Option("--png", help="Also a PNG of page 1 (needs pdftoppm).")] = False,
) -> None:
    """Write the exact .eml and the PDF each recipient would get, without sending."""
    if png and not shutil.which("pdftoppm"):
        err.print("Warning: pdftoppm is not installed (Debian: poppler-utils); no PNG will be written.")
    with reporting(), progress_bar() as bar:
        task = bar.add_task("Writing previews", total=None)
        written = checking.preview(campaign, out_dir, wanted=to or (), png=png, on_written=lambda _: bar.advance(task))
    emails = sum(1 for path in written if path.suffix == ".eml")
    out.print(f"Wrote {emails} email(s) with their PDF to {out_dir}/ ({len(written)} files). Nothing was sent.")


# --- sending ---------------------------------------------------------------------------------------
