"""`mailmerge resend`: messages in doubt, reminders to those who have not answered, invitations that
failed sent to the corrected addresses. Whom and why come from `reminding`; the sending is `send`'s."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ..errors import InboxError, MailmergeError
from ..i18n import _, ngettext
from ..ledger import reminder_number
from .app import (
    CampaignOption,
    ConnectionsOption,
    LedgerOption,
    OnlyOption,
    YesOption,
    app,
    coloured,
    err,
    imap_password,
    out,
    reporting,
)
from .deliver import run_send
from .labels import answer_label, state_label
from .status import local_time

if TYPE_CHECKING:  # the sending code is loaded by the command when it runs
    from .. import sending


@app.command(
    help=_(
        "Send again: messages in doubt (--unknown), a reminder to every invitee who has not answered "
        "(--non-responders), or invitations that failed, to their corrected addresses (--failed)."
    )
)
def resend(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    unknown: Annotated[
        bool, typer.Option("--unknown", help=_("Resend the messages whose delivery is in doubt."))
    ] = False,
    non_responders: Annotated[
        bool,
        typer.Option(
            "--non-responders",
            help=_(
                "Remind every invitee whose invitation arrived and who has not answered (an auto-reply is no "
                "answer), in the same thread, with the same letter."
            ),
        ),
    ] = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help=_("Send the invitations that failed or bounced again, to the addresses corrected since."),
        ),
    ] = False,
    min_interval: Annotated[
        str,
        typer.Option(
            "--min-interval",
            metavar="TIME",
            # TRANSLATORS: the examples are typed as they are: d days, h hours, m minutes, w weeks
            help=_("With --non-responders: skip anyone reminded less than TIME ago (2d, 36h, 1w)."),
        ),
    ] = "2d",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help=_("List who would get what and why the others are left out; send nothing.")),
    ] = False,
    only: OnlyOption = None,
    yes: YesOption = False,
    connections: ConnectionsOption = 1,
) -> None:
    if [unknown, non_responders, failed].count(True) != 1:
        err.print(_("Say what to resend: one of --unknown, --non-responders or --failed."))
        raise typer.Exit(1)
    from .. import reminding, sending

    with reporting():
        if unknown:
            settle_from_mailbox(campaign, ledger, dry_run=dry_run)
            plan = sending.plan_send(campaign, only=only or (), resend_unknown=True, ledger_file=ledger)
        elif non_responders:
            plan = reminding.plan_reminders(campaign, only=only or (), min_interval=min_interval, ledger_file=ledger)
        else:
            plan = reminding.plan_corrections(campaign, only=only or (), ledger_file=ledger)
        print_plan(plan, dry_run=dry_run)
        if dry_run:
            out.print(_("Dry run: nothing was sent or recorded."))
            code = 0
        else:
            code = run_send(plan, yes=yes, connections=connections, rate=None)
    raise typer.Exit(code)


def settle_from_mailbox(folder: Path, ledger: Path | None, *, dry_run: bool) -> None:
    """Before asking about messages in doubt: those found in the sender's mailbox had arrived at the server,
    and are marked sent. A mailbox that cannot be read leaves them all for the question."""
    from .. import settling
    from ..campaign import load_campaign

    imap = load_campaign(folder).imap
    if imap is None or dry_run:
        return
    try:
        settled = settling.settle_in_doubt(folder, imap_password(imap), ledger_file=ledger)
    except InboxError as error:
        # TRANSLATORS: {error} says why the mailbox could not be searched (one of the IMAP messages)
        message = _("The Sent folder could not be searched for the messages in doubt: {error}")
        err.print(coloured(escape(message.format(error=error)), "yellow"), markup=True)
        return
    for item in settled:
        invitee, found = item.invitee, item.found
        # TRANSLATORS: after an invitee's ID, name and address: their message in doubt was found in the folder
        # {folder} of the sender's mailbox, so the server had accepted it
        line = _("found in {folder}: it had arrived, now marked sent").format(folder=found.folder)
        out.print(f"  {invitee.id:>4}  {invitee.name} <{invitee.email}>  {line}")


def print_plan(plan: sending.SendPlan, *, dry_run: bool) -> None:
    """Who gets what; with `dry_run` also who is left out and why (else how many)."""
    from .. import sending

    for planned in plan.planned:
        recipient = planned.recipient
        out.print(f"  {recipient.id:>4}  {recipient.name} <{recipient.email}>  {what(planned)}")
    if plan.purpose == sending.RESEND_UNKNOWN and plan.count:
        message = ngettext(
            "This message may already have arrived; resending can deliver a second copy (with the same Message-ID).",
            "These {count} messages may already have arrived; resending can deliver a second copy (with the same "
            "Message-ID).",
            plan.count,
        )
        err.print(coloured(message.format(count=plan.count), "yellow"), markup=True)
    if not plan.left_out:
        return
    count = len(plan.left_out)
    if not dry_run:
        message = ngettext(
            "{count} other invitee is left out; `--dry-run` says why.",
            "{count} other invitees are left out; `--dry-run` says why.",
            count,
        )
        out.print(message.format(count=count))
        return
    # TRANSLATORS: the heading of the list of invitees that `resend --dry-run` leaves out, each with why
    out.print(
        coloured(ngettext("Left out ({count}):", "Left out ({count}):", count).format(count=count), "bold"), markup=True
    )
    for left in plan.left_out:
        out.print(f"  {left.id:>4}  {escape(left.name)} <{left.email}>  {escape(why(left))}", markup=False)


def what(planned: sending.Planned) -> str:
    """What one person gets, in a few words."""
    if (number := reminder_number(planned.kind)) is not None:
        # TRANSLATORS: what `resend --non-responders` sends someone: "reminder 1", "reminder 2" …
        return _("reminder {number}").format(number=number)
    if planned.corrected_from:
        # TRANSLATORS: what `resend --failed` sends someone; {address} is the address that failed
        return _("the invitation, instead of {address}").format(address=planned.corrected_from)
    return ""


def why(left: sending.LeftOut) -> str:
    """Why `resend` leaves someone out, in a sentence."""
    from .. import reminding

    reason, detail = left.reason, left.detail
    if reason == reminding.NOT_SENT:
        # TRANSLATORS: {state} is the state of the invitation (new, queued, failed …)
        return _("the invitation has not gone out ({state})").format(state=state_label(detail or "new"))
    if reason == reminding.IN_DOUBT:
        return _("a message to them is in doubt: settle it first (`mailmerge resend --unknown`)")
    if reason == reminding.BOUNCED_OUT:
        if detail:
            # TRANSLATORS: {reason} is the bounce as the mail server wrote it, "5.1.1 smtp; 550 user unknown"
            return _("the invitation bounced: {reason}").format(reason=detail)
        return _("the invitation bounced")
    if reason == reminding.DELAYED_OUT:
        return _("the invitation is delayed: the mail server is still trying to deliver it")
    if reason == reminding.ANSWERED:
        # TRANSLATORS: {answer} is the answer as `mailmerge status` names it (attending, declined …)
        return _("answered: {answer}").format(answer=answer_label(detail or ""))
    if reason == reminding.REMINDED:
        # TRANSLATORS: {time} is when the last reminder went, "28/11 09:30"; --min-interval is the option
        return _("reminded at {time}, within --min-interval").format(time=local_time(detail, wide=False))
    if reason == reminding.UNCHANGED:
        return _(
            "the invitation failed at {address}, and the recipients file still has that address: correct it (or "
            "name them with --only to send there again)"
        ).format(address=detail)
    raise MailmergeError(reason)  # a reason with no words: a bug
