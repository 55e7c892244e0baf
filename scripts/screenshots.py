"""The pictures of the user guide (docs/images/*.png), made from real runs of `mailmerge`, so they stay current.

    .venv/bin/python scripts/screenshots.py        (or: make screenshots)

Every terminal picture is the output of the real `mailmerge` command, run as a subprocess in Vietnamese
(MAILMERGE_LANG=vi), 100 columns wide and with its colours (FORCE_COLOR), in a temporary folder holding a copy of
the seed campaign made by `mailmerge init`. Sending goes to SMTP servers this script starts on 127.0.0.1 with the
project's test server (tests/smtp_server.py: STARTTLS with a throw-away CA, a login, and scripted refusals for
the picture of failures): nothing leaves the machine and no other network is used. The token key is a temporary
one, never the user's.

The captured text is drawn as a terminal: rich turns the ANSI text into HTML, WeasyPrint lays it out on a page
sized to the text (Liberation Mono, which has every Vietnamese letter; the box-drawing characters of the tables
from DejaVu Sans Mono, which has them all) and pdftoppm makes the PNG, cut to the text. The letter is the PNG of
page 1 that `mailmerge preview --png` writes.

Every command's exit code is checked: if the tool's behaviour changes, the script fails instead of drawing a
wrong picture. Re-running changes only what the tool changed, and the times, ports and render timings.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.smtp_server, the project's scripted SMTP server

import trustme  # noqa: E402  (test dependency: installed by `make`)
from aiosmtpd.smtp import AuthResult  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402  (WeasyPrint's own dependency)
from rich.cells import cell_len  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.terminal_theme import MONOKAI  # noqa: E402
from rich.text import Text  # noqa: E402
from weasyprint import HTML  # noqa: E402

from mailmerge.recipients import load_recipients  # noqa: E402
from mailmerge.sink import LocalServer  # noqa: E402
from tests import mail_factory  # noqa: E402  (replies written for the tests from what was really sent)
from tests.campaign_files import toml_value  # noqa: E402
from tests.smtp_server import DROP, ScriptedHandler  # noqa: E402

IMAGES = ROOT / "docs" / "images"
COLUMNS = 100
USER, PASSWORD = "vanphong@mttq-quan5.example", "mat-khau-minh-hoa"  # the picture's server only
THEME = MONOKAI
FONT_PX, LINE_PX, PAD_X, PAD_Y = 13, 15, 16, 12  # 15 px: box lines meet
CHAR_PX = FONT_PX * 1229 / 2048  # the advance of Liberation Mono (1229/2048 em)
# Box-drawing characters come from DejaVu Sans Mono (1233/2048 em): narrowed to Liberation Mono's advance, so
# that a table's borders stay above its cells' borders.
BOX_RUN = re.compile("[\u2500-\u257f]+")
BOX_SPACING = (1229 - 1233) / 2048
DPI = 110
COLOURS = 64
EDGE = 3
# What a transient progress bar leaves on a console that is not interactive: cursor codes and a newline. On a
# real terminal the bar is drawn and erased, leaving nothing.
PROGRESS_TRACES = re.compile(r"\x1b\[\?25l|\x1b\[\?25h\n?")
CONFIRM = "[y/N]: "


# --- running mailmerge -----------------------------------------------------------------------------------------


def mailmerge_command() -> list[str]:
    script = Path(sys.executable).with_name("mailmerge")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailmerge"]


def environment(key_file: Path) -> dict[str, str]:
    """Vietnamese, 100 columns, colours as on a terminal, no progress bar, a throw-away token key."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MAILMERGE_", "LC_", "COLORTERM", "NO_COLOR", "TERMINAL_WIDTH"))
        and name not in ("LANG", "LANGUAGE", "LINES")
    }
    return env | {
        "MAILMERGE_LANG": "vi",
        "MAILMERGE_KEY_FILE": str(key_file),
        "MAILMERGE_SMTP_PASSWORD": PASSWORD,  # as a user would set it; never shown
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "COLUMNS": str(COLUMNS),
        "TERM": "xterm",
        "FORCE_COLOR": "1",
        "TTY_INTERACTIVE": "0",  # colours, but no live progress bar in the capture
        "TZ": "Asia/Ho_Chi_Minh",
        "PYTHONIOENCODING": "utf-8",
    }


