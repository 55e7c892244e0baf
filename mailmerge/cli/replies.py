"""`mailmerge replies …` (read replies and bounces back) and `mailmerge mark` (an answer given by phone)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..i18n import _, ngettext
from ..ledger.schema import ATTENDING, DECLINED, DELEGATE
from .app import CampaignOption, app, describe, err, imap_password, out, progress_bar, reporting
from .labels import answer_label
from .status import local_time, print_unmatched

if TYPE_CHECKING:
    from .. import replies as use_case

replies_app = typer.Typer(
    help=_("Read replies and bounces back from the sender's mailbox, and list them."), no_args_is_help=True
)
app.add_typer(replies_app, name="replies")


@replies_app.command(
    "fetch",
    help=_(
        "Read new mail from the [imap] folders, read-only (nothing is marked read, moved or deleted), and "
        "record the replies, bounces and answers it holds."
    ),
)
def fetch(
    campaign: CampaignOption = Path("."),
    watch: Annotated[
        bool, typer.Option("--watch", help=_("Keep going: wait for new mail (IMAP IDLE) until Ctrl-C."))
    ] = False,
) -> None:
    from .. import replies as use_case  # the mail parsers and classifiers, loaded when a command runs

    with reporting():
        settings = use_case.imap_settings(campaign)
        password = imap_password(settings)
        with progress_bar() as bar:
            task = bar.add_task(_("Reading mail"), total=None)
            summary = use_case.fetch(
                campaign,
                password,
                watch=watch,
                on_total=lambda folder, count: bar.update(task, total=(bar.tasks[0].total or 0) + count),
                on_message=lambda: bar.advance(task),
            )
    print_summary(summary)


@replies_app.command(
    "import",
    help=_(
        "Read mail exported from a mail client (.eml files, folders of them, a Maildir or an mbox) and record "
        "the replies, bounces and answers it holds."
    ),
)
def import_(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help=_("Files or folders to read."), exists=True)],
    campaign: CampaignOption = Path("."),
) -> None:
    from .. import replies as use_case

    with reporting(), progress_bar() as bar:
        task = bar.add_task(_("Reading mail"), total=None)
        summary = use_case.import_files(campaign, paths, on_message=lambda: bar.advance(task))
    print_summary(summary)


@replies_app.command("reclassify", help=_("Read every stored message again with today's rules."))
def reclassify(campaign: CampaignOption = Path(".")) -> None:
    from .. import replies as use_case

    with reporting(), progress_bar() as bar:
        task = bar.add_task(_("Reading mail"), total=None)
        read, changed = use_case.reclassify(campaign, on_message=lambda: bar.advance(task))
    message = ngettext(
        "Read {count} stored message again; {changed} of them now say something else.",
        "Read {count} stored messages again; {changed} of them now say something else.",
        read,
    )
    out.print(message.format(count=read, changed=changed))


@replies_app.command("list", help=_("List the mail read back, with what each was found to be."))
def list_(
    campaign: CampaignOption = Path("."),
    unmatched: Annotated[
        bool, typer.Option("--unmatched", help=_("Only the mail that is about no invitation."))
    ] = False,
) -> None:
    from .. import replies as use_case

    with reporting():
        rows = use_case.listed(campaign, unmatched=unmatched)
    for row in rows:
        print_mail(row)
    message = ngettext("{count} message.", "{count} messages.", len(rows))
    out.print(message.format(count=len(rows)))


def print_mail(row: dict) -> None:
    """One message read back, in a few short lines that fit any terminal: when, what, whose, from whom;
    then its subject and the words it was read from."""
    found = answer_label(row["rsvp"]) if row["kind"] == "replied" and row["rsvp"] else answer_label(row["kind"])
    if row["suspicious"]:
        # TRANSLATORS: added after what a message was found to be, when it carried a forged token
        found = _("{found} (forged token!)").format(found=found)
    # TRANSLATORS: {id} is the invitee's ID (order) in the recipients file
    whose = _("invitee #{id}").format(id=row["recipient_id"]) if row["recipient_id"] else _("no invitation")
    out.print(f"{local_time(row['mail_date'], wide=True)}  {found} · {whose} · {row['sender'] or ''}")
    out.print(f"    {row['subject'] or ''}")
    if words := row["excerpt"] or row["diagnostic"]:
        out.print(f"    “{words}”")


def print_summary(summary: use_case.Summary) -> None:
    message = ngettext(
        "Read {count} message, {new} of them new.",
        "Read {count} messages, {new} of them new.",
        summary.read,
    )
    out.print(message.format(count=summary.read, new=summary.new))
    if summary.kinds:
        # TRANSLATORS: {found} is a list of counts, "3 bounced, 12 replies, 2 auto-reply only"
        out.print(_("Found: {found}").format(found=describe(summary.kinds, answer_label)))
    print_unmatched(summary.unmatched)


@app.command(
    help=_(
        "Record an answer given by phone or in person; it wins over whatever a reply was read to say. "
        "--clear removes it."
    )
)
def mark(
    who: Annotated[str, typer.Argument(metavar="ID|EMAIL", help=_("The invitee: ID (order) or email."))],
    campaign: CampaignOption = Path("."),
    attending: Annotated[bool, typer.Option("--attending", help=_("They will attend."))] = False,
    declined: Annotated[bool, typer.Option("--declined", help=_("They will not attend."))] = False,
    delegate: Annotated[
        str | None, typer.Option("--delegate", metavar="NAME", help=_("They send NAME in their place."))
    ] = None,
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help=_("A note kept with the answer."))] = None,
    clear: Annotated[bool, typer.Option("--clear", help=_("Remove the answer recorded by hand."))] = False,
) -> None:
    chosen = [
        answer for answer, given in ((ATTENDING, attending), (DECLINED, declined), (DELEGATE, bool(delegate))) if given
    ]
    if len(chosen) + clear != 1:
        err.print(_("Say one answer: --attending, --declined, --delegate NAME, or --clear."))
        raise typer.Exit(1)
    from .. import replies as use_case

    with reporting():
        recipient = use_case.mark(campaign, who, None if clear else chosen[0], delegate=delegate, note=note)
    if clear:
        out.print(_("The answer recorded by hand for {name} was removed.").format(name=recipient.name))
    else:
        out.print(_("Recorded for {name}: {answer}.").format(name=recipient.name, answer=answer_label(chosen[0])))
