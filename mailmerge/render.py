"""Per-recipient rendering: Jinja2 templates to the invitation PDF (WeasyPrint) and the email bodies.

One `Renderer` serves a whole campaign: it compiles the templates and parses the stylesheet once, and
shares one `FontConfiguration` between all letters (a new one per document leaks memory).
"""

from __future__ import annotations

import io
import mimetypes
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from .errors import TemplateError
from .models import Campaign, Letter, Recipient
from .vntext import filename_part, vn_date, vn_time, vn_weekday

LETTER = "letter.html"
STYLESHEET = "letter.css"
SUBJECT = "subject.txt"
TEXT_BODY = "email.txt"
HTML_BODY = "email.html"
TEMPLATES = (LETTER, SUBJECT, TEXT_BODY, HTML_BODY)


class JailedFetcher(URLFetcher):
    """Lets WeasyPrint read files under one folder and nothing else: no network, no redirects.

    A refused URL stops the rendering (fail_on_errors), so a template cannot quietly attach
    `file:///etc/passwd` to a PDF through `<link rel=attachment>`.
    """

    def __init__(self, root: Path):
        super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=True)
        self.root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"only files under {self.root} may be loaded, not {url}")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise ValueError(f"only files under {self.root} may be loaded, not {url}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def doc_number(number: object) -> str:
    """Document numbers below 10 are zero-padded ("05"), as the decree asks."""
    text = str(number)
    return f"{int(text):02d}" if text.isdigit() else text


def make_environment(templates_dir: Path) -> jinja2.Environment:
    """StrictUndefined: a misspelt field is an error, not a blank in 65 letters. Merge data is only ever
    passed as variables, never compiled, so a `{{` in a name stays text."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=False,
    )
    env.filters.update(vn_date=vn_date, vn_time=vn_time, vn_weekday=vn_weekday, doc_number=doc_number)
    return env


def page_rule(page: dict[str, Any]) -> str:
    return (
        f"@page {{ size: {page.get('size', 'A4')}; margin: {page.get('margin_top', '20mm')} "
        f"{page.get('margin_right', '15mm')} {page.get('margin_bottom', '20mm')} {page.get('margin_left', '30mm')}; }}"
    )


class Renderer:
    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.attach_pdf = bool(campaign.data["campaign"].get("attach_pdf", True))
        self.fetcher = JailedFetcher(campaign.templates_dir)
        self.font_config = FontConfiguration()
        env = make_environment(campaign.templates_dir)
        self.templates = {name: self._load(env, name) for name in TEMPLATES}
        stylesheet = campaign.templates_dir / STYLESHEET
        css_text = stylesheet.read_text(encoding="utf-8") if stylesheet.is_file() else ""
        self.css = CSS(
            string=page_rule(campaign.data.get("page", {})) + "\n" + css_text,
            base_url=f"{campaign.templates_dir}/",
            url_fetcher=self.fetcher,
            font_config=self.font_config,
        )
        self.shared_context = {key: value for key, value in campaign.data.items() if key not in ("smtp", "imap")} | {
            "sender": {"name": campaign.sender.name, "email": campaign.sender.email}
        }

    def _load(self, env: jinja2.Environment, name: str) -> jinja2.Template:
        try:
            return env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"{self.campaign.templates_dir / name}: template not found") from None
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"{error.filename}:{error.lineno}: {error.message}") from None

    def render(self, recipient: Recipient, *, with_pdf: bool = True) -> Letter:
        """Everything one recipient gets; raises `TemplateError` naming template file:line and the row.

        `with_pdf=False` fills every template but skips the PDF layout: a fast check of a whole list."""
        context = self.shared_context | {"recipient": recipient.as_template_data()}
        html = self._fill(LETTER, context, recipient)
        return Letter(
            recipient=recipient,
            pdf=self.pdf(html, recipient) if self.attach_pdf and with_pdf else None,
            subject=" ".join(self._fill(SUBJECT, context, recipient).split()),
            text=self._fill(TEXT_BODY, context, recipient).rstrip() + "\n",
            html=self._fill(HTML_BODY, context, recipient),
            attachment_name=self.attachment_name(recipient),
            attachment_description=self.attachment_description(recipient),
        )

    def _fill(self, name: str, context: dict[str, Any], recipient: Recipient) -> str:
        try:
            return self.templates[name].render(context)
        except jinja2.TemplateError as error:
            raise TemplateError(
                f"{template_location(error, name)}: {error} (recipients row {recipient.row}, {recipient.name})"
            ) from None

    def pdf(self, html: str, recipient: Recipient) -> bytes:
        document = HTML(string=html, base_url=f"{self.campaign.templates_dir}/", url_fetcher=self.fetcher)
        try:
            return document.write_pdf(stylesheets=[self.css], font_config=self.font_config)
        except FatalURLFetchingError as error:
            raise TemplateError(f"{LETTER}: {error.__cause__} (recipients row {recipient.row})") from None

    def attachment_name(self, recipient: Recipient) -> str:
        """ASCII-only, so that every mail client shows it (some Outlook versions show RFC 2231 names as ATT00001)."""
        document = self.campaign.data["document"]
        prefix = self.campaign.data["campaign"].get("attachment_prefix", "Invitation")
        number = filename_part(f"{doc_number(document['number'])}-{document['symbol']}")
        return f"{filename_part(prefix)}_{number}_{filename_part(recipient.name)}.pdf"

    def attachment_description(self, recipient: Recipient) -> str:
        """The attachment's name in full Vietnamese, for clients that show Content-Description."""
        type_name = self.campaign.data["letter"].get("type_name", "Invitation").capitalize()
        return f"{type_name} – {recipient.salutation} {recipient.name}"


def template_location(error: Exception, fallback: str) -> str:
    """ "letter.html:12" from the frames Jinja2 puts into the traceback of a render-time error."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(TEMPLATES):
            return f"{Path(frame.filename).name}:{frame.lineno}"
    return fallback


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
