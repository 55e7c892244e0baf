"""The interface in Vietnamese: a complete catalog, kept in step with the code, chosen the documented way.

The catalog test extracts every message from the code with Babel (as `make messages` does) and compares
it with the Vietnamese catalog, so a message added without its translation fails here. The end-to-end
tests run `mailmerge` with MAILMERGE_LANG=vi in a subprocess, since the language is chosen once, when the
command starts."""

from __future__ import annotations

import os
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import mailmerge
from mailmerge import i18n
from mailmerge.sink import LocalServer

from .conftest import keep_first_rows, set_table
from .smtp_server import ScriptedHandler
from .test_smtp_security import USER, check_login, server_context

PACKAGE = Path(mailmerge.__file__).parent
ROOT = PACKAGE.parent
PO = PACKAGE / "locale" / "vi" / "LC_MESSAGES" / "mailmerge.po"
MO = PO.with_suffix(".mo")
PERCENT_FIELD = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def catalog():
    with PO.open("rb") as stream:
        return read_po(stream)


def code_messages() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, msgid) -> every form, for each message the code marks for translation."""
    found = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(str(PACKAGE)):
        forms = message if isinstance(message, tuple) else (message,)
        found[(context, forms[0])] = forms
    return found


def fields(text: str) -> set[str]:
    """The placeholders of a message: `{name}` (ours, str.format) and `%(name)s` (Click's)."""
    named = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return named | set(PERCENT_FIELD.findall(text))


def translations(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def test_every_message_in_the_code_has_a_vietnamese_translation():
    po = catalog()
    messages = code_messages()
    assert len(messages) > 150
    missing = [msgid for (context, msgid) in messages if not any(translations(po.get(msgid, context=context) or _no))]
    assert not missing, f"{len(missing)} messages without a translation; run `make messages` and translate:\n" + (
        "\n".join(missing[:20])
    )
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy[:10]}"


class _NoMessage:
    string = ""


_no = _NoMessage()


def test_placeholders_match_between_source_and_translation():
    wrong = []
    for message in catalog():
        if not message.id:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = set().union(*(fields(source) for source in sources))
        for translation in translations(message):
            if fields(translation) != expected and not (message.pluralizable and fields(translation) <= expected):
                wrong.append((sources[0], translation))
    assert not wrong, "\n".join(f"{source!r} -> {translation!r}" for source, translation in wrong[:10])


def test_plural_forms_are_those_of_vietnamese():
    po = catalog()
    assert po.locale.language == "vi"
    assert po.plural_forms == "nplurals=1; plural=0;"
    plurals = [message for message in po if message.pluralizable]
    assert plurals, "counts in the interface use ngettext"
    assert all(len(translations(message)) == 1 and translations(message)[0] for message in plurals)


def test_the_compiled_catalog_is_the_current_one():
    """`make` compiles the catalog when the .po changes (hatch_build.py); a stale .mo would show old text."""
    assert MO.is_file(), "no compiled catalog: run `make` (it reinstalls the package, which compiles it)"
    with MO.open("rb") as stream:
        compiled = messages_of(read_mo(stream))
    assert compiled == messages_of(catalog()), "the .mo is older than the .po: run `make` to recompile"


def messages_of(messages) -> dict[tuple[str | None, str], tuple[str, ...]]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): tuple(translations(m)) for m in messages if m.id}


@pytest.mark.parametrize(
    ("env", "campaign", "system", "expected"),
    [
        ({"MAILMERGE_LANG": "vi"}, "en", "en_US.UTF-8", "vi"),
        ({"MAILMERGE_LANG": "en"}, "vi", "vi_VN.UTF-8", "en"),
        ({}, "vi", "en_US.UTF-8", "vi"),
        ({}, None, "vi_VN.UTF-8", "vi"),
        ({}, None, "C.UTF-8", "en"),
        ({}, None, "de_DE.UTF-8", "en"),  # a language we do not have: English
    ],
)
def test_the_language_is_the_environment_then_the_campaign_then_the_computer(
    monkeypatch, env, campaign, system, expected
):
    for variable in ("MAILMERGE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", system)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    assert i18n.choose_language(campaign) == expected


