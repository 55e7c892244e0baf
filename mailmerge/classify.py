"""What one email in the sender's mailbox is: a bounce, a delay, an auto-reply, a person's reply, or other.

Pure functions of a parsed message (`email.message_from_bytes(raw, policy=email.policy.default)`): no I/O.
Delivery reports (RFC 3464) are read with the standard `email` package; bounces in other formats (qmail,
older Exchange and Lotus servers) through `flufl.bounce`. A reply's answer is read from its new text only
(`new_text`) by `rsvp`. The markers are tables below; `reason` keeps the evidence, in English, as data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr
from functools import cached_property

from flufl.bounce import all_failures

try:  # the pattern tables of two flufl.bounce detectors, run again below with a correct address check
    from flufl.bounce._detectors.simplematch import PATTERNS as FLUFL_FAILURES
    from flufl.bounce._detectors.simplewarning import PATTERNS as FLUFL_WARNINGS
except ImportError:  # pragma: no cover - another layout of the library: its own detectors only
    FLUFL_FAILURES = FLUFL_WARNINGS = []

from . import quoting
from .rsvp import UNCLEAR, mentions_answer, read_rsvp

BOUNCE, DELAY, AUTO_REPLY, REPLY, OTHER = "bounce", "delay", "auto-reply", "reply", "other"

# RFC 3463 enhanced status codes, by subject and detail (the class, 4 or 5, says temporary or permanent).
STATUS_MEANINGS = {
    "0.0": "other undefined status",
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.6": "destination mailbox has moved",
    "1.10": "recipient not found or null MX",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "3.0": "other or undefined mail system status",
    "3.2": "system not accepting network messages",
    "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host",
    "4.2": "bad connection",
    "4.4": "unable to route",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
}
# Senders and subjects of bounces that are not RFC 3464 reports (then `flufl.bounce` reads them).
BOUNCE_SENDERS = re.compile(r"^(?:mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|mail\.delivery)\b", re.I)
BOUNCE_SUBJECTS = re.compile(
    r"undeliver|undelivered mail|delivery status notification|failure notice|returned mail|delivery failure"
    r"|mail delivery failed|delivery has failed|nondeliverable|non-delivery|delivery delayed|delayed mail"
    r"|could not send message|không gửi được|không thể gửi|không chuyển được",
    re.I,
)
# Words of a warning that delivery is only late (Postfix, Exim, Exchange, Gmail): a plain-text bounce with
# them is a delay, whatever the patterns that found its address say.
WARNING_MARKERS = re.compile(
    r"has not yet been delivered|not been delivered yet|still being retried|delivery (?:is )?delayed"
    r"|delayed \d+ (?:hours?|minutes?|days?)|will (?:continue|keep) trying|this is a warning only"
    r"|delivery attempts will continue|hasn't been delivered yet",
    re.I,
)
ADDRESS = re.compile(r"^[^@\s<>\"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$", re.I)
# RFC 3834 and the headers auto-responders set; X-Auto-Response-Suppress is not one (Outlook sets it on
# ordinary mail), nor is Precedence on mail from a list (a newsletter is `other`).
AUTO_SUBMITTED = "Auto-Submitted"
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")
AUTO_REPLY_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
# Out-of-office subjects (at the start of the subject, where Outlook, Gmail and Thunderbird put them).
AUTO_REPLY_SUBJECTS = re.compile(
    r"^\W*(?:trả lời tự động|tự động trả lời|thư trả lời tự động|vắng mặt\s*(?::|$)|out of (?:the )?office"
    r"|automatic reply|auto(?:matic)?[- ]?reply|autoreply|auto-response|away from (?:the )?office)",
    re.I,
)
REPLY_SUBJECT = re.compile(r"^\s*(?:re|tl|trả lời|aw|sv|antw|réf|rif)\s*(?:\[\d+\])?\s*:", re.I)
RETURNED_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})
MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
QUOTED_MESSAGE_ID = re.compile(r"^[ \t>]*Message-Id[ \t]*:\s*(<[^<>\s]+@[^<>\s]+>)", re.I | re.M)
Parts = list[tuple[str, Message]]  # (content type, part)
ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class DeliveryReport:
    """One per-recipient part of a delivery status notification."""

    action: str  # failed | delayed | delivered | relayed | expanded
    status: str | None  # "5.1.1"
    final_recipient: str | None  # address only, lower-case
    original_recipient: str | None
    diagnostic: str | None  # "smtp; 550 5.1.1 <x@y>: Recipient address rejected: User unknown"
    remote_mta: str | None


@dataclass(frozen=True)
class Classification:
    kind: str  # bounce | delay | auto-reply | reply | other
    reports: tuple[DeliveryReport, ...] = ()
    original_message_id: str | None = None  # of the message a bounce is about, "<...>"
    original_recipients: tuple[str, ...] = ()  # addresses a bounce in another format names
    envid: str | None = None  # Original-Envelope-Id of a DSN
    rsvp: str | None = None  # for a reply: attending | declined | delegate | unclear
    delegate_name: str | None = None
    delegate_position: str | None = None
    excerpt: str | None = None  # the sentence the RSVP was read from (or the start of the new text)
    reason: str | None = None  # short English evidence: "Auto-Submitted: auto-replied", "RFC 3464 report", …


def classify(message: EmailMessage) -> Classification:
    """The first that fits: a delivery report, another bounce, a read receipt, an auto-reply, a reply."""
    mail = _Mail(message)
    for step in (_delivery_status, _plain_bounce, _read_receipt, _auto_reply):
        if (found := step(mail)) is not None:
            return found
    return _reply(mail)


def new_text(message: EmailMessage) -> str:
    """The reply's own text: text/plain (else the HTML as text), quoted history and signature removed, NFC."""
    return quoting.new_text(message, keep=mentions_answer)


