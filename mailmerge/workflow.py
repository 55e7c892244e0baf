"""Coordinates the steps (load, validate, render, compose) for the commands. Never prints or prompts:
the CLI shows progress through the callbacks given here."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from statistics import median

from . import tokens
from .campaign import load_campaign, seed_folder
from .compose import compose
from .errors import InputError, LedgerError, MailmergeError, Problem
from .ledger import DUE, STATES, UNKNOWN, Ledger, MessageRow, Prepared
from .models import Campaign, Letter, Recipient, ServerSettings
from .recipients import read_recipients
from .render import Renderer, embedded_fonts
from .send import Delivery, Outcome, Outgoing, Policy, Summary
from .sink import FileSink, LocalServer

PREFERRED_FONTS = ("TimesNewRoman", "Times New Roman", "Tinos", "LiberationSerif", "Liberation Serif")
NOTICE_WORKING_DAYS = 3  # Decision 45/2018/QĐ-TTg: invitations at least 3 working days ahead


@dataclass(frozen=True)
class Loaded:
    campaign: Campaign
    recipients: list[Recipient]


def load(folder: Path) -> Loaded:
    """Campaign and recipients, both fully validated."""
    campaign = load_campaign(folder)
    recipients, problems = campaign_recipients(campaign)
    if problems:
        raise InputError(problems)
    return Loaded(campaign, recipients)


def campaign_recipients(campaign: Campaign) -> tuple[list[Recipient], list[Problem]]:
    """The valid recipients of the campaign's file and the problems of the other rows."""
    return read_recipients(campaign.recipients_file, encoding=campaign.data["campaign"].get("encoding"))


def select(recipients: list[Recipient], wanted: Iterable[str]) -> list[Recipient]:
    """Recipients named by protocol order (ID) or email; an unknown name is an error."""
    wanted = list(wanted)
    if not wanted:
        return recipients
    by_key = {r.id: r for r in recipients} | {r.email.lower(): r for r in recipients}
    unknown = [w for w in wanted if w.strip().lower() not in by_key]
    if unknown:
        raise MailmergeError(f"no recipient with ID or email {', '.join(unknown)}; see `mailmerge check`")
    chosen = {by_key[w.strip().lower()].id for w in wanted}
    return [r for r in recipients if r.id in chosen]


class Composer:
    """Renders and composes the exact email for a recipient, the same way for preview and send."""

    def __init__(self, campaign: Campaign, key: bytes | None = None):
        self.campaign = campaign
        self.renderer = Renderer(campaign)
        self.key = key if key is not None else tokens.load_key()

    def message_id(self, recipient: Recipient, kind: str = "invitation") -> str:
        return tokens.message_id(self.key, self.campaign.slug, recipient.id, kind, self.campaign.sender.domain)

    def build(
        self,
        recipient: Recipient,
        *,
        kind: str = "invitation",
        message_id: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Letter, EmailMessage]:
        """The letter and the exact email; `message_id` is the ledger's when sending, so the two always agree."""
        letter = self.renderer.render(recipient)
        sender = self.campaign.sender
        reply_to = (
            tokens.reply_address(self.key, self.campaign.slug, recipient.id, sender.email)
            if sender.reply_to_tokens
            else None
        )
        message = compose(
            letter,
            self.campaign,
            message_id=message_id or self.message_id(recipient, kind),
            reply_to=reply_to,
            now=now or datetime.now().astimezone(),
        )
        return letter, message


@dataclass
class CheckReport:
    recipients: list[Recipient]
    groups: Counter[str]
    fonts: dict[str, bool] = field(default_factory=dict)
    render_seconds: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def median_render_ms(self) -> float:
        return median(self.render_seconds) * 1000 if self.render_seconds else 0.0


def check(
    folder: Path, *, today: date | None = None, on_rendered: Callable[[Recipient], None] | None = None
) -> CheckReport:
    """Load and render everything (PDFs included) without sending; raise on the first real problem."""
    loaded = load(folder)
    composer = Composer(loaded.campaign)
    report = CheckReport(loaded.recipients, Counter(r.group or "(no group)" for r in loaded.recipients))
    for recipient in loaded.recipients:
        started = time.perf_counter()
        letter, _ = composer.build(recipient)
        report.render_seconds.append(time.perf_counter() - started)
        if letter.pdf is not None:
            report.fonts |= embedded_fonts(letter.pdf)
        if on_rendered:
            on_rendered(recipient)
    report.warnings = campaign_warnings(loaded.campaign, report.fonts, today or date.today())
    return report


