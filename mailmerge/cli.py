"""The command line: a thin edge over `workflow`. The only module that imports typer or rich; it turns
`MailmergeError` into a clean message and exit code 1, never a traceback."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from . import workflow
from .campaign import init_campaign
from .errors import InputError, MailmergeError
from .ledger import DEFERRED, FAILED, SENT, UNKNOWN
from .send import Outcome, Outgoing, Policy, stored_password

app = typer.Typer(
    help="Personalised invitation letters (PDF, Decree 30/2020 layout) sent by email and tracked to the reply.",
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
        help="Campaign folder (holds campaign.toml).",
        show_default="current folder",
    ),
]
LedgerOption = Annotated[
    Path | None,
    typer.Option("--ledger", dir_okay=False, help="Ledger file.", show_default="ledger.db in the campaign folder"),
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
            err.print(f"  {problem}")
        raise typer.Exit(error.exit_code) from None
    except MailmergeError as error:
        err.print("[bold red]Error:[/] ", end="", markup=True)
        err.print(str(error))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        err.print(
            "Interrupted. Any message that was being handed to the server at that moment is in doubt and shows "
            "as unknown in `mailmerge status`; everything else is as the ledger says."
        )
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
        out.print(f"[yellow]Warning:[/] {escape(warning)}", markup=True)
    out.print("[green]No problems found.[/] Nothing was sent.", markup=True)


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


# --- sending ---------------------------------------------------------------------------------------


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


def run_send(plan: workflow.SendPlan, *, yes: bool, connections: int, rate: float | None, verb: str = "Send") -> None:
    """Confirm, get the password, send with a progress bar, print the summary and set the exit code."""
    campaign = plan.campaign
    smtp = campaign.smtp
    if plan.count == 0:
        out.print(f"Nothing to send: {describe(plan.already)}.")
        return
    question = (
        f"{verb} {plan.count} {plan.kind}(s) from {campaign.sender.name} <{campaign.sender.email}> "
        f"via {smtp.host}:{smtp.port} ({smtp.security})?"
    )
    if not yes and not typer.confirm(question, default=False):
        raise typer.Exit(1)
    password = stored_password(smtp)
    if smtp.username and password is None:
        password = typer.prompt(f"SMTP password for {smtp.username} at {smtp.host}", hide_input=True)
    policy = Policy(connections=connections, rate_per_minute=rate, settings=campaign.send)
    with send_progress() as bar:
        on_outcome = progress_updater(bar, total=plan.count)
        result = asyncio.run(workflow.execute(plan, password, policy, on_outcome=on_outcome))
    print_send_result(result)
    summary = result.summary
    if summary.paused or summary.failed or summary.unknown or summary.deferred or summary.not_attempted:
        raise typer.Exit(2)


def progress_updater(bar: Progress, total: int | None) -> Callable[[Outgoing, Outcome], None]:
    """An `on_outcome` callback that moves the bar once per message settled (a deferral may be retried)."""
    task = bar.add_task("Sending", total=total, sent=0, failed=0)
    counts: Counter[str] = Counter()

    def on_outcome(outgoing: Outgoing, outcome: Outcome) -> None:
        counts[outcome.state] += 1
        if outcome.state != DEFERRED:
            bar.update(task, advance=1, sent=counts[SENT], failed=counts[FAILED] + counts[UNKNOWN])

    return on_outcome


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no recipients"


def print_send_result(result: workflow.SendResult) -> None:
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
    if summary.unknown:
        err.print(
            f"[yellow]{summary.unknown} message(s) in doubt:[/] the connection was lost after the message "
            "was handed over. They are not resent automatically: check `mailmerge status`, then "
            "`mailmerge resend --unknown` if they did not arrive.",
            markup=True,
        )


@app.command()
def send(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render and compose everything, send nothing.")] = False,
    limit: Annotated[int | None, typer.Option(help="Send at most N messages this run.", min=0)] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this recipient (ID or email); repeat.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    connections: Annotated[int, typer.Option(help="SMTP connections used in parallel.", min=1, max=16)] = 1,
    rate: Annotated[float | None, typer.Option(help="At most N messages per minute.", min=0.1)] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Send to the valid rows even if other rows have problems (they are listed)."
        ),
    ] = False,
) -> None:
    """Send the invitations; anyone already sent is never sent again. Exit 2 if some were not sent."""
    with reporting():
        plan = workflow.plan_send(campaign, only=only or (), limit=limit, skip_invalid=skip_invalid, ledger_file=ledger)
        for problem in plan.skipped:
            err.print(f"[yellow]Skipped:[/] {escape(str(problem))}", markup=True)
        if dry_run:
            out.print(
                f"Dry run: {plan.count} message(s) would be sent from {plan.campaign.sender.email} via "
                f"{plan.campaign.smtp.host}:{plan.campaign.smtp.port}; ledger: {describe(plan.already)}. "
                "Every template was filled for every recipient; nothing was sent or recorded."
            )
            return
        run_send(plan, yes=yes, connections=connections, rate=rate)


@app.command()
def resend(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    unknown: Annotated[bool, typer.Option("--unknown", help="Resend the messages whose delivery is in doubt.")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this recipient (ID or email); repeat.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    connections: Annotated[int, typer.Option(help="SMTP connections used in parallel.", min=1, max=16)] = 1,
) -> None:
    """Send again messages in doubt (state unknown): they may already have arrived."""
    if not unknown:
        err.print("Say what to resend: --unknown (the only kind so far).")
        raise typer.Exit(1)
    with reporting():
        plan = workflow.plan_send(campaign, only=only or (), resend_unknown=True, ledger_file=ledger)
        for recipient in plan.to_send:
            out.print(f"  {recipient.id:>4}  {recipient.name} <{recipient.email}>")
        if plan.count:
            err.print(
                f"[yellow]These {plan.count} message(s) may already have arrived; resending can deliver "
                "a second copy (with the same Message-ID).[/]",
                markup=True,
            )
        run_send(plan, yes=yes, connections=connections, rate=None, verb="Resend")


@app.command()
def status(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: totals and recipients.")] = False,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help="List only recipients in this state (repeat); totals still count everyone."),
    ] = None,
) -> None:
    """Who got what: totals by state and group, and every recipient's state and last SMTP reply."""
    with reporting():
        report = workflow.status(campaign, ledger_file=ledger, states=state or ())
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    print_status(report)