class _Mail:
    """A message and what the steps look at, read once: `email` parses a header again at every look."""

    def __init__(self, message: EmailMessage):
        self.message = message
        self.parts = _parts(message)
        # the first value of each header by lower-case name, unparsed and unfolded
        self.raw = {name.lower(): " ".join(value.split()) for name, value in reversed(list(message.raw_items()))}

    def has(self, name: str) -> bool:
        return name.lower() in self.raw

    @cached_property
    def subject(self) -> str:
        return " ".join(str(self.message.get("Subject") or "").split())

    @cached_property
    def sender_address(self) -> str:
        return parseaddr(self.raw.get("from", ""))[1]

    @cached_property
    def sender_name(self) -> str:
        return parseaddr(str(self.message.get("From") or ""))[0]

    @cached_property
    def text(self) -> str:
        return new_text(self.message)


# Delivery reports (RFC 3464)


def _delivery_status(mail: _Mail) -> Classification | None:
    part = next((p for kind, p in mail.parts if kind == "message/delivery-status"), None)
    if part is None:
        return None
    fields, blocks = _status_blocks(part)
    reports = tuple(_report(block) for block in blocks)
    if not reports:
        return None
    actions = [report.action for report in reports]
    action = next((wanted for wanted in ("failed", "delayed") if wanted in actions), actions[0])
    kind = {"failed": BOUNCE, "delayed": DELAY}.get(action, OTHER)  # a delivery reported: no bounce
    chosen = reports[actions.index(action)]
    return Classification(
        kind,
        reports=reports,
        original_message_id=_returned_message_id(mail.parts),
        envid=_xtext(_field(fields, "Original-Envelope-Id")),
        reason=f"RFC 3464 report: {chosen.action} {_status_words(chosen.status)}".strip(),
    )


