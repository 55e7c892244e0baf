"""SMTP delivery: N reused aiosmtplib connections, a shared rate limit, retries and the crash-safe
order of writes (claim committed before MAIL FROM, `sent` only after the 250 to DATA).

Nothing here prints or prompts: progress goes to a callback, the password comes in as an argument.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import SMTPRecipientRefused, SMTPResponseException

from .errors import SendError
from .ledger import DEFERRED, FAILED, SENT, UNKNOWN, Ledger, Prepared
from .models import SendSettings, ServerSettings


@dataclass(frozen=True)
class Outgoing:
    """A rendered message, ready for SMTP: the first envelope recipient is the invitee, the rest CC."""

    prepared: Prepared
    envelope_from: str
    data: bytes

    @property
    def envelope_to(self) -> list[str]:
        return self.prepared.envelope_to


@dataclass(frozen=True)
class Outcome:
    state: str
    code: int | None = None
    reply: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    detail: str | None = None


@dataclass(frozen=True)
class Policy:
    """One run's choices from the command line, and the campaign's [send] settings."""

    connections: int = 1
    rate_per_minute: float | None = None
    settings: SendSettings = field(default_factory=SendSettings)


@dataclass
class Summary:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    not_attempted: int = 0
    paused: str | None = None


class TokenBucket:
    """Messages per minute across all connections; `capacity` messages may go in a burst."""

    def __init__(self, per_minute: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()
        self.lock = asyncio.Lock()

    def wait_time(self) -> float:
        """Take a token if one is there (0.0), else say how long until one is."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        async with self.lock:
            while (delay := self.wait_time()) > 0:
                await asyncio.sleep(delay)


def tls_context(settings: ServerSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if not settings.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def where(settings: ServerSettings) -> str:
    return f"{settings.host}:{settings.port}"


async def connect(settings: ServerSettings, password: str | None) -> aiosmtplib.SMTP:
    """An open, authenticated connection, or a `SendError` saying what is wrong and what to do."""
    if settings.username and settings.security == "none" and not settings.allow_plaintext_auth:
        raise SendError(
            f"refusing to send the password for {settings.username} unencrypted to {where(settings)}: "
            'use security = "starttls" or "tls", or set allow_plaintext_auth = true in [smtp]'
        )
    smtp = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        start_tls=settings.security == "starttls",
        tls_context=tls_context(settings) if settings.security != "none" else None,
        timeout=settings.timeout,
        local_hostname=socket.gethostname(),
    )
    try:
        await smtp.connect()
        if settings.username:
            if password is None:
                raise SendError(f"no password for {settings.username} at {where(settings)}")
            await smtp.login(settings.username, password)
    except (aiosmtplib.SMTPException, OSError) as error:
        smtp.close()
        if (cert_error := certificate_error(error)) is not None:
            raise SendError(
                f"the TLS certificate of {where(settings)} could not be verified ({cert_error.verify_message}); "
                "if the server uses an internal CA, set ca_file in [smtp]"
            ) from None
        if isinstance(error, aiosmtplib.SMTPAuthenticationError):
            raise SendError(
                f"{where(settings)} refused the login for {settings.username}: {error.code} {error.message}"
            ) from None
        raise SendError(f"cannot connect to {where(settings)}: {error}") from None
    return smtp


