"""A real Dovecot IMAP server for the tests, with its own configuration under a temporary folder.

Debian's `dovecot` runs in the foreground (`dovecot -F -c <conf>`), listening on free ports of 127.0.0.1:
plain IMAP with STARTTLS (`port`) and implicit TLS (`tls_port`), with a trustme certificate. One user, in
a passwd-file; the mail is a Maildir under the temporary folder. As root, Dovecot will not run mail
processes as root, so the mail belongs to `nobody`; as an ordinary user, everything runs as that user.
Messages are put in with IMAP APPEND, as a mail client or a delivery would.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from imap_tools import MailBox
from imap_tools.imap_utf7 import utf7_encode
from imap_tools.utils import encode_folder

from mailmerge.models import ServerSettings

DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm", path="/usr/bin:/usr/sbin:" + os.environ.get("PATH", "")) or "/usr/bin/doveadm"
HOST = "127.0.0.1"
PR_SET_CHILD_SUBREAPER = 36
CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
first_valid_uid = 1
first_valid_gid = 1
mailbox_idle_check_interval = 1 secs
mail_fsync = never
{rootless}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
{login_chroot}
}}
"""
ROOTLESS = """\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Snapshot:
    """What a read-only client must leave as it was: the messages, their flags, the modification
    sequence (which any STORE would raise), the next UID and the UIDVALIDITY."""

    count: int
    flags: dict[int, frozenset[str]]
    highest_modseq: int
    uidnext: int
    uidvalidity: int


class Dovecot:
    """One running server; `stop()` ends it and all its processes."""

    user = "vanphong"
    password = "mật-khẩu-IMAP-4711"
    host = HOST

    def __init__(self, root: Path):
        self.root = root
        self.ca = trustme.CA()
        self.ca_file = root / "ca.pem"
        self.port = 0
        self.tls_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._write_files()

    # --- running -------------------------------------------------------------------------------------

    def start(self, ports: tuple[int, int] | None = None) -> None:
        """Start on `ports` (a restart keeps its ports), else on free ones, retrying if one was taken."""
        for _attempt in range(5):
            self.port, self.tls_port = ports or (free_port(), free_port())
            self._write_config()
            if self._launch():
                return
        raise RuntimeError(f"dovecot did not start:\n{self.log()}")

    def stop(self, graceful: bool = False) -> None:
        """End the server and every process of it (master, imap, imap-login, auth …: one process group).

        `graceful`: SIGTERM to the master, which says BYE to the clients and ends its children (it waits
        about a second for its log process). Otherwise SIGKILL to the whole group at once: the fastest,
        and nothing of a throwaway server is lost. (SIGTERM to the whole group races the master, which
        restarts the children it sees die.) Either way the children that outlive the master are reaped
        here, not left as zombies under an init that does not reap (as in some containers)."""
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the master leads its own group
        if graceful:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(5)
        self.process = None
        reap(group)
        wait_closed(self.port)

    def restart(self, graceful: bool = True) -> None:
        self.stop(graceful)
        self.start((self.port, self.tls_port))

    def drop_connections(self, sig: signal.Signals = signal.SIGKILL) -> int:
        """Kill the `imap` processes serving the clients (SIGKILL: no BYE, the socket just closes);
        returns how many there were."""
        assert self.process is not None
        pids = children(self.process.pid, "imap")
        for pid in pids:
            os.kill(pid, sig)
        return len(pids)

    def log(self) -> str:
        parts = [self.root / "dovecot.log", self.root / "stderr.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    # --- the mailbox ---------------------------------------------------------------------------------

    def settings(self, security: str = "starttls", **changes: object) -> ServerSettings:
        """`[imap]` settings for this server, as the campaign would have them."""
        values: dict[str, object] = {
            "host": self.host,
            "port": self.tls_port if security == "tls" else self.port,
            "security": security,
            "username": self.user,
            "timeout": 5.0,
            "ca_file": self.ca_file,
        }
        return ServerSettings(**(values | changes))  # type: ignore[arg-type]

    @contextmanager
    def client(self) -> Iterator[MailBox]:
        """A logged-in imap-tools client over implicit TLS, for putting mail in and looking at it."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        box = MailBox(self.host, self.tls_port, timeout=10, ssl_context=context)
        box.login_utf8(self.user, self.password, initial_folder=None)  # AUTHENTICATE PLAIN: a UTF-8 password
        try:
            yield box
        finally:
            box.logout()

    def append(self, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """APPEND one message; returns its UID."""
        return self.append_many([raw], folder, flags)[0]

    def append_many(self, raws: Iterable[bytes], folder: str = "INBOX", flags: Iterable[str] = ()) -> list[int]:
        """APPEND messages over one connection; returns their UIDs."""
        uids = []
        with self.client() as box:
            for raw in raws:
                _typ, data = box.append(raw, folder, flag_set=list(flags) or None)
                uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1)))  # type: ignore[union-attr]
        return uids

    def create_folder(self, name: str) -> None:
        with self.client() as box:
            box.folder.create(name)

    def flags_and_count(self, folder: str = "INBOX") -> Snapshot:
        """The folder as the server sees it (\\Recent, a per-session flag, left out)."""
        with self.client() as box:
            _typ, answer = box.client.status(encode_folder(folder), "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
            status = {k.decode(): int(v) for k, v in re.findall(rb"([A-Z]+) (\d+)", answer[-1])}
            box.folder.set(folder, readonly=True)
            _typ, data = box.client.uid("FETCH", "1:*", "(UID FLAGS)")
        flags = {}
        for item in data:
            if isinstance(item, bytes) and (uid := re.search(rb"UID (\d+)", item)):
                names = {flag.decode() for flag in imaplib.ParseFlags(item)} - {"\\Recent"}
                flags[int(uid.group(1))] = frozenset(names)
        return Snapshot(status["MESSAGES"], flags, status["HIGHESTMODSEQ"], status["UIDNEXT"], status["UIDVALIDITY"])

    def change_uidvalidity(self, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, as a server does when it rebuilds its index; returns it.
        `doveadm mailbox update --uid-validity` (Dovecot 2.3) does it on the running server."""
        new = self.flags_and_count(folder).uidvalidity + 1
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(new), folder)
        return new

    def maildir(self, folder: str = "INBOX") -> Path:
        """Where the server keeps a folder (Maildir++: INBOX at the top, `.Name` for the others)."""
        top = self.root / "mail" / self.user
        return top if folder == "INBOX" else top / f".{utf7_encode(folder).decode()}"

    def doveadm(self, *args: str) -> str:
        command = [DOVEADM, "-c", str(self.root / "dovecot.conf"), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr}")
        return done.stdout

    # --- files ---------------------------------------------------------------------------------------

    def _write_files(self) -> None:
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        cert = self.ca.issue_cert(HOST, "localhost")
        cert.private_key_pem.write_to_path(str(self.root / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self.root / "cert.pem"))
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        uid, gid = mail_owner()
        for name in ("mail", "home"):
            os.chown(self.root / name, uid, gid)

    def _write_config(self) -> None:
        uid, gid = mail_owner()
        rootless = login_chroot = ""
        if os.geteuid() != 0:  # every process as this user, and no chroot (that needs root)
            user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
            rootless, login_chroot = ROOTLESS.format(user=user, group=group), "  chroot ="
        text = CONFIG.format(
            root=self.root,
            host=HOST,
            uid=uid,
            gid=gid,
            port=self.port,
            tls_port=self.tls_port,
            rootless=rootless,
            login_chroot=login_chroot,
        )
        (self.root / "dovecot.conf").write_text(text)

    def _launch(self) -> bool:
        """Start the master and wait until both ports answer; False if it exited (a port was taken)."""
        with open(self.root / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, so that nothing is left behind
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if answers(self.port) and answers(self.tls_port):
                return True
            time.sleep(0.01)
        self.stop()
        return False


def mail_owner() -> tuple[int, int]:
    """`nobody` when run as root (Dovecot refuses root for mail processes), else the current user."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    return os.geteuid(), os.getegid()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_closed(port: int, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while answers(port) and time.monotonic() < deadline:
        time.sleep(0.01)


def processes() -> Iterator[tuple[int, int, int, str, str]]:
    """(pid, parent pid, process group, command name, state) of every process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
        yield int(stat.parent.name), int(ppid), int(pgrp), name, state


def reap(group: int, seconds: float = 5) -> None:
    """Wait until no process of `group` runs, collecting those that became ours (see `adopt_orphans`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = False
        for pid, _ppid, pgrp, _name, state in processes():
            if pgrp != group:
                continue
            if state == "Z":
                with contextlib.suppress(ChildProcessError):  # a zombie of init's, not ours to collect
                    os.waitpid(pid, os.WNOHANG)
            else:
                running = True
        if not running:
            return
        time.sleep(0.005)


def adopt_orphans() -> None:
    """Make this process the child subreaper (Linux): the master's children that outlive it become
    ours, so `reap` can collect them."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def members(group: int) -> list[int]:
    """The pids of the live processes of a process group."""
    return [pid for pid, _ppid, pgrp, _name, state in processes() if pgrp == group and state != "Z"]


def children(parent: int, name: str) -> list[int]:
    """The pids of `parent`'s live children whose command name is `name`."""
    return [pid for pid, ppid, _pgrp, comm, state in processes() if ppid == parent and comm == name and state != "Z"]


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh, empty Dovecot for one test. Its folder is made with mkdtemp and opened to others (0755),
    because pytest's own temporary folders are private to root and `nobody` could not reach the mail."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (Debian: dovecot-imapd)")
    adopt_orphans()
    root = Path(tempfile.mkdtemp(prefix="mm-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