def _status_blocks(part: Message) -> tuple[Message, list[Message]]:
    """The per-message fields and the per-recipient blocks (parsed by `email`, or here if it was encoded)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = list(payload)
    else:
        raw = (part.get_payload(decode=True) or b"").decode("utf-8", "replace").replace("\r\n", "\n")
        blocks = [HeaderParser(policy=default_policy).parsestr(b) for b in re.split(r"\n\s*\n", raw) if b.strip()]
    if not blocks:
        return Message(), []
    return blocks[0], [block for block in blocks[1:] if len(block)]


def _report(block: Message) -> DeliveryReport:
    status = ENHANCED_STATUS.search(_field(block, "Status") or "")
    code = status.group(0) if status else None
    action = (_field(block, "Action") or "").split(" ")[0].lower()
    if not action and code:  # some servers leave Action out: the status class says what happened
        action = {"5": "failed", "4": "delayed", "2": "delivered"}[code[0]]
    return DeliveryReport(
        action=action,
        status=code,
        final_recipient=_address(_field(block, "Final-Recipient")),
        original_recipient=_address(_field(block, "Original-Recipient")),
        diagnostic=_field(block, "Diagnostic-Code"),
        remote_mta=_address(_field(block, "Remote-MTA"), lower=False),
    )


def _field(block: Message, name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _address(value: str | None, lower: bool = True) -> str | None:
    """ "rfc822; Nobody@Phuong3.example" -> "nobody@phuong3.example"; "dns; mx.example" -> "mx.example"."""
    if not value:
        return None
    address = value.split(";", 1)[-1].strip().strip("<>").strip()
    return (address.lower() if lower else address) or None


def _xtext(value: str | None) -> str | None:
    """An ENVID as sent (RFC 3461 xtext: "+2B" is "+")."""
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value) if value else None


def _status_words(status: str | None) -> str:
    if not status:
        return ""
    meaning = STATUS_MEANINGS.get(status.split(".", 1)[1])
    return f"{status} ({meaning})" if meaning else status


def _returned_message_id(parts: Parts) -> str | None:
    """The Message-ID of the returned message or of its returned headers."""
    for kind, part in parts:
        if kind not in RETURNED_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload:  # message/rfc822, parsed by `email`
            found = MESSAGE_ID.search(str(payload[0].get("Message-ID") or ""))
            message_id = found.group(0) if found else None
        else:  # returned headers, read as text: some servers return them with odd line ends
            message_id = _quoted_message_id((part.get_payload(decode=True) or b"").decode("utf-8", "replace"))
        if message_id:
            return message_id
    return None


def _parts(message: Message) -> Parts:
    """Every part with its content type, without going inside an attached message (a forwarded bounce is
    not ours). Made once per message: `email` parses the Content-Type header again at every look."""
    kind = message.get_content_type()
    found = [(kind, message)]
    if message.is_multipart() and kind != "message/rfc822":
        for part in message.get_payload():
            found.extend(_parts(part))
    return found


# Bounces in other formats


def _plain_bounce(mail: _Mail) -> Classification | None:
    if not _from_mail_system(mail):
        return None
    notification = _notification(mail.parts)
    temporary, permanent = _failures(mail.message, notification)
    original = _returned_message_id(mail.parts) or _quoted_message_id(notification)
    if not temporary and not permanent:
        return Classification(OTHER, original_message_id=original, reason="from a mail system; no failed address")
    warning = WARNING_MARKERS.search(f"{mail.subject}\n{notification}")
    kind = DELAY if warning or not permanent else BOUNCE
    reason = f"flufl.bounce: {'temporary' if kind == DELAY else 'permanent'} failure"
    if warning:
        reason += f" (“{warning.group(0)}”)"
    return Classification(
        kind, original_message_id=original, original_recipients=tuple(sorted(permanent | temporary)), reason=reason
    )


def _failures(message: EmailMessage, notification: str) -> tuple[frozenset[str], frozenset[str]]:
    """(temporary, permanent) failed addresses, as flufl.bounce finds them.

    Its SimpleMatch and SimpleWarning detectors drop every address whose domain has a hyphen (their check
    is `[a-z0-9._]+`), as most of our invitees' domains do; when flufl found nothing, their pattern tables
    are run again here with a correct check."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a third party's heuristics: mail they cannot read is not a bounce they found
        temporary, permanent = frozenset(), frozenset()
    found = _decode(temporary), _decode(permanent)
    if found[0] or found[1]:
        return found
    permanent_again = _scan(notification, FLUFL_FAILURES)
    return (frozenset(), permanent_again) if permanent_again else (_scan(notification, FLUFL_WARNINGS), frozenset())


def _decode(addresses: frozenset[bytes]) -> frozenset[str]:
    return frozenset(a.decode("ascii", "replace").strip().lower() for a in addresses if a.strip())


