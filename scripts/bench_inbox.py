"""Benchmark: fetching and classifying N mixed messages from a local Dovecot, and a re-fetch with nothing new.

    .venv/bin/python scripts/bench_inbox.py [--messages N] [--recipients R] [--keep] [--profile]

Issue 8's target: 10,000 mixed messages fetched and classified in ≤ 30 s on the development machine, and a
re-fetch with nothing new in ≤ 2 s. Both are printed with PASS/FAIL; the exit code is 0 either way (1 only
when something went wrong, e.g. the fetch read the wrong number of messages or changed the mailbox).

Set-up (timed and printed, not part of the targets), all on 127.0.0.1 in a temporary folder:
- a copy of the seed campaign with R generated recipients (tests/real_send.py's builder: every 10th has a
  CC) and `attach_pdf = false`, sent in this process with `sending.plan_send` + `sending.execute` to an
  aiosmtpd sink (tests/smtp_server.py) that keeps what it receives; the token key is a temporary one;
- N messages made from the invitations as the sink received them (tests/mail_factory.py, one process per
  CPU: the email package folds the long Vietnamese subjects slowly, a few ms a message): about 55 % human
  replies of several kinds (threaded or not, to the Reply-To or the From address, plain or HTML, attending,
  declining, a delegate, unclear), 15 % out-of-office, 15 % Postfix DSNs (failed and delayed), 5 % forged
  tokens, 10 % spam and mail from strangers. Each gets a `Received:` header of its own, as the last MTA
  adds, so no two are the same bytes; about a third are \\Seen and some \\Flagged;
- a real Dovecot (tests/dovecot.py) whose INBOX gets them by MULTIAPPEND with non-synchronising literals
  (RFC 3502, RFC 7888): one command and one round trip per APPEND_CHUNK messages instead of one per message;
- the campaign's `[imap]` pointed at that Dovecot (STARTTLS, its throw-away CA), as tests/test_replies.py does.

Measured in a fresh subprocess, so that its peak RSS (`resource.getrusage`) is the fetch's own and not the
set-up's (which holds every message in memory), and so that it starts as `mailmerge replies fetch` does:
1. the first `replies.fetch` of everything (wall time, messages/s, ms/message, peak RSS);
2. a second `replies.fetch`, with nothing new;
3. the in-process baselines over the same raw messages (read back from the ledger): `Reader.understand`
   alone (parse + classify + match, no IMAP and no ledger), and, to show where that time goes, parsing
   alone and parsing + classifying; and the IMAP transfer alone (`inbox.fetch` of the whole folder, nothing
   parsed or stored). The ratio first fetch / `understand` shows what IMAP and the ledger add.

Afterwards the mailbox must be as before the fetches: same messages, flags, HIGHESTMODSEQ, UIDNEXT and
UIDVALIDITY (tests/dovecot.py's `Snapshot`, read over a separate connection).

`--profile` runs the first fetch under cProfile (slower: its time is then no measure) and prints the top
functions by cumulative and by own time. `--keep` keeps the temporary folder (campaign, ledger, Dovecot's
Maildir and log) and prints where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import json
import multiprocessing
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.dovecot, tests.mail_factory …: the project's test servers and mail

from mailmerge import headers, inbox, replies, sending, tokens  # noqa: E402
from mailmerge.campaign import seed_folder  # noqa: E402
from mailmerge.classify import classify  # noqa: E402
from mailmerge.send import Policy  # noqa: E402
from mailmerge.sink import LocalServer  # noqa: E402
from tests import mail_factory as mail  # noqa: E402
from tests.campaign_files import set_table  # noqa: E402
from tests.dovecot import DOVECOT, Dovecot, Snapshot, adopt_orphans  # noqa: E402
from tests.real_send import prepare_campaign  # noqa: E402
from tests.smtp_server import ScriptedHandler  # noqa: E402

FETCH_TARGET = 30.0  # seconds, for 10,000 messages
REFETCH_TARGET = 2.0  # seconds, nothing new
TARGET_MESSAGES = 10_000
APPEND_CHUNK = 250  # messages per MULTIAPPEND command
OURS = "vanphong@mttq-quan5.example"

# One cycle of 20 messages: 11 human replies (55 %), 3 out-of-office (15 %), 3 delivery reports (15 %),
# 1 forged token (5 %), 2 spam or strangers (10 %); interleaved, as a real inbox is.
CYCLE = "HHOHBHSHHOFHBHHOHBSH"
CATEGORIES = {"H": "human reply", "O": "out-of-office", "B": "delivery report", "F": "forged token", "S": "unmatched"}


# --- the mail ---------------------------------------------------------------------------------------


def human_reply(sent: bytes, n: int) -> bytes:
    """The n-th human reply to `sent`, in one of eight styles that real answers come in."""
    name, address = parseaddr(str(mail.invitation(sent)["To"]))
    domain = address.rpartition("@")[2]
    style = n % 8
    if style == 0:
        return mail.reply(sent, f"Xin xác nhận tham dự.\nTrân trọng,\n{name}", minutes=n % 600)
    if style == 1:  # the thread lost: matched by the Reply-To token
        return mail.reply(sent, "Tôi không thể tham dự được vì trùng lịch công tác.", thread=False, minutes=n % 600)
    if style == 2:
        text = "Tôi xin cử đ/c Trần Văn Nam - Phó Bí thư Đảng ủy phường - đi dự thay."
        return mail.reply(sent, text, minutes=n % 600)
    if style == 3:
        return mail.reply(sent, "Dạ, có.\nKính thư", html=True, minutes=n % 600)
    if style == 4:  # a person should look
        return mail.reply(sent, "Tôi đã nhận được giấy mời. Cho hỏi có chỗ gửi xe không?", minutes=n % 600)
    if style == 5:  # neither thread nor token: matched by the sender's address
        return mail.reply(sent, "Có ạ.", thread=False, to_reply_address=False, minutes=n % 600)
    if style == 6:  # a colleague answers in the thread
        colleague = f"Văn phòng <vanphong@{domain}>"
        return mail.reply(sent, "Đồng chí Chủ tịch sẽ tham dự.", sender=colleague, minutes=n % 600)
    return mail.reply(sent, "Unfortunately I am not able to attend.", minutes=n % 600)


def delivery_report(sent: bytes, n: int) -> bytes:
    address = mail.invitation(sent)["To"].addresses[0].addr_spec
    status, action = [("5.1.1", "failed"), ("4.4.1", "delayed"), ("5.2.2", "failed")][n % 3]
    return mail.postfix_bounce(sent, address, status=status, action=action)


def unmatched(sent: bytes, n: int) -> bytes:
    if n % 2 == 0:
        return mail.spam()
    stranger = f"Người lạ {n} <nguoila{n}@elsewhere.example>"  # quotes the invitation, was never invited
    text = "Cho hỏi hội nghị có phát trực tuyến không?"
    return mail.reply(sent, text, thread=False, to_reply_address=False, sender=stranger)


MAKERS: dict[str, Callable[[bytes, int], bytes]] = {
    "H": human_reply,
    "O": lambda sent, _n: mail.out_of_office(sent),
    "B": delivery_report,
    "F": lambda sent, _n: mail.forged(sent),
    "S": unmatched,
}


def received_header(n: int) -> bytes:
    """What the last MTA adds: it makes every message's bytes unique (the ledger keeps each once)."""
    when = format_datetime(mail.WHEN)
    return (
        f"Received: from relay.mttq-quan5.example (relay.mttq-quan5.example [10.0.5.2])\r\n"
        f"\tby mail.mttq-quan5.example (Postfix) with ESMTPS id 4BX{n:07d}\r\n"
        f"\tfor <{OURS}>; {when}\r\n"
    ).encode("ascii")


