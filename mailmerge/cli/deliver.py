"""Commands that send: `send` and `resend`, with their confirmation, progress and summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..errors import LedgerError
from ..i18n import _, ngettext
from ..ledger import DEFERRED, FAILED, SENT, UNKNOWN
from .app import (
    CampaignOption,
    ConnectionsOption,
    LedgerOption,
    NoPdfOption,
    OnlyOption,
    YesOption,
    app,
    coloured,
    describe,
    err,
    out,
    print_error,
    reporting,
    smtp_password,
)
from .interrupts import EXIT_CODE, SendTracker, by_id, ctrl_c, invitee_line
from .prepare import servers_ready

if TYPE_CHECKING:  # the sending code (aiosmtplib, the ledger) is loaded by the commands that send
    from .. import sending
    from ..sentfolder import Copies
    from ..transaction import Invitee, Outcome, Outgoing


class OutcomesColumn(ProgressColumn):
    """How many messages of this run were sent (green) and failed (red), from the task's fields."""

    def render(self, task: Task) -> Text:
        sent, failed = task.fields["sent"], task.fields["failed"]
        # TRANSLATORS: progress bar of `mailmerge send`: messages sent so far in this run
        sent_text = ngettext("{count} sent", "{count} sent", sent).format(count=sent)
        # TRANSLATORS: progress bar of `mailmerge send`: messages failed (or in doubt) so far in this run
        failed_text = ngettext("{count} failed", "{count} failed", failed).format(count=failed)
        return Text.assemble((sent_text, "green"), " ", (failed_text, "red"))


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        # TRANSLATORS: progress bar of `mailmerge send`: messages sent per second; {rate} is "2.5" or "–"
        return Text(_("{rate} msg/s").format(rate=f"{task.speed:.1f}" if task.speed else "–"))


def send_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        OutcomesColumn(),
        RateColumn(),
        # TRANSLATORS: progress bar of `mailmerge send`: "estimated time of arrival", followed by the time left
        TextColumn(_("ETA"), markup=False),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def confirmation(plan: sending.SendPlan) -> str:
    """The question asked before sending: how many of what, from whom, through which server."""
    from .. import sending

    campaign, smtp = plan.campaign, plan.campaign.smtp
    if plan.purpose == sending.REMIND:
        # TRANSLATORS: asked before `mailmerge resend --non-responders`; {security} is starttls, tls or none
        question = ngettext(
            "Send {count} reminder from {sender} <{email}> via {host}:{port} ({security})?",
            "Send {count} reminders from {sender} <{email}> via {host}:{port} ({security})?",
            plan.count,
        )
    elif plan.purpose == sending.CORRECT:
        # TRANSLATORS: asked before `mailmerge resend --failed`; {security} is starttls, tls or none
        question = ngettext(
            "Send {count} invitation again, to its corrected address, from {sender} <{email}> via {host}:{port} "
            "({security})?",
            "Send {count} invitations again, to their corrected addresses, from {sender} <{email}> via "
            "{host}:{port} ({security})?",
            plan.count,
        )
    elif plan.purpose == sending.RESEND_UNKNOWN:
        # TRANSLATORS: asked before `mailmerge resend`; {security} is starttls, tls or none
        question = ngettext(
            "Resend {count} invitation from {sender} <{email}> via {host}:{port} ({security})?",
            "Resend {count} invitations from {sender} <{email}> via {host}:{port} ({security})?",
            plan.count,
        )
    else:
        # TRANSLATORS: asked before `mailmerge send`; {security} is starttls, tls or none
        question = ngettext(
            "Send {count} invitation from {sender} <{email}> via {host}:{port} ({security})?",
            "Send {count} invitations from {sender} <{email}> via {host}:{port} ({security})?",
            plan.count,
        )
    return question.format(
        count=plan.count,
        sender=campaign.sender.name,
        email=campaign.sender.email,
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
    )


