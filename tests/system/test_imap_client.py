"""The IMAP client (net::imap::session) black box, through tests/tools/imap_probe, against a
real Dovecot: login, SELECT, searches, byte-exact fetches, flags, MOVE and its fallbacks,
IDLE, timeouts, interrupts, server restarts and TLS (implicit, STARTTLS, verification).
"""
import json
import socket
import subprocess
import threading
import time

import pytest

import dovecot as dc
import hotline_harness as h

# 8-bit KOI8-R body with CRLF line ends: what comes back must be these bytes exactly.
RAW = (b"From: =?utf-8?b?0JDQvdC90LA=?= <anna@example.net>\r\n"
       b"To: hotline@example.org\r\n"
       b"Subject: test\r\n"
       b"Message-ID: <probe-1@example.net>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=koi8-r\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n"
       b"\r\n"
       + "Привет, это проверка.\r\n".encode("koi8-r")
       + b"line two\r\n")
HEADER = RAW[:RAW.index(b"\r\n\r\n") + 4]


def mail(n):
    return RAW.replace(b"probe-1@", f"probe-{n}@".encode())


@pytest.fixture
def server(dovecot_server):
    """One Dovecot (TLS on) for the module (conftest.py)."""
    return dovecot_server


@pytest.fixture
def user(dovecot_user):
    """Each test its own user, so its own empty INBOX."""
    return dovecot_user


class Probe:
    def __init__(self, rc, lines, output):
        self.rc, self.lines, self.output = rc, lines, output

    def step(self, cmd):
        found = [x for x in self.lines if x.get("cmd") == cmd]
        assert found, f"no {cmd} step in:\n{self.output}"
        return found[-1]

    @property
    def error(self):
        errors = [x for x in self.lines if "error" in x]
        return errors[-1] if errors else None


def argv(d, *cmds, user=None, mode="none", port=None, host="127.0.0.1", ca=True,
         timeout_ms=5000, password_file=None, extra=()):
    if port is None:
        port = d.tls_port if mode == "tls" else d.port
    a = [str(h.IMAP_PROBE), "--host", host, "--port", str(port), "--tls", mode,
         "--user", user or d.user, "--password-file", password_file or d.password_file(user),
         "--timeout", str(timeout_ms)]
    if ca and d.ca_file and mode != "none":
        a += ["--ca-file", d.ca_file]
    return a + list(extra) + list(cmds)