@dataclass(frozen=True)
class Message:
    category: str  # a key of CATEGORIES
    raw: bytes
    flags: tuple[str, ...]


def mixed_mail(sent: Sequence[bytes], count: int) -> list[Message]:
    """`count` messages answering the invitations `sent`, made by one process per CPU: the email package
    folds the long Vietnamese subject of every reply slowly (a few ms a message), and that is set-up."""
    chunks = [range(start, min(start + 250, count)) for start in range(0, count, 250)]
    context = multiprocessing.get_context("spawn")  # mailmerge's render pool spawns too; no fork of threads
    workers = min(os.cpu_count() or 1, len(chunks)) or 1
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_remember, initargs=(list(sent),)) as pool:
        return [message for chunk in pool.map(_make, chunks) for message in chunk]


_sent: list[bytes] = []  # in a worker of `mixed_mail`


def _remember(sent: list[bytes]) -> None:
    """A worker's start: the invitations, and mail_factory's parse of them memoised (it parses the invitation
    again for each message it makes, and only reads it)."""
    _sent[:] = sent
    mail.invitation = functools.lru_cache(maxsize=None)(mail.invitation)  # type: ignore[assignment]


def _make(numbers: range) -> list[Message]:
    return [message_number(_sent, n) for n in numbers]


def message_number(sent: Sequence[bytes], n: int) -> Message:
    """The n-th message of the mix: its category from CYCLE, and the k-th of that category answers the
    invitation k places after the category's own offset, so one invitee rarely gets everything at once."""
    category = CYCLE[n % len(CYCLE)]
    k = n // len(CYCLE) * CYCLE.count(category) + CYCLE[: n % len(CYCLE)].count(category)
    offset = list(MAKERS).index(category) * len(sent) // len(MAKERS)
    raw = received_header(n) + MAKERS[category](sent[(offset + k) % len(sent)], k)
    flags = ("\\Seen",) if n % 3 == 0 else ()
    flags += ("\\Flagged",) if n % 17 == 0 else ()
    return Message(category, raw, flags)