def certificate_error(error: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an error, however deep aiosmtplib wrapped it."""
    while error is not None:
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
        error = error.__cause__ or error.__context__
    return None


def by_code(code: int, reply: str, detail: str | None = None) -> Outcome:
    return Outcome(DEFERRED if 400 <= code < 500 else FAILED, code, reply, detail=detail)


async def transmit(smtp: aiosmtplib.SMTP, out: Outgoing) -> Outcome:
    """One message through MAIL, RCPT and DATA. Partial refusals are returned, never raised.

    Only a connection lost or timed out *during DATA* leaves the outcome unknown: before that the
    server cannot have accepted the message."""
    stage = "MAIL FROM"
    try:
        await smtp.mail(out.envelope_from)
        stage = "RCPT TO"
        invitee, *copies = out.envelope_to
        try:
            await smtp.rcpt(invitee)
        except SMTPRecipientRefused as error:
            await reset(smtp)
            return by_code(error.code, error.message, detail=f"{invitee} refused")
        refused = {}
        for address in copies:
            try:
                await smtp.rcpt(address)
            except SMTPRecipientRefused as error:
                refused[address] = (error.code, error.message)
        stage = "DATA"
        response = await smtp.data(out.data)
    except SMTPResponseException as error:
        await reset(smtp)
        return by_code(error.code, error.message, detail=f"refused at {stage}")
    except (aiosmtplib.SMTPException, OSError) as error:
        if stage == "DATA":
            return Outcome(
                UNKNOWN,
                detail=f"connection lost during DATA, the server may have accepted it: {error}",
            )
        return Outcome(DEFERRED, detail=f"connection lost at {stage}, nothing was sent: {error}")
    return Outcome(SENT, response.code, response.message, refused)


async def reset(smtp: aiosmtplib.SMTP) -> None:
    """End the failed transaction so the connection can carry the next message."""
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


class Delivery:
    """Runs one send: workers (one per connection) take rendered messages from a bounded queue,
    claim each in the ledger, transmit it and record the outcome."""

    def __init__(
        self,
        ledger: Ledger,
        settings: ServerSettings,
        password: str | None,
        policy: Policy,
        on_outcome: Callable[[Outgoing, Outcome], None] | None = None,
    ):
        self.ledger = ledger
        self.settings = settings
        self.password = password
        self.policy = policy
        self.on_outcome = on_outcome or (lambda out, outcome: None)
        self.bucket = (
            TokenBucket(policy.rate_per_minute, capacity=policy.connections) if (policy.rate_per_minute) else None
        )
        self.summary = Summary()
        self.consecutive_failures = 0
        self.tries: dict[int, int] = {}

    async def run(self, messages: AsyncIterator[Outgoing], total: int) -> Summary:
        """Send everything `messages` yields; `total` is how many it will yield."""
        self.connections = []
        try:
            for _ in range(self.policy.connections):
                self.connections.append(await connect(self.settings, self.password))
        except SendError:
            for smtp in self.connections:
                await quit_quietly(smtp)
            raise
        queue: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=2 * self.policy.connections)
        self.remaining = total
        self.done = asyncio.Event()
        self.crash: BaseException | None = None
        if total == 0:
            self.done.set()
        retries: set[asyncio.Task] = set()
        workers = [asyncio.create_task(self.worker(n, queue, retries)) for n in range(self.policy.connections)]
        feeder = asyncio.create_task(self.guard(self.feed(messages, total, queue)))
        interrupted = False
        try:
            await self.done.wait()
        except asyncio.CancelledError:  # Ctrl-C: connections may be mid-command, so no polite QUIT
            interrupted = True
            raise
        finally:
            await stop([feeder, *workers, *retries])
            for smtp in self.connections:
                if interrupted:
                    smtp.close()
                else:
                    await quit_quietly(smtp)
        if self.crash:
            raise self.crash
        return self.summary

    async def guard(self, work: Awaitable[None]) -> None:
        """A bug or a ledger error in one task must end the run, not leave it waiting forever."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # re-raised by run()
            self.crash = error
            self.done.set()

    async def feed(self, messages: AsyncIterator[Outgoing], total: int, queue: asyncio.Queue) -> None:
        fed = 0
        async for out in messages:
            if self.summary.paused:
                break
            await queue.put(out)
            fed += 1
        if fed < total:
            self.finish_unsent(total - fed)

    def finish_unsent(self, count: int) -> None:
        self.summary.not_attempted += count
        self.settle(count)

    def settle(self, count: int = 1) -> None:
        self.remaining -= count
        if self.remaining <= 0:
            self.done.set()

    async def worker(self, number: int, queue: asyncio.Queue, retries: set[asyncio.Task]) -> None:
        await self.guard(self.work(number, queue, retries))

    async def work(self, number: int, queue: asyncio.Queue, retries: set[asyncio.Task]) -> None:
        while (out := await queue.get()) is not None:
            if self.summary.paused:
                if out.prepared.message in self.tries:  # a retry that will not happen: it stays deferred
                    self.summary.deferred += 1
                    self.settle()
                else:
                    self.finish_unsent(1)
                continue
            if self.bucket:
                await self.bucket.acquire()
            if not self.ledger.claim(out.prepared):
                self.finish_unsent(1)  # no longer due: another process or an earlier run settled it
                continue
            if not self.connections[number].is_connected:
                self.connections[number] = await self.reconnect(self.connections[number])
            smtp = self.connections[number]
            outcome = (
                await transmit(smtp, out)
                if smtp.is_connected
                else Outcome(DEFERRED, detail=f"cannot reconnect to {where(self.settings)}, nothing was sent")
            )
            self.record(out, outcome)
            tries = self.tries[out.prepared.message]
            settings = self.policy.settings
            if outcome.state == DEFERRED and tries <= settings.retries and not self.summary.paused:
                task = asyncio.create_task(self.retry_later(out, settings.retry_delay * 2 ** (tries - 1), queue))
                retries.add(task)
                task.add_done_callback(retries.discard)
            else:
                self.count(outcome)
                self.settle()

    async def retry_later(self, out: Outgoing, delay: float, queue: asyncio.Queue) -> None:
        await asyncio.sleep(delay)
        await queue.put(out)

    async def reconnect(self, smtp: aiosmtplib.SMTP) -> aiosmtplib.SMTP:
        try:
            return await connect(self.settings, self.password)
        except SendError:
            return smtp

    def record(self, out: Outgoing, outcome: Outcome) -> None:
        message = out.prepared.message
        self.tries[message] = self.tries.get(message, 0) + 1
        if outcome.state == SENT:
            self.ledger.record_sent(message, outcome.code or 250, outcome.reply or "", outcome.refused)
            self.consecutive_failures = 0
        else:
            self.ledger.record_outcome(
                message, outcome.state, code=outcome.code, reply=outcome.reply, detail=outcome.detail
            )
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.policy.settings.pause_after and not self.summary.paused:
                last = f"{outcome.code} {outcome.reply}" if outcome.code else outcome.detail
                self.summary.paused = f"paused after {self.consecutive_failures} failures in a row (last: {last})"
        self.on_outcome(out, outcome)

    def count(self, outcome: Outcome) -> None:
        attribute = {SENT: "sent", DEFERRED: "deferred", FAILED: "failed", UNKNOWN: "unknown"}[outcome.state]
        setattr(self.summary, attribute, getattr(self.summary, attribute) + 1)


async def stop(tasks: list[asyncio.Task]) -> None:
    """Cancel until every task is done: on Python 3.11 `asyncio.wait_for` (used by aiosmtplib) can swallow a
    cancellation that races with a reply, and the task would then wait forever on an empty queue."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1)


async def quit_quietly(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()


KEYRING_SERVICE = "mailmerge-smtp"
PASSWORD_ENV = "MAILMERGE_SMTP_PASSWORD"


def stored_password(settings: ServerSettings, env: str = PASSWORD_ENV, service: str = KEYRING_SERVICE) -> str | None:
    """The password from the environment or the system keyring (service `mailmerge-smtp`, user
    `username@host`); None if neither has it. Never from the campaign file, the ledger or argv."""
    if not settings.username:
        return None
    if password := os.environ.get(env):
        return password
    try:
        import keyring
        from keyring.errors import KeyringError

        return keyring.get_password(service, f"{settings.username}@{settings.host}")
    except (KeyringError, RuntimeError):
        return None
