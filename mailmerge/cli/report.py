"""`mailmerge report`: the printable report for the organisers' leaders and the reception desk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import MailmergeError
from ..i18n import _, ngettext
from .app import CampaignOption, LedgerOption, app, out, reporting
from .export import FORCE_HELP, Language, labels, language

DEFAULT_NAME = "report.pdf"


@app.command(
    help=_(
        "A printable A4 report: totals, answers by group, the sign-in sheet of those coming, "
        "who has not answered and whose invitation did not arrive."
    )
)
def report(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            metavar="FILE",
            # TRANSLATORS: {name} is report.pdf
            help=_("The PDF to write (default: {name} in the campaign folder).").format(name=DEFAULT_NAME),
            show_default=False,
        ),
    ] = None,
    lang: Annotated[Language, typer.Option("--lang", help=_("Language of the report."))] = Language.vi,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    target = output or campaign / DEFAULT_NAME
    with reporting():
        if target.suffix.lower() != ".pdf":
            # TRANSLATORS: {path} is the file given to `mailmerge report -o`
            raise MailmergeError(_("{path}: the report is a PDF; give a file name ending in .pdf").format(path=target))
        pages = write_report(campaign, ledger, target, lang=lang.value, force=force)
    print_written(target, pages)


def write_report(campaign: Path, ledger: Path | None, target: Path, *, lang: str, force: bool) -> int:
    """The report of the campaign in `target`; returns its number of pages."""
    from .. import outputs
    from .. import report as reporting_pdf  # the ledger, Jinja and WeasyPrint: loaded when it runs

    with language(lang):
        html, settings = reporting_pdf.build_html(campaign, labels(), ledger_file=ledger)
    pdf, pages = reporting_pdf.to_pdf(html, settings)
    outputs.save(target, pdf, ledger_file=ledger or settings.ledger_file, force=force)
    return pages


def print_written(target: Path, pages: int) -> None:
    # TRANSLATORS: after `mailmerge report`: {path} is the PDF written, {count} its number of pages
    message = ngettext("Report written to {path} ({count} page).", "Report written to {path} ({count} pages).", pages)
    out.print(message.format(path=target, count=pages))
