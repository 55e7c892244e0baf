"""`make bench`: this project side by side with a peer, a practical limit and a naive baseline (issue 11).

    .venv/bin/python bench/bench.py [--n 1000] [--repeat 3] [--no-10k] [--quick]

Everything runs on this machine and talks to 127.0.0.1 only. Every measurement gets the same generated
recipients (tests/real_send.py's `recipient_row`: Vietnamese names, every tenth with a CC) in a fresh copy
of the seed campaign with a fresh ledger and an empty letters cache; the token key is a temporary one, never
the user's. The generated rows repeat the fields a letter shows, so the copy's letter.html ends with an HTML
comment naming the recipient: every letter is different, as in a real list, and is laid out (each PDF run is
checked to leave n letters in the cache). The SMTP sink is aiosmtpd in a separate process (this script with
`--sink`), so that it never shares a GIL with a sender; it counts each message, keeps nothing, and answers
250 at once or, in the second round, after 50 ms (a remote server's round trips and queueing). Each send is
checked: the sink must count exactly n messages.

Measured (wall time of the whole command, start-up included, unless said otherwise):
(a) awdeorio `mailmerge` 2.3.0 from PyPI, installed on the first run into bench/.venv-peer (skipped with a
    note when that fails), on the same recipients CSV and the same text (our subject.txt and email.txt filled
    with the campaign, the recipient's fields left to the peer): `--no-dry-run --no-limit`, security
    "Never", no login; it opens a new SMTP connection per message;
(b) raw aiosmtplib over 4 reused connections sending our pre-built text-only messages, in this process,
    timed from the first connect to the last QUIT: the practical limit of the SMTP part;
(c) our text-only send (`attach_pdf = false`): the real CLI, `mailmerge send --yes --connections 1|4`;
(d) render only: PDFs/s through `mailmerge.pool.rendered` (what `send` uses: spawned workers, WeasyPrint,
    the email composed too) with 1 and 2 worker processes, the letters cache deleted first, no SMTP;
(e) our send with PDFs end to end (`mailmerge send --yes --connections 4`, 2 render workers on a 2-CPU
    machine, empty letters cache), and a naive baseline (this script with `--naive`, in its own process):
    one letter after the other, our letter.html filled with Jinja2, WeasyPrint with a new FontConfiguration
    and the stylesheets parsed again for each letter, an `EmailMessage`, stdlib smtplib with a new
    connection per message;
(f) (a), (b), (c) and (e) again with the sink answering after 50 ms;
(g) the peak RSS of the whole process tree of our text-only send with 4 connections (the sum over the
    process and its descendants, sampled from /proc every 50 ms) at n and at 10,000 recipients;
    `mailmerge --help` (best of 5) and `mailmerge status` on the 10,000-recipient ledger (best of 3);
(h) the ratios of the issue's Targets, from this run, each marked met / not met.

The text-only comparisons at the instant sink, (a) to (c), are run `--repeat` times, alternating, and their
median is taken; everything else runs once. A table is printed and everything is written to
bench/results.json. `--no-10k` skips the 10,000-recipient point (it takes minutes); `--quick` is n = 200,
one repeat, no 10,000-recipient point: a smoke test, whose ratios say little. Other work on the machine
skews everything: the load average is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.real_send, tests.campaign_files: the project's campaign builders
sys.path.insert(0, str(ROOT / "scripts"))  # bench_send: the counting SMTP sink

from bench_send import serve_sink  # noqa: E402

from mailmerge import tokens  # noqa: E402
from mailmerge.campaign import load_campaign, seed_folder  # noqa: E402
from mailmerge.letters_cache import CACHE_DIR  # noqa: E402
from mailmerge.merge import Composer, load  # noqa: E402
from mailmerge.models import Campaign  # noqa: E402
from mailmerge.templating import make_environment  # noqa: E402
from tests.campaign_files import set_table  # noqa: E402
from tests.real_send import write_recipients  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results.json"
PEER_VENV = BENCH / ".venv-peer"
PEER_VERSION = "2.3.0"
MAILMERGE = Path(sys.executable).parent / "mailmerge"  # the console script users run
LOOPBACK = "127.0.0.1"
LATENCIES = (0.0, 0.05)  # seconds the sink takes to answer DATA
BIG = 10_000  # recipients of the second RSS point and of the status ledger
RAW_CONNECTIONS = 4
SAMPLE_SECONDS = 0.05  # RSS sampling interval
PAGE = os.sysconf("SC_PAGE_SIZE")
# The generated rows repeat the fields a letter shows (1,000 recipients make 210 different letters), and the
# letters cache would lay each out once: an HTML comment makes every letter's HTML, and so its key, its own.
UNIQUE_LETTER = "<!-- bench: recipient {{ recipient.id }} -->\n"


# --- the sink, in its own process -----------------------------------------------------------------


class Sink:
    """The parent's side of the sink subprocess."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink", "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def count(self) -> int:
        assert self.process.stdout is not None and self.process.stdin is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@contextlib.contextmanager