@dataclass
class Session:
    """Commands typed one after another in one terminal window, with what each printed."""

    env: dict[str, str]
    blocks: list[tuple[str, str, str]] = field(default_factory=list)  # (folder shown in the prompt, command, output)

    def run(
        self,
        cwd: Path,
        *args: str,
        codes: Sequence[int] = (0,),
        answer: str | None = None,
        shorten: tuple[int, int] | None = None,
    ) -> str:
        """Run `mailmerge args` in `cwd`; `answer` is typed at its yes/no question and echoed as a terminal does;
        `shorten` = (first, last) keeps only those rows of the first table, with a row of "…" between."""
        result = subprocess.run(
            [*mailmerge_command(), *args],
            cwd=cwd,
            env=self.env,
            input=f"{answer}\n" if answer is not None else "",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream, in the order it was written, as on a terminal
            encoding="utf-8",
            timeout=600,
        )
        output = PROGRESS_TRACES.sub("", result.stdout)
        if answer is not None:
            if CONFIRM not in output:
                raise SystemExit(f"`mailmerge {' '.join(args)}` asked no question:\n{output}")
            output = output.replace(CONFIRM, f"{CONFIRM}{answer}\n", 1)
        if result.returncode not in codes:
            raise SystemExit(f"`mailmerge {' '.join(args)}` exited with {result.returncode}, not {codes}:\n{output}")
        if shorten:
            output = shortened(output, *shorten)
        self.blocks.append((cwd.name, " ".join(["mailmerge", *args]), output.strip("\n")))
        return output

    def save(self, name: str) -> None:
        draw_terminal(self.blocks, IMAGES / name)
        self.blocks = []


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def shortened(output: str, first: int, last: int) -> str:
    """The rows of the first table of `output` cut to the `first` and the `last` ones, a row of "…" between."""
    lines = output.split("\n")
    rows = [number for number, line in enumerate(lines) if ANSI.sub("", line).startswith("│")]
    body = rows[:1]
    for number in rows[1:]:
        if number != body[-1] + 1:
            break  # the first table ends here
        body.append(number)
    if len(body) <= first + last + 1:
        return output
    plain = ANSI.sub("", lines[body[0]])
    filler = "".join(char if char == "│" else " " for char in plain)
    filler = filler[:2] + "…" + filler[3:]
    return "\n".join([*lines[: body[first]], filler, *lines[body[-last] :]])


# --- drawing a terminal ----------------------------------------------------------------------------------------


def draw_terminal(blocks: list[tuple[str, str, str]], target: Path) -> None:
    """Each block as a prompt line, the command, and its output in its colours, on a dark page."""
    console = Console(
        record=True, width=COLUMNS, force_terminal=True, color_system="truecolor", file=io.StringIO(), highlight=False
    )
    for number, (folder, command, output) in enumerate(blocks):
        if number:
            console.print()
        console.print(Text.assemble((f"{folder}>", "bold green"), " ", (command, "bold")))
        if output:
            console.print(Text.from_ansi(output))
    text = console.export_text(clear=False)
    code = BOX_RUN.sub(
        r'<span class="box">\g<0></span>', console.export_html(theme=THEME, inline_styles=True, code_format="{code}")
    )
    lines = text.rstrip("\n").split("\n")
    columns = max(cell_len(line.rstrip()) for line in lines)
    width = round(2 * PAD_X + columns * CHAR_PX + 2)
    height = 2 * PAD_Y + len(lines) * LINE_PX * 2  # room to spare: the picture is cut to its text afterwards
    background, foreground = THEME.background_color.hex, THEME.foreground_color.hex
    page = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><style>