def again(plan: sending.SendPlan) -> str:
    """The command that sends what this run leaves queued or deferred."""
    from .. import sending

    return "mailmerge resend --non-responders" if plan.purpose == sending.REMIND else "mailmerge send"


def run_send(plan: sending.SendPlan, *, yes: bool, connections: int, rate: float | None) -> int:
    """Get the password, check the servers, confirm, send with a progress bar and print the summary. The exit
    code: 0, 1 if a server cannot carry the emails or the user said no, 2 if anything is left to send or in
    doubt (from any run), 130 if Ctrl-C stopped it."""
    from .. import sending
    from ..send import Policy

    smtp = plan.campaign.smtp
    if plan.count == 0:
        # TRANSLATORS: {states} is a list of counts by state, "5 sent, 1 unknown"
        out.print(_("Nothing to send: {states}.").format(states=describe(plan.already)))
        doubts = sending.in_doubt(plan)
        print_in_doubt(doubts)
        return 2 if doubts else 0
    password = smtp_password(smtp)
    if not servers_ready(plan, password):
        return 1
    if not yes and not typer.confirm(confirmation(plan), default=False):
        return 1
    policy = Policy(connections=connections, rate_per_minute=rate, settings=plan.campaign.send)
    tracker = SendTracker(sending.in_doubt(plan))
    ctrl_c.last_words = tracker.last_words
    try:
        with send_progress() as bar:
            on_outcome = progress_updater(bar, total=plan.count, tracker=tracker)
            delivery = sending.execute(
                plan,
                password,
                policy,
                on_outcome=on_outcome,
                on_claimed=tracker.claimed,
                imap_password=stored_imap_password(plan),
                hold=ctrl_c.recording,
            )
            result = ctrl_c.run(delivery)
    except KeyboardInterrupt:
        print_interrupted(tracker.sent, sending.in_doubt(plan), again(plan))
        return EXIT_CODE
    except LedgerError as error:
        if not tracker.sent and not tracker.in_flight:
            raise  # nothing went out: the plain error, exit 1
        print_ledger_failure(error, tracker)
        return 2
    print_send_result(result, again(plan))
    summary = result.summary
    return 2 if summary.paused or summary.failed or summary.deferred or summary.not_attempted or result.in_doubt else 0


def stored_imap_password(plan: sending.SendPlan) -> str | None:
    """The password for the copies in Sent: only a stored one (a send is not held up by a second prompt)."""
    imap = plan.campaign.imap
    if imap is None or not plan.campaign.copy_to_sent:
        return None
    from ..inbox import stored_password

    password = stored_password(imap)
    if password is None and imap.username:
        # TRANSLATORS: MAILMERGE_IMAP_PASSWORD is an environment variable, mailmerge-imap the keyring's service
        # name, copy_to_sent and [imap] a setting of campaign.toml: keep them as they are.
        message = _(
            "No copies will be put in the Sent folder: the IMAP password is not stored (set MAILMERGE_IMAP_PASSWORD "
            "or store it in the keyring, service mailmerge-imap), or set copy_to_sent = false in [imap]."
        )
        err.print(coloured(escape(message), "yellow"), markup=True)
    return password


def progress_updater(bar: Progress, total: int | None, tracker: SendTracker) -> Callable[[Outgoing, Outcome], None]:
    """An `on_outcome` callback that keeps `tracker` current and moves the bar once per message settled
    (a deferral may be retried)."""
    task = bar.add_task(_("Sending"), total=total, sent=0, failed=0)

    def on_outcome(outgoing: Outgoing, outcome: Outcome) -> None:
        tracker.settled(outgoing, outcome)
        if outcome.state != DEFERRED:
            counts = tracker.counts
            bar.update(task, advance=1, sent=counts[SENT], failed=counts[FAILED] + counts[UNKNOWN])

    return on_outcome


