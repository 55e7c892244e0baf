"""Commands that prepare a campaign without sending: `init`, `check`, `preview`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import checking
from ..i18n import _, ngettext
from ..scaffold import init_campaign
from .app import (
    CampaignOption,
    app,
    coloured,
    err,
    out,
    progress_bar,
    reporting,
)


@app.command(help=_("Scaffold a campaign folder (campaign.toml, recipients.csv, templates/); never overwrites a file."))
def init(
    folder: Annotated[Path, typer.Argument(help=_("Folder to create or complete."))],
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="DIR",
            file_okay=False,
            help=_(
                "Start from an earlier campaign: its settings, recipients file and templates, with a new identity "
                "and a new ledger."
            ),
        ),
    ] = None,
) -> None:
    with reporting():
        written = init_campaign(folder, source)
        for path in written:
            # TRANSLATORS: one line per file `mailmerge init` wrote
            out.print(_("created {path}").format(path=path))
        if not written:
            out.print(_("{folder} already has every file; nothing was changed.").format(folder=folder))
        else:
            out.print(
                _("Edit {campaign_file} and {recipients_file}, then run `mailmerge check --campaign {folder}`.").format(
                    campaign_file=folder / "campaign.toml", recipients_file=folder / "recipients.csv", folder=folder
                )
            )


NOTES_SHOWN = 10


@app.command(help=_("Validate everything and render every letter (PDF included) without sending anything."))
def check(campaign: CampaignOption = Path(".")) -> None:
    with reporting(), progress_bar() as bar:
        loaded_total = bar.add_task(_("Rendering letters"), total=None)
        report = checking.check(campaign, on_rendered=lambda rendered: bar.advance(loaded_total))
    count = len(report.recipients)
    # TRANSLATORS: the title of the table of recipients by group printed by `mailmerge check`
    title = ngettext("{count} recipient", "{count} recipients", count).format(count=count)
    # TRANSLATORS: the headers of that table: a group of recipients, and how many recipients it has
    groups = Table(_("group"), _("recipients"), title=title, title_justify="left")
    for group, count in report.groups.items():
        groups.add_row(group, str(count))
    out.print(groups)
    letters = len(report.render_seconds)
    out.print(
        ngettext(
            "Letters rendered: {count} PDF, median {milliseconds} ms each",
            "Letters rendered: {count} PDFs, median {milliseconds} ms each",
            letters,
        ).format(count=letters, milliseconds=f"{report.median_render_ms:.0f}")
    )
    fonts = (
        # TRANSLATORS: a font named in the list "Fonts embedded: …" that is not in the PDFs
        name if embedded else _("{font} (NOT embedded)").format(font=name)
        for name, embedded in sorted(report.fonts.items())
    )
    # TRANSLATORS: {fonts} is a list of font names, "Tinos, Liberation Serif"
    out.print(_("Fonts embedded: {fonts}").format(fonts=", ".join(fonts)))
    for note in report.notes[:NOTES_SHOWN]:
        out.print(_("Note: {note}").format(note=note))
    if len(report.notes) > NOTES_SHOWN:
        more = len(report.notes) - NOTES_SHOWN
        out.print(
            ngettext("… and {count} more note like these.", "… and {count} more notes like these.", more).format(
                count=more
            )
        )
    for warning in report.warnings:
        out.print(coloured(_("Warning:"), "yellow") + " " + escape(warning), markup=True)
    out.print(coloured(_("No problems found."), "green") + " " + escape(_("Nothing was sent.")), markup=True)


@app.command(help=_("Write the exact .eml and the PDF each recipient would get, without sending."))
def preview(
    campaign: CampaignOption = Path("."),
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to", metavar="ID|EMAIL", help=_("Recipient ID (order) or email; repeat for more. Default: everyone.")
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help=_("Where to write the files."))] = Path(
        "preview"
    ),
    png: Annotated[bool, typer.Option("--png", help=_("Also a PNG of page 1 (needs pdftoppm)."))] = False,
) -> None:
    if png and not shutil.which("pdftoppm"):
        err.print(_("Warning: pdftoppm is not installed (Debian: poppler-utils); no PNG will be written."))
    with reporting(), progress_bar() as bar:
        task = bar.add_task(_("Writing previews"), total=None)
        written = checking.preview(
            campaign, out_dir, wanted=to or (), png=png, on_written=lambda path: bar.advance(task)
        )
    emails = sum(1 for path in written if path.suffix == ".eml")
    # TRANSLATORS: {folder} is where the previews were written; {files} counts the .eml, .pdf and .png files
    message = ngettext(
        "Wrote {count} email with its PDF to {folder}/ ({files} files). Nothing was sent.",
        "Wrote {count} emails with their PDF to {folder}/ ({files} files). Nothing was sent.",
        emails,
    )
    out.print(message.format(count=emails, folder=out_dir, files=len(written)))


# --- sending ---------------------------------------------------------------------------------------
