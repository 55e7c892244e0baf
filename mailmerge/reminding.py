"""Whom `resend --non-responders` reminds and whom `resend --failed` invites again, and why each of the
others is left out. The plans are sent by `sending.execute`, the same crash-safe way as the invitations.

A reminder goes to an invitee whose invitation was accepted by the server (250) and has not come back as
a bounce or a delay, who has given no answer (an auto-reply is not one; an answer recorded by hand is),
and whose last reminder, if any, is older than the interval. It follows the invitation in its thread and
carries the same letter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import MailmergeError
from .ledger import DUE, INVITATION, SENDING, SENT, UNKNOWN, reminder_kind, reminder_number
from .ledger.schema import ANSWERS, BOUNCED, DELAYED, FAILED
from .models import Recipient
from .officetime import OfficeTimeError, parse_interval
from .sending import CORRECT, REMIND, LeftOut, Planned, SendPlan, checked, ledger_messages, sent_address, thread_before
from .tracking import status

# Why someone is left out (the CLI words each one; `detail` holds the fact behind it).
NOT_SENT = "not-sent"  # the invitation has not gone out (detail: its state)
IN_DOUBT = "in-doubt"  # the invitation, or a reminder, may or may not have arrived
BOUNCED_OUT = "bounced"  # detail: the bounce
DELAYED_OUT = "delayed"  # the server is still trying to deliver the invitation
ANSWERED = "answered"  # detail: the answer
REMINDED = "reminded"  # detail: when the last reminder went, within the interval
UNCHANGED = "unchanged"  # `--failed`: the address is the one that failed (detail: it)


def plan_reminders(
    folder: Path,
    *,
    only: Iterable[str] = (),
    min_interval: str = "2d",
    ledger_file: Path | None = None,
    now: datetime | None = None,
) -> SendPlan:
    """A reminder for every invitee who has not answered, once everything is validated."""
    interval = interval_of(min_interval)
    now = now or datetime.now(UTC)
    ready = checked(folder, only=only, ledger_file=ledger_file, reminders=True)
    rows = {row["id"]: row for row in status(folder, ledger_file=ready.ledger_path).rows}
    messages = ledger_messages(ready.ledger_path, ready.campaign.slug)
    planned, left_out = [], []
    for recipient in ready.recipients:
        row = rows.get(recipient.id, {})
        mine = [m for m in messages if m["recipient_id"] == recipient.id]
        reason = why_not_remind(row, mine, now - interval)
        if reason is not None:
            left_out.append(LeftOut(recipient.id, recipient.name, recipient.email, *reason))
            continue
        kind = next_reminder(mine)
        planned.append(Planned(recipient, kind, thread_before(messages, recipient.id, kind)))
    return SendPlan(
        ready.campaign, ready.ledger_path, planned, [], invitation_states(rows, ready.recipients), REMIND, left_out
    )


def interval_of(text: str) -> timedelta:
    try:
        return parse_interval(text)
    except OfficeTimeError as error:
        raise MailmergeError(f"--min-interval: {error}") from None


def why_not_remind(
    row: dict[str, Any], messages: list[dict[str, Any]], reminded_after: datetime
) -> tuple[str, ...] | None:
    """(reason, detail) when this invitee gets no reminder now; None when they do."""
    state = row.get("state")
    if state != SENT:
        return (IN_DOUBT, None) if state in (SENDING, UNKNOWN) else (NOT_SENT, state)
    if row.get("delivery") == BOUNCED:
        return BOUNCED_OUT, row.get("bounce")
    if row.get("delivery") == DELAYED:
        return DELAYED_OUT, row.get("bounce")
    if row.get("answer") in ANSWERS:
        return ANSWERED, row["answer"]
    reminders = [m for m in messages if reminder_number(m["kind"])]
    if any(m["state"] in (SENDING, UNKNOWN) for m in reminders):
        return IN_DOUBT, None
    sent = [m["updated_at"] for m in reminders if m["state"] == SENT]
    if sent and datetime.fromisoformat(max(sent)) > reminded_after:
        return REMINDED, max(sent)
    return None


def next_reminder(messages: list[dict[str, Any]]) -> str:
    """The kind of this invitee's next reminder: one an earlier run left queued or deferred, else a new one."""
    numbers = {reminder_number(m["kind"]): m["state"] for m in messages if reminder_number(m["kind"])}
    due = [number for number, state in numbers.items() if state in DUE]
    return reminder_kind(min(due) if due else max(numbers, default=0) + 1)


def plan_corrections(folder: Path, *, only: Iterable[str] = (), ledger_file: Path | None = None) -> SendPlan:
    """The invitation again for every invitee whose invitation failed (refused by the server, or bounced
    later) and whose address has been corrected in the recipients file since. One named with `only` gets
    it again even at the same address (after a cause other than the address was put right)."""
    ready = checked(folder, only=only, ledger_file=ledger_file)
    rows = {row["id"]: row for row in status(folder, ledger_file=ready.ledger_path).rows}
    invitations = {
        m["recipient_id"]: m for m in ledger_messages(ready.ledger_path, ready.campaign.slug) if m["kind"] == INVITATION
    }
    named = bool(list(only))
    planned, left_out = [], []
    for recipient in ready.recipients:
        row = rows.get(recipient.id, {})
        failed = row.get("state") == FAILED or (row.get("state") == SENT and row.get("delivery") == BOUNCED)
        if not failed or recipient.id not in invitations:
            continue
        old = sent_address(invitations[recipient.id]) or row.get("email") or ""
        if old.lower() == recipient.email.lower() and not named:
            left_out.append(LeftOut(recipient.id, recipient.name, recipient.email, UNCHANGED, old))
            continue
        planned.append(Planned(recipient, INVITATION, corrected_from=old))
    return SendPlan(
        ready.campaign, ready.ledger_path, planned, [], invitation_states(rows, ready.recipients), CORRECT, left_out
    )


def invitation_states(rows: dict[str, dict[str, Any]], recipients: list[Recipient]) -> Counter[str]:
    """The chosen recipients by the state of their invitation (\"new\": none yet)."""
    return Counter(rows.get(r.id, {}).get("state") or "new" for r in recipients)