def counted(sink: Sink, expected: int, what: str) -> Iterator[None]:
    """Around a send: the sink must have got exactly `expected` more messages."""
    before = sink.count()
    yield
    got = sink.count() - before
    if got != expected:
        raise SystemExit(f"{what}: the sink got {got} messages, not {expected}")


# --- measurements ---------------------------------------------------------------------------------


@dataclass
class Measure:
    seconds: float
    messages: int
    rss_mib: float | None = None  # peak RSS of the process tree
    runs: list[float] = field(default_factory=list)  # each run's wall time, when repeated

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def median_of(measures: list[Measure]) -> Measure:
    seconds = [m.seconds for m in measures]
    rss = [m.rss_mib for m in measures if m.rss_mib is not None]
    return Measure(statistics.median(seconds), measures[0].messages, statistics.median(rss) if rss else None, seconds)


def tree_rss_mib(root: int) -> float:
    """The summed resident memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                children[int(stat.rpartition(")")[2].split()[1])].append(int(entry))
    pages, stack = 0, [root]
    while stack:
        pid = stack.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        stack += children.get(pid, [])
    return pages * PAGE / 2**20


class PeakSampler(threading.Thread):
    """Keeps the peak of `tree_rss_mib(pid)` until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, tree_rss_mib(self.pid))
            self.stopped.wait(SAMPLE_SECONDS)

    def stop(self) -> float:
        self.stopped.set()
        self.join()
        return self.peak


def run_command(command: list[str], *, cwd: Path | None = None) -> tuple[float, float]:
    """Run to the end; (wall seconds, peak RSS MiB of its process tree). A failure stops the benchmark."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = PeakSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    if process.returncode != 0:
        tail = (out + err).decode(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}):\n{tail}")
    return seconds, peak


def best_of(times: int, command: list[str]) -> float:
    return min(run_command(command)[0] for _ in range(times))


# --- campaigns ------------------------------------------------------------------------------------


class Workspace:
    """Fresh campaign folders under one temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made = 0

    def campaign(self, n: int, port: int, *, pdf: bool) -> Path:
        """A copy of the seed campaign with n generated recipients, its [smtp] the sink (no login)."""
        self.made += 1
        folder = self.root / f"campaign-{self.made}"
        seed = seed_folder()
        folder.mkdir()
        shutil.copytree(seed / "templates", folder / "templates")
        shutil.copy(seed / "campaign.toml", folder / "campaign.toml")
        letter = folder / "templates" / "letter.html"
        letter.write_text(letter.read_text(encoding="utf-8") + UNIQUE_LETTER, encoding="utf-8")
        write_recipients(folder, n)
        section = tomllib.loads((folder / "campaign.toml").read_text(encoding="utf-8"))["campaign"]
        set_table(folder, "campaign", {**section, "attach_pdf": pdf})  # set_table replaces the whole table
        set_table(folder, "smtp", {"host": LOOPBACK, "port": port, "security": "none", "timeout": 60})
        return folder


