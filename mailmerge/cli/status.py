"""`mailmerge status`: the table that fits the terminal, or `--wide`, or `--json`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..i18n import N_, _, ngettext
from ..ledger import DEFERRED, FAILED, SENT, UNKNOWN
from ..ledger.schema import INVALID
from .app import (
    CampaignOption,
    LedgerOption,
    app,
    describe,
    out,
    reporting,
)
from .labels import answer_label, follow_up_label, state_label

if TYPE_CHECKING:
    from .. import tracking


@app.command(help=_("Who got what: totals by state and group, and every recipient's state and last SMTP reply."))
def status(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON object: totals and recipients."))] = False,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            # TRANSLATORS: STATE is a state code as typed: queued, sent, deferred, failed, unknown, new, invalid
            help=_("List only recipients in this state (repeat); totals still count everyone."),
        ),
    ] = None,
    wide: Annotated[bool, typer.Option("--wide", help=_("Every column in full, however wide the terminal."))] = False,
) -> None:
    from .. import tracking  # the ledger (SQLite) and the recipients file: loaded when the command runs

    with reporting():
        report = tracking.status(campaign, ledger_file=ledger, states=state or ())
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    print_status(report, wide=wide)


@dataclass(frozen=True)
class StatusColumn:
    """One column of the status table; narrow terminals drop the least important first."""

    key: str
    header: str  # marked with N_, translated where the table is made
    importance: int  # 0 is always shown
    cell: Callable[[dict, bool], str]
    min_width: int
    shrinks: bool = False  # cut with "…" rather than dropped


def smtp_reply(row: dict, wide: bool) -> str:
    """The server's last answer, or what is wrong with the recipient's row."""
    if row["problem"]:
        return row["problem"]
    if row["found_in_mailbox"] and not row["smtp_code"]:
        # TRANSLATORS: in `mailmerge status`, for a message in doubt that `resend --unknown` found in the sender's
        # Sent folder (or another folder of the mailbox): it had arrived at the server
        return _("in doubt, then found in the mailbox: it had arrived")
    reply = f"{row['smtp_code']} {row['smtp_reply']}" if row["smtp_code"] else (row["smtp_reply"] or "")
    if not row["refused"]:
        return reply
    # TRANSLATORS: in `mailmerge status`: the server's reply, then the addresses it refused
    return _("{reply} (refused: {addresses})").format(reply=reply, addresses=row["refused"]).strip()


STATUS_COLUMNS = (
    # TRANSLATORS: the headers of the table of `mailmerge status` (this one and the five below): the
    # recipient's ID, name, state, when that state was reached, the mail server's last reply or what is
    # wrong with the recipient's row, and the organisation
    StatusColumn("id", N_("#"), 0, lambda row, wide: row["id"], 3),
    StatusColumn("name", N_("name"), 0, lambda row, wide: row["name"], 18, shrinks=True),
    StatusColumn("state", N_("state"), 0, lambda row, wide: state_label(row["state"]), 8),
    # TRANSLATORS: the header of the column of `mailmerge status` that says what came back: the answer, a
    # bounce or a delay
    StatusColumn("answer", N_("answer"), 1, lambda row, wide: follow_up_label(row), 10, shrinks=True),
    StatusColumn("time", N_("time"), 1, lambda row, wide: local_time(row["updated_at"], wide), 11),
    StatusColumn("reply", N_("SMTP reply / problem"), 2, smtp_reply, 16, shrinks=True),
    StatusColumn("organisation", N_("organisation"), 3, lambda row, wide: row["organisation"], 16, shrinks=True),
)


def borders(columns: int) -> int:
    """What a table's borders and cell padding take: "│ " before each cell, " " after, "│" at the end."""
    return 3 * columns + 1


def fitting_columns(width: int, natural: dict[str, int]) -> list[StatusColumn]:
    """The most important columns that fit in `width`: those that may shrink at their minimum width,
    the others as wide as their content (a long state name in Vietnamese, say)."""

    def least(column: StatusColumn) -> int:
        return min(column.min_width, natural[column.key]) if column.shrinks else natural[column.key]

    chosen: list[StatusColumn] = []
    for column in sorted(STATUS_COLUMNS, key=lambda c: c.importance):
        if column.importance == 0 or sum(map(least, [*chosen, column])) + borders(len(chosen) + 1) <= width:
            chosen.append(column)
    return [column for column in STATUS_COLUMNS if column in chosen]


def fitted_widths(columns: list[StatusColumn], natural: dict[str, int], width: int) -> dict[str, int]:
    """Each column as wide as its content, unless that is too wide for `width`: then the columns that may
    shrink give way, the least important first (names last), none below its minimum."""
    widths = dict(natural)
    excess = sum(widths.values()) + borders(len(columns)) - width
    for column in sorted((c for c in columns if c.shrinks), key=lambda c: -c.importance):
        cut = max(0, min(excess, widths[column.key] - column.min_width))
        widths[column.key] -= cut
        excess -= cut
    return widths


