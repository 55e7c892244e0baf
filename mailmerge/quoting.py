"""The new text of a reply: HTML turned into text, quoted history and signature taken off.

Mail clients mark what they quote in a few ways: `>` before each line (Gmail, Thunderbird, Apple Mail in
plain text), an attribution line ending in "wrote:" / "đã viết:" before it, or an Outlook header block
("From: … Sent: …", "Từ: … Đã gửi: …") or "-----Original Message-----" above an unmarked copy. The markers
are tables below; the code that uses them is generic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from .vntext import INVISIBLE_RUN, SPACES, nfc

_I = re.IGNORECASE

# An attribution line before a quote: "On Fri, Aug 21, 2020 at 8:00 AM Ban … <x@y> wrote:" (Gmail, English),
# "Vào Th 6, 21 thg 8, 2020 lúc 08:00 Ban … đã viết:" (Gmail, Vietnamese), "Vào 21/08/2020 08:00, Ban … đã
# viết:" (Thunderbird), "On 21 Aug 2020, at 08:00, … wrote:" (Apple Mail). Gmail wraps a long one over lines.
ATTRIBUTION_END = re.compile(r"(?:wrote|đã viết|viết|a écrit|schrieb)\s*:\s*$", _I)
ATTRIBUTION_START = re.compile(r"^(?:on|vào|le|am)\b", _I)
# A line after which everything is a copy of earlier mail (Outlook, Yahoo, forwarding in Gmail).
SEPARATORS = (
    re.compile(r"^-{2,}\s*(?:original message|thư gốc|tin nhắn gốc|thư ban đầu)\s*-{2,}$", _I),
    re.compile(r"^-{2,}\s*(?:forwarded message|thư được chuyển tiếp|thư chuyển tiếp)\s*-{2,}$", _I),
    re.compile(r"^_{10,}$"),
    re.compile(r"^-{20,}$"),  # Windows Live Mail, before its From/Sent block
)
# Outlook's header block above the copy: "From:" then two of "Sent:", "To:", "Subject:" … in the next lines
# ("Từ:", "Đã gửi:", "Đến:", "Chủ đề:" in Vietnamese); or all of it on one line.
HEADER_FROM = re.compile(r"^\*?(?:from|từ)\s*:\*?\s*\S", _I)
HEADER_NEXT = re.compile(r"^\*?(?:sent|date|to|cc|subject|đã gửi|ngày|đến|tới|chủ đề|tiêu đề)\s*:", _I)
HEADER_ONE_LINE = re.compile(r"^(?:from|từ)\s*:.+\s(?:sent|đã gửi)\s*:.+\s(?:to|đến)\s*:", _I)
# Where a signature starts: the "-- " line, and the footers phones and Outlook add.
SIGNATURE_MARKS = (
    re.compile(r"^--\s*$"),
    re.compile(
        r"^(?:sent from my|sent from (?:mail|outlook|yahoo)|get outlook for|tải outlook cho"
        r"|(?:được )?gửi từ (?:iphone|ipad|điện thoại|thiết bị|samsung|android|outlook|yahoo|thư))\b",
        _I,
    ),
)
# A closing line (the whole line), which a short block of name, position and telephone follows.
CLOSINGS = re.compile(
    r"^(?:trân trọng(?: cảm ơn| kính chào)?|kính thư|thân ái|thân mến|xin cảm ơn|cảm ơn|chân thành cảm ơn"
    r"|best regards|kind regards|warm regards|regards|best wishes|best|sincerely|yours sincerely"
    r"|yours faithfully|thanks|thank you|many thanks|cheers)\s*[,.!]*$",
    _I,
)
SIGNATURE_MAX_LINES = 6
SIGNATURE_MAX_WIDTH = 80
OTHER_SPACES = re.compile(f"[{''.join(sorted(SPACES - {' '}))}]")  # Unicode spaces (Zs) but the plain one


def new_text(message: EmailMessage, keep: Callable[[str], bool] = lambda block: False) -> str:
    """A reply's own text: text/plain (else the HTML as text), quoted history and signature removed, NFC."""
    return tidy(strip_signature(strip_quoted(tidy(body_text(message))), keep=keep))


def strip_quoted(text: str) -> str:
    """`text` without quoted history: `>` lines go wherever they are (an answer written between quoted lines
    stays); an attribution line goes with them; an Outlook separator or header block ends the new text."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if _ends_new_text(lines, index):
            break
        if (span := _attribution(lines, index)) is not None:
            if not _next_is_quoted(lines, index + span):
                break  # an unmarked copy follows the attribution: nothing after it is new
            index += span
            continue
        if not line.startswith(">"):
            kept.append(lines[index])
        index += 1
    return "\n".join(kept)


def strip_signature(text: str, keep: Callable[[str], bool] = lambda block: False) -> str:
    """`text` without its signature: from a "-- " line or a phone's footer to the end, or from a closing line
    ("Trân trọng,", "Best regards") when only a short block follows it. `keep(block)` says that a block is the
    answer itself and must stay (the caller knows what an answer looks like)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        if any(mark.match(stripped) for mark in SIGNATURE_MARKS):
            return "\n".join(lines[:index])
        if CLOSINGS.match(stripped) and _has_text(lines[:index]):
            block = "\n".join(lines[index + 1 :])
            if _short_block(block) and not keep(block):
                return "\n".join(lines[:index])
    return text


