"""A real Kannel for the system tests (../shared/TESTBEDS.md section 2): bearerbox + smsbox
with a fake SMSC, and a fakesmsc-protocol client in Python standing in for the handsets.

One temp dir per server, five free loopback ports: admin (A), smsbox (B), fake SMSC (F),
sendsms (S). The sms-service's get-url is given by the test (`mo_url`: Kannel's
%-escapes, e.g. "http://127.0.0.1:8080/v1/sms/kannel?from=%p&to=%P&text=%a&id=%I&coding=%c&charset=%C&udh=%u&smsc=%i&secret=s"),
so an SMS a handset sends (`send`) reaches hotline as a gateway request. Outgoing
messages (sendsms from hotline's kannel channel) reach the fake SMSC connection and are
read back with `received()`.

The fake SMSC speaks the fakesmsc line protocol on F (one client at a time):
  to Kannel:   "<from> <to> <type> [<udh>] <data>\n"   type text | data | ucs2 | udh-data | udh-text
  from Kannel: "<from> <to> <type> <urlencoded data>\n" (type "text" or "ucs-2")
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from hotline_harness import free_port, wait_until

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"

ACTIVE = []


class Kannel:
    def __init__(self, mo_url, sendsms_user="tester", sendsms_password="foobar",
                 mo_recode=True, combine_concatenated=False):
        """combine_concatenated: Kannel's own joining of concatenated MO parts
        (sms-combine-concatenated-mo); off by default so hotline gets the parts."""
        assert os.path.exists(BEARERBOX), "install kannel (scripts/setup)"
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-kannel-"))
        self.admin_port, self.box_port, self.smsc_port, self.sendsms_port = (
            free_port(), free_port(), free_port(), free_port())
        self.user, self.password = sendsms_user, sendsms_password
        self.mo_url = mo_url
        self.mo_recode = mo_recode
        self.combine = combine_concatenated
        self.procs = []
        self._sock = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None
        self._write_conf()
        ACTIVE.append(self)

    # ---- configuration
    def _write_conf(self):
        d = self.dir
        conf = f"""group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = adm
status-password = adm
smsbox-port = {self.box_port}
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 0
dlr-storage = internal
sms-combine-concatenated-mo = {"true" if self.combine else "false"}

group = smsc
smsc = fake
smsc-id = FAKE
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 0
mo-recode = {"true" if self.mo_recode else "false"}

group = sendsms-user
username = {self.user}
password = {self.password}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{self.mo_url}"
"""
        (d / "kannel.conf").write_text(conf)

    @property
    def sendsms_url(self):
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def log(self):
        out = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox.out", "smsbox.out"):
            p = self.dir / name
            if p.exists():
                out.append(f"--- {name}\n" + p.read_text(errors="replace")[-20000:])
        return "\n".join(out)

    # ---- lifecycle
    def start(self):
        conf = str(self.dir / "kannel.conf")
        for binary, out in ((BEARERBOX, "bearerbox.out"), (SMSBOX, "smsbox.out")):
            p = subprocess.Popen([binary, conf], stdout=open(self.dir / out, "ab"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append(p)
            if binary == BEARERBOX:
                self._wait_port(self.smsc_port, p)
        # The fake SMSC client: bearerbox accepts it on smsc_port.
        self._sock = socket.create_connection(("127.0.0.1", self.smsc_port), 5)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(self._smsbox_connected, timeout=20, what="smsbox connected to bearerbox")
        self._wait_port(self.sendsms_port, self.procs[1])
        return self

    def _wait_port(self, port, proc):
        def up():
            if proc.poll() is not None:
                raise AssertionError(f"kannel exited ({proc.returncode}):\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False
        wait_until(up, timeout=20, what=f"kannel port {port}")

    def _smsbox_connected(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.admin_port}/status.txt?password=adm", timeout=2) as r:
                body = r.read().decode(errors="replace")
        except OSError:
            return False
        return "smsbox:(none), IP 127.0.0.1" in body and "online" in body

    def stop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs = []

    def close(self):
        self.stop()
        if self in ACTIVE:
            ACTIVE.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the fake SMSC side
    def _read(self):
        buf = b""
        sock = self._sock
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with self._cond:
                    self._lines.append(line.decode("latin-1").rstrip("\r"))
                    self._cond.notify_all()

    def send(self, sender, to, text, udh=None):
        """A handset sends `text` (UCS-2 unless it is ASCII) from `sender` to `to` (no '+',
        as SMSCs give numbers). udh: raw UDH bytes (a concatenated part, e.g.
        b"\x05\x00\x03\x2a\x03\x01"), sent as fakesmsc's udh-text (plain text)."""
        if udh is not None:
            line = f"{sender} {to} udh-text {urllib.parse.quote(udh, safe='')} {text}"
        elif all(ord(c) < 128 for c in text):
            line = f"{sender} {to} text {text}"
        else:
            line = f"{sender} {to} ucs2 {urllib.parse.quote(text.encode('utf-16-be'), safe='')}"
        self._sock.sendall(line.encode("ascii") + b"\n")

    def received(self):
        """What Kannel sent to the fake SMSC so far: [(from, to, coding, text)], coding
        "text" or "ucs-2", text decoded."""
        with self._cond:
            lines = list(self._lines)
        out = []
        for line in lines:
            parts = line.split(" ", 3)
            if len(parts) < 4:
                continue
            frm, to, kind, data = parts
            raw = urllib.parse.unquote_to_bytes(data.replace("+", "%20"))
            text = raw.decode("utf-16-be") if kind == "ucs-2" else raw.decode("utf-8", "replace")
            out.append((frm, to, kind, text))
        return out

    def wait_received(self, n, timeout=20):
        wait_until(lambda: len(self.received()) >= n, timeout=timeout,
                   what=f"{n} messages at the fake SMSC")
        return self.received()

    def sendsms(self, **params):
        """GET sendsms directly (for checking the test bed itself)."""
        q = {"username": self.user, "password": self.password, **params}
        url = self.sendsms_url + "?" + urllib.parse.urlencode(q)
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode(errors="replace")