def test_windows_locale_names_are_understood():
    assert i18n.language_code("Vietnamese_Viet Nam") == "vi"
    assert i18n.language_code("English_United States") == "en"


# --- end to end, in Vietnamese ---------------------------------------------------------------------


def mailmerge_vi(*args: object, env: dict[str, str] | None = None, stdin: str | None = None):
    environment = {**os.environ, "MAILMERGE_LANG": "vi", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mailmerge", *map(str, args)],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_is_in_vietnamese():
    result = mailmerge_vi("send", "--help")
    assert result.returncode == 0, result.stderr
    assert "Show this message and exit" not in result.stdout
    assert "Send the invitations" not in result.stdout
    assert "gửi" in result.stdout.lower()


def test_check_on_a_broken_file_speaks_vietnamese_and_still_names_file_row_and_column(campaign_dir):
    (campaign_dir / "recipients.csv").write_text(
        "STT,Họ và tên,Thư điện tử,Danh xưng,Đơn vị,Chức vụ\n"
        "1,Nguyễn Văn An,an@ubnd.example,Ông,UBND Phường 1,Chủ tịch\n"
        "2,,binh@ubnd.example,Bà,UBND Phường 2,Phó Chủ tịch\n"
        "3,Lê Văn Cường,not-an-email,Ông,UBND Phường 3,Chủ tịch\n",
        encoding="utf-8",
    )
    result = mailmerge_vi("check", "--campaign", campaign_dir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "recipients.csv:3 [Họ và tên]" in result.stderr
    assert "recipients.csv:4 [Thư điện tử]" in result.stderr
    assert "problem" not in result.stderr and "is empty" not in result.stderr
    assert "Lỗi" in result.stderr


def test_send_and_status_in_vietnamese(send_dir, smtp):
    sent = mailmerge_vi("send", "--yes", "--campaign", send_dir)
    assert sent.returncode == 0, sent.stderr
    assert "Sent 5" not in sent.stdout
    status = mailmerge_vi("status", "--campaign", send_dir)
    assert status.returncode == 0, status.stderr
    assert "đã gửi" in status.stdout
    assert "sent" not in status.stdout.replace("queued as", "")
    as_json = mailmerge_vi("status", "--json", "--campaign", send_dir)
    assert '"state": "sent"' in as_json.stdout  # scripts keep the stable English codes


@pytest.fixture
def tls_server(tmp_path: Path):
    """A STARTTLS server that wants a login: (host, port, the CA file to trust it)."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = LocalServer(
        ScriptedHandler(),
        tls_context=server_context(ca),
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    server.start()
    yield "127.0.0.1", server.port, ca_file
    server.stop()


def test_a_refused_password_is_explained_in_vietnamese(campaign_dir, tls_server):
    keep_first_rows(campaign_dir, 1)
    host, port, ca_file = tls_server
    set_table(
        campaign_dir,
        "smtp",
        {"host": host, "port": port, "security": "starttls", "username": USER, "ca_file": str(ca_file)},
    )
    result = mailmerge_vi("send", "--yes", "--campaign", campaign_dir, env={"MAILMERGE_SMTP_PASSWORD": "wrong"})
    assert result.returncode == 1, result.stderr
    assert "refused the login" not in result.stderr
    assert "mật khẩu" in result.stderr.lower() or "đăng nhập" in result.stderr.lower()


@pytest.fixture
def vietnamese():
    i18n.use_language("vi")
    yield
    i18n.use_language("en")


@pytest.mark.parametrize(
    ("address", "english", "vietnamese_reason"),
    [
        ("an.nguyễn@ubnd.example", "diacritics, which addresses cannot have: 'ễ'", "chữ có dấu tiếng Việt"),
        ("binh@ubnd", "the part after the @ sign has no period", "phần sau dấu @ không có dấu chấm"),
        ("not-an-email", "the address has no @ sign", "địa chỉ không có dấu @"),
    ],
)
def test_why_an_address_is_wrong_is_said_in_the_users_language(address, english, vietnamese_reason, request):
    from mailmerge.recipients import email_problem

    assert english in email_problem(address)
    request.getfixturevalue("vietnamese")
    assert vietnamese_reason in email_problem(address)