@page {{ size: {width}px {height}px; margin: 0 }}
html, body {{ margin: 0; background: {background}; }}
pre {{ margin: 0; padding: {PAD_Y}px {PAD_X}px; color: {foreground}; white-space: pre; }}
@font-face {{ font-family: "Box"; src: local("DejaVu Sans Mono"); unicode-range: U+2500-257F; }}
.box {{ letter-spacing: {BOX_SPACING}em; }}
pre, code {{
  font-family: "Box", "Liberation Mono", "DejaVu Sans Mono", monospace;
  font-size: {FONT_PX}px; line-height: {LINE_PX}px;
}}
</style></head><body><pre><code>{code.rstrip()}</code></pre></body></html>"""
    with tempfile.TemporaryDirectory() as scratch:
        pdf = Path(scratch) / "terminal.pdf"
        HTML(string=page).write_pdf(pdf)
        png = Path(scratch) / "terminal.png"
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(DPI), "-singlefile", str(pdf), str(png.with_suffix(""))], check=True
        )
        save_cropped(png, target, background)


def save_cropped(png: Path, target: Path, background: str) -> None:
    """The picture cut to its text plus the padding, in a palette of colours (text on a plain background needs
    no more), so that it stays small."""
    image = Image.open(png).convert("RGB")
    inside = (0, 0, image.width - EDGE, image.height - EDGE)  # the page's last pixels are blended with white
    content = ImageChops.difference(image.crop(inside), Image.new("RGB", image.size, background).crop(inside)).getbbox()
    if content is None:
        raise SystemExit(f"{target.name}: nothing was drawn")
    pad_x, pad_y = round(PAD_X * DPI / 96), round(PAD_Y * DPI / 96)
    image = image.crop((0, 0, min(image.width, content[2] + pad_x), min(image.height, content[3] + pad_y)))
    image.quantize(colors=COLOURS, dither=Image.Dither.NONE).save(target, optimize=True)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")


# --- campaign folders and servers ------------------------------------------------------------------------------


def set_keys(folder: Path, table: str, **values: object) -> None:
    """Set keys of one [table] of campaign.toml (a commented-out `# key = …` line is replaced), adding the table
    at the end if the file has none."""
    path = folder / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    header = re.search(rf"^\[{re.escape(table)}\][^\n]*\n", text, re.MULTILINE)
    if header is None:
        text = text.rstrip("\n") + f"\n\n[{table}]\n"
        header = re.search(rf"^\[{re.escape(table)}\][^\n]*\n", text, re.MULTILINE)
        assert header is not None
    following = re.compile(r"^\[", re.MULTILINE).search(text, header.end())
    end = following.start() if following else len(text)
    body = text[header.end() : end]
    for key, value in values.items():
        line = f"{key} = {toml_value(value)}"
        pattern = re.compile(rf"^#?\s*{re.escape(key)}\s*=.*$", re.MULTILINE)
        body = pattern.sub(line, body, count=1) if pattern.search(body) else line + "\n" + body
    path.write_text(text[: header.end()] + body + text[end:], encoding="utf-8")


def copy_campaign(source: Path, parent: Path) -> Path:
    """A fresh copy of the campaign folder `source` (no ledger, no previews) as `parent/<same name>`."""
    target = parent / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("ledger.db*", "preview"))
    return target


def keep_first_rows(folder: Path, count: int) -> list[str]:
    """Cut the recipients file to its header and first `count` rows; return their addresses."""
    path = folder / "recipients.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path.write_text("".join(lines[: count + 1]), encoding="utf-8-sig")
    return [recipient.email for recipient in load_recipients(path)]


def check_login(server: object, session: object, envelope: object, mechanism: str, auth_data: object) -> AuthResult:
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()  # type: ignore[attr-defined]
    return AuthResult(success=ok, handled=False)


@contextmanager
def mail_server(ca: trustme.CA, handler: ScriptedHandler) -> Iterator[LocalServer]:
    """A server on 127.0.0.1 like an office's: STARTTLS (its certificate from `ca`) and a login."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = LocalServer(
        handler, tls_context=context, require_starttls=True, authenticator=check_login, auth_required=True
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point_at(folder: Path, server: LocalServer, ca: trustme.CA) -> None:
    """[smtp] of the campaign: the local server, trusted through `ca_file` as an internal CA would be."""
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    set_keys(folder, "smtp", host="127.0.0.1", port=server.port, security="starttls", username=USER, ca_file="ca.pem")


# --- broken inputs ---------------------------------------------------------------------------------------------

BROKEN_RECIPIENTS = """\
DANH SÁCH KHÁCH MỜI HỘI NGHỊ SƠ KẾT,,,,,,,
,,,,,,,
STT,Thành phần,Đơn vị,Chức vụ,Danh xưng,Họ và tên,Thư điện tử,Đồng gửi
1,Thành phố,Ủy ban MTTQ Việt Nam Thành phố Hồ Chí Minh,Phó Chủ tịch,Đồng chí,Hoàng Tấn Phúc,\
Hoàng Tấn Phúc <phuc.ht@mttq-tphcm.example>;,vanphong@mttq-tphcm.example
2,Thường trực Quận ủy,Quận ủy Quận 5,Phó Bí thư Thường trực Quận ủy,Đồng chí,,viet.ch@quanuy-q5.example,
3,Ban Dân vận Quận ủy,Ban Dân vận Quận ủy Quận 5,Trưởng Ban Dân vận Quận ủy,Đồng chí,Phan Minh Phước,\
phuoc.pm@quanuy-q5,
4,Đoàn thể Quận,Quận đoàn Quận 5,Bí thư,Đồng chí,Phạm Công Toàn,viet.ch@quanuy-q5.example,
5,Đoàn thể Quận,Hội Cựu chiến binh Quận 5,Chủ tịch,Đồng chí,Nguy?n V?n D?ng,dung.nv@hoiccb-q5.example,
"""


def break_campaign_file(folder: Path) -> None:
    """A weekday that does not match the date, and a misspelt setting."""
    path = folder / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    text, dates = re.subn(
        r"^starts_at = .*$", 'starts_at = "8 giờ 00, thứ Năm, ngày 28/8/2020"', text, count=1, flags=re.MULTILINE
    )
    text, users = re.subn(r"^username = ", "usename = ", text, count=1, flags=re.MULTILINE)
    assert dates == users == 1, "the seed campaign.toml no longer has [event] starts_at and [smtp] username"
    path.write_text(text, encoding="utf-8")


