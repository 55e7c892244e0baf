"""Commands that prepare a campaign without sending: `init`, `check`, `doctor`, `preview`; and the check of the
mail servers that `send` runs before it asks to go ahead."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..campaign import load_campaign
from ..i18n import _, ngettext
from ..models import Campaign, Recipient, ServerSettings
from .app import (
    CampaignOption,
    NoPdfOption,
    app,
    coloured,
    err,
    imap_password,
    out,
    progress_bar,
    reporting,
    smtp_password,
)

if TYPE_CHECKING:
    from .. import checking, probe
    from ..sending import SendPlan


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
        from ..scaffold import init_campaign

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


ServersOption = Annotated[
    bool,
    typer.Option(
        "--servers",
        help=_(
            "Also connect to the mail servers (SMTP, and IMAP if [imap] is set) and log in, sending nothing, to "
            "see that they can carry this campaign."
        ),
    ),
]


@app.command(help=_("Validate everything and render every letter (PDF included) without sending anything."))
def check(campaign: CampaignOption = Path("."), servers: ServersOption = False) -> None:
    run_check(campaign, servers=servers, command="mailmerge check --servers")


@app.command(help=_("The same as `mailmerge check --servers`: everything, the mail servers included, sending nothing."))
def doctor(campaign: CampaignOption = Path(".")) -> None:
    run_check(campaign, servers=True, command="mailmerge doctor")


def run_check(folder: Path, *, servers: bool, command: str) -> None:
    """`check`, and with `servers` the mail servers too (the passwords are asked first); exit 1 on a problem."""
    from .. import checking  # the letters' layout (WeasyPrint): loaded by the commands that need it

    problems = 0
    with reporting():
        campaign = load_campaign(folder) if servers else None
        passwords = (smtp_password(campaign.smtp), imap_password(campaign.imap)) if campaign else (None, None)
        with progress_bar() as bar:
            task = bar.add_task(_("Rendering letters"), total=None)
            report = checking.check(folder, on_rendered=lambda rendered: bar.advance(task))
        print_check(report)
        if campaign:
            problems = check_servers(campaign, report.recipients, *passwords)
    if problems:
        # TRANSLATORS: {command} is "mailmerge check --servers" or "mailmerge doctor"
        message = ngettext(
            "{count} problem with the mail servers; nothing was sent. Fix it and run `{command}` again.",
            "{count} problems with the mail servers; nothing was sent. Fix them and run `{command}` again.",
            problems,
        )
        text = escape(message.format(count=problems, command=command))
        err.print(coloured(_("Error:"), "bold red") + " " + text, markup=True)
        raise typer.Exit(1)
    out.print(coloured(_("No problems found."), "green") + " " + escape(_("Nothing was sent.")), markup=True)


def print_check(report: checking.CheckReport) -> None:
    from ..probe import size_text

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
    for path in report.attachments:
        # TRANSLATORS: in `mailmerge check`: a file of [campaign] attachments; {size} is "35.2 KB"
        message = _("Attached to every email: {name} ({size})")
        out.print(message.format(name=path.name, size=size_text(path.stat().st_size)))
    if report.from_cache:
        # TRANSLATORS: after "Letters rendered: …" in `mailmerge check`; `mailmerge clean` is a command
        message = ngettext(
            "{count} of them came from the cache of letters already laid out (`mailmerge clean` empties it).",
            "{count} of them came from the cache of letters already laid out (`mailmerge clean` empties it).",
            report.from_cache,
        )
        out.print(message.format(count=report.from_cache))
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
    no_pdf: NoPdfOption = False,
) -> None:
    if png and not shutil.which("pdftoppm"):
        err.print(_("Warning: pdftoppm is not installed (Debian: poppler-utils); no PNG will be written."))
    from .. import checking

    with reporting(), progress_bar() as bar:
        task = bar.add_task(_("Writing previews"), total=None)
        written = checking.preview(
            campaign, out_dir, wanted=to or (), png=png, with_pdf=not no_pdf, on_written=lambda path: bar.advance(task)
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


# --- the mail servers ------------------------------------------------------------------------------

OK, NOT_OFFERED, WRONG, WARNING = "✓", "–", "✗", "!"
MARK_STYLES = {OK: "green", NOT_OFFERED: "dim", WRONG: "bold red", WARNING: "yellow"}


def check_servers(
    campaign: Campaign, recipients: list[Recipient], smtp_password: str | None, imap_password: str | None
) -> int:
    """Print what the servers offer for this campaign, and their problems; the number of problems."""
    from .. import probe  # the SMTP and IMAP clients: loaded when the servers are checked
    from ..sending import Planned

    with progress_bar() as bar:
        task = bar.add_task(_("Checking the mail servers"), total=None)
        planned = [Planned(recipient) for recipient in recipients]
        smtp = probe.check_smtp(campaign, planned, smtp_password, on_measured=lambda: bar.advance(task))
        imap = probe.probe_imap(campaign.imap, imap_password, campaign.imap_folders) if campaign.imap else None
    print_smtp(smtp)
    if imap is None:
        out.print(
            _(
                "IMAP: campaign.toml has no [imap] table, so replies can only be read from exported files "
                "(`mailmerge replies import`)."
            )
        )
    else:
        print_imap(imap)
    return len(smtp.problems) + (len(imap.problems) if imap else 0)


def servers_ready(plan: SendPlan, password: str | None) -> bool:
    """Before `send` asks to go ahead: False, with the problems printed, if the SMTP server cannot carry the
    plan's emails. The mailbox is looked at when its password is stored; a problem there is only a warning."""
    from .. import probe

    campaign = plan.campaign
    with progress_bar() as bar:
        task = bar.add_task(_("Checking the mail servers"), total=None)
        smtp = probe.check_smtp(campaign, plan.planned, password, exact=False, on_measured=lambda: bar.advance(task))
        imap = stored_mailbox_check(campaign) if not smtp.problems else None
    for problem in smtp.problems:
        err.print(coloured(_("Error:"), "bold red") + " " + escape(problem), markup=True)
    if smtp.problems:
        err.print(_("Nothing was sent."))
        return False
    if imap and imap.problems:
        for problem in imap.problems:
            err.print(coloured(_("Warning:"), "yellow") + " " + escape(problem), markup=True)
        err.print(
            _(
                "Sending does not need the mailbox, so the emails go out all the same; fix this before "
                "`mailmerge replies fetch`."
            )
        )
    return True


