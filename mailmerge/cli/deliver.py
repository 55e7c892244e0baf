"""Commands that send: `send` and `resend`, with their confirmation, progress and summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

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

from .. import sending
from ..connection import stored_password
from ..errors import LedgerError
from ..ledger import DEFERRED, FAILED, SENT, UNKNOWN
from ..send import Invitee, Outcome, Outgoing, Policy
from .app import (
    CampaignOption,
    ConnectionsOption,
    LedgerOption,
    OnlyOption,
    YesOption,
    app,
    describe,
    err,
    out,
    print_error,
    reporting,
)
from .interrupts import EXIT_CODE, SendTracker, by_id, ctrl_c, invitee_line


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} msg/s" if task.speed else "– msg/s")


def send_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[sent]} sent[/] [red]{task.fields[failed]} failed[/]"),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def run_send(plan: sending.SendPlan, *, yes: bool, connections: int, rate: float | None, verb: str = "Send") -> int:
    """Confirm, get the password, send with a progress bar and print the summary. The exit code: 0, 1 if
    the user said no, 2 if anything is left to send or in doubt (from any run), 130 if Ctrl-C stopped it."""
    campaign = plan.campaign
    smtp = campaign.smtp
    if plan.count == 0:
        out.print(f"Nothing to send: {describe(plan.already)}.")
        doubts = sending.in_doubt(plan)
        print_in_doubt(doubts)
        return 2 if doubts else 0
    question = (
        f"{verb} {plan.count} {plan.kind}(s) from {campaign.sender.name} <{campaign.sender.email}> "
        f"via {smtp.host}:{smtp.port} ({smtp.security})?"
    )
    if not yes and not typer.confirm(question, default=False):
        return 1
    password = stored_password(smtp)
    if smtp.username and password is None:
        password = typer.prompt(f"SMTP password for {smtp.username} at {smtp.host}", hide_input=True)
    policy = Policy(connections=connections, rate_per_minute=rate, settings=campaign.send)
    tracker = SendTracker(sending.in_doubt(plan))
    ctrl_c.last_words = tracker.last_words
    try:
        with send_progress() as bar:
            on_outcome = progress_updater(bar, total=plan.count, tracker=tracker)
            delivery = sending.execute(plan, password, policy, on_outcome=on_outcome, on_claimed=tracker.claimed)
            result = ctrl_c.run(delivery)
    except KeyboardInterrupt:
        print_interrupted(tracker.sent, sending.in_doubt(plan))
        return EXIT_CODE
    except LedgerError as error:
        if not tracker.sent and not tracker.in_flight:
            raise  # nothing went out: the plain error, exit 1
        print_ledger_failure(error, tracker)
        return 2
    print_send_result(result)
    summary = result.summary
    return 2 if summary.paused or summary.failed or summary.deferred or summary.not_attempted or result.in_doubt else 0


def progress_updater(bar: Progress, total: int | None, tracker: SendTracker) -> Callable[[Outgoing, Outcome], None]:
    """An `on_outcome` callback that keeps `tracker` current and moves the bar once per message settled
    (a deferral may be retried)."""
    task = bar.add_task("Sending", total=total, sent=0, failed=0)

    def on_outcome(outgoing: Outgoing, outcome: Outcome) -> None:
        tracker.settled(outgoing, outcome)
        if outcome.state != DEFERRED:
            counts = tracker.counts
            bar.update(task, advance=1, sent=counts[SENT], failed=counts[FAILED] + counts[UNKNOWN])

    return on_outcome


def print_send_result(result: sending.SendResult) -> None:
    summary = result.summary
    if result.recovered:
        err.print(
            f"[yellow]{len(result.recovered)} message(s) were being sent when the previous run stopped; "
            "they are now marked unknown (see `mailmerge status`).[/]",
            markup=True,
        )
    out.print(
        f"Sent {summary.sent}, deferred {summary.deferred}, failed {summary.failed}, "
        f"unknown {summary.unknown}"
        + (f", not attempted {summary.not_attempted}" if summary.not_attempted else "")
        + "."
    )
    if summary.paused:
        err.print(
            f"[bold red]Paused:[/] {escape(summary.paused)}. Nothing more was sent; fix the cause and run "
            "`mailmerge send` again.",
            markup=True,
        )
    if summary.deferred:
        out.print("Deferred messages (temporary errors) will be retried by the next `mailmerge send`.")
    print_in_doubt(result.in_doubt)


def print_ledger_failure(error: LedgerError, tracker: SendTracker) -> None:
    """The ledger stopped accepting writes (a full disk, say) after some messages went out."""
    print_error(error)
    err.print(f"{tracker.sent} message(s) were sent in this run before that; they are recorded as sent.")
    if tracker.in_flight:
        err.print(
            f"[yellow]{len(tracker.in_flight)} message(s) were being handed to the server at that moment[/] and "
            "could not be recorded; the next `mailmerge send` or `mailmerge status` lists them as in doubt:",
            markup=True,
        )
        for invitee in sorted(tracker.in_flight.values(), key=by_id):
            err.print(invitee_line(invitee))


def print_interrupted(sent: int, doubts: list[Invitee]) -> None:
    err.print(
        f"Interrupted. {sent} message(s) were sent in this run; the next `mailmerge send` sends the rest.",
    )
    print_in_doubt(doubts)


def print_in_doubt(doubts: list[Invitee]) -> None:
    """Every message of the campaign that may or may not have arrived, whichever run left it so."""
    if not doubts:
        return
    err.print(
        f"[yellow]{len(doubts)} message(s) are in doubt:[/] the connection was cut while they were being "
        "handed to the server, so they may or may not have arrived.",
        markup=True,
    )
    for invitee in doubts:
        err.print(invitee_line(invitee))
    err.print(
        "They are never resent on their own. Check with `mailmerge status` and the recipients whether they "
        "arrived, then run `mailmerge resend --unknown` (add `--only ID` for some of them) to send them again."
    )


@app.command()
def send(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render and compose everything, send nothing.")] = False,
    limit: Annotated[int | None, typer.Option(metavar="N", help="Send at most N messages this run.", min=0)] = None,
    only: OnlyOption = None,
    yes: YesOption = False,
    connections: ConnectionsOption = 1,
    rate: Annotated[float | None, typer.Option(metavar="N", help="At most N messages per minute.", min=0.1)] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Send to the valid rows even if other rows have problems (they are listed)."
        ),
    ] = False,
) -> None:
    """Send the invitations; anyone already sent is never sent again. Exit 2 if some were not sent."""
    with reporting():
        plan = sending.plan_send(campaign, only=only or (), limit=limit, skip_invalid=skip_invalid, ledger_file=ledger)
        for problem in plan.skipped:
            err.print(f"[yellow]Skipped:[/] {escape(str(problem))}", markup=True)
        if dry_run:
            out.print(
                f"Dry run: {plan.count} message(s) would be sent from {plan.campaign.sender.email} via "
                f"{plan.campaign.smtp.host}:{plan.campaign.smtp.port}; ledger: {describe(plan.already)}. "
                "Every template was filled for every recipient; nothing was sent or recorded."
            )
        code = 0 if dry_run else run_send(plan, yes=yes, connections=connections, rate=rate)
        if plan.skipped and code in (0, 2):
            rows = len({problem.row for problem in plan.skipped})
            err.print(
                f"[yellow]{rows} row(s) of the recipients file were skipped:[/] they show as invalid in "
                "`mailmerge status`; fix them and run `mailmerge send` again.",
                markup=True,
            )
            code = 2
    raise typer.Exit(code)


@app.command()
def resend(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    unknown: Annotated[bool, typer.Option("--unknown", help="Resend the messages whose delivery is in doubt.")] = False,
    only: OnlyOption = None,
    yes: YesOption = False,
    connections: ConnectionsOption = 1,
) -> None:
    """Send again messages in doubt (state unknown): they may already have arrived."""
    if not unknown:
        err.print("Say what to resend: --unknown (the only kind so far).")
        raise typer.Exit(1)
    with reporting():
        plan = sending.plan_send(campaign, only=only or (), resend_unknown=True, ledger_file=ledger)
        for recipient in plan.to_send:
            out.print(f"  {recipient.id:>4}  {recipient.name} <{recipient.email}>")
        if plan.count:
            err.print(
                f"[yellow]These {plan.count} message(s) may already have arrived; resending can deliver "
                "a second copy (with the same Message-ID).[/]",
                markup=True,
            )
        code = run_send(plan, yes=yes, connections=connections, rate=None, verb="Resend")
    raise typer.Exit(code)