# --- set-up -----------------------------------------------------------------------------------------


def make_campaign(folder: Path, port: int, recipients: int) -> None:
    """A copy of the seed campaign: `recipients` text-only invitations to the sink on `port`."""
    seed = seed_folder()
    folder.mkdir()
    shutil.copy(seed / "campaign.toml", folder)
    shutil.copytree(seed / "templates", folder / "templates")
    prepare_campaign(folder, port, recipients)


def send_invitations(folder: Path, recipients: int) -> list[bytes]:
    """Send the campaign to an in-process sink; the invitations as it received them, in recipient order."""
    handler = ScriptedHandler()
    server = LocalServer(handler)
    server.start()
    try:
        make_campaign(folder, server.port, recipients)
        plan = sending.plan_send(folder)
        result = asyncio.run(sending.execute(plan, None, Policy()))
    finally:
        server.stop()
    if result.summary.sent != recipients or len(handler.received) != recipients:
        raise SystemExit(f"sent {result.summary.sent}, the sink got {len(handler.received)}: {result.summary}")
    by_invitee = {received.envelope_to[0]: received.data for received in handler.received}
    return [by_invitee[invitee] for invitee in sorted(by_invitee, key=lambda a: int(re.findall(r"\d+", a)[0]))]


def append_all(dovecot: Dovecot, messages: Sequence[Message], folder: str = "INBOX") -> None:
    """Put the messages in `folder`, in order, with MULTIAPPEND (RFC 3502) and LITERAL+ (RFC 7888): one
    command and one round trip per APPEND_CHUNK messages, each with its own flags."""
    with dovecot.client() as box:
        client = box.client
        _typ, data = client.capability()
        capabilities = set(b" ".join(d for d in data if isinstance(d, bytes)).upper().split())
        missing = {b"MULTIAPPEND", b"LITERAL+"} - capabilities
        if missing:
            raise SystemExit(f"Dovecot does not announce {sorted(missing)}: {sorted(capabilities)}")
        for number, start in enumerate(range(0, len(messages), APPEND_CHUNK)):
            tag = f"BENCH{number:05d}".encode()
            command = [tag + f" APPEND {folder}".encode()]
            for message in messages[start : start + APPEND_CHUNK]:
                flags = f" ({' '.join(message.flags)})" if message.flags else ""
                command.append(f"{flags} {{{len(message.raw)}+}}\r\n".encode() + message.raw)
            client.send(b"".join(command) + b"\r\n")  # imaplib's own tags never start with BENCH
            while not (line := client.readline()).startswith(tag + b" "):
                if not line:
                    raise SystemExit("Dovecot closed the connection during APPEND")
            if not line.startswith(tag + b" OK"):
                raise SystemExit(f"APPEND refused: {line.decode(errors='replace').strip()}")


def point_imap_at(folder: Path, dovecot: Dovecot) -> None:
    """The campaign's [imap] is the benchmark's Dovecot (as tests/test_replies.py's `read_from`)."""
    imap = dovecot.settings("starttls")
    values = {"host": imap.host, "port": imap.port, "security": "starttls", "username": imap.username}
    set_table(folder, "imap", values | {"timeout": 30, "ca_file": str(imap.ca_file)})


# --- measuring (in the subprocess) ------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def profiled(work: Callable[[], Any]) -> Any:
    profile = cProfile.Profile()
    result = profile.runcall(work)
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(25)
        print(f"--- cProfile of the first fetch, by {order} ---", text.getvalue(), sep="\n", flush=True)
    return result


def each(raws: Sequence[bytes], work: Callable[[bytes], Any]) -> float:
    """Seconds for `work` over every raw message."""
    started = time.perf_counter()
    for raw in raws:
        work(raw)
    return time.perf_counter() - started