def tidy(text: str) -> str:
    """NFC, plain spaces, no invisible characters, no trailing spaces, at most one blank line in a row."""
    text = INVISIBLE_RUN.sub("", nfc(text.replace("\r\n", "\n").replace("\r", "\n")))
    text = OTHER_SPACES.sub(" ", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def beginning(text: str, limit: int = 200) -> str | None:
    """The start of `text` on one line, cut at a word, for showing what a message says."""
    flat = " ".join(text.split())
    if not flat:
        return None
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def _ends_new_text(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if any(separator.match(line) for separator in SEPARATORS) or HEADER_ONE_LINE.match(line):
        return True
    if HEADER_FROM.match(line):
        following = [candidate.strip() for candidate in lines[index + 1 : index + 6]]
        return sum(bool(HEADER_NEXT.match(candidate)) for candidate in following) >= 2
    return False


def _attribution(lines: list[str], index: int) -> int | None:
    """How many lines the attribution starting at `index` takes, or None. One line must name a date or an
    address; one that Gmail wrapped over two or three lines must start as Gmail's do ("On …", "Vào …")."""
    joined = lines[index].strip()
    if not joined or joined.startswith(">"):
        return None
    for span in range(1, 4):
        if ATTRIBUTION_END.search(joined):
            dated = span == 1 and re.search(r"\d|@", joined)
            return span if dated or ATTRIBUTION_START.match(joined) else None
        if index + span >= len(lines) or not lines[index + span].strip():
            return None
        joined = f"{joined} {lines[index + span].strip()}"
    return None


def _next_is_quoted(lines: list[str], index: int) -> bool:
    following = next((line.strip() for line in lines[index:] if line.strip()), "")
    return following.startswith(">")


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _short_block(block: str) -> bool:
    filled = [line for line in block.split("\n") if line.strip()]
    return len(filled) <= SIGNATURE_MAX_LINES and all(len(line) <= SIGNATURE_MAX_WIDTH for line in filled)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# HTML: elements whose text is never part of the message, elements that break lines, and signature blocks.
HTML_HIDDEN = _words("script style head title template noscript")
HTML_BLOCKS = _words(
    "address article aside blockquote br dd div dl dt footer h1 h2 h3 h4 h5 h6 header hr li ol p pre section "
    "table tbody thead tfoot tr ul"
)
HTML_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")
HTML_SIGNATURE_IDS = ("signature", "Signature")
HTML_VOID = _words("area base br col embed hr img input link meta source track wbr")


class _TextOfHtml(HTMLParser):
    """Text of an HTML mail body: blocks on their own lines, `<blockquote>` content marked with `>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line = ""
        self.line_depth = 0
        self.depth = 0  # of <blockquote>
        self.skipping: list[str] = []  # the open tags of a hidden element, itself first
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag not in HTML_VOID:
                self.skipping.append(tag)
            return
        if tag in HTML_HIDDEN or _is_signature(attrs):
            if tag not in HTML_VOID:
                self.skipping.append(tag)
            return
        if tag in HTML_BLOCKS:
            self.newline()
        if tag == "blockquote":
            self.depth += 1
        elif tag == "pre":
            self.preformatted += 1
        elif tag in ("td", "th"):
            self.text(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in HTML_BLOCKS:
            self.newline()
        if tag == "blockquote":
            self.depth = max(0, self.depth - 1)
        elif tag == "pre":
            self.preformatted = max(0, self.preformatted - 1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.preformatted:
            first, *rest = data.split("\n")
            self.text(first)
            for piece in rest:
                self.newline(force=True)
                self.text(piece)
            return
        self.text(re.sub(r"[ \t\r\n\f]+", " ", data))

    def text(self, data: str) -> None:
        if not self.line.strip():
            self.line_depth = self.depth
            data = data.lstrip() if not self.preformatted else data
        self.line += data

    def newline(self, force: bool = False) -> None:
        if self.line.strip() or force:
            self.lines.append("> " * self.line_depth + self.line.strip())
        elif self.lines and self.lines[-1]:
            self.lines.append("")
        self.line = ""


def _is_signature(attrs: list[tuple[str, str | None]]) -> bool:
    values = dict(attrs)
    classes = (values.get("class") or "").split()
    return any(name in classes for name in HTML_SIGNATURE_CLASSES) or values.get("id") in HTML_SIGNATURE_IDS


def html_to_text(html: str) -> str:
    """The text a reader sees in an HTML body, with quoted parts marked by `>` so `strip_quoted` finds them."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    parser.newline()
    return "\n".join(parser.lines)


def body_text(message: EmailMessage) -> str:
    """The text/plain body; the HTML one as text when there is no plain one (or it is empty)."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None and (text := decoded(plain)).strip():
        return text
    html = message.get_body(preferencelist=("html",))
    return html_to_text(decoded(html)) if html is not None else ""


def decoded(part: Message) -> str:
    """A text part as text; a charset Python does not know is read as UTF-8, damaged bytes replaced."""
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else part.get_payload(decode=True)
    except (LookupError, ValueError):
        content = part.get_payload(decode=True)
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""
