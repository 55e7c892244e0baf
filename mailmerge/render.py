"""Per-recipient rendering: Jinja2 templates to the invitation PDF (WeasyPrint) and the email bodies.

One `Renderer` serves a whole campaign: it compiles the templates and parses the stylesheet once, and
shares one `FontConfiguration` between all letters (a new one per document leaks memory). The templates
run in the sandbox of `templating`; what WeasyPrint only logs about the stylesheet or the letter's CSS
is kept in `Renderer.warnings` for `check` to show.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
import weasyprint
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from .errors import TemplateError
from .i18n import _
from .letters_cache import CACHE_DIR, LetterCache, fingerprint
from .models import Campaign, Letter, Page, Recipient
from .templating import (
    FolderLoader,
    TemplateFileError,
    describe,
    doc_number,
    error_text,
    make_environment,
    template_fields,
    template_location,
)
from .vntext import filename_part

LETTER = "letter.html"
STYLESHEET = "letter.css"
SUBJECT = "subject.txt"
TEXT_BODY = "email.txt"
HTML_BODY = "email.html"
TEMPLATES = (LETTER, SUBJECT, TEXT_BODY, HTML_BODY)
REMINDER_TEXT = "reminder.txt"  # optional: a reminder's bodies; without them it repeats the invitation's
REMINDER_HTML = "reminder.html"


class JailedFetcher(URLFetcher):
    """Lets WeasyPrint read files under one folder and nothing else: no network, no redirects.

    A refused URL stops the rendering (fail_on_errors), so a template cannot quietly attach
    `file:///etc/passwd` to a PDF through `<link rel=attachment>`.
    """

    def __init__(self, root: Path):
        super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=True)
        self.root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """The file at `url`; a refusal is a `ValueError` whose text (in the user's language) is shown."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(self.refusal(url))
        path = Path(url2pathname(parts.path)).resolve()  # file:///C:/… on Windows
        if not path.is_relative_to(self.root):
            raise ValueError(self.refusal(url))
        if not path.is_file():
            # TRANSLATORS: {name} is a file the letter or letter.css refers to, e.g. "programme.pdf".
            message = _("{name} was not found in the templates folder")
            raise ValueError(message.format(name=path.relative_to(self.root)))
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

    def refusal(self, url: str) -> str:
        # TRANSLATORS: {folder} is the full path of the templates folder; {url} is the address a template or
        # letter.css asked for, e.g. "file:///etc/passwd" or "https://…".
        return _("only files under {folder} may be loaded, not {url}").format(folder=self.root, url=url)


def page_rule(page: Page) -> str:
    margins = f"{page.margin_top} {page.margin_right} {page.margin_bottom} {page.margin_left}"
    return f"@page {{ size: {page.size}; margin: {margins}; }}"


class Renderer:
    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.fetcher = JailedFetcher(campaign.templates_dir)
        self.base_url = campaign.templates_dir.as_uri() + "/"  # a file URL, whatever the platform's paths
        self.font_config = FontConfiguration()
        self.warnings: list[str] = []  # stylesheet and layout problems that do not stop the letters
        self.env = make_environment(campaign.templates_dir)
        self.templates = {name: self._load(self.env, name) for name in TEMPLATES}
        self.templates |= {name: self._load(self.env, name) for name in self.reminder_templates()}
        self.stylesheets = [self._page_stylesheet(), self._stylesheet()]
        made_of = fingerprint(campaign.templates_dir, page_rule(campaign.page), weasyprint.__version__)
        self.cache = LetterCache(campaign.folder / CACHE_DIR, made_of)
        self.laid_out = 0  # letters laid out by WeasyPrint; the others came from the cache
        self.shared_context = campaign.template_data | {
            "sender": {"name": campaign.sender.name, "email": campaign.sender.email}
        }

    def reminder_templates(self) -> list[str]:
        """The reminder templates this campaign has: each is optional."""
        return [name for name in (REMINDER_TEXT, REMINDER_HTML) if (self.campaign.templates_dir / name).exists()]

    def _load(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
            # TRANSLATORS: {path} is the full path of the missing template file.
            message = _("{path}: template not found")
            raise TemplateError(message.format(path=self.campaign.templates_dir / name)) from None
        except TemplateFileError as error:
            raise TemplateError(str(error)) from None
        except Exception as error:  # a syntax error, or a template nested too deep to parse
            raise TemplateError(describe(error, self.campaign.templates_dir, name)) from None

    def _page_stylesheet(self) -> CSS:
        """[page] of campaign.toml, before letter.css (which may override it); its values are checked by the
        campaign schema."""
        return CSS(string=page_rule(self.campaign.page), font_config=self.font_config)

    def _stylesheet(self) -> CSS:
        """letter.css. WeasyPrint only logs what it cannot use ("Ignored `colr: red` at 12:3"); those become
        `warnings` located in letter.css. A refused URL or a file that is not UTF-8 is a `TemplateError`."""
        text = read_stylesheet(self.campaign.templates_dir)
        if text is None:
            self.warnings.append(
                # TRANSLATORS: {path} is "templates/letter.css", the letter's stylesheet.
                _(
                    "{path} was not found, so the letter uses only the built-in page settings "
                    "(size and margins) and no other styling"
                ).format(path=f"templates/{STYLESHEET}")
            )
        with weasyprint_warnings() as messages:
            try:
                css = CSS(
                    string=text or "",
                    base_url=self.base_url,
                    url_fetcher=self.fetcher,
                    font_config=self.font_config,
                )
            except FatalURLFetchingError as error:
                raise TemplateError(f"{STYLESHEET}: {error.__cause__ or error}") from None
        self._warn(stylesheet_warning(message) for message in messages)
        return css

    def unused_keys(self) -> list[str]:
        """Keys added to the letter's tables in campaign.toml that no template reads: a misspelling, or a
        template still to be written."""
        used = template_fields(self.env, [*TEMPLATES, *self.reminder_templates()])
        # TRANSLATORS: {where} is "campaign.toml:12" (file and line); {key} is the TOML key, e.g. "event.parking";
        # {expression} is what to write in a template to show it, e.g. "{{ event.parking }}".
        message = _(
            "{where} [{key}] is not used by any template; check its spelling, or show it in a template as {expression}"
        )
        return [
            message.format(
                where=f"campaign.toml:{line}" if line else "campaign.toml", key=key, expression=f"{{{{ {key} }}}}"
            )
            for key, line in self.campaign.custom_keys.items()
            if tuple(key.split(".", 1)) not in used
        ]

    def _warn(self, warnings: Iterable[str]) -> None:
        """Each warning once: a problem of the letter's layout shows up for every recipient."""
        self.warnings += [w for w in dict.fromkeys(warnings) if w not in self.warnings]

    def render(self, recipient: Recipient, *, with_pdf: bool = True, reminder: int = 0) -> Letter:
        """Everything one recipient gets; raises `TemplateError` naming template file:line and the row.

        `with_pdf=False` fills every template but skips the PDF layout: a fast check of a whole list.
        `reminder` (its number) gives a reminder: the same letter, the subject after the campaign's prefix,
        the bodies of reminder.txt and reminder.html where the campaign has them (`reminder` is set in the
        subject and bodies, so the invitation's templates can also say a word of their own)."""
        letter_context = self.shared_context | {"recipient": recipient.as_template_data()}
        html = self._fill(LETTER, letter_context, recipient)  # the same letter, the same PDF, for a reminder
        context = letter_context | {"reminder": reminder}
        subject = " ".join(self._fill(SUBJECT, context, recipient).split())
        text_body, html_body = TEXT_BODY, HTML_BODY
        if reminder:
            subject = f"{self.campaign.reminder_prefix} {subject}".strip()
            text_body = REMINDER_TEXT if REMINDER_TEXT in self.templates else TEXT_BODY
            html_body = REMINDER_HTML if REMINDER_HTML in self.templates else HTML_BODY
        return Letter(
            recipient=recipient,
            pdf=self.pdf(html, recipient) if self.campaign.attach_pdf and with_pdf else None,
            subject=subject,
            text=self._fill(text_body, context, recipient).rstrip() + "\n",
            html=self._fill(html_body, context, recipient),
            attachment_name=self.attachment_name(recipient),
            attachment_description=self.attachment_description(recipient),
        )

    def _fill(self, name: str, context: dict[str, Any], recipient: Recipient) -> str:
        try:
            return self.templates[name].render(context)
        except Exception as error:  # templates are input: a sandbox violation, 1/0 or a wrong type is reported
            # TRANSLATORS: {where} is the template file and line, e.g. "letter.html:12"; {error} is what went
            # wrong, often Jinja's or Python's own English text (e.g. "'recipient' is undefined"), which is
            # not translated; {row} and {name} are the recipient's row in the recipients file and name.
            message = _("{where}: {error} (recipients row {row}, {name})")
            raise TemplateError(
                message.format(
                    where=template_location(error, self.campaign.templates_dir, name),
                    error=error_text(error),
                    row=recipient.row,
                    name=recipient.name,
                )
            ) from None

    def pdf(self, html: str, recipient: Recipient) -> bytes:
        """The letter's PDF: from the cache when nothing it is made of has changed, else laid out."""
        key = self.cache.key(html)
        if (cached := self.cache.get(key)) is not None:
            pdf, warnings = cached
            self._warn(warnings)
            return pdf
        document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher)
        with weasyprint_warnings() as messages:
            try:
                pdf = document.write_pdf(stylesheets=self.stylesheets, font_config=self.font_config)
            except FatalURLFetchingError as error:
                # TRANSLATORS: {letter} and {stylesheet} are the file names letter.html and letter.css;
                # {error} is why a file could not be loaded (WeasyPrint's English text, or one of our
                # messages); {row} is the recipient's row in the recipients file.
                message = _("{letter} or {stylesheet}: {error} (recipients row {row})")
                raise TemplateError(
                    message.format(
                        letter=LETTER, stylesheet=STYLESHEET, error=error.__cause__ or error, row=recipient.row
                    )
                ) from None
        warnings = list(dict.fromkeys(layout_warning(message) for message in messages))
        self._warn(warnings)
        self.cache.put(key, pdf, warnings)
        self.laid_out += 1
        return pdf

    def attachment_name(self, recipient: Recipient) -> str:
        """ASCII-only, so that every mail client shows it (some Outlook versions show RFC 2231 names as ATT00001)."""
        campaign = self.campaign
        number = filename_part(f"{doc_number(campaign.document_number)}-{campaign.document_symbol}")
        return f"{filename_part(campaign.attachment_prefix)}_{number}_{filename_part(recipient.name)}.pdf"

    def attachment_description(self, recipient: Recipient) -> str:
        """The attachment's name in full Vietnamese, for clients that show Content-Description."""
        type_name = self.campaign.type_name.capitalize()
        return f"{type_name} – {recipient.salutation} {recipient.name}"


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """Base font name -> whether its program is embedded, for every font the PDF uses."""
    from pypdf import PdfReader

    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page.get("/Resources") or {}
        for font_ref in (resources.get("/Font") or {}).values():
            font = font_ref.get_object()
            descriptors = [font.get("/FontDescriptor")] + [
                child.get_object().get("/FontDescriptor") for child in font.get("/DescendantFonts", [])
            ]
            embedded = any(
                d is not None and any(k in d.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                for d in descriptors
            )
            name = str(font.get("/BaseFont", "?")).lstrip("/")
            fonts[name.split("+", 1)[-1]] = embedded
    return fonts


# --- stylesheet -----------------------------------------------------------------------------------


def read_stylesheet(templates_dir: Path) -> str | None:
    """letter.css, or None when there is none. Read by the templates' rules: a link out of the templates
    folder or a file that is not UTF-8 is a `TemplateError`."""
    try:
        return FolderLoader(templates_dir).read(STYLESHEET)
    except jinja2.TemplateNotFound:
        return None
    except TemplateFileError as error:
        raise TemplateError(str(error)) from None


@contextmanager
def weasyprint_warnings() -> Iterator[list[str]]:
    """The warnings WeasyPrint logs inside the block (it logs CSS problems instead of raising)."""
    messages: list[str] = []
    handler = _Collector(messages)
    logger = logging.getLogger("weasyprint")
    level = logger.level
    raise_level = not logger.isEnabledFor(logging.WARNING)  # an application that silenced warnings
    if raise_level:
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        if raise_level:
            logger.setLevel(level)


class _Collector(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


POSITION = re.compile(r" at (\d+):(\d+)")
IGNORED = re.compile(r"Ignored `(?P<name>[^:`]*):(?P<value>.*)` at (\d+):(\d+), (?P<reason>.*)", re.S)
IMPORT = re.compile(r"@import rule '(?P<target>.*)' not at the beginning of the.* at (\d+):(\d+)", re.S)


@dataclass(frozen=True)
class CssMessage:
    """A message WeasyPrint logged about CSS, taken apart so that it can be said as one sentence."""

    position: tuple[int, int] | None  # (line, column)
    text: str  # WeasyPrint's own (English) text, without its position and its capital
    declaration: str | None = None  # "colr: red" of an ignored declaration
    reason: str | None = None  # WeasyPrint's (English) reason it was ignored
    imported: str | None = None  # the target of an @import that was ignored

    def located(self, where: str) -> str:
        """The warning at `where` ("letter.css:12:3", "letter.html")."""
        if self.declaration is not None:
            # TRANSLATORS: {where} is a file and position, e.g. "letter.css:12:3"; {declaration} is the CSS
            # as written, e.g. "colr: red"; {reason} is WeasyPrint's English explanation, e.g.
            # "unknown property", which is not translated.
            message = _("{where}: ignored “{declaration}”: {reason}")
            return message.format(where=where, declaration=self.declaration, reason=self.reason)
        if self.imported is not None:
            # TRANSLATORS: {where} is a file and position, e.g. "letter.css:1:1"; {target} is the stylesheet
            # the @import names; {stylesheet} is the file name letter.css.
            message = _("{where}: ignored “@import {target}”: {stylesheet} cannot import stylesheets")
            return message.format(where=where, target=self.imported, stylesheet=STYLESHEET)
        return f"{where}: {self.text}"


def css_message(message: str) -> CssMessage:
    """WeasyPrint's "Ignored `colr: red` at 12:3, unknown property." as position (12, 3), declaration
    "colr: red" and reason "unknown property"; other messages lose their position and their capital."""
    message = message.strip().rstrip(".")
    found = POSITION.search(message)
    position = (int(found[1]), int(found[2])) if found else None
    text = POSITION.sub("", message, count=1)
    text = text[:1].lower() + text[1:]
    if ignored := IGNORED.fullmatch(message):
        declaration = f"{ignored['name'].strip()}: {ignored['value'].strip()}"
        return CssMessage((int(ignored[3]), int(ignored[4])), text, declaration=declaration, reason=ignored["reason"])
    if imported := IMPORT.fullmatch(message):
        # letter.css comes after the page rule, so WeasyPrint never honours an @import in it
        return CssMessage((int(imported[2]), int(imported[3])), text, imported=imported["target"].strip())
    return CssMessage(position, text)


def stylesheet_warning(message: str) -> str:
    """ "letter.css:12:3: …"."""
    css = css_message(message)
    if css.position is None:
        return css.located(STYLESHEET)
    line, column = css.position
    return css.located(f"{STYLESHEET}:{line}:{column}")


def layout_warning(message: str) -> str:
    """A problem found while laying out a letter. A located one is CSS inside letter.html (a `<style>` or a
    `style=` attribute, counted from its own start, so the position is left out); letter.css itself was
    parsed before."""
    css = css_message(message)
    if css.position is not None:
        return css.located(LETTER)
    # TRANSLATORS: {letter} and {stylesheet} are the file names letter.html and letter.css; {text} is
    # WeasyPrint's own English message, which is not translated.
    return _("{letter} or {stylesheet}: {text}").format(letter=LETTER, stylesheet=STYLESHEET, text=css.text)
