"""A real Dovecot IMAP server for the system tests (../shared/TESTBEDS.md section 1).

One temp dir per server (tempfile.mkdtemp: pytest's tmp_path is a root-only 0700 tree the
`dovecot` auth user cannot enter), passwd-file users, maildir, 127.0.0.1 only, started in
its own process group and stopped as a group (SIGTERM to the master alone leaves `imap`
children serving their clients). Optional TLS: a throwaway CA and a server certificate for
IP:127.0.0.1 only (so "localhost" is a wrong host name), made with openssl, serving
implicit TLS on `tls_port` and STARTTLS on `port`.

Test code talks to the server through imaplib (append, flags, uids, ...) and doveadm
(set_uidvalidity); the code under test talks to it through `port`, `tls_port`, `ca_file`
and password_file(user).
"""
import base64
import imaplib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from hotline_harness import free_port

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
OPENSSL = "/usr/bin/openssl"

# Capabilities of a server without MOVE (RFC 6851), and one without UIDPLUS either: the
# fallbacks of net::imap::session::move (COPY, \Deleted, UID EXPUNGE or EXPUNGE).
CAPS_NO_MOVE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS"
CAPS_NO_MOVE_NO_UIDPLUS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
CAPS_NO_IDLE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS MOVE"

_user_numbers = itertools.count(1)

# Every started Dovecot not closed yet, so conftest can attach its log to a failing test.
ACTIVE = []