def stored_mailbox_check(campaign: Campaign) -> probe.ImapReport | None:
    """The [imap] mailbox checked with its stored password; None without [imap] or a stored password
    (`send` never asks for one)."""
    from .. import probe
    from ..inbox import stored_password

    if campaign.imap is None:
        return None
    password = stored_password(campaign.imap)
    if campaign.imap.username and password is None:
        return None
    return probe.probe_imap(campaign.imap, password, campaign.imap_folders)


def print_mark(mark: str, text: str) -> None:
    out.print(f"  {coloured(mark, MARK_STYLES[mark])} {escape(text)}", markup=True)


def print_smtp(report: probe.SmtpReport) -> None:
    settings = report.settings
    names = {"server": f"{settings.host}:{settings.port}", "security": settings.security}
    if not report.reached:
        # TRANSLATORS: {server} is host:port, {security} starttls, tls or none; the problems follow, one per line
        out.print(_("SMTP server {server} ({security}): cannot be used.").format(**names))
    elif settings.username:
        out.print(
            # TRANSLATORS: {server} is host:port, {security} starttls, tls or none, {username} the SMTP login
            _("SMTP server {server} ({security}): connected and logged in as {username}.").format(
                username=settings.username, **names
            )
        )
    else:
        # TRANSLATORS: {server} is host:port, {security} starttls, tls or none. username and [smtp] are a
        # setting of campaign.toml: keep them as they are
        message = _("SMTP server {server} ({security}): connected, without a login (no username in [smtp]).")
        out.print(message.format(**names))
    if report.reached:
        for mark, text in smtp_lines(report):
            print_mark(mark, text)
    for problem in report.problems:
        print_mark(WRONG, problem)
    for warning in report.warnings:
        print_mark(WARNING, warning)