def print_send_result(result: sending.SendResult, command: str = "mailmerge send") -> None:
    """The summary of a run; `command` is the one that sends what it left behind."""
    summary = result.summary
    if result.recovered:
        count = len(result.recovered)
        message = ngettext(
            "{count} message was being sent when the previous run stopped; it is now marked unknown (see "
            "`mailmerge status`).",
            "{count} messages were being sent when the previous run stopped; they are now marked unknown (see "
            "`mailmerge status`).",
            count,
        )
        err.print(coloured(message.format(count=count), "yellow"), markup=True)
    counts = {
        "sent": summary.sent,
        "deferred": summary.deferred,
        "failed": summary.failed,
        "unknown": summary.unknown,
        "not_attempted": summary.not_attempted,
    }
    if summary.not_attempted:
        # TRANSLATORS: the summary of a send; each number counts messages of this run in that state
        summary_line = _(
            "Sent {sent}, deferred {deferred}, failed {failed}, unknown {unknown}, not attempted {not_attempted}."
        )
    else:
        # TRANSLATORS: the summary of a send; each number counts messages of this run in that state
        summary_line = _("Sent {sent}, deferred {deferred}, failed {failed}, unknown {unknown}.")
    out.print(summary_line.format(**counts))
    if summary.paused:
        # TRANSLATORS: {reason} says why sending paused, "paused after 2 failures in a row (last: 550 …)";
        # {command} is the command to run, "mailmerge send" or "mailmerge resend --non-responders"
        message = _("{reason}. Nothing more was sent; fix the cause and run `{command}` again.")
        paused = coloured(_("Paused:"), "bold red")
        err.print(f"{paused} {escape(message.format(reason=summary.paused, command=command))}", markup=True)
    if summary.deferred:
        # TRANSLATORS: {command} is "mailmerge send" or "mailmerge resend --non-responders"
        out.print(
            _("Deferred messages (temporary errors) will be retried by the next `{command}`.").format(command=command)
        )
    print_copies(result.copies)
    print_in_doubt(result.in_doubt)


def print_copies(copies: Copies | None) -> None:
    """Where the copies of this run's messages are: in Sent, kept by the server itself, or missing and why."""
    if copies is None or not copies.results:
        return
    if copies.server_keeps:
        out.print(_("The mail server keeps a copy of each message in the Sent folder by itself."))
    elif copies.copied:
        count = copies.copied
        out.print(
            ngettext("{count} copy put in the Sent folder.", "{count} copies put in the Sent folder.", count).format(
                count=count
            )
        )
    if copies.missing:
        count = copies.missing
        # TRANSLATORS: {reason} says why, one of the IMAP messages; the messages themselves were sent
        message = ngettext(
            "{count} message has no copy in the Sent folder ({reason}); it was sent all the same.",
            "{count} messages have no copy in the Sent folder ({reason}); they were sent all the same.",
            count,
        )
        err.print(coloured(escape(message.format(count=count, reason=copies.problem or "?")), "yellow"), markup=True)


def print_ledger_failure(error: LedgerError, tracker: SendTracker) -> None:
    """The ledger stopped accepting writes (a full disk, say) after some messages went out."""
    print_error(error)
    sent = tracker.sent
    err.print(
        ngettext(
            "{count} message was sent in this run before that; it is recorded as sent.",
            "{count} messages were sent in this run before that; they are recorded as sent.",
            sent,
        ).format(count=sent)
    )
    if tracker.in_flight:
        count = len(tracker.in_flight)
        message = ngettext(
            "{count} message was being handed to the server at that moment and could not be recorded; the next "
            "`mailmerge send` or `mailmerge status` lists it as in doubt:",
            "{count} messages were being handed to the server at that moment and could not be recorded; the next "
            "`mailmerge send` or `mailmerge status` lists them as in doubt:",
            count,
        )
        err.print(coloured(message.format(count=count), "yellow"), markup=True)
        for invitee in sorted(tracker.in_flight.values(), key=by_id):
            err.print(invitee_line(invitee))