def clear_letters_cache(folder: Path) -> None:
    shutil.rmtree(folder / CACHE_DIR, ignore_errors=True)


def check_laid_out(folder: Path, n: int, what: str) -> None:
    """After a run that started with an empty letters cache: it must hold n letters, all laid out by it."""
    letters = len(list((folder / CACHE_DIR).glob("*.pdf")))
    if letters != n:
        raise SystemExit(f"{what}: {letters} letters in the cache, not {n}: were they all laid out?")


def template_context(campaign: Campaign, recipient: dict[str, Any]) -> dict[str, Any]:
    sender = {"name": campaign.sender.name, "email": campaign.sender.email}
    return campaign.template_data | {"sender": sender, "recipient": recipient, "reminder": 0}


# --- (a) the peer ---------------------------------------------------------------------------------


def ensure_peer(notes: list[str]) -> Path | None:
    """awdeorio `mailmerge` in its own venv (made once); None, with a note, when it cannot be installed."""
    binary = PEER_VENV / "bin" / "mailmerge"
    ready = PEER_VENV / f".ready-{PEER_VERSION}"
    if ready.exists() and binary.exists():
        return binary
    python = shutil.which("python3.11") or sys.executable
    pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", f"mailmerge=={PEER_VERSION}"]
    print(f"installing awdeorio mailmerge {PEER_VERSION} into {PEER_VENV.relative_to(ROOT)} …", flush=True)
    try:
        subprocess.run([python, "-m", "venv", "--clear", str(PEER_VENV)], check=True, capture_output=True)
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        notes.append(
            f"(a) skipped: awdeorio mailmerge {PEER_VERSION} could not be installed: {error} {detail[-300:]!r}"
        )
        return None
    ready.touch()
    return binary


def peer_files(folder: Path) -> list[str]:
    """The peer's template, database and server configuration for the campaign in `folder`: our subject and
    text body filled with the campaign, the recipient's fields left as the peer's own Jinja2 fields."""
    campaign = load_campaign(folder)
    env = make_environment(campaign.templates_dir)
    fields = {name: f"{{{{ {name} }}}}" for name in ("salutation", "name", "email", "organisation", "position")}
    context = template_context(campaign, fields)
    subject = " ".join(env.get_template("subject.txt").render(context).split())
    body = env.get_template("email.txt").render(context).rstrip() + "\n"
    sender = campaign.sender
    head = f"TO: {{{{ name }}}} <{{{{ email }}}}>\nSUBJECT: {subject}\nFROM: {sender.name} <{sender.email}>\n"
    (folder / "peer_template.txt").write_text(head + "\n" + body, encoding="utf-8")
    server = f"[smtp_server]\nhost = {LOOPBACK}\nport = {campaign.smtp.port}\nsecurity = Never\n"
    (folder / "peer_server.conf").write_text(server, encoding="utf-8")
    return ["--template", "peer_template.txt", "--database", "recipients.csv", "--config", "peer_server.conf"]


def peer_send(space: Workspace, sink: Sink, n: int, binary: Path) -> Measure:
    folder = space.campaign(n, sink.port, pdf=False)
    command = [str(binary), *peer_files(folder), "--no-dry-run", "--no-limit", "--output-format", "text"]
    with counted(sink, n, "awdeorio mailmerge"):
        seconds, peak = run_command(command, cwd=folder)
    return Measure(seconds, n, peak)


# --- (b) raw aiosmtplib ---------------------------------------------------------------------------


Prebuilt = list[tuple[str, list[str], bytes]]  # MAIL FROM, RCPT TOs, the message