def _scan(notification: str, patterns: list) -> frozenset[str]:
    """flufl.bounce's (start, end, address) line patterns over the text of the notification."""
    lines = notification.split("\n")
    for start, end, address in patterns:
        found: set[str] = set()
        started = False
        for line in lines:
            started = started or bool(start.search(line))
            if not started:
                continue
            if match := address.search(line):
                found.add(match.group("addr").strip().strip("<>").lower())
            elif end.search(line):
                break
        if valid := frozenset(a for a in found if ADDRESS.match(a)):
            return valid
    return frozenset()


def _notification(parts: Parts) -> str:
    """The text a mail system wrote: its text parts, not those of a returned message."""
    return "\n".join(quoting.decoded(part) for kind, part in parts if kind.startswith("text/"))


def _from_mail_system(mail: _Mail) -> bool:
    if BOUNCE_SENDERS.match(mail.sender_address.partition("@")[0]):
        return True
    return mail.raw.get("return-path") == "<>" and bool(BOUNCE_SUBJECTS.search(mail.subject))


def _quoted_message_id(notification: str) -> str | None:
    """The Message-ID line of the original quoted in a bounce's text."""
    found = QUOTED_MESSAGE_ID.search(notification)
    return found.group(1) if found else None


# Read receipts and auto-replies


def _read_receipt(mail: _Mail) -> Classification | None:
    if any(kind == "message/disposition-notification" for kind, _part in mail.parts):
        return Classification(AUTO_REPLY, reason="RFC 8098 disposition notification (read receipt)")
    return None


def _auto_reply(mail: _Mail) -> Classification | None:
    """Headers are proof; an out-of-office subject alone is not when the text gives a clear answer."""
    if evidence := _auto_reply_header(mail):
        return Classification(AUTO_REPLY, excerpt=quoting.beginning(mail.text), reason=evidence)
    if not AUTO_REPLY_SUBJECTS.match(mail.subject):
        return None
    if read_rsvp(mail.text).rsvp != UNCLEAR:
        return None  # a person answered under a subject like "Vắng mặt: …"
    return Classification(AUTO_REPLY, excerpt=quoting.beginning(mail.text), reason=f"Subject: {mail.subject}")


def _auto_reply_header(mail: _Mail) -> str | None:
    submitted = mail.raw.get(AUTO_SUBMITTED.lower(), "")
    if submitted and submitted.split(";")[0].strip().lower() != "no":
        return f"{AUTO_SUBMITTED}: {submitted}"
    for name in AUTO_REPLY_HEADERS:
        value = mail.raw.get(name.lower())
        if value is not None and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value}".strip()
    precedence = mail.raw.get("precedence", "").lower()
    if precedence in AUTO_REPLY_PRECEDENCE and not _from_list(mail):
        return f"Precedence: {precedence}"
    return None


def _from_list(mail: _Mail) -> bool:
    return any(mail.has(name) for name in LIST_HEADERS)


# Replies


def _reply(mail: _Mail) -> Classification:
    if _from_list(mail) and not mail.has("In-Reply-To"):
        return Classification(OTHER, reason="mailing list mail (List-Id, List-Unsubscribe)")
    answer = read_rsvp(mail.text)
    evidence = _reply_evidence(mail)
    if evidence is None and answer.rsvp == UNCLEAR:
        return Classification(OTHER, reason="no In-Reply-To, References or Re: and no answer in the text")
    name = answer.delegate_name
    if answer.delegate_is_writer and not name:
        name = mail.sender_name or None
    rule = f"; {answer.rsvp} by “{answer.rule}”" if answer.rule and answer.rsvp != UNCLEAR else ""
    return Classification(
        REPLY,
        rsvp=answer.rsvp,
        delegate_name=name,
        delegate_position=answer.delegate_position,
        excerpt=answer.excerpt or quoting.beginning(mail.text),
        reason=f"{evidence or 'an answer in the text'}{rule}",
    )


def _reply_evidence(mail: _Mail) -> str | None:
    for name in ("In-Reply-To", "References"):
        if mail.has(name):
            return name
    return f"Subject: {mail.subject.split(':')[0]}:" if REPLY_SUBJECT.match(mail.subject) else None