def campaign_warnings(campaign: Campaign, fonts: dict[str, bool], today: date) -> list[str]:
    warnings = []
    not_embedded = sorted(name for name, embedded in fonts.items() if not embedded)
    if not_embedded:
        warnings.append(f"fonts not embedded in the PDF: {', '.join(not_embedded)}")
    if fonts and not any(name.startswith(PREFERRED_FONTS) for name in fonts):
        warnings.append(
            f"no Times-metric font was found, the letter uses {', '.join(sorted(fonts))}; "
            "install fonts-croscore (Tinos) or fonts-liberation2"
        )
    event_day = campaign.data["event"]["starts_at"]
    event_day = event_day.date() if isinstance(event_day, datetime) else event_day
    if event_day < today:
        warnings.append(f"the event ({event_day:%d/%m/%Y}) is in the past")
    elif working_days_between(today, event_day) < NOTICE_WORKING_DAYS:
        warnings.append(
            f"less than {NOTICE_WORKING_DAYS} working days before the event ({event_day:%d/%m/%Y}): "
            "invitations should arrive at least 3 working days ahead"
        )
    return warnings


def working_days_between(start: date, end: date) -> int:
    """Monday-Friday days strictly after `start` and strictly before `end`."""
    return sum(1 for n in range(start.toordinal() + 1, end.toordinal()) if date.fromordinal(n).weekday() < 5)


