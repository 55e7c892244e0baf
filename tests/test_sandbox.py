"""A campaign folder comes from another office: its templates and stylesheet are untrusted input.

Each known way out of Jinja2 (Python internals, files outside templates/, gigantic values) is tried in
each template through the real CLI: it must stop with exit 1 and a message naming the template line,
without a traceback and without its side effect. Stylesheet problems are warnings or clean errors.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pdfplumber
import pytest
from typer.testing import CliRunner

from mailmerge.campaign import seed_folder
from mailmerge.cli.commands import app
from mailmerge.templating import make_environment, template_fields

from .conftest import keep_first_rows

runner = CliRunner()
TEMPLATES = ("letter.html", "email.txt", "email.html", "subject.txt")
SECRET = "TOP-SECRET-6f1e"  # the content of a file outside the campaign that no template may read

PAYLOADS = {
    "cycler-os-popen": ('{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}', "unsafe"),
    "self-builtins-open": ('{{ self.__init__.__globals__.__builtins__.open("{secret}").read() }}', "unsafe"),
    "mro-subclasses": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    "lipsum-globals": ("{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}", "unsafe"),
    "joiner-globals": ("{{ joiner.__init__.__globals__.os.popen('touch {marker}').read() }}", "unsafe"),
    "namespace-globals": ("{{ namespace.__init__.__globals__.os.popen('touch {marker}').read() }}", "unsafe"),
    "str-format": ('{{ "{0.__init__.__globals__[os]}".format(cycler) }}', "unsafe"),
    "percent-format": ('{{ "%s"|format(self.__init__.__globals__) }}', "unsafe"),
    "unsafe-but-defaulted": ('{{ recipient.__class__|default("") }}', "unsafe"),
    "attr-filter": ('{{ (recipient|attr("__class__")) is defined }}', "unsafe"),
    "huge-lipsum": ("{{ lipsum(2000)|length }}", "lipsum() may produce at most"),
    "huge-range": ("{{ range(10**9)|length }}", "range() may produce at most"),
    "string-repetition": ('{{ ("x" * 10**7)|length }}', "repeating a text or list"),
    "list-repetition": ("{{ ([0] * 10**7)|length }}", "repeating a text or list"),
    "huge-power": ("{{ 2 ** 100000 > 1 }}", "the power is larger"),
    "include-parent": ('{% include "../campaign.toml" %}', "outside the templates folder"),
    "include-absolute": ('{% include "{secret}" %}', "outside the templates folder"),
    "include-symlink": ('{% include "evil-link" %}', "outside the templates folder"),
}


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def insert_line(template: Path, text: str) -> None:
    """Make `text` line 2 of the template."""
    lines = template.read_text(encoding="utf-8").splitlines()
    lines.insert(1, text)
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_clean_failure(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an exception the runner caught
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("payload", PAYLOADS, ids=list(PAYLOADS))
def test_a_template_cannot_escape_the_sandbox(campaign_dir, tmp_path, secret, template, payload):
    marker = tmp_path / "escaped"
    text, expected = PAYLOADS[payload]
    (campaign_dir / "templates" / "evil-link").symlink_to(secret)
    insert_line(
        campaign_dir / "templates" / template, text.replace("{marker}", str(marker)).replace("{secret}", str(secret))
    )
    out = tmp_path / "out"
    result = run("preview", "--campaign", campaign_dir, "--to", "1", "--out", out)
    assert_clean_failure(result, f"{template}:2: ", expected, "recipients row 2")
    assert not marker.exists()
    assert SECRET not in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("template", TEMPLATES)
def test_check_names_the_unsafe_attribute_and_runs_nothing(campaign_dir, tmp_path, template):
    keep_first_rows(campaign_dir, 1)
    marker = tmp_path / "escaped"
    insert_line(campaign_dir / "templates" / template, PAYLOADS["cycler-os-popen"][0].replace("{marker}", str(marker)))
    result = run("check", "--campaign", campaign_dir)
    assert_clean_failure(result, f"{template}:2: access to attribute '__init__' of 'type' object is unsafe")
    assert not marker.exists()


def test_templates_keep_ordinary_arithmetic_and_filters(tmp_path):
    env = make_environment(tmp_path)
    source = "{{ 3 * 4 }} {{ '-' * 5 }} {{ 2 ** 10 }} {{ 1.5 * 2 }} {{ [0] * 3 }} {{ 'a b'|upper }} {{ range(3)|list }}"
    assert env.from_string(source).render() == "12 ----- 1024 3.0 [0, 0, 0] A B [0, 1, 2]"


def test_an_include_inside_the_templates_folder_works(campaign_dir, tmp_path):
    templates = campaign_dir / "templates"
    (templates / "parts").mkdir()
    (templates / "parts" / "footer.txt").write_text("Chữ ký: {{ sender.name }}", encoding="utf-8")
    (templates / "footer-link.txt").symlink_to(templates / "parts" / "footer.txt")
    insert_line(templates / "email.txt", '{% include "parts/footer.txt" %} / {% include "footer-link.txt" %}')
    out = tmp_path / "out"
    result = run("preview", "--campaign", campaign_dir, "--to", "1", "--out", out)
    assert result.exit_code == 0, result.output
    message = message_from_bytes(next(out.glob("*.eml")).read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    assert text.count("Chữ ký: Ban Thường trực Ủy ban MTTQ Việt Nam Quận 5") == 2, text


def test_an_error_inside_an_included_template_names_that_file(campaign_dir, tmp_path):
    templates = campaign_dir / "templates"
    (templates / "part.txt").write_text("ok\n{{ lipsum.__globals__ }}\n", encoding="utf-8")
    insert_line(templates / "email.txt", '{% include "part.txt" %}')
    result = run("preview", "--campaign", campaign_dir, "--to", "1", "--out", tmp_path / "out")
    assert_clean_failure(result, "part.txt:2: access to attribute '__globals__'")


def test_a_letter_that_is_not_utf8_is_a_clean_error(campaign_dir):
    letter = campaign_dir / "templates" / "letter.html"
    letter.write_bytes(letter.read_bytes().replace("Nơi".encode(), "Nơi".encode("cp1258")))
    result = run("check", "--campaign", campaign_dir)
    assert_clean_failure(result, "letter.html is not valid UTF-8", "line 54")


# --- what the templates use ----------------------------------------------------------------------


def test_template_fields_lists_what_the_templates_read(campaign_dir, tmp_path):
    templates = campaign_dir / "templates"
    (templates / "part.txt").write_text('{{ signature["authority"] }}{{ event.catering }}', encoding="utf-8")
    marker = tmp_path / "escaped"
    insert_line(
        templates / "email.txt",
        '{% include "part.txt" %}{{ cycler.__init__.__globals__.os.popen("touch ' + str(marker) + '") }}',
    )
    env = make_environment(templates)
    fields = template_fields(env, TEMPLATES)
    expected = {
        ("event", "agenda"),
        ("event", "starts_at"),
        ("recipient", "name"),
        ("document", "number"),
        ("sender", "name"),
        ("distribution", "copies"),
        ("signature", "authority"),
        ("event", "catering"),
    }
    assert expected <= fields
    assert ("cycler", "__init__") in fields  # parsed, never run
    assert not marker.exists()
    assert not any(name == "campaign" for name, _ in fields)


def test_template_fields_of_the_seed_name_only_variables_the_renderer_passes():
    fields = template_fields(make_environment(seed_folder() / "templates"), TEMPLATES)
    variables = {name for name, _ in fields}
    assert variables <= {"event", "recipient", "document", "letter", "sender", "distribution", "signature"}


# --- the stylesheet ------------------------------------------------------------------------------


def check_with_stylesheet(campaign_dir: Path, content: str | bytes | None):
    keep_first_rows(campaign_dir, 1)
    stylesheet = campaign_dir / "templates" / "letter.css"
    if content is None:
        stylesheet.unlink()
    elif isinstance(content, bytes):
        stylesheet.write_bytes(content)
    else:
        stylesheet.write_text(content, encoding="utf-8")
    return run("check", "--campaign", campaign_dir)


def test_a_missing_stylesheet_is_a_warning(campaign_dir):
    result = check_with_stylesheet(campaign_dir, None)
    assert result.exit_code == 0, result.output
    assert "Warning: templates/letter.css was not found, so the letter uses only the built-in page settings" in (
        result.output
    )


def test_ignored_css_is_a_warning_located_in_letter_css(campaign_dir):
    css = (campaign_dir / "templates" / "letter.css").read_text(encoding="utf-8").splitlines()
    css[11] = "  colr: red;"  # line 12, inside the `html { … }` rule
    css[16] = "body { margin: 0 0.5mm 0 0; color: bluu; }"
    result = check_with_stylesheet(campaign_dir, "\n".join(css) + "\n")
    assert result.exit_code == 0, result.output
    assert "Warning: letter.css:12:3: ignored “colr: red”: unknown property" in result.output
    assert "Warning: letter.css:17:29: ignored “color: bluu”: invalid value" in result.output


def test_an_import_in_letter_css_reads_only_inside_the_templates_folder(campaign_dir, secret):
    result = check_with_stylesheet(campaign_dir, f"@import url(file://{secret});\np {{ color: black; }}\n")
    assert_clean_failure(result, "letter.css", "only files under")
    assert SECRET not in result.output


def test_an_import_of_a_stylesheet_beside_letter_css_is_used(campaign_dir, tmp_path):
    (campaign_dir / "templates" / "big-title.css").write_text("p.summary { font-size: 20pt; }\n", encoding="utf-8")
    stylesheet = campaign_dir / "templates" / "letter.css"
    stylesheet.write_text('@import "big-title.css";\n' + stylesheet.read_text(encoding="utf-8"), encoding="utf-8")
    keep_first_rows(campaign_dir, 1)
    out = tmp_path / "out"
    result = run("preview", "--campaign", campaign_dir, "--out", out)
    assert result.exit_code == 0, result.output
    with pdfplumber.open(next(out.glob("*.pdf"))) as document:
        title = [w for w in document.pages[0].extract_words(extra_attrs=["size"]) if w["text"] == "Dự"]
    assert title and title[0]["size"] == pytest.approx(20, abs=0.1)


@pytest.mark.parametrize(
    "css",
    [
        "@font-face { font-family: X; src: url(http://127.0.0.1:9/x.ttf); }\np { font-family: X; }\n",
        "@font-face { font-family: X; src: url(file:///etc/passwd); }\np { font-family: X; }\n",
        "p { background: url(file:///etc/hostname); }\n",
        "p { background: url(../campaign.toml); }\n",
    ],
    ids=["font-from-network", "font-from-etc", "image-from-etc", "image-from-campaign-folder"],
)
def test_a_url_outside_the_templates_folder_in_letter_css_is_a_clean_error(campaign_dir, css):
    result = check_with_stylesheet(campaign_dir, css)
    assert_clean_failure(result, "letter.css", "only files under")


def test_css_problems_inside_letter_html_are_warnings_too(campaign_dir):
    keep_first_rows(campaign_dir, 2)
    letter = campaign_dir / "templates" / "letter.html"
    letter.write_text(letter.read_text(encoding="utf-8").replace("<h1>", '<h1 style="colr: red">'), encoding="utf-8")
    result = run("check", "--campaign", campaign_dir)
    assert result.exit_code == 0, result.output
    assert result.output.count("Warning: letter.html: ignored “colr: red”: unknown property") == 1


def test_a_stylesheet_that_is_not_utf8_is_a_clean_error(campaign_dir):
    result = check_with_stylesheet(campaign_dir, "p { color: black; }\n/* Nơi */\n".encode("cp1258"))
    assert_clean_failure(result, "letter.css is not valid UTF-8", "line 2")


def test_a_stylesheet_linked_outside_the_templates_folder_is_refused(campaign_dir, secret):
    keep_first_rows(campaign_dir, 1)
    stylesheet = campaign_dir / "templates" / "letter.css"
    stylesheet.unlink()
    stylesheet.symlink_to(secret)
    result = run("check", "--campaign", campaign_dir)
    assert_clean_failure(result, "letter.css is a link to", "outside the templates folder")
    assert SECRET not in result.output