# --- the pictures ----------------------------------------------------------------------------------------------


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's notes on its own deprecated attributes
    IMAGES.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    with tempfile.TemporaryDirectory(prefix="mailmerge-screenshots-") as scratch:
        work = Path(scratch)
        terminal = Session(environment(work / "token.key"))
        office = work / "van-phong"
        office.mkdir()

        terminal.run(office, "--help")
        terminal.save("tro-giup.png")

        terminal.run(office, "init", "dot-moi")
        terminal.save("khoi-tao.png")
        campaign = office / "dot-moi"

        terminal.run(campaign, "check")
        terminal.run(campaign, "preview", "--to", "1", "--png")
        terminal.save("kiem-tra.png")
        letter = sorted((campaign / "preview").glob("001_*.png"))
        if len(letter) != 1:
            raise SystemExit(f"`mailmerge preview --png` wrote no PNG of the letter: {letter}")
        shutil.copyfile(letter[0], IMAGES / "giay-moi.png")
        print(f"docs/images/giay-moi.png: {(IMAGES / 'giay-moi.png').stat().st_size // 1024} KB")

        broken_list = copy_campaign(campaign, work / "danh-sach-loi")
        (broken_list / "recipients.csv").write_text(BROKEN_RECIPIENTS, encoding="utf-8-sig")
        terminal.run(broken_list, "check", codes=(1,))
        terminal.save("kiem-tra-danh-sach-loi.png")

        broken_file = copy_campaign(campaign, work / "cau-hinh-loi")
        break_campaign_file(broken_file)
        terminal.run(broken_file, "check", codes=(1,))
        terminal.save("kiem-tra-cau-hinh-loi.png")

        with mail_server(ca, ScriptedHandler()) as server:
            point_at(campaign, server, ca)
            terminal.run(campaign, "send", "--dry-run")
            terminal.run(campaign, "send", answer="y")
            terminal.save("gui.png")
        terminal.run(campaign, "status", shorten=(10, 2))
        terminal.save("tinh-trang.png")

        failing = copy_campaign(campaign, work / "gui-loi")
        addresses = keep_first_rows(failing, 8)
        set_keys(failing, "send", retries=2, retry_delay=1)  # a greylisting server, retried quickly
        handler = ScriptedHandler()
        handler.answer_rcpt(addresses[1], f"550 5.1.1 <{addresses[1]}>: Recipient address rejected")
        handler.answer_rcpt(addresses[2], *["451 4.7.1 Greylisted, please try again later"] * 10)
        handler.answer_data(addresses[3], DROP)  # the connection cut once the message is sent: in doubt
        with mail_server(ca, handler) as server:
            point_at(failing, server, ca)
            terminal.run(failing, "send", answer="y", codes=(2,))
            terminal.save("gui-loi.png")
            terminal.run(failing, "status")
            terminal.save("tinh-trang-loi.png")
            terminal.run(failing, "resend", "--unknown", answer="y")
            terminal.save("gui-lai.png")

        answers = copy_campaign(campaign, work / "tra-loi")
        keep_first_rows(answers, 8)
        handler = ScriptedHandler()
        with mail_server(ca, handler) as server:
            point_at(answers, server, ca)
            terminal.run(answers, "send", "--yes")
            write_replies(answers / "thu-tra-loi", [received.data for received in handler.received])
            terminal.blocks = []
            terminal.run(answers, "replies", "import", "thu-tra-loi")
            terminal.run(answers, "status", "--state", "sent")
            terminal.save("tra-loi.png")
            terminal.run(answers, "resend", "--non-responders", "--dry-run")
            terminal.run(answers, "resend", "--non-responders", answer="y")
            terminal.save("nhac.png")


def write_replies(folder: Path, sent: list[bytes]) -> None:
    """What comes back for the first eight invitations, as a user saves it from the mail client."""
    folder.mkdir()
    to = [mail_factory.invitation(data)["To"].addresses[0].addr_spec for data in sent]
    mail = {
        "1.eml": mail_factory.reply(sent[0], "Xin xác nhận tham dự.\nTrân trọng."),
        "2.eml": mail_factory.reply(sent[1], "Tôi bận công tác, xin phép vắng mặt."),
        "3.eml": mail_factory.reply(sent[2], "Tôi xin cử đồng chí Nguyễn Văn Bình, Phó Chủ tịch, dự thay."),
        "4.eml": mail_factory.postfix_bounce(sent[3], to[3]),
        "5.eml": mail_factory.out_of_office(sent[4]),
        "6.eml": mail_factory.reply(sent[5], "se tham du", thread=False),
    }
    for name, raw in mail.items():
        (folder / name).write_bytes(raw)


if __name__ == "__main__":
    main()