def print_interrupted(sent: int, doubts: list[Invitee], command: str) -> None:
    # TRANSLATORS: {command} is "mailmerge send" or "mailmerge resend --non-responders"
    message = ngettext(
        "Interrupted. {count} message was sent in this run; the next `{command}` sends the rest.",
        "Interrupted. {count} messages were sent in this run; the next `{command}` sends the rest.",
        sent,
    )
    err.print(message.format(count=sent, command=command))
    print_in_doubt(doubts)


def print_in_doubt(doubts: list[Invitee]) -> None:
    """Every message of the campaign that may or may not have arrived, whichever run left it so."""
    if not doubts:
        return
    count = len(doubts)
    message = ngettext(
        "{count} message is in doubt: the connection was cut while it was being handed to the server, so it "
        "may or may not have arrived.",
        "{count} messages are in doubt: the connection was cut while they were being handed to the server, "
        "so they may or may not have arrived.",
        count,
    )
    err.print(coloured(message.format(count=count), "yellow"), markup=True)
    for invitee in doubts:
        err.print(invitee_line(invitee))
    err.print(
        _(
            "They are never resent on their own. Check with `mailmerge status` and the recipients whether they "
            "arrived, then run `mailmerge resend --unknown` (add `--only ID` for some of them) to send them again."
        )
    )


@app.command(help=_("Send the invitations; anyone already sent is never sent again. Exit 2 if some were not sent."))
def send(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Render and compose everything, send nothing."))] = False,
    limit: Annotated[int | None, typer.Option(metavar="N", help=_("Send at most N messages this run."), min=0)] = None,
    only: OnlyOption = None,
    yes: YesOption = False,
    connections: ConnectionsOption = 1,
    rate: Annotated[float | None, typer.Option(metavar="N", help=_("At most N messages per minute."), min=0.1)] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help=_("Send to the valid rows even if other rows have problems (they are listed).")
        ),
    ] = False,
    no_pdf: NoPdfOption = False,
) -> None:
    from .. import sending

    with reporting():
        plan = sending.plan_send(campaign, only=only or (), limit=limit, skip_invalid=skip_invalid, ledger_file=ledger)
        if no_pdf:
            plan.campaign = dataclasses.replace(plan.campaign, attach_pdf=False)
        for problem in plan.skipped:
            skipped = coloured(_("Skipped:"), "yellow")
            err.print(f"{skipped} {escape(str(problem))}", markup=True)
        if dry_run:
            # TRANSLATORS: {states} is a list of counts by state in the ledger, "5 sent, 1 unknown"
            message = ngettext(
                "Dry run: {count} message would be sent from {email} via {host}:{port}; ledger: {states}. Every "
                "template was filled for every recipient; nothing was sent or recorded.",
                "Dry run: {count} messages would be sent from {email} via {host}:{port}; ledger: {states}. Every "
                "template was filled for every recipient; nothing was sent or recorded.",
                plan.count,
            )
            out.print(
                message.format(
                    count=plan.count,
                    email=plan.campaign.sender.email,
                    host=plan.campaign.smtp.host,
                    port=plan.campaign.smtp.port,
                    states=describe(plan.already),
                )
            )
        code = 0 if dry_run else run_send(plan, yes=yes, connections=connections, rate=rate)
        if plan.skipped and code in (0, 2):
            rows = len({problem.row for problem in plan.skipped})
            message = ngettext(
                "{count} row of the recipients file was skipped: it shows as invalid in `mailmerge status`; fix it "
                "and run `mailmerge send` again.",
                "{count} rows of the recipients file were skipped: they show as invalid in `mailmerge status`; fix "
                "them and run `mailmerge send` again.",
                rows,
            )
            err.print(coloured(message.format(count=rows), "yellow"), markup=True)
            code = 2
    raise typer.Exit(code)
