"""`status`: where every invitation stands, from the ledger and the recipients file."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .campaign import load_campaign
from .errors import LedgerError, MailmergeError, Problem
from .followup import FollowUp, follow_up
from .i18n import _
from .ledger import INVITATION, SENT, STATES, UNKNOWN, Ledger
from .ledger.schema import ANSWERS, DELEGATE, INVALID, NEW
from .merge import campaign_recipients
from .recipients import Reading, RejectedRow


@dataclass
class StatusReport:
    """Where every invitation stands. `as_json()` is the documented shape scripts rely on."""

    campaign: str
    rows: list[dict]
    generated_at: datetime
    listed: tuple[str, ...] = ()  # states to list; empty: everyone
    unmatched: int = 0  # mail read back that is about nobody's invitation
    recipients_file: Reading | None = None  # as read; None when it could not be (or is gone)

    @property
    def listed_rows(self) -> list[dict]:
        return [row for row in self.rows if not self.listed or row["state"] in self.listed]

    @property
    def by_state(self) -> Counter[str]:
        return Counter(row["state"] for row in self.rows)

    @property
    def by_group(self) -> dict[str, Counter[str]]:
        groups: dict[str, Counter[str]] = {}
        for row in self.rows:
            groups.setdefault(row["group"], Counter())[row["state"]] += 1
        return groups

    @property
    def by_answer(self) -> Counter[str]:
        """Answers of those whose invitation went out (`no answer` included)."""
        return Counter(row["answer"] for row in self.rows if row["answer"])

    @property
    def answered(self) -> int:
        """Invitees who gave an answer (in a reply or by phone): an auto-reply is none."""
        return sum(1 for row in self.rows if row["answer"] in ANSWERS)

    @property
    def by_delivery(self) -> Counter[str]:
        return Counter(row["delivery"] for row in self.rows if row["delivery"])

    @property
    def answers_by_group(self) -> dict[str, Counter[str]]:
        return self._count_by_group("answer")

    @property
    def delivery_by_group(self) -> dict[str, Counter[str]]:
        return self._count_by_group("delivery")

    def _count_by_group(self, field: str) -> dict[str, Counter[str]]:
        """Each group's rows counted by the value of `field`, groups in protocol order; rows without a
        value (an invitation that has not gone out) are left out."""
        groups: dict[str, Counter[str]] = {}
        for row in self.rows:
            if row[field]:
                groups.setdefault(row["group"], Counter())[row[field]] += 1
        return groups

    @property
    def reminders_sent(self) -> int:
        return sum(row["reminders"] for row in self.rows)

    @property
    def reminders_by_group(self) -> dict[str, int]:
        groups: dict[str, int] = {}
        for row in self.rows:
            if row["reminders"]:
                groups[row["group"]] = groups.get(row["group"], 0) + row["reminders"]
        return groups

    @property
    def delegates_by_group(self) -> dict[str, list[dict[str, str]]]:
        """Who comes in whose place, per group: the delegate and the invitee they stand in for."""
        groups: dict[str, list[dict[str, str]]] = {}
        for row in self.rows:
            if row["answer"] == DELEGATE:
                delegate = {"id": row["id"], "invitee": row["name"], "delegate": row["delegate"] or ""}
                groups.setdefault(row["group"], []).append(delegate)
        return groups

    def as_json(self) -> dict:
        return {
            "campaign": self.campaign,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "totals": {
                "recipients": len(self.rows),
                "by_state": dict(self.by_state),
                "by_group": {group: dict(states) for group, states in self.by_group.items()},
                "by_delivery": dict(self.by_delivery),
                "by_answer": dict(self.by_answer),
                "answered": self.answered,
                "answers_by_group": {group: dict(answers) for group, answers in self.answers_by_group.items()},
                "delivery_by_group": {group: dict(counts) for group, counts in self.delivery_by_group.items()},
                "delegates_by_group": self.delegates_by_group,
                "reminders_sent": self.reminders_sent,
                "reminders_by_group": self.reminders_by_group,
                "unmatched_mail": self.unmatched,
            },
            "recipients": self.listed_rows,
        }


def status(
    folder: Path, *, ledger_file: Path | None = None, kind: str = INVITATION, states: Iterable[str] = ()
) -> StatusReport:
    """The ledger's view of every recipient, plus anyone in the recipients file not yet in it; `states`
    limits the listed recipients (the totals always count everyone)."""
    states = tuple(states)
    unknown_states = set(states) - {*STATES, NEW, INVALID}
    if unknown_states:
        known = ", ".join((*STATES, NEW, INVALID))
        # TRANSLATORS: {wrong} are the state codes the user typed, {states} the codes that exist (queued, sent …):
        # both are typed by the user, as they are.
        message = _("no state {wrong}; states: {states}")
        raise MailmergeError(message.format(wrong=", ".join(sorted(unknown_states)), states=known))
    campaign = load_campaign(folder)
    path = ledger_file or campaign.ledger_file
    rows = {}
    unmatched = 0
    if path.exists():
        ledger = open_for_status(path)
        try:
            envelopes = {}
            for row in ledger.status(campaign.slug, kind):
                rows[row["recipient_id"]] = status_row(row)
                envelopes[row["recipient_id"]] = json.loads(row["envelope_to"] or "[]") or [row["email"]]
            unmatched = add_follow_up(ledger, campaign.slug, rows, envelopes)
        finally:
            ledger.close()
    invalid = []
    reading = None
    with contextlib.suppress(MailmergeError):
        reading = campaign_recipients(campaign)
        for recipient in reading.recipients:
            if recipient.id not in rows:
                rows[recipient.id] = file_row(recipient.id, recipient.as_template_data())
        invalid = [file_row(r.values.get("order", ""), r.values, r.problems) for r in unsent(reading.rejected, rows)]
    ordered = sorted(rows.values(), key=lambda row: (int(row["id"]) if row["id"].isdigit() else 0, row["id"]))
    return StatusReport(campaign.slug, ordered + invalid, datetime.now().astimezone(), states, unmatched, reading)


def add_follow_up(ledger: Ledger, campaign: str, rows: dict[str, dict], envelopes: dict[str, list[str]]) -> int:
    """Delivery and answer of each invitation that went out (to the addresses of its `envelopes`, the
    invitee's first); returns how much mail matched nobody."""
    if not ledger.db["mail_results"].exists():  # a read-only ledger of an earlier release
        return 0
    found = follow_up(ledger.mail.results(campaign), ledger.mail.marks(campaign), envelopes)
    for recipient, row in rows.items():
        if row["state"] in (SENT, UNKNOWN):
            row |= found.get(recipient, FollowUp()).as_json()
    return len(ledger.mail.results(unmatched=True))


def unsent(rejected: list[RejectedRow], rows: dict[str, dict]) -> list[RejectedRow]:
    """Rejected rows, except those the ledger already holds under the same ID and address: a row spoilt
    after its invitation went out is `check`'s business, not a second line in the status."""
    return [
        r
        for r in rejected
        if r.values.get("order") not in rows
        or rows[r.values["order"]]["email"].lower() != r.values.get("email", "").lower()
    ]


def file_row(recipient_id: str, values: dict, problems: list[Problem] | None = None) -> dict:
    """A status row for someone who is only in the recipients file: `new`, or `invalid` with its problems."""
    row = status_row(
        {
            "recipient_id": recipient_id,
            "email": values.get("email", ""),
            "name": values.get("name", ""),
            "salutation": values.get("salutation", ""),
            "group_name": values.get("group", ""),
            "organisation": values.get("organisation", ""),
            "position": values.get("position", ""),
            "state": INVALID if problems else NEW,
        }
    )
    if problems:
        found = "; ".join(f"{p.column}: {p.message}" if p.column else p.message for p in problems)
        # TRANSLATORS: {problems} are the problems of one row of the recipients file, each already translated
        # ("email: not an email address; name: missing"); {row} is the row's number in the file.
        row["problem"] = _("{problems} (row {row})").format(problems=found, row=problems[0].row)
    return row


def open_for_status(path: Path) -> Ledger:
    """The ledger, with what a stopped run left `sending` settled as unknown when no send is running; a
    read-only ledger (a read-only disk, an archived campaign) is shown as it is."""
    try:
        ledger = Ledger(path)
    except LedgerError:
        return Ledger(path, read_only=True)
    with contextlib.suppress(LedgerError), ledger.exclusive():
        ledger.recover_interrupted()
    return ledger


def status_row(row: dict) -> dict:
    return (
        {
            "id": row["recipient_id"],
            "email": row["email"],
            "name": row["name"],
            "salutation": row["salutation"],
            "group": row["group_name"] or "",
            "organisation": row["organisation"],
            "position": row["position"],
            "state": row.get("state") or NEW,
            "smtp_code": row.get("smtp_code"),
            "smtp_reply": row.get("smtp_reply"),
            "refused": row.get("refused"),
            "found_in_mailbox": row.get("found_in_mailbox"),  # an in-doubt message settled by its copy
            "sent_copy": row.get("sent_copy"),  # copied | not-copied | None
            "message_id": row.get("message_id"),
            "attempts": row.get("attempts") or 0,
            "updated_at": row.get("updated_at"),
            "reminders": row.get("reminders") or 0,
            "reminded_at": row.get("reminded_at"),
            "problem": None,
        }
        | {key: None for key in FollowUp().as_json()}
        | {"cc_bounces": [], "mail": 0}
    )
