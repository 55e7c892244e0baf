"""Rendering in worker processes: WeasyPrint is CPU-bound, so `send` lays out the letters in a process
pool while the event loop talks SMTP. Workers never handle Ctrl-C and leave when their parent dies."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import hashlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from .ledger import Prepared
from .merge import Composer
from .models import Campaign, Recipient
from .transaction import Outgoing

_worker_composer: Composer | None = None


@dataclass(frozen=True)
class Work:
    """One message to render and send, as the ledger has it."""

    message: int
    message_id: str
    recipient: Recipient
    kind: str
    thread: tuple[str, ...] = ()  # the Message-IDs it follows (a reminder's invitation), oldest first


def _start_worker(campaign: Campaign, key: bytes) -> None:
    """First thing in each render process. Ctrl-C is the parent's to handle (it stops the pool): SIGINT
    arrives blocked (`_sigint_blocked`) and is ignored from here on, so no worker prints a traceback."""
    global _worker_composer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    # Nothing to tear down once the pool lets a worker go (its results are already written to the pipe):
    # skipping the interpreter's finalization saves about half a second at the end of every `send`.
    atexit.register(os._exit, 0)
    _worker_composer = Composer(campaign, key)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Around the submits that spawn render processes: a child inherits the signal mask across exec, so a
    Ctrl-C sent to the whole process group (as a terminal does) cannot interrupt one still importing,
    before `_start_worker` ignores SIGINT. Where there is no signal mask (Windows), the initializer alone."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _quiet_resource_tracker() -> Iterator[None]:
    """Around creating the pool, which starts multiprocessing's resource tracker: a helper process that
    outlives a `send` ended at once (a second Ctrl-C, a kill). It still removes the pool's semaphores then,
    but warns about them on the terminal, after the run's own last words: that warning is not for users."""
    previous = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [previous, "ignore:resource_tracker:UserWarning"]))
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYTHONWARNINGS"]
        else:
            os.environ["PYTHONWARNINGS"] = previous


def _exit_with_parent() -> None:
    """A SIGKILLed `send` cannot shut its pool down: each worker leaves as soon as its parent is gone."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _prepare(work: Work) -> Outgoing:
    """Runs in a worker process."""
    assert _worker_composer is not None
    return prepare(_worker_composer, work)


def prepare(composer: Composer, work: Work) -> Outgoing:
    """The exact bytes to send, and what the ledger keeps about them."""
    recipient = work.recipient
    letter, email = composer.build(recipient, kind=work.kind, message_id=work.message_id, thread=work.thread)
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
        envelope_from=composer.envelope_sender(recipient),
        data=email,
        message_id=work.message_id,
    )


async def rendered(campaign: Campaign, key: bytes, work: list[Work], processes: int) -> AsyncIterator[Outgoing]:
    """Render in a process pool, in order, with a bounded number in flight: memory stays flat however
    long the list is. Without PDFs, in this process: a text-only email takes half a millisecond to
    compose, and starting the workers would take seconds."""
    if not campaign.attach_pdf:
        composer = Composer(campaign, key)
        for item in work:
            yield prepare(composer, item)
            await asyncio.sleep(0)  # let the connections send what is ready
        return
    loop = asyncio.get_running_loop()
    with _quiet_resource_tracker():
        pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(campaign, key),
        )

    def submit(item: Work) -> asyncio.Future[Outgoing]:
        with _sigint_blocked():  # a submit may spawn a worker process
            return loop.run_in_executor(pool, _prepare, item)

    try:
        items = iter(work)
        in_flight: deque[asyncio.Future[Outgoing]] = deque(map(submit, itertools.islice(items, 2 * processes)))
        while in_flight:
            out = await in_flight.popleft()
            in_flight.extend(map(submit, itertools.islice(items, 1)))
            yield out
    finally:
        # Off the loop, wait for the workers to finish the letter in hand (the others are cancelled). Leaving
        # the pool to shut down at exit instead races with Python 3.11's exit hook for process pools, which
        # then prints "Exception ignored … Bad file descriptor" after the run's last words.
        shutdown = functools.partial(pool.shutdown, wait=True, cancel_futures=True)
        await loop.run_in_executor(None, shutdown)
