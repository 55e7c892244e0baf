"""`send` and `resend`: plan (validate and fill everything before anything can go out), then execute
(lock the ledger, queue, deliver through `send.Delivery` with the letters rendered by `pool`).

Whom a reminder or a corrected invitation goes to is worked out by `reminding`; this module sends any
plan the same crash-safe way."""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import tokens
from .campaign import load_campaign
from .errors import InputError, Problem
from .ledger import DUE, INVITATION, SENT, UNKNOWN, Ledger, MessageRow, reminder_number
from .merge import Composer, campaign_recipients, select
from .models import Campaign, Recipient
from .pool import Work, rendered
from .send import Delivery, Policy, Summary
from .transaction import Invitee, Outcome, Outgoing

if TYPE_CHECKING:
    from .sentfolder import Copier, Copies

# What a plan is for: the first sending, a resend of messages in doubt, reminders, corrected addresses.
SEND, RESEND_UNKNOWN, REMIND, CORRECT = "send", "unknown", "remind", "correct"


@dataclass(frozen=True)
class Planned:
    """One message a plan sends: to whom, of which kind, following which of our messages."""

    recipient: Recipient
    kind: str = INVITATION
    thread: tuple[str, ...] = ()  # Message-IDs it follows, oldest first: its References
    corrected_from: str | None = None  # `resend --failed`: the address the invitation failed at


@dataclass(frozen=True)
class LeftOut:
    """Someone a reminder or a resend leaves out, and why: a `reason` code (see `reminding`) with the
    fact behind it (`detail`: an answer, a date, a bounce)."""

    id: str
    name: str
    email: str
    reason: str
    detail: str | None = None


@dataclass
class SendPlan:
    """What `send` or `resend` is about to do, worked out without writing anything or connecting anywhere."""

    campaign: Campaign
    ledger_path: Path
    planned: list[Planned]
    skipped: list[Problem]
    already: Counter[str]
    purpose: str = SEND
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def to_send(self) -> list[Recipient]:
        return [p.recipient for p in self.planned]

    @property
    def count(self) -> int:
        return len(self.planned)


@dataclass(frozen=True)
class Checked:
    """A campaign whose recipients file and templates were all checked, narrowed to the chosen recipients."""

    campaign: Campaign
    recipients: list[Recipient]
    problems: list[Problem]
    ledger_path: Path


def checked(
    folder: Path,
    *,
    only: Iterable[str] = (),
    skip_invalid: bool = False,
    ledger_file: Path | None = None,
    reminders: bool = False,
) -> Checked:
    """Validate everything and fill every template (and lay out one PDF) for every chosen recipient, the
    reminder's templates too when it may send `reminders`; raise before anything can be sent if any of it
    fails."""
    campaign = load_campaign(folder)
    reading = campaign_recipients(campaign)
    if reading.problems and not skip_invalid:
        raise InputError(reading.problems)
    recipients = select(reading.recipients, only)
    composer = Composer(campaign)
    for number, recipient in enumerate(recipients):
        composer.renderer.render(recipient, with_pdf=number == 0)
        if reminders:
            composer.renderer.render(recipient, with_pdf=False, reminder=1)
    return Checked(campaign, recipients, reading.problems, ledger_file or campaign.ledger_file)


def plan_send(
    folder: Path,
    *,
    only: Iterable[str] = (),
    limit: int | None = None,
    skip_invalid: bool = False,
    ledger_file: Path | None = None,
    resend_unknown: bool = False,
) -> SendPlan:
    """Who still needs the invitation (or, with `resend_unknown`, every message in doubt: an invitation
    or a reminder), once everything is validated."""
    ready = checked(folder, only=only, skip_invalid=skip_invalid, ledger_file=ledger_file, reminders=resend_unknown)
    slug = ready.campaign.slug
    messages = ledger_messages(ready.ledger_path, slug)
    states = {m["recipient_id"]: m["state"] for m in messages if m["kind"] == INVITATION}
    if resend_unknown:
        by_id = {r.id: r for r in ready.recipients}
        planned = [
            Planned(by_id[m["recipient_id"]], m["kind"], thread_before(messages, m["recipient_id"], m["kind"]))
            for m in messages
            if m["state"] == UNKNOWN and m["recipient_id"] in by_id
        ]
    else:
        planned = [Planned(r) for r in ready.recipients if states.get(r.id) in (None, *DUE)]
    return SendPlan(
        ready.campaign,
        ready.ledger_path,
        planned[:limit] if limit is not None else planned,
        ready.problems,
        Counter(states.get(r.id, "new") for r in ready.recipients),
        purpose=RESEND_UNKNOWN if resend_unknown else SEND,
    )


def ledger_messages(path: Path, campaign: str) -> list[dict[str, Any]]:
    """Every message of the campaign in the ledger at `path`, oldest first (none when there is no ledger)."""
    if not path.exists():
        return []
    ledger = Ledger(path, read_only=True)
    try:
        return ledger.messages(campaign)
    finally:
        ledger.close()


def thread_before(messages: list[dict[str, Any]], recipient_id: str, kind: str) -> tuple[str, ...]:
    """The Message-IDs a message of `kind` follows: the recipient's invitation and earlier reminders that
    went out (or may have), oldest first. An invitation follows nothing."""
    number = reminder_number(kind)
    if number is None:
        return ()
    return tuple(
        m["message_id"]
        for m in messages
        if m["recipient_id"] == recipient_id
        and m["state"] in (SENT, UNKNOWN)
        and (m["kind"] == INVITATION or (reminder_number(m["kind"]) or number) < number)
    )