def prebuilt_messages(space: Workspace, n: int) -> Prebuilt:
    """Our own text-only messages for the n recipients, composed in this process."""
    loaded = load(space.campaign(n, 25, pdf=False))
    composer = Composer(loaded.campaign, tokens.load_key())
    sender = loaded.campaign.sender.email
    return [(sender, [r.email, *r.cc], composer.build(r)[1]) for r in loaded.recipients]


async def raw_deliver(port: int, messages: Prebuilt, connections: int) -> None:
    import aiosmtplib

    queue = iter(messages)

    async def one_connection() -> None:
        smtp = aiosmtplib.SMTP(hostname=LOOPBACK, port=port, start_tls=False, timeout=60)
        await smtp.connect()
        for envelope_from, envelope_to, data in queue:  # a shared iterator: each message goes once
            await smtp.sendmail(envelope_from, envelope_to, data)
        await smtp.quit()

    await asyncio.gather(*(one_connection() for _ in range(connections)))


def raw_send(sink: Sink, messages: Prebuilt) -> Measure:
    with counted(sink, len(messages), "raw aiosmtplib"):
        started = time.perf_counter()
        asyncio.run(raw_deliver(sink.port, messages, RAW_CONNECTIONS))
        seconds = time.perf_counter() - started
    return Measure(seconds, len(messages))


# --- (c), (e), (g) our CLI ------------------------------------------------------------------------


def ours_send(space: Workspace, sink: Sink, n: int, connections: int, *, pdf: bool) -> tuple[Measure, Path]:
    """`mailmerge send --yes` on a fresh campaign; the measure and the campaign folder (with its ledger)."""
    folder = space.campaign(n, sink.port, pdf=pdf)
    clear_letters_cache(folder)
    command = [str(MAILMERGE), "send", "--yes", "--campaign", str(folder), "--connections", str(connections)]
    with counted(sink, n, "mailmerge send"):
        seconds, peak = run_command(command)
    if pdf:
        check_laid_out(folder, n, "mailmerge send with PDFs")
    return Measure(seconds, n, peak), folder


# --- (d) render only ------------------------------------------------------------------------------


async def render_all(campaign: Campaign, key: bytes, processes: int, recipients: list[Any]) -> None:
    from mailmerge.ledger import INVITATION
    from mailmerge.pool import Work, rendered

    work = [Work(i, f"<bench.{i}@bench.invalid>", r, INVITATION) for i, r in enumerate(recipients, 1)]
    done = 0
    async for out in rendered(campaign, key, work, processes):
        assert b"application/pdf" in out.data
        done += 1
    assert done == len(work)


def render_only(space: Workspace, n: int, processes: int) -> Measure:
    loaded = load(space.campaign(n, 25, pdf=True))
    folder = loaded.campaign.folder
    clear_letters_cache(folder)
    started = time.perf_counter()
    asyncio.run(render_all(loaded.campaign, tokens.load_key(), processes, loaded.recipients))
    seconds = time.perf_counter() - started
    check_laid_out(folder, n, f"render only, {processes} worker(s)")
    return Measure(seconds, n)


# --- (e) the naive baseline, in its own process ---------------------------------------------------


def naive_message(campaign: Campaign, env: Any, recipient: Any, pdf: bytes) -> EmailMessage:
    context = template_context(campaign, recipient.as_template_data())
    message = EmailMessage()
    message["From"] = formataddr((campaign.sender.name, campaign.sender.email))
    message["To"] = formataddr((recipient.name, recipient.email))
    if recipient.cc:
        message["Cc"] = ", ".join(recipient.cc)
    message["Subject"] = " ".join(env.get_template("subject.txt").render(context).split())
    message.set_content(env.get_template("email.txt").render(context))
    message.add_alternative(env.get_template("email.html").render(context), subtype="html")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"Giay-moi_{recipient.id}.pdf")
    return message