def print_status(report: tracking.StatusReport, *, wide: bool = False) -> None:
    headers = {c.key: _(c.header) for c in STATUS_COLUMNS}
    every = [[c.cell(row, wide) for c in STATUS_COLUMNS] for row in report.listed_rows]
    natural = {
        c.key: max(cell_len(text) for text in [headers[c.key], *(row[i] for row in every)])
        for i, c in enumerate(STATUS_COLUMNS)
    }
    columns = list(STATUS_COLUMNS) if wide else fitting_columns(out.width, natural)
    shown = [STATUS_COLUMNS.index(c) for c in columns]
    cells = [[row[i] for i in shown] for row in every]
    widths = natural if wide else fitted_widths(columns, {c.key: natural[c.key] for c in columns}, out.width)
    table = Table(title=report.campaign, title_justify="left")
    for column in columns:
        table.add_column(headers[column.key], width=widths[column.key], no_wrap=True, overflow="ellipsis")
    for row, texts in zip(report.listed_rows, cells, strict=True):
        table.add_row(
            *(styled(row["state"]) if c.key == "state" else text for c, text in zip(columns, texts, strict=True))
        )
    states = sorted(report.by_state)
    # TRANSLATORS: the title of the table of `mailmerge status` that counts each group's recipients by
    # state; its first header is "group", the others are the states' names
    groups = Table(_("group"), *(state_label(state) for state in states), title=_("By group"), title_justify="left")
    for group, counts in report.by_group.items():
        groups.add_row(group, *(str(counts.get(state, 0)) for state in states))
    renderables = [table, groups]
    if report.by_answer:
        renderables.append(answers_table(report))
    for renderable in renderables:
        print_table(renderable, wide=wide)
    # TRANSLATORS: {totals} is a list of counts by state, "60 sent, 3 failed, 2 unknown"
    out.print(_("Totals: {totals}").format(totals=describe(report.by_state)))
    if report.by_answer:
        answers = describe(report.by_delivery + report.by_answer, answer_label)
        # TRANSLATORS: {answers} is a list of counts, "3 bounced, 30 attending, 5 declined, 10 no answer"
        out.print(_("What came back: {answers}").format(answers=answers))
        answered = report.answered
        # TRANSLATORS: {count} invitees answered (attending, declined, delegate or unclear), of {sent} whose
        # invitation went out
        message = ngettext("Answered: {count} of {sent}.", "Answered: {count} of {sent}.", answered)
        out.print(message.format(count=answered, sent=sum(report.by_answer.values())))
        print_delegates(report)
    if report.reminders_sent:
        count = report.reminders_sent
        out.print(ngettext("{count} reminder sent.", "{count} reminders sent.", count).format(count=count))
    print_unmatched(report.unmatched)


def print_unmatched(count: int) -> None:
    """How much mail read back is about nobody's invitation, and where to see it (nothing when none)."""
    if count:
        message = ngettext(
            "{count} message read from the mailbox is about no invitation: see `mailmerge replies list --unmatched`.",
            "{count} messages read from the mailbox are about no invitation: see `mailmerge replies list --unmatched`.",
            count,
        )
        out.print(message.format(count=count))


def answers_table(report: tracking.StatusReport) -> Table:
    """Per group: what became of the invitations that went out, the answers, and the reminders sent."""
    deliveries = sorted({code for counts in report.delivery_by_group.values() for code in counts})
    answers = sorted({answer for counts in report.answers_by_group.values() for answer in counts})
    codes = [*deliveries, *answers]
    # TRANSLATORS: the header of the column that counts each group's reminders sent
    reminders = [_("reminders")] if report.reminders_sent else []
    # TRANSLATORS: the title of the table that counts, per group, what came back (delivered, bounced,
    # attending, declined …)
    title = _("Answers by group")
    table = Table(_("group"), *(answer_label(code) for code in codes), *reminders, title=title, title_justify="left")
    for group, counts in report.answers_by_group.items():
        counts = counts + report.delivery_by_group.get(group, Counter())
        sent = [str(report.reminders_by_group.get(group, 0))] if reminders else []
        table.add_row(group, *(str(counts.get(code, 0)) for code in codes), *sent)
    return table


def print_delegates(report: tracking.StatusReport) -> None:
    """Who comes in whose place, group by group."""
    if not report.delegates_by_group:
        return
    out.print(_("Delegates:"))
    for group, delegates in report.delegates_by_group.items():
        for delegate in delegates:
            # TRANSLATORS: one line of the list of delegates: {delegate} comes in place of {invitee}, whose
            # ID is {id}, of the group {group}
            line = _("{group}: {delegate}, in place of {invitee} (#{id})")
            out.print("  " + line.format(group=group or "–", **delegate))


def print_table(table: Table, *, wide: bool = False) -> None:
    """Fitted to the terminal, or (`wide`) as wide as it needs to be, with nothing cut."""
    if wide:
        width = Measurement.get(out, out.options.update(width=100_000), table).maximum
        Console(file=out.file, width=width, highlight=False, markup=False).print(table)
    else:
        out.print(table, soft_wrap=False)


def local_time(iso: str | None, wide: bool = True) -> str:
    """The ledger keeps UTC; people read their own clock (day/month first, as in Vietnam)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S" if wide else "%d/%m %H:%M")


def styled(state: str) -> Text:
    """The label of the state code `state`, in its colour."""
    styles = {SENT: "green", FAILED: "red", UNKNOWN: "yellow", DEFERRED: "yellow", INVALID: "red"}
    return Text(state_label(state), style=styles.get(state, ""))