def measure(folder: Path, profile: bool) -> dict[str, Any]:
    """The two fetches, then the baselines over the same messages; numbers for the parent to print."""
    password = os.environ[inbox.PASSWORD_ENV]
    rss_before = current_rss_mib()
    first_fetch = lambda: replies.fetch(folder, password)  # noqa: E731
    if profile:
        started = time.perf_counter()
        first = profiled(first_fetch)
        first_seconds = time.perf_counter() - started
    else:
        first_seconds, first = timed(first_fetch)
    peak_after_first = peak_rss_mib()
    second_seconds, second = timed(lambda: replies.fetch(folder, password))

    _campaign, ledger = replies.open_ledger(folder)
    try:
        raws = [raw for _digest, raw in ledger.mail.stored()]
        reader = replies.Reader(ledger, tokens.load_key())
    finally:
        ledger.close()
    plain_seconds = each(raws, lambda raw: message_from_bytes(raw, policy=policy.default))
    parse_seconds = each(raws, headers.parse)
    classify_seconds = each(raws, lambda raw: classify(headers.parse(raw)))
    understand_seconds = each(raws, reader.understand)

    settings = replies.imap_settings(folder)
    started = time.perf_counter()
    transferred = sum(len(m.raw) for m in inbox.fetch(settings, password, ("INBOX",), {}))
    imap_seconds = time.perf_counter() - started
    return {
        "first": {"seconds": first_seconds, "read": first.read, "new": first.new, "kinds": dict(first.kinds)},
        "first_unmatched": first.unmatched,
        "first_suspicious": first.suspicious,
        "second": {"seconds": second_seconds, "read": second.read, "new": second.new},
        "rss_before": rss_before,
        "peak_after_first": peak_after_first,
        "stored": len(raws),
        "plain_parse": plain_seconds,
        "parse": parse_seconds,
        "classify": classify_seconds,
        "understand": understand_seconds,
        "imap": imap_seconds,
        "imap_bytes": transferred,
        "profiled": profile,
    }


def run_measurement(folder: Path, password: str, result_file: Path, profile: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(folder), "--result", str(result_file)]
    env = {**os.environ, inbox.PASSWORD_ENV: password}
    subprocess.run([*command, *(["--profile"] if profile else [])], env=env, check=True)
    return json.loads(result_file.read_text())


# --- the report -------------------------------------------------------------------------------------


def verdict(seconds: float, target: float) -> str:
    return "PASS" if seconds <= target else "FAIL"


def report(numbers: dict[str, Any], expected: Counter[str], messages: int, before: Snapshot, after: Snapshot) -> bool:
    """Print the results; False when something is wrong beyond a missed target."""
    first, second = numbers["first"], numbers["second"]
    seconds = first["seconds"]
    print(
        f"first fetch:  {first['read']} read, {first['new']} new in {seconds:.2f}s = "
        f"{first['read'] / seconds:.0f} msg/s, {seconds * 1000 / max(first['read'], 1):.2f} ms/message"
        + ("  (under cProfile)" if numbers["profiled"] else "")
    )
    print(
        f"    kinds {dict(sorted(first['kinds'].items()))}, unmatched {numbers['first_unmatched']}, "
        f"suspicious {numbers['first_suspicious']}  (made: {dict(expected)})"
    )
    print(
        f"    RSS of the measuring process: {numbers['rss_before']:.0f} MiB before the fetch (imports), "
        f"peak {numbers['peak_after_first']:.0f} MiB after it"
    )
    print(f"re-fetch:     {second['read']} read, {second['new']} new in {second['seconds'] * 1000:.0f} ms")
    stored = numbers["stored"]
    print(f"baselines over the {stored} stored messages, no IMAP and no ledger:")
    for label, key in (
        ("parse (email, plain policy.default)", "plain_parse"),
        ("parse (headers.parse: each header parsed once)", "parse"),
        ("parse + classify", "classify"),
        ("Reader.understand (parse + classify + match)", "understand"),
    ):
        print(f"    {label:48} {numbers[key]:6.2f}s  {numbers[key] * 1000 / max(stored, 1):.2f} ms/message")
    mib = numbers["imap_bytes"] / 2**20
    print(f"    {'IMAP transfer only (inbox.fetch, ' + f'{mib:.0f} MiB)':48} {numbers['imap']:6.2f}s")
    print(
        f"ratio first fetch / understand baseline: {seconds / numbers['understand']:.2f}x "
        f"(IMAP + ledger add {seconds - numbers['understand']:.2f}s; "
        f"first fetch / (understand + IMAP transfer): {seconds / (numbers['understand'] + numbers['imap']):.2f}x)"
    )
    scaled = seconds * TARGET_MESSAGES / messages
    scale_note = "" if messages == TARGET_MESSAGES else f", scaled to {TARGET_MESSAGES}: {scaled:.2f}s"
    print(
        f"target: fetch + classify {TARGET_MESSAGES} in ≤ {FETCH_TARGET:.0f}s: {verdict(scaled, FETCH_TARGET)} "
        f"({messages} in {seconds:.2f}s{scale_note})"
    )
    print(
        f"target: re-fetch with nothing new in ≤ {REFETCH_TARGET:.0f}s: "
        f"{verdict(second['seconds'], REFETCH_TARGET)} ({second['seconds']:.2f}s)"
    )
    unchanged = before == after
    seen = sum("\\Seen" in flags for flags in after.flags.values())
    flagged = sum("\\Flagged" in flags for flags in after.flags.values())
    print(
        f"check: mailbox unchanged by the fetches (count, flags, HIGHESTMODSEQ, UIDNEXT, UIDVALIDITY): "
        f"{'OK' if unchanged else 'CHANGED'} ({after.count} messages, "
        f"{seen} \\Seen, {flagged} \\Flagged, HIGHESTMODSEQ {after.highest_modseq})"
    )
    counts_right = first["read"] == first["new"] == stored == messages and second["read"] == 0
    if not counts_right:
        print(f"check: FAILED: {messages} messages put in, but {first} / {second} / {stored} stored")
    return unchanged and counts_right