def sent_address(message: dict[str, Any]) -> str | None:
    """The address a message went to (the first of its envelope), as the ledger recorded it at the claim."""
    envelope = json.loads(message["envelope_to"]) if message.get("envelope_to") else []
    return envelope[0] if envelope else None


@dataclass
class SendResult:
    summary: Summary
    recovered: list[MessageRow]
    in_doubt: list[Invitee] = field(default_factory=list)  # the whole campaign's, after this run
    copies: Copies | None = None  # copies in the Sent folder (None: not kept, no [imap] or no password)


async def execute(
    plan: SendPlan,
    password: str | None,
    send_policy: Policy,
    *,
    on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    on_claimed: Callable[[Outgoing], None] | None = None,
    processes: int | None = None,
    imap_password: str | None = None,
    hold: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
) -> SendResult:
    """Send the plan: lock the ledger, settle what a previous crash left `sending`, queue, deliver; with
    [imap] and its password, a copy of each message sent goes into the Sent folder.
    Cancelled (Ctrl-C), it records what each message in flight became and re-raises."""
    campaign = plan.campaign
    ledger = Ledger(plan.ledger_path)
    try:
        with ledger.exclusive():
            recovered = ledger.recover_interrupted()
            if plan.purpose == RESEND_UNKNOWN:
                ledger.requeue_unknown(campaign.slug, {r.id for r in plan.to_send})
            for planned in plan.planned:
                if planned.corrected_from:
                    ledger.readdress(
                        campaign.slug, planned.recipient.id, planned.corrected_from, planned.recipient.email
                    )
            key = ledger.token_key(campaign)
            work = queue_work(ledger, campaign, key, plan.planned)
            copier = start_copies(campaign, imap_password) if work else None
            outcome_seen = with_copies(copier, on_outcome)
            delivery = Delivery(ledger, campaign.smtp, password, send_policy, outcome_seen, on_claimed, hold)
            processes = processes or min(4, os.cpu_count() or 1)
            async with contextlib.aclosing(rendered(campaign, key, work, processes)) as messages:
                summary = await delivery.run(messages, len(work))
            copies = record_copies(ledger, copier, campaign)
            return SendResult(summary, recovered, doubtful(ledger, campaign.slug), copies)
    finally:
        ledger.close()


def start_copies(campaign: Campaign, imap_password: str | None) -> Copier | None:
    if campaign.imap is None or not campaign.copy_to_sent or imap_password is None:
        return None
    from .sentfolder import Copier  # IMAP only when there is a mailbox to copy to

    return Copier(campaign.imap, imap_password, campaign.sent_folder)


def with_copies(
    copier: Copier | None, on_outcome: Callable[[Outgoing, Outcome], None] | None
) -> Callable[[Outgoing, Outcome], None] | None:
    """`on_outcome`, and each message the server accepted offered for its copy in Sent."""
    if copier is None:
        return on_outcome

    def outcome_seen(out: Outgoing, outcome: Outcome) -> None:
        if outcome.state == SENT and out.message_id:
            copier.offer(out.prepared.message, out.message_id, out.data)
        if on_outcome:
            on_outcome(out, outcome)

    return outcome_seen


def record_copies(ledger: Ledger, copier: Copier | None, campaign: Campaign) -> Copies | None:
    """Once sending is over: wait for the last copies, and keep in the ledger what became of each."""
    if copier is None:
        return None
    copies = copier.finish(timeout=max(30.0, 2 * campaign.imap.timeout if campaign.imap else 0))
    for message, copied, detail in list(copies.results):
        ledger.record_copy(message, copied, detail)
    return copies


def queue_work(ledger: Ledger, campaign: Campaign, key: bytes, planned: list[Planned]) -> list[Work]:
    """Queue in the ledger a message of each planned kind for whoever has none yet, and list every message
    of the plan still due (new, or left queued or deferred by an earlier run), kind by kind."""
    work = []
    for kind in dict.fromkeys(p.kind for p in planned):
        wanted = {p.recipient.id: p for p in planned if p.kind == kind}
        recipients = [p.recipient for p in wanted.values()]
        message_ids = {
            r.id: tokens.message_id(key, campaign.token_name, r.id, kind, campaign.sender.domain) for r in recipients
        }
        ledger.register(campaign, recipients, kind, message_ids)
        for row in ledger.due(campaign.slug, kind, set(wanted)):
            chosen = wanted[row.recipient_id]
            work.append(Work(row.id, row.message_id, chosen.recipient, kind, chosen.thread))
    return work


def in_doubt(plan: SendPlan) -> list[Invitee]:
    """Every message of the plan's campaign that may or may not have arrived, whichever run left it so."""
    if not plan.ledger_path.exists():
        return []
    ledger = Ledger(plan.ledger_path, read_only=True)
    try:
        return doubtful(ledger, plan.campaign.slug)
    finally:
        ledger.close()


def doubtful(ledger: Ledger, campaign: str) -> list[Invitee]:
    """Messages of any kind `unknown`, or still `sending` after a stopped run (the next `send` or `status`
    marks them unknown)."""
    return [Invitee(row["recipient_id"], row["name"], row["email"]) for row in ledger.in_doubt(campaign)]