def parse(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def probe(d, *cmds, **kw):
    r = subprocess.run(argv(d, *cmds, **kw), capture_output=True, text=True, timeout=60)
    return Probe(r.returncode, parse(r.stdout), r.stdout + r.stderr)


def ok(d, *cmds, **kw):
    p = probe(d, *cmds, **kw)
    assert p.rc == 0, p.output
    return p


def uids_arg(uids):
    return ",".join(str(u) for u in uids)


class Streaming:
    """imap_probe as a child whose JSON lines are read as they come (IDLE tests)."""

    def __init__(self, args):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, start_new_session=True)
        self.lines = []

    def wait_for(self, cmd, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            self.lines.append(json.loads(line))
            if self.lines[-1].get("cmd") == cmd:
                return self.lines[-1]
        raise AssertionError(f"no {cmd} line; got {self.lines}; stderr {self.p.stderr.read()}")

    def finish(self, timeout=20.0):
        # Not communicate(): it reads the pipe's fd directly and would lose the lines
        # readline() already buffered. stderr is a line or two, so it cannot fill its pipe.
        timer = threading.Timer(timeout, self.p.kill)
        timer.start()
        try:
            self.lines += parse(self.p.stdout.read())
            err = self.p.stderr.read()
            self.p.wait()
        finally:
            timer.cancel()
        return self.p.returncode, err


# ------------------------------------------------------------------------------- login

def test_login_reports_capabilities(server, user):
    p = ok(server, user=user)
    assert p.step("connect") == {"cmd": "connect", "idle": True, "move": True}


def test_wrong_password_is_auth_and_names_neither_user_nor_password(server, user, tmp_path):
    wrong = tmp_path / "wrong.password"
    secret = "Wr0ng-secret-4d1f"
    wrong.write_text(secret + "\n")
    p = probe(server, "select", "INBOX", user=user, password_file=str(wrong))
    assert p.rc == 1
    assert p.error["error"] == "auth", p.output
    assert secret not in p.output
    assert user not in p.output and user.split("@")[0] not in p.output
    assert server.passwords[user] not in p.output


def test_unknown_user_is_auth(server):
    p = probe(server, user="nobody-here@example.org", password_file=server.password_file())
    assert p.error["error"] == "auth"
    assert "nobody-here" not in p.output


def test_nothing_listening_is_connect(server):
    p = probe(server, port=h.free_port())
    assert p.rc == 1 and p.error["error"] == "connect", p.output


# ------------------------------------------------------------------ select and searches

def test_select_gives_uidvalidity_uidnext_exists(server, user):
    for n in range(3):
        server.append(mail(n), user=user)
    s = ok(server, "select", "INBOX", user=user).step("select")
    assert s["uidvalidity"] == server.uidvalidity(user=user)
    assert s["uidnext"] == 4
    assert s["exists"] == 3


def test_select_missing_mailbox_is_mailbox(server, user):
    p = probe(server, "select", "No-Such-Folder", user=user)
    assert p.error["error"] == "mailbox", p.output


def test_uids_from_leaves_out_what_is_below_first(server, user):
    uids = [server.append(mail(n), user=user) for n in range(4)]
    p = ok(server, "select", "INBOX", "uids-from", "1", "uids-from", str(uids[2]),
           "uids-from", str(uids[-1] + 1), user=user)
    got = [x["uids"] for x in p.lines if x["cmd"] == "uids-from"]
    # "N:*" past the highest UID still matches the highest one on the server: left out.
    assert got == [uids, uids[2:], []]


def test_unseen_lists_only_unseen(server, user):
    seen = server.append(mail(1), flags="\\Seen", user=user)
    fresh = server.append(mail(2), user=user)
    p = ok(server, "select", "INBOX", "unseen", user=user)
    assert p.step("unseen")["uids"] == [fresh]
    assert seen != fresh


def test_sizes_are_rfc822_sizes_and_skip_missing(server, user):
    a = server.append(mail(1), user=user)
    b = server.append(mail(22) + b"more\r\n", user=user)
    p = ok(server, "select", "INBOX", "sizes", uids_arg([a, b, b + 10]), user=user)
    assert p.step("sizes")["sizes"] == {str(a): len(mail(1)), str(b): len(mail(22)) + 6}


# --------------------------------------------------------------------------------- fetch

def test_fetch_is_byte_exact_and_leaves_unseen(server, user):
    a = server.append(mail(1), user=user)
    b = server.append(mail(2), user=user)
    p = ok(server, "select", "INBOX", "fetch", uids_arg([b, a, b + 5]), user=user)
    msgs = p.step("fetch")["messages"]
    assert [m["uid"] for m in msgs] == [a, b]
    assert bytes.fromhex(msgs[0]["raw_hex"]) == mail(1)
    assert bytes.fromhex(msgs[1]["raw_hex"]) == mail(2)
    assert "\\Seen" not in server.flags(a, user=user)  # BODY.PEEK


def test_fetch_headers_only(server, user):
    a = server.append(mail(1), user=user)
    p = ok(server, "select", "INBOX", "fetch", str(a), "--headers", user=user)
    (m,) = p.step("fetch")["messages"]
    assert bytes.fromhex(m["raw_hex"]) == HEADER


def test_fetch_large_message(server, user):
    big = RAW + b"x" * 70 + b"\r\n"
    big = big + (b"y" * 998 + b"\r\n") * 3000  # ~3 MB, many TCP segments and TLS records
    a = server.append(big, user=user)
    p = ok(server, "select", "INBOX", "fetch", str(a), user=user, mode="tls")
    assert bytes.fromhex(p.step("fetch")["messages"][0]["raw_hex"]) == big


# ------------------------------------------------------------------- flags, move, create

def test_seen_sets_seen(server, user):
    a = server.append(mail(1), user=user)
    b = server.append(mail(2), user=user)
    ok(server, "select", "INBOX", "seen", str(a), user=user)
    assert "\\Seen" in server.flags(a, user=user)
    assert "\\Seen" not in server.flags(b, user=user)


def test_move_removes_from_inbox(server, user):
    a = server.append(mail(1), user=user)
    b = server.append(mail(2), user=user)
    ok(server, "create", "Archive", "create", "Archive", "select", "INBOX",
       "move", str(a), "Archive", user=user)
    assert server.uids(user=user) == [b]
    assert server.count("Archive", user=user) == 1


def test_move_to_a_missing_folder_is_mailbox(server, user):
    a = server.append(mail(1), user=user)
    p = probe(server, "select", "INBOX", "move", str(a), "Missing", user=user)
    assert p.error["error"] == "mailbox", p.output
    assert server.uids(user=user) == [a]


def test_non_ascii_folder_names(server, user):
    a = server.append(mail(1), user=user)
    ok(server, "create", "Архив & co", "select", "INBOX", "move", str(a), "Архив & co",
       user=user)
    assert server.count("Архив & co", user=user) == 1
    assert ok(server, "select", "Архив & co", user=user).step("select")["exists"] == 1


@pytest.mark.parametrize("caps", [dc.CAPS_NO_MOVE, dc.CAPS_NO_MOVE_NO_UIDPLUS])
def test_move_without_move_capability(caps):
    d = dc.started(capability=caps)
    try:
        keep = d.append(mail(1))
        gone = d.append(mail(2))
        p = ok(d, "create", "Done", "select", "INBOX", "move", str(gone), "Done")
        assert p.step("connect")["move"] is False
        assert d.uids() == [keep]
        assert d.count("Done") == 1
        assert "\\Deleted" not in (d.flags(keep) or set())
    finally:
        d.close()


# ---------------------------------------------------------------------------------- IDLE

def test_idle_changed_when_another_connection_appends(server, user):
    server.append(mail(1), user=user)
    s = Streaming(argv(server, "select", "INBOX", "idle", "15000", "uids-from", "1",
                       user=user))
    s.wait_for("idle-start")
    time.sleep(0.3)  # let IDLE reach the server: the change must arrive while idling
    t0 = time.monotonic()
    new = server.append(mail(2), user=user)
    done = s.wait_for("idle")
    assert done["outcome"] == "changed"
    assert time.monotonic() - t0 < 5
    rc, err = s.finish()
    assert rc == 0, err
    # DONE was sent and the session goes on: the next command sees the new message.
    assert s.lines[-1]["uids"][-1] == new


def test_idle_sees_a_change_racing_its_start(server, user):
    # Whether the message lands before "+ idling" (announced with IDLE's start) or after,
    # IDLE reports it: no lost wake-up.
    server.append(mail(1), user=user)
    s = Streaming(argv(server, "select", "INBOX", "idle", "15000", user=user))
    s.wait_for("select")
    server.append(mail(2), user=user)
    assert s.wait_for("idle")["outcome"] == "changed"
    assert s.finish()[0] == 0


def test_idle_timeout_when_nothing_happens(server, user):
    p = ok(server, "select", "INBOX", "idle", "700", "noop", "idle", "300", user=user)
    idles = [x for x in p.lines if x["cmd"] == "idle"]
    assert [x["outcome"] for x in idles] == ["timeout", "timeout"]
    assert 650 <= idles[0]["elapsed_ms"] < 3000
    assert p.step("noop")["ok"] is True


def test_idle_keepalives_are_not_changes():
    # Dovecot's "* OK Still here" every second: IDLE still waits for `max`, then a change
    # after the keep-alives is still seen.
    d = dc.started(idle_notify="1 secs")
    try:
        p = ok(d, "select", "INBOX", "idle", "3500")
        idle = p.step("idle")
        assert idle["outcome"] == "timeout"
        assert idle["elapsed_ms"] >= 3400
        s = Streaming(argv(d, "select", "INBOX", "idle", "15000"))
        s.wait_for("idle-start")
        time.sleep(2.5)
        d.append(mail(1))
        assert s.wait_for("idle")["outcome"] == "changed"
        assert s.finish()[0] == 0
        assert "Still here" in keepalive_trace(d)
    finally:
        d.close()


def keepalive_trace(d):
    """Proof the keep-alives were sent: a raw IMAP session idling for 1.5 s."""
    c = socket.create_connection(("127.0.0.1", d.port), 5)
    f = c.makefile("rwb")
    f.readline()
    pw = d.passwords[d.user].replace("\\", "\\\\").replace('"', '\\"')
    f.write(f'a LOGIN {d.user} "{pw}"\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
    f.flush()
    seen = b""
    c.settimeout(3)
    deadline = time.monotonic() + 2.5
    while b"Still here" not in seen and time.monotonic() < deadline:
        seen += f.readline()
    c.close()
    return seen.decode(errors="replace")


def test_idle_over_tls(server, user):
    s = Streaming(argv(server, "select", "INBOX", "idle", "15000", user=user, mode="tls"))
    s.wait_for("idle-start")
    time.sleep(0.3)
    server.append(mail(1), user=user)
    assert s.wait_for("idle")["outcome"] == "changed"
    assert s.finish()[0] == 0


def test_interrupt_wakes_idle_at_once(server, user):
    t0 = time.monotonic()
    p = probe(server, "select", "INBOX", "idle", "20000", user=user,
              extra=["--interrupt-after", "400"])
    assert time.monotonic() - t0 < 3
    assert p.rc == 1
    assert p.error == {"cmd": "idle", "error": "interrupted",
                       "message": "interrupted (shutting down)"}, p.output
    assert p.step("idle-start")


def test_idle_not_offered():
    d = dc.started(capability=dc.CAPS_NO_IDLE)
    try:
        p = probe(d, "select", "INBOX", "idle", "1000")
        assert p.step("connect")["idle"] is False
        assert p.error["error"] == "protocol", p.output
    finally:
        d.close()


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_server_going_away_during_idle_is_closed_and_reconnect_works(how):
    d = dc.started()
    try:
        s = Streaming(argv(d, "select", "INBOX", "idle", "20000"))
        s.wait_for("idle-start")
        time.sleep(0.2)
        t0 = time.monotonic()
        if how == "restart":
            d.restart()
        else:
            d.kill()
        rc, err = s.finish()
        assert rc == 1
        assert s.lines[-1]["error"] in ("closed", "timeout"), s.lines
        assert time.monotonic() - t0 < 10
        if how == "kill":
            d.start()
        d.append(mail(1))
        p = ok(d, "select", "INBOX")
        assert p.step("select")["exists"] == 1
    finally:
        d.close()


# --------------------------------------------------------------------- silent servers

class SilentServer:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent():
    s = SilentServer()
    yield s
    s.close()


@pytest.mark.parametrize("mode", ["none", "tls", "starttls"])
def test_silent_server_is_timeout_within_the_bound(server, silent, mode):
    t0 = time.monotonic()
    p = probe(server, port=silent.port, mode=mode, timeout_ms=800)
    took = time.monotonic() - t0
    assert p.rc == 1
    assert p.error["error"] == "timeout", p.output
    assert 0.75 <= took < 3.0, took
    assert 750 <= p.error["elapsed_ms"] < 1500


def test_interrupt_wakes_a_hung_connect(server, silent):
    t0 = time.monotonic()
    p = probe(server, port=silent.port, timeout_ms=20000, extra=["--interrupt-after", "300"])
    assert p.error["error"] == "interrupted", p.output
    assert time.monotonic() - t0 < 3


# ----------------------------------------------------------------------------------- TLS

@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_tls_with_ca_file(server, user, mode):
    server.append(mail(1), user=user)
    p = ok(server, "select", "INBOX", "fetch", "1", user=user, mode=mode)
    assert bytes.fromhex(p.step("fetch")["messages"][0]["raw_hex"]) == mail(1)


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_tls_without_ca_file_is_tls(server, user, mode):
    p = probe(server, "select", "INBOX", user=user, mode=mode, ca=False)
    assert p.rc == 1 and p.error["error"] == "tls", p.output
    assert "trusted" in p.error["message"]
    assert user not in p.output


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_tls_wrong_host_name_is_tls(server, user, mode):
    # The certificate names IP:127.0.0.1 only; "localhost" resolves there but is not it.
    p = probe(server, "select", "INBOX", user=user, mode=mode, host="localhost")
    assert p.rc == 1 and p.error["error"] == "tls", p.output
    assert "host name" in p.error["message"]


def test_tls_to_a_plain_port_is_tls(server, user):
    p = probe(server, user=user, mode="tls", port=server.port)
    assert p.error["error"] == "tls", p.output


def test_unreadable_ca_file_is_tls(server, user, tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    p = probe(server, user=user, mode="tls", ca=False, extra=["--ca-file", str(bogus)])
    assert p.error["error"] == "tls", p.output