# --- main -------------------------------------------------------------------------------------------


def bench(args: argparse.Namespace, temp_dir: Path) -> bool:
    """Set up, measure, report; False when a check failed."""
    os.environ[tokens.KEY_FILE_ENV] = str(temp_dir / "token.key")  # never the user's real key
    folder = temp_dir / "campaign"
    recipients = args.recipients or max(20, args.messages // 5)

    seconds, sent = timed(lambda: send_invitations(folder, recipients))
    print(f"set-up: {recipients} invitations sent to the local sink in {seconds:.1f}s", flush=True)
    seconds, messages = timed(lambda: mixed_mail(sent, args.messages))
    size = sum(len(m.raw) for m in messages)
    print(f"set-up: {len(messages)} messages made in {seconds:.1f}s ({size / 2**20:.1f} MiB)", flush=True)

    adopt_orphans()
    (temp_dir / "dovecot").mkdir(mode=0o755)
    dovecot = Dovecot(temp_dir / "dovecot")
    try:
        dovecot.start()
        seconds, _ = timed(lambda: append_all(dovecot, messages))
        before = dovecot.flags_and_count()
        if before.count != len(messages):
            raise SystemExit(f"appended {len(messages)} messages, the INBOX has {before.count}")
        print(
            f"set-up: Dovecot on 127.0.0.1:{dovecot.port}, {before.count} messages appended in {seconds:.1f}s",
            flush=True,
        )
        point_imap_at(folder, dovecot)
        expected = Counter(CATEGORIES[m.category] for m in messages)
        numbers = run_measurement(folder, dovecot.password, temp_dir / "result.json", args.profile)
        after = dovecot.flags_and_count()
    finally:
        dovecot.stop()
    print(f"load average after the measurement: {os.getloadavg()[0]:.2f} (other work on the machine skews it all)")
    return report(numbers, expected, args.messages, before, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=TARGET_MESSAGES, help="how many messages in the INBOX")
    parser.add_argument("--recipients", type=int, default=None, help="invitations sent (default: messages / 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", action="store_true", help="run the first fetch under cProfile")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        args.result.write_text(json.dumps(measure(args.measure, args.profile)))
        return
    if not Path(DOVECOT).exists():
        raise SystemExit("dovecot is not installed (Debian: dovecot-imapd)")
    print(
        f"{args.messages} mixed messages in a local Dovecot, {os.cpu_count()} CPU(s), load average "
        f"{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}; targets: ≤ {FETCH_TARGET:.0f}s for "
        f"{TARGET_MESSAGES}, ≤ {REFETCH_TARGET:.0f}s for a re-fetch with nothing new",
        flush=True,
    )
    temp_dir = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    temp_dir.chmod(0o755)  # as root, Dovecot's mail processes run as `nobody` and must reach the Maildir
    try:
        ok = bench(args, temp_dir)
    finally:
        if args.keep:
            print(f"kept: {temp_dir}")
        else:
            shutil.rmtree(temp_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