def preview(
    folder: Path,
    out: Path,
    *,
    wanted: Iterable[str] = (),
    png: bool = False,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write `.eml` + `.pdf` (and a PNG of page 1 when pdftoppm exists) for the chosen recipients."""
    loaded = load(folder)
    chosen = select(loaded.recipients, wanted)
    composer = Composer(loaded.campaign)
    out.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm") if png else None
    written = []
    for recipient in chosen:
        letter, message = composer.build(recipient)
        stem = out / f"{recipient.order:03d}_{Path(letter.attachment_name).stem}"
        files = [stem.with_suffix(".eml")]
        files[0].write_bytes(message.as_bytes(policy=policy.SMTP))
        if letter.pdf is not None:
            files.append(stem.with_suffix(".pdf"))
            files[1].write_bytes(letter.pdf)
        if pdftoppm and letter.pdf is not None:
            subprocess.run(
                [pdftoppm, "-png", "-r", "80", "-singlefile", "-f", "1", "-l", "1", str(files[1]), str(stem)],
                check=True,
                capture_output=True,
            )
            files.append(stem.with_suffix(".png"))
        for path in files:
            if on_written:
                on_written(path)
        written += files
    return written


# --- sending ---------------------------------------------------------------------------------------

INVITATION = "invitation"
_worker_composer: Composer | None = None


@dataclass
class SendPlan:
    """What `send` is about to do, worked out without writing anything or connecting anywhere."""

    campaign: Campaign
    ledger_path: Path
    to_send: list[Recipient]
    skipped: list[Problem]
    already: Counter[str]
    kind: str = INVITATION
    resend_unknown: bool = False

    @property
    def count(self) -> int:
        return len(self.to_send)


def ledger_path(campaign: Campaign, override: Path | None = None) -> Path:
    return override or campaign.ledger_file


def plan_send(
    folder: Path,
    *,
    only: Iterable[str] = (),
    limit: int | None = None,
    skip_invalid: bool = False,
    ledger_file: Path | None = None,
    resend_unknown: bool = False,
) -> SendPlan:
    """Validate everything, fill every template (and lay out one PDF) for every recipient, and work out
    who still needs the invitation (or, with `resend_unknown`, whose invitation is in doubt).
    Raises before anything can be sent if any of it fails."""
    campaign = load_campaign(folder)
    recipients, problems = campaign_recipients(campaign)
    if problems and not skip_invalid:
        raise InputError(problems)
    recipients = select(recipients, only)
    composer = Composer(campaign)
    for number, recipient in enumerate(recipients):
        composer.renderer.render(recipient, with_pdf=number == 0)
    path = ledger_path(campaign, ledger_file)
    states = current_states(path, campaign.slug, INVITATION) if path.exists() else {}
    wanted_states = (UNKNOWN,) if resend_unknown else (None, *DUE)
    to_send = [r for r in recipients if states.get(r.id) in wanted_states]
    return SendPlan(
        campaign,
        path,
        to_send[:limit] if limit is not None else to_send,
        problems,
        Counter(states.get(r.id, "new") for r in recipients),
        resend_unknown=resend_unknown,
    )


def current_states(path: Path, campaign: str, kind: str) -> dict[str, str]:
    ledger = Ledger(path)
    try:
        return {row["recipient_id"]: row["state"] for row in ledger.status(campaign, kind) if row["state"]}
    finally:
        ledger.close()


@dataclass(frozen=True)
class Work:
    """One message to render and send, as the ledger has it."""

    message: int
    message_id: str
    recipient: Recipient


def _start_worker(campaign: Campaign, key: bytes) -> None:
    global _worker_composer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    _worker_composer = Composer(campaign, key)


def _exit_with_parent() -> None:
    """A SIGKILLed `send` cannot shut its pool down: each worker leaves as soon as its parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _prepare(work: Work, kind: str) -> Outgoing:
    """Runs in a worker process: the exact bytes to send, and what the ledger keeps about them."""
    assert _worker_composer is not None
    recipient = work.recipient
    letter, email = _worker_composer.build(recipient, kind=kind, message_id=work.message_id)
    pdf = letter.pdf
    return Outgoing(
        prepared=Prepared(
            message=work.message,
            envelope_to=[recipient.email, *recipient.cc],
            subject=letter.subject,
            pdf_sha256=hashlib.sha256(pdf).hexdigest() if pdf is not None else None,
            pdf_size=len(pdf) if pdf is not None else None,
            merged=recipient.as_template_data(),
        ),
        envelope_from=_worker_composer.campaign.sender.email,
        data=email.as_bytes(policy=policy.SMTP),
    )


async def rendered(
    campaign: Campaign, key: bytes, work: list[Work], kind: str, processes: int
) -> AsyncIterator[Outgoing]:
    """Render in a process pool, in order, with a bounded number in flight: memory stays flat however
    long the list is."""
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(campaign, key),
    )
    try:
        items = iter(work)
        in_flight: deque[asyncio.Future[Outgoing]] = deque()
        for item in itertools.islice(items, 2 * processes):
            in_flight.append(loop.run_in_executor(pool, _prepare, item, kind))
        while in_flight:
            out = await in_flight.popleft()
            for item in itertools.islice(items, 1):
                in_flight.append(loop.run_in_executor(pool, _prepare, item, kind))
            yield out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class SendResult:
    summary: Summary
    recovered: list[MessageRow]


async def execute(
    plan: SendPlan,
    password: str | None,
    send_policy: Policy,
    *,
    on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    processes: int | None = None,
) -> SendResult:
    """Send the plan: lock the ledger, settle what a previous crash left `sending`, queue, deliver."""
    campaign = plan.campaign
    ledger = Ledger(plan.ledger_path)
    try:
        with ledger.exclusive():
            recovered = ledger.recover_interrupted()
            if plan.resend_unknown:
                ledger.requeue_unknown(campaign.slug, {r.id for r in plan.to_send})
            key = tokens.load_key()
            message_ids = {
                r.id: tokens.message_id(key, campaign.slug, r.id, plan.kind, campaign.sender.domain)
                for r in plan.to_send
            }
            ledger.register(campaign, plan.to_send, plan.kind, message_ids)
            wanted = {r.id: r for r in plan.to_send}
            work = [
                Work(row.id, row.message_id, wanted[row.recipient_id])
                for row in ledger.due(campaign.slug, plan.kind, set(wanted))
            ]
            delivery = Delivery(ledger, campaign.smtp, password, send_policy, on_outcome)
            processes = processes or min(4, os.cpu_count() or 1)
            summary = await delivery.run(rendered(campaign, key, work, plan.kind, processes), len(work))
            return SendResult(summary, recovered)
    finally:
        ledger.close()


# --- status and demo -------------------------------------------------------------------------------

NEW = "new"  # in the recipients file, not yet in the ledger