def print_status(report: workflow.StatusReport) -> None:
    table = Table(
        "#", "name", "organisation", "state", "last SMTP reply", "time", title=report.campaign, title_justify="left"
    )
    for row in report.listed_rows:
        reply = f"{row['smtp_code']} {row['smtp_reply']}" if row["smtp_code"] else (row["smtp_reply"] or "")
        if row["refused"]:
            reply += f" (refused: {row['refused']})"
        table.add_row(
            row["id"],
            row["name"],
            row["organisation"],
            styled(row["state"]),
            reply,
            local_time(row["updated_at"]),
        )
    out.print(table)
    groups = Table("group", *sorted(report.by_state), title="By group", title_justify="left")
    for group, states in report.by_group.items():
        groups.add_row(group, *(str(states.get(state, 0)) for state in sorted(report.by_state)))
    out.print(groups)
    out.print("Totals: " + describe(report.by_state))


def local_time(iso: str | None) -> str:
    """The ledger keeps UTC; people read their own clock."""
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S") if iso else ""


def styled(state: str) -> Text:
    return Text(state, style={SENT: "green", FAILED: "red", UNKNOWN: "yellow", DEFERRED: "yellow"}.get(state, ""))


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to leave the received emails, PDFs and ledger.")] = Path(
        "demo-output"
    ),
) -> None:
    """Send the seed campaign's 65 invitations to a local SMTP sink on 127.0.0.1 (nothing leaves this machine)."""
    with reporting(), send_progress() as bar:
        on_outcome = progress_updater(bar, total=None)
        result = workflow.demo(
            out_dir, on_outcome=on_outcome, on_plan=lambda plan: bar.update(bar.task_ids[0], total=plan.count)
        )
    print_status(result.report)
    print_send_result(result.result)
    out.print(
        f"The sink on 127.0.0.1:{result.port} received {len(result.received)} message(s): "
        f"{out_dir / 'received'}/*.eml; their PDFs: {out_dir / 'pdf'}/; ledger: {out_dir / 'ledger.db'}"
    )


def main() -> None:
    app(prog_name="mailmerge")