def smtp_lines(report: probe.SmtpReport) -> list[tuple[str, str]]:
    """What the server offers that matters, a line each; what is wrong is in the problems and warnings."""
    lines = [line for line in (encryption_line(report.settings), size_line(report)) if line]
    # TRANSLATORS: {extension} is the name of an SMTP or IMAP extension: 8BITMIME, PIPELINING …
    offered = _("{extension}: offered.")
    # TRANSLATORS: {extension} is the name of an SMTP or IMAP extension: 8BITMIME, PIPELINING …
    not_offered = _("{extension}: not offered.")
    if report.offers("8bitmime"):
        lines.append((OK, offered.format(extension="8BITMIME")))
    else:
        lines.append((NOT_OFFERED, _("8BITMIME: not offered; not needed, the emails are sent as 7-bit text.")))
    if report.offers("smtputf8"):
        lines.append((OK, offered.format(extension="SMTPUTF8")))
    elif not report.unicode_address:
        lines.append((NOT_OFFERED, _("SMTPUTF8: not offered; not needed, every address is plain ASCII.")))
    if report.offers("dsn"):
        lines.append((OK, _("DSN: offered; a bounce names the invitation it is about.")))
    elif report.verp:
        # TRANSLATORS: verp = true and [sender] are a setting of campaign.toml: keep them as they are
        message = _("DSN: not offered; bounces are matched by their envelope sender (verp = true in [sender]).")
        lines.append((NOT_OFFERED, message))
    if report.offers("pipelining"):
        lines.append((OK, offered.format(extension="PIPELINING")))
    else:
        lines.append((NOT_OFFERED, not_offered.format(extension="PIPELINING")))
    if mechanisms := report.auth_mechanisms:
        # TRANSLATORS: {mechanisms} is a list of SMTP login methods: "PLAIN LOGIN"
        lines.append((OK, _("AUTH: {mechanisms}.").format(mechanisms=" ".join(mechanisms))))
    else:
        lines.append((NOT_OFFERED, not_offered.format(extension="AUTH")))
    return lines


def encryption_line(settings: ServerSettings) -> tuple[str, str] | None:
    """Whether the connection is encrypted; an unverified certificate is a warning of its own."""
    if settings.security == "none":
        # TRANSLATORS: security = "none" is a setting of campaign.toml: keep it as it is
        return NOT_OFFERED, _('The connection is not encrypted (security = "none").')
    if settings.verify_certificate:
        # TRANSLATORS: {security} is starttls or tls
        return OK, _("The connection is encrypted ({security}) and the certificate was verified.").format(
            security=settings.security
        )
    return None


def size_line(report: probe.SmtpReport) -> tuple[str, str] | None:
    """The server's size limit against the largest email; one over it is a problem of its own."""
    from ..probe import size_text

    limit, largest = report.size_limit, report.largest
    if limit is None:
        return NOT_OFFERED, _("SIZE: no size limit announced.")
    if largest is None:
        # TRANSLATORS: {limit} is a size such as "32.0 MB"
        return OK, _("SIZE: at most {limit} per email.").format(limit=size_text(limit))
    if largest.size > limit:
        return None
    # TRANSLATORS: {limit} and {size} are sizes such as "32.0 MB" and "35.2 KB"
    message = _("SIZE: at most {limit} per email; the largest email of this campaign is {size}.")
    return OK, message.format(limit=size_text(limit), size=size_text(largest.size))


def print_imap(report: probe.ImapReport) -> None:
    settings = report.settings
    names = {"server": f"{settings.host}:{settings.port}", "security": settings.security}
    if report.reached:
        # TRANSLATORS: {server} is host:port, {security} starttls, tls or none, {username} the IMAP login
        message = _("IMAP server {server} ({security}): connected and logged in as {username}.")
        out.print(message.format(username=settings.username, **names))
    else:
        # TRANSLATORS: {server} is host:port, {security} starttls, tls or none; the problems follow, one per line
        out.print(_("IMAP server {server} ({security}): cannot be used.").format(**names))
    for folder in report.readable:
        # TRANSLATORS: {folder} is the name of a folder of the mailbox (INBOX …)
        print_mark(OK, _("The folder {folder} exists and can be read.").format(folder=folder))
    for problem in report.problems:
        print_mark(WRONG, problem)