@dataclass
class StatusReport:
    """Where every invitation stands. `as_json()` is the documented shape scripts rely on."""

    campaign: str
    rows: list[dict]
    generated_at: datetime
    listed: tuple[str, ...] = ()  # states to list; empty: everyone

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

    def as_json(self) -> dict:
        return {
            "campaign": self.campaign,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "totals": {
                "recipients": len(self.rows),
                "by_state": dict(self.by_state),
                "by_group": {group: dict(states) for group, states in self.by_group.items()},
            },
            "recipients": self.listed_rows,
        }


def status(
    folder: Path, *, ledger_file: Path | None = None, kind: str = INVITATION, states: Iterable[str] = ()
) -> StatusReport:
    """The ledger's view of every recipient, plus anyone in the recipients file not yet in it; `states`
    limits the listed recipients (the totals always count everyone)."""
    states = tuple(states)
    unknown_states = set(states) - {*STATES, NEW}
    if unknown_states:
        raise MailmergeError(f"no state {', '.join(sorted(unknown_states))}; states: {', '.join((*STATES, NEW))}")
    campaign = load_campaign(folder)
    path = ledger_path(campaign, ledger_file)
    rows = {}
    if path.exists():
        ledger = Ledger(path)
        try:
            with contextlib.suppress(LedgerError), ledger.exclusive():
                ledger.recover_interrupted()  # only when no send is running
            for row in ledger.status(campaign.slug, kind):
                rows[row["recipient_id"]] = status_row(row)
        finally:
            ledger.close()
    with contextlib.suppress(MailmergeError):
        for recipient in campaign_recipients(campaign)[0]:
            rows.setdefault(
                recipient.id,
                status_row(
                    {
                        "recipient_id": recipient.id,
                        "email": recipient.email,
                        "name": recipient.name,
                        "salutation": recipient.salutation,
                        "group_name": recipient.group,
                        "organisation": recipient.organisation,
                        "position": recipient.position,
                    }
                ),
            )
    ordered = sorted(rows.values(), key=lambda row: (int(row["id"]) if row["id"].isdigit() else 0, row["id"]))
    return StatusReport(campaign.slug, ordered, datetime.now().astimezone(), states)


def status_row(row: dict) -> dict:
    return {
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
        "message_id": row.get("message_id"),
        "attempts": row.get("attempts") or 0,
        "updated_at": row.get("updated_at"),
    }


@dataclass
class DemoResult:
    result: SendResult
    report: StatusReport
    received: list[Path]
    pdfs: list[Path]
    port: int


def demo(
    out: Path,
    *,
    connections: int = 2,
    on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    on_plan: Callable[[SendPlan], None] | None = None,
) -> DemoResult:
    """Send the seed campaign to an SMTP sink on 127.0.0.1 with a fresh ledger in `out`; keep what the
    sink received as .eml files and the PDFs taken out of them."""
    received_dir, pdf_dir, ledger_file = out / "received", out / "pdf", out / "ledger.db"
    for folder in (received_dir, pdf_dir):
        shutil.rmtree(folder, ignore_errors=True)
    for stale in out.glob("ledger.db*"):
        stale.unlink()
    server = LocalServer(FileSink(received_dir))
    server.start()
    try:
        plan = plan_send(seed_folder(), ledger_file=ledger_file)
        local = ServerSettings(host="127.0.0.1", port=server.port, security="none", timeout=30)
        plan.campaign = dataclasses.replace(plan.campaign, smtp=local)
        if on_plan:
            on_plan(plan)
        policy = Policy(connections=connections, settings=plan.campaign.send)
        result = asyncio.run(execute(plan, None, policy, on_outcome=on_outcome))
    finally:
        server.stop()
    received = sorted(received_dir.glob("*.eml"))
    return DemoResult(
        result, status(seed_folder(), ledger_file=ledger_file), received, extract_pdfs(received, pdf_dir), server.port
    )


def extract_pdfs(emails: list[Path], folder: Path) -> list[Path]:
    """Save the PDF attachment of each email, under its own file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in emails:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.iter_attachments():
            if part.get_content_type() == "application/pdf":
                target = folder / Path(part.get_filename() or f"{path.stem}.pdf").name
                target.write_bytes(part.get_content())
                written.append(target)
    return written