def mutf7(name):
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3), for imaplib."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def _quote(mailbox):
    return '"' + mutf7(mailbox).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dovecot:
    """dovecot -F -c $D/dovecot.conf; users get a random password and an empty maildir."""

    def __init__(self, tls=False, capability=None, user="alice@example.org", spare_users=40,
                 idle_notify=None):
        """idle_notify: imap_idle_notify_interval, e.g. "1 secs" (Dovecot's "* OK Still here"
        keep-alive during IDLE; its default is 2 mins)."""
        assert os.geteuid() == 0, "the Dovecot test bed runs as root (TESTBEDS.md section 1)"
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
        os.chmod(self.dir, 0o755)  # auth runs as `dovecot` and must traverse it
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "mail", "nobody", "nogroup")
        self.tls = tls
        self.capability = capability
        self.idle_notify = idle_notify
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.conf = self.dir / "dovecot.conf"
        self.users_file = self.dir / "users"
        self.users_file.write_text("")
        self.log_path = self.dir / "dovecot.log"
        self.passwords = {}
        self.ca_file = None
        if tls:
            self._make_certificates()
        self.user = self._write_user(user)
        # Written before the start: passwd-file is re-read when its mtime changes, which
        # misses a user added within the same second as the previous read.
        self._spare = [self._write_user(f"user{next(_user_numbers)}@example.org")
                       for _ in range(spare_users)]
        self._write_conf()
        self.proc = None

    # --- set-up -------------------------------------------------------------------------

    def _make_certificates(self):
        d = self.dir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args):
            subprocess.run([OPENSSL, *args], cwd=d, check=True, capture_output=True)

        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=hotline test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        (d / "server.ext").write_text(
            "subjectAltName=IP:127.0.0.1\n"
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
        self.ca_file = str(d / "ca.crt")

    def add_user(self):
        """A user nobody used yet (an empty mailbox); returns the name. Its password is in
        password_file(name)."""
        if self._spare:
            return self._spare.pop(0)
        name = self._write_user(f"user{next(_user_numbers)}@example.org")
        time.sleep(1.1)  # see __init__: let passwd-file's mtime move on
        return name

    def _write_user(self, name):
        # A quote and a space: the client must quote (or send as a literal) what it sends.
        password = f'pw "{os.urandom(6).hex()}" x'
        home = self.dir / "mail" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        with open(self.users_file, "a") as f:
            f.write(f"{name}:{{PLAIN}}{password}:65534:65534::{home}::\n")
        pw_file = self.dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.password"
        pw_file.write_text(password + "\n")
        self.passwords[name] = password
        return name

    def password_file(self, user=None):
        user = user or self.user
        return str(self.dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', user)}.password")

    def _write_conf(self):
        d = self.dir
        lines = [
            "protocols = imap",
            "listen = 127.0.0.1",
            f"base_dir = {d}/run",
            f"state_dir = {d}/state",
            "log_path = /dev/stderr",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN {self.users_file}",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = {self.users_file}",
            "}",
            "mail_location = maildir:~/Maildir",
            # A refused login answers at once and a second one is not slowed down by the
            # penalty for 127.0.0.1 (the tests log in wrong on purpose, many times).
            "auth_failure_delay = 0",
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
        ]
        if self.tls:
            lines += [
                "ssl = yes",
                f"ssl_cert = <{d}/server.crt",
                f"ssl_key = <{d}/server.key",
                "ssl_dh = </usr/share/dovecot/dh.pem",
            ]
        else:
            lines.append("ssl = no")
        if self.capability:
            lines.append(f"imap_capability = {self.capability}")
        if self.idle_notify:
            lines.append(f"imap_idle_notify_interval = {self.idle_notify}")
        lines += [
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
        ]
        if self.tls:
            lines += ["    address = 127.0.0.1", f"    port = {self.tls_port}", "    ssl = yes"]
        else:
            lines.append("    port = 0")
        lines += ["  }", "}"]
        self.conf.write_text("\n".join(lines) + "\n")

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, timeout=10.0):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if self not in ACTIVE:
            ACTIVE.append(self)
        deadline = time.monotonic() + timeout
        for port in [p for p in (self.port, self.tls_port) if p]:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited with {self.proc.returncode}:\n"
                                       + self.logs())
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("dovecot did not listen in time:\n" + self.logs())
                    time.sleep(0.05)
        return self

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        """SIGTERM to the whole group (clients get BYE); waits for the master to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(5)
        self._wait_group_gone()

    def kill(self):
        """SIGKILL to the whole group: connections drop without BYE."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(5)
        self._wait_group_gone()

    def _wait_group_gone(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def restart(self):
        """stop(), then start() once the old master has gone (else: `already running`)."""
        self.stop()
        return self.start()

    def close(self, keep=False):
        self.stop()
        if self in ACTIVE:
            ACTIVE.remove(self)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- test-side access (imaplib, doveadm) ----------------------------------------------

    def client(self, user=None):
        user = user or self.user
        c = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        c.login(user, self.passwords[user])
        return c

    def append(self, raw: bytes, mailbox="INBOX", flags="", user=None) -> int:
        """APPEND raw (byte-exact) and return its UID (APPENDUID, RFC 4315)."""
        c = self.client(user)
        try:
            typ, data = c.append(_quote(mailbox), f"({flags})" if flags else None, None, raw)
            assert typ == "OK", (typ, data)
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            assert m, data
            return int(m.group(1))
        finally:
            c.logout()

    def _examine(self, c, mailbox):
        typ, data = c.select(_quote(mailbox), readonly=True)
        assert typ == "OK", (typ, data)
        return int(data[0])

    def flags(self, uid, mailbox="INBOX", user=None):
        """The flags of one message, e.g. {"\\Seen"}; None when it is not there."""
        c = self.client(user)
        try:
            self._examine(c, mailbox)
            typ, data = c.uid("FETCH", str(uid), "(FLAGS)")
            assert typ == "OK", (typ, data)
            for item in data:
                if item is None:
                    continue
                text = item if isinstance(item, bytes) else item[0]
                m = re.search(rb"FLAGS \(([^)]*)\)", text)
                if m and re.search(rb"UID %d\b" % uid, text):
                    return set(m.group(1).decode().split())
            return None
        finally:
            c.logout()

    def uids(self, mailbox="INBOX", user=None):
        c = self.client(user)
        try:
            self._examine(c, mailbox)
            typ, data = c.uid("SEARCH", "ALL")
            assert typ == "OK", (typ, data)
            return [int(x) for x in data[0].split()]
        finally:
            c.logout()

    def count(self, mailbox="INBOX", user=None):
        c = self.client(user)
        try:
            return self._examine(c, mailbox)
        finally:
            c.logout()

    def uidvalidity(self, mailbox="INBOX", user=None):
        c = self.client(user)
        try:
            typ, data = c.status(_quote(mailbox), "(UIDVALIDITY)")
            assert typ == "OK", (typ, data)
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        finally:
            c.logout()

    def create(self, mailbox, user=None):
        c = self.client(user)
        try:
            typ, data = c.create(_quote(mailbox))
            assert typ == "OK", (typ, data)
        finally:
            c.logout()

    def recreate(self, mailbox, user=None):
        """DELETE then CREATE a folder (not INBOX): a new UIDVALIDITY, no messages."""
        assert mailbox.upper() != "INBOX", "INBOX can't be deleted: use set_uidvalidity"
        c = self.client(user)
        try:
            typ, data = c.delete(_quote(mailbox))
            assert typ == "OK", (typ, data)
            typ, data = c.create(_quote(mailbox))
            assert typ == "OK", (typ, data)
        finally:
            c.logout()

    def set_uidvalidity(self, mailbox, n, user=None):
        """doveadm mailbox update --uid-validity (works live; clients should reconnect)."""
        subprocess.run([DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u",
                        user or self.user, "--uid-validity", str(n), mutf7(mailbox)],
                       check=True, capture_output=True)


def started(**kwargs):
    """A started Dovecot; the caller close()s it."""
    d = Dovecot(**kwargs)
    try:
        return d.start()
    except Exception:
        d.close(keep=True)
        raise