def naive_send(folder: Path, port: int) -> None:
    """`--naive` mode: one letter after the other, everything made again for each, a connection each."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from mailmerge.render import page_rule

    loaded = load(folder)
    campaign = loaded.campaign
    env = make_environment(campaign.templates_dir)
    base_url = campaign.templates_dir.as_uri() + "/"
    stylesheet = (campaign.templates_dir / "letter.css").read_text(encoding="utf-8")
    for recipient in loaded.recipients:
        fonts = FontConfiguration()
        css = [
            CSS(string=page_rule(campaign.page), font_config=fonts),
            CSS(string=stylesheet, base_url=base_url, font_config=fonts),
        ]
        html = env.get_template("letter.html").render(template_context(campaign, recipient.as_template_data()))
        pdf = HTML(string=html, base_url=base_url).write_pdf(stylesheets=css, font_config=fonts)
        with smtplib.SMTP(LOOPBACK, port, timeout=60) as smtp:
            smtp.send_message(naive_message(campaign, env, recipient, pdf))


def naive(space: Workspace, sink: Sink, n: int) -> Measure:
    folder = space.campaign(n, sink.port, pdf=True)
    with counted(sink, n, "naive baseline"):
        seconds, peak = run_command([sys.executable, __file__, "--naive", str(folder), "--port", str(sink.port)])
    return Measure(seconds, n, peak)


# --- the rounds -----------------------------------------------------------------------------------


Results = dict[str, Measure | None]


def announce(key: str, measure: Measure) -> Measure:
    rss = f", peak RSS {measure.rss_mib:.0f} MiB" if measure.rss_mib is not None else ""
    print(f"  {key:16} {measure.seconds:8.2f} s  {measure.rate:8.1f}/s{rss}", flush=True)
    return measure


def text_round(space: Workspace, sink: Sink, n: int, peer: Path | None, messages: Prebuilt, repeat: int) -> Results:
    """(a), (b), (c): `repeat` times, alternating; the median of each."""
    suffix = f"@{sink.latency * 1000:.0f}ms"
    runs: dict[str, Callable[[], Measure]] = {
        "raw4": lambda: raw_send(sink, messages),
        "ours1": lambda: ours_send(space, sink, n, 1, pdf=False)[0],
        "ours4": lambda: ours_send(space, sink, n, 4, pdf=False)[0],
    }
    if peer is not None:
        runs = {"peer": lambda: peer_send(space, sink, n, peer)} | runs
    measured: dict[str, list[Measure]] = defaultdict(list)
    for _ in range(repeat):
        for key, run in runs.items():
            measured[key].append(run())
            announce(key + suffix, measured[key][-1])
    return {"peer" + suffix: None} | {key + suffix: median_of(measured[key]) for key in runs}


def pdf_round(space: Workspace, sink: Sink, n: int) -> Results:
    """(e): our send with PDFs, and the naive baseline."""
    suffix = f"@{sink.latency * 1000:.0f}ms"
    return {
        "pdf" + suffix: announce("pdf" + suffix, ours_send(space, sink, n, 4, pdf=True)[0]),
        "naive" + suffix: announce("naive" + suffix, naive(space, sink, n)),
    }


def big_round(space: Workspace, sink: Sink) -> tuple[Results, float]:
    """(g): our text-only send to BIG recipients (its peak RSS), then `status` on its ledger."""
    measure, folder = ours_send(space, sink, BIG, 4, pdf=False)
    status = best_of(3, [str(MAILMERGE), "status", "--campaign", str(folder)])
    print(f"  status on a {BIG}-recipient ledger: {status:.2f} s", flush=True)
    return {f"ours4@0ms-{BIG}": announce(f"ours4@{BIG}", measure)}, status


def run_all(args: argparse.Namespace, space: Workspace, peer: Path | None) -> tuple[Results, dict[str, float]]:
    results: Results = {}
    timings: dict[str, float] = {}
    messages = prebuilt_messages(space, args.n)
    for latency in LATENCIES:
        print(f"sink answering after {latency * 1000:.0f} ms:", flush=True)
        sink = Sink(latency)
        try:
            results |= text_round(space, sink, args.n, peer, messages, args.repeat if not latency else 1)
            results |= pdf_round(space, sink, args.n)
            if not latency and args.big:
                big, timings["status_big"] = big_round(space, sink)
                results |= big
        finally:
            sink.close()
        if not latency:
            print("render only, no SMTP:", flush=True)
            for processes in (1, 2):
                results[f"render{processes}"] = announce(f"render{processes}", render_only(space, args.n, processes))
    timings["help"] = best_of(5, [str(MAILMERGE), "--help"])
    print(f"  mailmerge --help: {timings['help']:.3f} s (best of 5)", flush=True)
    return results, timings


# --- (h) targets and the report -------------------------------------------------------------------


@dataclass
class Target:
    name: str
    value: float | None
    limit: float
    at_least: bool  # the value must be ≥ limit (else <, or ≤ for ratios)
    unit: str = "×"
    info: float | None = None  # the same ratio with the 50 ms sink, for information

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        verdict = {True: "met", False: "NOT MET", None: "skipped"}[self.met]
        sign = "≥" if self.at_least else "≤"
        value = "–" if self.value is None else f"{self.value:.2f}{self.unit}"
        info = "" if self.info is None else f"   (50 ms sink: {self.info:.2f}{self.unit})"
        return f"  [{verdict:7}] {self.name}: {value} (target {sign} {self.limit:g}{self.unit}){info}"


def ratio(results: Results, over: str, under: str) -> float | None:
    """The wall time of `over` / that of `under`: how many times faster `under` is."""
    a, b = results.get(over), results.get(under)
    return a.seconds / b.seconds if a and b else None


def rss_ratio(results: Results) -> float | None:
    small, big = results.get("ours4@0ms"), results.get(f"ours4@0ms-{BIG}")
    return big.rss_mib / small.rss_mib if small and big and small.rss_mib and big.rss_mib else None


def targets(results: Results, timings: dict[str, float], n: int) -> list[Target]:
    both = lambda slower, faster, ms: ratio(results, f"{slower}@{ms}ms", f"{faster}@{ms}ms")  # noqa: E731
    return [
        Target(
            "text-only: ours (4 conn.) vs awdeorio mailmerge",
            both("peer", "ours4", 0),
            2.5,
            True,
            info=both("peer", "ours4", 50),
        ),
        Target(
            "text-only: ours (4 conn.) vs raw aiosmtplib (4 conn.)",
            both("raw4", "ours4", 0),
            0.8,
            True,
            info=both("raw4", "ours4", 50),
        ),
        Target(
            "PDFs end to end / render only with 2 workers",
            ratio(results, "pdf@0ms", "render2"),
            1.15,
            False,
            info=ratio(results, "pdf@50ms", "render2"),
        ),
        Target(
            "PDFs end to end vs the naive baseline", both("naive", "pdf", 0), 3.0, True, info=both("naive", "pdf", 50)
        ),
        Target("render throughput 2 workers / 1 worker", ratio(results, "render1", "render2"), 1.7, True),
        Target(f"peak RSS at {BIG} / at {n} recipients", rss_ratio(results), 1.1, False),
        Target("mailmerge --help", timings.get("help"), 0.3, False, unit=" s"),
        Target(f"mailmerge status on a {BIG}-recipient ledger", timings.get("status_big"), 1.0, False, unit=" s"),
    ]


ROWS = [
    ("peer", "(a) awdeorio mailmerge 2.3.0 (new connection per message)"),
    ("raw4", "(b) raw aiosmtplib, 4 reused connections, pre-built"),
    ("ours1", "(c) mailmerge send, text-only, 1 connection"),
    ("ours4", "(c) mailmerge send, text-only, 4 connections"),
    ("render1", "(d) render only (PDFs), 1 worker"),
    ("render2", "(d) render only (PDFs), 2 workers"),
    ("pdf", "(e) mailmerge send with PDFs, 4 connections"),
    ("naive", "(e) naive: WeasyPrint + smtplib, sequential"),
]


def cells(measure: Measure | None) -> str:
    if measure is None:
        return f"{'–':>8} {'–':>8} {'–':>6}"
    rss = f"{measure.rss_mib:6.0f}" if measure.rss_mib is not None else f"{'':6}"
    return f"{measure.seconds:8.2f} {measure.rate:8.1f} {rss}"


def print_table(results: Results, timings: dict[str, float], n: int) -> None:
    width = 60
    print()
    print(f"{n} recipients{'':{width - 13 - len(str(n))}}  sink answers at once     sink answers after 50 ms")
    print(f"{'':{width}}  {'wall s':>8} {'msg/s':>8} {'RSS':>6}  {'wall s':>8} {'msg/s':>8} {'RSS':>6}")
    for key, label in ROWS:
        if key.startswith("render"):
            print(f"{label:{width}}  {cells(results.get(key))}")
        else:
            print(f"{label:{width}}  {cells(results.get(key + '@0ms'))}  {cells(results.get(key + '@50ms'))}")
    if (big := results.get(f"ours4@0ms-{BIG}")) is not None:
        print(f"{f'(g) mailmerge send, text-only, 4 connections, {BIG}':{width}}  {cells(big)}")
    print(f"{'(g) mailmerge --help (best of 5)':{width}}  {timings['help']:8.3f}")
    if "status_big" in timings:
        print(f"{f'(g) mailmerge status, {BIG}-recipient ledger (best of 3)':{width}}  {timings['status_big']:8.3f}")
    print("RSS: peak MiB of the whole process tree (sampled every 50 ms); render only runs in this process.")


def write_results(
    args: argparse.Namespace,
    results: Results,
    timings: dict[str, float],
    goals: list[Target],
    notes: list[str],
    load_before: float,
) -> None:
    data = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "n": args.n,
        "repeat": args.repeat,
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg()[0],
        },
        "measurements": {
            key: None if m is None else dataclasses.asdict(m) | {"per_second": m.rate} for key, m in results.items()
        },
        "seconds": timings,
        "targets": [dataclasses.asdict(t) | {"met": t.met} for t in goals],
        "notes": notes,
    }
    RESULTS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- main -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="recipients per measurement (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the text-only comparisons (median)")
    parser.add_argument("--quick", action="store_true", help=f"n = 200, one repeat, no {BIG}-recipient point")
    parser.add_argument("--no-10k", dest="big", action="store_false", help=f"skip the {BIG}-recipient point")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat, args.big = 200, 1, False
    return args


def main() -> None:
    args = parse_args()
    if args.sink:
        return serve_sink(args.latency)
    if args.naive:
        return naive_send(args.naive, args.port)
    load_before = os.getloadavg()[0]
    print(
        f"mailmerge bench: {args.n} recipients, {os.cpu_count()} CPU(s), load average {load_before:.2f}, "
        f"Python {platform.python_version()}{' (--quick: a smoke test)' if args.quick else ''}",
        flush=True,
    )
    notes: list[str] = []
    peer = ensure_peer(notes)
    with tempfile.TemporaryDirectory(prefix="mailmerge-bench-") as temp:
        os.environ[tokens.KEY_FILE_ENV] = str(Path(temp) / "token.key")  # never the user's real key
        results, timings = run_all(args, Workspace(Path(temp)), peer)
    if args.quick:
        notes.append(f"--quick: n = {args.n}, one run each: a smoke test")
    if not args.big:
        notes.append(f"the {BIG}-recipient point (peak RSS, status) was skipped")
    goals = targets(results, timings, args.n)
    print_table(results, timings, args.n)
    print(f"\ntargets (issue 11; ratios from this run, n = {args.n}):")
    for goal in goals:
        print(goal.line())
    for note in notes:
        print(f"note: {note}")
    write_results(args, results, timings, goals, notes, load_before)
    print(f"load average now {os.getloadavg()[0]:.2f}; written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
