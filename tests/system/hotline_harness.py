"""Harness for the black-box system tests: sinks, the daemon, config, waiting, DB reads.

Everything runs as child processes on 127.0.0.1 in its own session (killed by process
group), in a temp dir from tempfile.mkdtemp. Logs stay in that dir; conftest.py
attaches them to the report of a failing test.
"""
import base64
import ctypes
import ctypes.util
import email
import email.policy
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import uuid
from pathlib import Path

import requests
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUILD_DIR = Path(os.environ.get("HOTLINE_BUILD_DIR", str(REPO / "build"))).resolve()
HOTLINED = BUILD_DIR / "hotlined"
HOTLINECTL = BUILD_DIR / "hotlinectl"
PLUGIN_DIR = BUILD_DIR / "plugins"
# The IMAP client driven from the command line (tests/tools/imap_probe.cpp).
IMAP_PROBE = BUILD_DIR / "imap_probe"
PYTHON = "/usr/bin/python3"

TOKEN = "tok-partner-" + "a1b2c3d4e5f6a7b8"
OTHER_TOKEN = "tok-other-" + "0f9e8d7c6b5a4321"
SIGNING_KEY = "whsec-test-signing-key-5c1d0e7f"
SOURCE = "partner-webhook"

DEFAULT_TIMEOUT = 20.0

# Every live Workdir, so conftest can attach logs to failing tests and clean up.
ACTIVE_WORKDIRS = []


def require(binary):
    assert Path(binary).exists(), (f"missing {binary}: build it and set HOTLINE_BUILD_DIR "
                                   f"(now {BUILD_DIR})")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout=DEFAULT_TIMEOUT, interval=0.05, what="condition"):
    """Polls pred() until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = pred()
            if value:
                return value
            last_exc = None
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def new_external_id(prefix="ext"):
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def report(text="Neutral test report, nothing urgent.", sender="+79001234567", **extra):
    r = {"sender": sender, "text": text, "external_id": new_external_id()}
    r.update(extra)
    return r


# --------------------------------------------------------------------------- processes

class Proc:
    """A child process in its own session, output to a log file."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                      env=env, cwd=cwd)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.popen.pid, sig)

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self, sig=signal.SIGKILL):
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self, grace=5.0):
        """SIGTERM to the group, then SIGKILL after `grace`. Returns the exit code."""
        if self.alive():
            self.kill_group(signal.SIGTERM)
            if self.wait(grace) is None:
                self.kill_group(signal.SIGKILL)
                self.wait(5)
        else:
            self.kill_group(signal.SIGKILL)  # stray children, if any
        self._log.close()
        return self.popen.returncode


class Workdir:
    """One temp dir per test (or module) holding configs, DB, sinks' records and logs."""

    def __init__(self, prefix="hotline-st-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs = []
        ACTIVE_WORKDIRS.append(self)

    def spawn(self, argv, log_name, **kw):
        p = Proc(argv, self.path / log_name, **kw)
        self.procs.append(p)
        return p

    def logs(self, tail=12000):
        out = []
        for f in sorted(self.path.glob("*.log")):
            data = f.read_bytes()
            text = data[-tail:].decode("utf-8", errors="replace")
            cut = " (tail)" if len(data) > tail else ""
            out.append(f"----- {f}{cut} -----\n{text}")
        return "\n".join(out)

    def close(self, keep=False):
        for p in reversed(self.procs):
            p.terminate(grace=3.0)
        if self in ACTIVE_WORKDIRS:
            ACTIVE_WORKDIRS.remove(self)
        if not keep and not os.environ.get("HOTLINE_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)


def _wait_port_file(proc, port_file, what):
    def ready():
        if not proc.alive():
            raise AssertionError(f"{what} exited early (rc={proc.popen.returncode}); "
                                 f"log:\n{proc.log_path.read_text(errors='replace')}")
        return port_file.exists() and int(port_file.read_text())
    return wait_until(ready, timeout=15, what=f"{what} to listen")


# --------------------------------------------------------------------------- sealing

# Columns the store seals at rest (docs/operations.md), by table. Their associated data is
# "<table>.<column>:<row id>"; the value is version(1) | key id(8) | nonce(24) | ct+tag.
SEALED_COLUMNS = {
    "reports": ("sender", "subject", "text", "labels", "details", "raw"),
    "notifications": ("address", "payload"),
    "attachments": ("file_name", "content_type", "sha256", "bytes"),
}
# Sealed columns that hold bytes, not text: opened to bytes.
SEALED_BINARY = {("reports", "raw"), ("attachments", "bytes")}
SEALED_HEADER = 1 + 8 + 24
SEALED_OVERHEAD = SEALED_HEADER + 16

_sodium = None


def sodium():
    global _sodium
    if _sodium is None:
        lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
        assert lib.sodium_init() >= 0
        lib.crypto_aead_xchacha20poly1305_ietf_decrypt.argtypes = [
            ctypes.c_char_p, ctypes.POINTER(ctypes.c_ulonglong), ctypes.c_void_p,
            ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_ulonglong,
            ctypes.c_char_p, ctypes.c_char_p]
        lib.crypto_generichash.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_ulonglong,
            ctypes.c_char_p, ctypes.c_size_t]
        _sodium = lib
    return _sodium


def new_key_file(path):
    """Writes 32 random bytes, mode 0600, as scripts/run does. Returns the bytes."""
    key = os.urandom(32)
    path = Path(path)
    path.write_bytes(key)
    os.chmod(path, 0o600)
    return key


def key_id_hex(key):
    out = ctypes.create_string_buffer(8)
    label = b"hotline key id v1"
    assert sodium().crypto_generichash(out, 8, label, len(label), key, len(key)) == 0
    return out.raw.hex()


def open_sealed(key, value, ad, binary=False):
    """Opens a sealed column value (bytes) bound to `ad`; returns str (bytes when `binary`),
    or None if it fails."""
    if not isinstance(value, (bytes, bytearray)) or len(value) < SEALED_OVERHEAD:
        return None
    value = bytes(value)
    header, ct = value[:SEALED_HEADER], value[SEALED_HEADER:]
    full_ad = header + ad.encode()
    out = ctypes.create_string_buffer(len(ct))
    n = ctypes.c_ulonglong(0)
    rc = sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(n), None, ct, len(ct), full_ad, len(full_ad), header[9:], key)
    if rc != 0:
        return None
    plain = out.raw[:n.value]
    return plain if binary else plain.decode("utf-8")


_FROM_RE = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


def open_row(key, sql, row):
    """Opens the sealed columns of a row read by `sql` when it names its table and has the
    row id; other values are left as they are."""
    m = _FROM_RE.search(sql)
    table = m.group(1) if m else None
    if key is None or table not in SEALED_COLUMNS or "id" not in row:
        return row
    for col in SEALED_COLUMNS[table]:
        if isinstance(row.get(col), (bytes, bytearray)):
            opened = open_sealed(key, row[col], f"{table}.{col}:{row['id']}",
                                 binary=(table, col) in SEALED_BINARY)
            assert opened is not None, f"{table}.{col} of row {row['id']} does not open"
            row[col] = opened
    return row


# --------------------------------------------------------------------------- HTTP sink

class HttpSink:
    """A recording HTTP server (sinks/http_sink.py) in a child process."""

    def __init__(self, wd, name="http_sink"):
        self.dir = wd.path
        self.record_file = wd.path / f"{name}.jsonl"
        port_file = wd.path / f"{name}.port"
        self.proc = wd.spawn([PYTHON, HERE / "sinks" / "http_sink.py", self.record_file,
                              port_file], f"{name}.log")
        self.port = _wait_port_file(self.proc, port_file, "HTTP sink")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def records(self):
        if not self.record_file.exists():
            return []
        out = []
        with open(self.record_file, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # being written
                rec = json.loads(line)
                rec["raw"] = base64.b64decode(rec["body_b64"])
                try:
                    rec["json"] = json.loads(rec["raw"])
                except ValueError:
                    rec["json"] = None
                rec["headers_lc"] = {k.lower(): v for k, v in rec["headers"].items()}
                out.append(rec)
        return out

    def to(self, path_prefix):
        return [r for r in self.records() if r["path"].startswith(path_prefix)]

    def wait_for(self, pred, count=1, timeout=DEFAULT_TIMEOUT, what="sink requests"):
        def check():
            got = [r for r in self.records() if pred(r)]
            return got if len(got) >= count else None
        return wait_until(check, timeout=timeout, what=f"{count} {what}")

    def wait_report(self, path_prefix, report_id, count=1, timeout=DEFAULT_TIMEOUT):
        return self.wait_for(
            lambda r: r["path"].startswith(path_prefix) and r["json"] is not None
            and r["json"].get("report_id") == report_id,
            count=count, timeout=timeout,
            what=f"webhook request(s) to {path_prefix} for report {report_id}")


class LocalWebhook:
    """A webhook endpoint served by a thread of the test process, for tests that change
    its answers while the daemon runs (the HttpSink process answers by path only).
    Subclasses implement answer(idempotency_key) -> (status, body), or None to hang up
    without an answer; they record what they need in self.requests under self.lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = sink.answer(self.headers.get("Idempotency-Key") or "")
                if answer is None:
                    self.close_connection = True
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, key):
        raise NotImplementedError

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def header(rec, name):
    return rec["headers_lc"].get(name.lower())


def check_signature(rec, key=SIGNING_KEY, max_skew=300):
    """Asserts X-Hotline-Signature is t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>."""
    sig = header(rec, "X-Hotline-Signature")
    assert sig, f"no X-Hotline-Signature header in {rec['headers']}"
    parts = dict(p.strip().split("=", 1) for p in sig.split(","))
    assert "t" in parts and "v1" in parts, f"malformed signature header {sig!r}"
    t = parts["t"]
    assert t.isdigit(), f"signature timestamp not an integer: {sig!r}"
    assert abs(int(t) - rec["time"]) <= max_skew, f"signature timestamp {t} far from now"
    want = hmac.new(key.encode(), t.encode() + b"." + rec["raw"], hashlib.sha256).hexdigest()
    assert parts["v1"] == want, f"bad signature: got {parts['v1']}, want {want}"


# --------------------------------------------------------------------------- SMTP sink

class Mail:
    def __init__(self, meta, raw, name):
        self.name = name
        self.mail_from = meta["mail_from"]
        self.rcpt_tos = [a.lower() for a in meta["rcpt_tos"]]
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.default)

    @property
    def subject(self):
        return str(self.msg.get("Subject", ""))

    @property
    def message_id(self):
        return str(self.msg.get("Message-ID", "")).strip()

    def header(self, name):
        v = self.msg.get(name)
        return None if v is None else str(v)

    @property
    def text(self):
        if self.msg.is_multipart():
            part = self.msg.get_body(preferencelist=("plain",))
            return part.get_content() if part is not None else ""
        return self.msg.get_content()


class SmtpSink:
    """An aiosmtpd sink (sinks/smtp_sink.py) storing NNNN.eml + NNNN.json."""

    def __init__(self, wd, reject=(), tempfail=(), name="smtp_sink"):
        self.dir = wd.path / name
        self.dir.mkdir()
        port_file = wd.path / f"{name}.port"
        argv = [PYTHON, HERE / "sinks" / "smtp_sink.py", self.dir, port_file]
        for a in reject:
            argv += ["--reject", a]
        for a in tempfail:
            argv += ["--tempfail", a]
        self.proc = wd.spawn(argv, f"{name}.log")
        self.port = _wait_port_file(self.proc, port_file, "SMTP sink")

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        out = []
        for meta_file in sorted(glob.glob(str(self.dir / "*.json"))):
            base = meta_file[:-len(".json")]
            with open(meta_file, encoding="utf-8") as f:
                meta = json.load(f)
            with open(base + ".eml", "rb") as f:
                raw = f.read()
            out.append(Mail(meta, raw, os.path.basename(base)))
        return out

    def to(self, address):
        return [m for m in self.messages() if address.lower() in m.rcpt_tos]

    def wait_for(self, pred, count=1, timeout=DEFAULT_TIMEOUT, what="emails"):
        def check():
            got = [m for m in self.messages() if pred(m)]
            return got if len(got) >= count else None
        return wait_until(check, timeout=timeout, what=f"{count} {what}")

    def wait_to(self, address, pred=lambda m: True, count=1, timeout=DEFAULT_TIMEOUT):
        return self.wait_for(lambda m: address.lower() in m.rcpt_tos and pred(m), count=count,
                             timeout=timeout, what=f"email(s) to {address}")


# --------------------------------------------------------------------------- config

RETRY_FAST = {"max_attempts": 5, "initial_backoff": "100ms", "max_backoff": "500ms",
              "max_age": "1h"}
DETENTION_REGEX = 'text =~ "задерж|арест|detain|arrest"'


def default_config(http, smtp, body_limit="64KiB"):
    """The config the brief describes; tests edit the dict before starting the daemon."""
    return {
        "secrets_dir": "secrets",
        "plugin_dir": str(PLUGIN_DIR),
        "public_url": "http://127.0.0.1:8080",
        "server": {"address": "127.0.0.1", "port": 0, "body_limit": body_limit,
                   "read_timeout": "5s", "idle_timeout": "30s", "max_connections": 1024,
                   # Port 0: the harness reads the bound one from the log (metrics_port).
                   "metrics_listen": "127.0.0.1:0",
                   # Load tests send thousands of reports from one source and sender
                   # (h.report's default); the limits' own tests (test_floods) set theirs.
                   "rate_limits": {"source": {"rate": "100000/s", "burst": 100000},
                                   "sender": {"rate": "100000/s", "burst": 100000}}},
        "storage": {"path": "var/hotline.db"},
        "logging": {"format": "text", "level": "info"},
        "sources": [
            {"name": SOURCE, "kind": "webhook", "token_file": "webhook.token"},
            {"name": "other", "kind": "webhook", "token_file": "other.token"},
        ],
        "channels": [
            {"name": "ops-webhook", "type": "webhook", "concurrency": 16, "timeout": "5s",
             "retry": dict(RETRY_FAST),
             "options": {"secret_file": "webhook-signing.key"}},
            {"name": "email", "type": "smtp", "concurrency": 8, "timeout": "5s",
             "retry": dict(RETRY_FAST),
             "options": {"url": smtp.url if smtp else "smtp://127.0.0.1:9",
                         "from": "Hotline <hotline@example.org>",
                         "tls": "none"}},  # the loopback sink has no STARTTLS
        ],
        "responders": [
            {"id": "en", "name": "Erin", "language": "en", "timezone": "Europe/Berlin",
             "contacts": [{"channel": "ops-webhook", "address": http.url("/ok/en")},
                          {"channel": "email", "address": "en@example.org"}]},
            {"id": "ru", "name": "Руслан", "language": "ru", "timezone": "Europe/Moscow",
             "contacts": [{"channel": "ops-webhook", "address": http.url("/ok/ru")},
                          {"channel": "email", "address": "ru@example.org"}]},
        ],
        "partners": [
            {"id": "ngo", "name": "Partner NGO", "language": "ru", "sees": ["labels"],
             "contacts": [{"channel": "ops-webhook", "address": http.url("/ok/ngo")}]},
        ],
        "admins": [
            {"id": "ops", "name": "Ops", "language": "en",
             "contacts": [{"channel": "email", "address": "ops@example.org"}]},
        ],
        "route": {
            "severity": "normal",
            "notify": ["responder:en"],
            "routes": [
                {"name": "detention", "match": [DETENTION_REGEX], "severity": "critical",
                 "labels": {"kind": "detention"},
                 "notify": ["responder:ru", "partner:ngo"]},
            ],
        },
    }


def person(pid, language, contacts, name=None, **extra):
    p = {"id": pid, "name": name or pid.capitalize(), "language": language,
         "contacts": [{"channel": c, "address": a} for c, a in contacts]}
    p.update(extra)
    return p


def dump_yaml(cfg):
    return yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False, default_flow_style=False,
                          width=1000)


# --------------------------------------------------------------------------- daemon

LISTEN_RE = re.compile(r"listening.*?port=(\d+)")
METRICS_LISTEN_RE = re.compile(r"metrics listener address=\S+ port=(\d+)")


class Daemon:
    """hotlined with a config written into the workdir."""

    def __init__(self, wd, cfg, config_name="hotline.yaml"):
        self.wd = wd
        self.cfg = cfg
        self.config_path = wd.path / config_name
        self.secrets = wd.path / "secrets"
        self.secrets.mkdir(exist_ok=True)
        (self.secrets / "webhook.token").write_text(TOKEN + "\n")
        (self.secrets / "other.token").write_text(OTHER_TOKEN + "\n")
        (self.secrets / "webhook-signing.key").write_text(SIGNING_KEY + "\n")
        # storage.key_file's default, resolved against secrets_dir.
        key_path = self.secrets / "storage.key"
        self.storage_key = key_path.read_bytes() if key_path.exists() \
            else new_key_file(key_path)
        (wd.path / "var").mkdir(exist_ok=True)
        self.proc = None
        self.port = None
        self.metrics_port = None  # server.metrics_listen's bound port (None: off)
        self.log_path = wd.path / "hotlined.log"

    @property
    def db_path(self):
        return self.config_path.parent / self.cfg["storage"]["path"]

    def write_config(self, cfg=None):
        if cfg is not None:
            self.cfg = cfg
        self.config_path.write_text(dump_yaml(self.cfg), encoding="utf-8")
        return self.config_path

    def start(self, wait_ready=True, port=None, env=None, binary=None, wrapper=()):
        """Starts hotlined and waits for /readyz. By default on a fresh free port written
        into the config; with port=0 the daemon picks one and the harness reads it from
        the log line "listening ... port=N". `env` adds to (or, with None values, removes
        from) the environment; `binary` is another hotlined (an ASan build); `wrapper` is
        an argv prefix that execs the rest (e.g. sh setting WATCHDOG_PID=$$)."""
        self.port = free_port() if port is None else port
        self.cfg["server"]["port"] = self.port
        self.write_config()
        binary = binary or HOTLINED
        require(binary)
        child_env = None
        if env:
            child_env = dict(os.environ)
            for k, v in env.items():
                if v is None:
                    child_env.pop(k, None)
                else:
                    child_env[k] = str(v)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = self.wd.spawn([*wrapper, binary, "--config", self.config_path],
                                  "hotlined.log", env=child_env)
        if self.port == 0:
            def bound():
                if not self.proc.alive():
                    raise AssertionError(f"hotlined exited (rc={self.proc.popen.returncode}):"
                                         f"\n{self.log_text()[offset:][-6000:]}")
                m = LISTEN_RE.search(self.log_text()[offset:])
                return m and int(m.group(1))
            self.port = wait_until(bound, what="the 'listening ... port=N' log line")
        if wait_ready:
            self.wait_ready()
            self._find_metrics_port(offset)
        return self

    def _find_metrics_port(self, offset):
        """The metrics listener logs its port before the daemon is ready."""
        self.metrics_port = None
        if self.cfg["server"].get("metrics_listen", "127.0.0.1:9464") == "off":
            return
        m = METRICS_LISTEN_RE.search(self.log_text()[offset:])
        assert m, "no 'metrics listener ... port=N' log line"
        self.metrics_port = int(m.group(1))

    def metrics_url(self, path="/metrics"):
        """On the metrics listener, or the main one when metrics_listen is off."""
        port = self.metrics_port if self.metrics_port is not None else self.port
        return f"http://127.0.0.1:{port}{path}"
    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        def ready():
            if not self.proc.alive():
                raise AssertionError(
                    f"hotlined exited during startup (rc={self.proc.popen.returncode}); "
                    f"log:\n{self.log_text()[-6000:]}")
            try:
                return requests.get(self.url("/readyz"), timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, timeout=timeout, what="hotlined /readyz")

    def log_text(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace") \
            if self.log_path.exists() else ""

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, body=None, *, token=TOKEN, headers=None, data=None,
             content_type="application/json", path="/v1/reports", session=None, timeout=10):
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        if data is None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return (session or requests).post(self.url(path), data=data, headers=h,
                                          timeout=timeout)

    def submit(self, body=None, **kw):
        """Posts a report and asserts 202; returns the response JSON."""
        body = body if body is not None else report()
        r = self.post(body, **kw)
        assert r.status_code == 202, f"POST /v1/reports -> {r.status_code} {r.text!r}"
        js = r.json()
        assert isinstance(js.get("report_id"), int) and isinstance(js.get("case_id"), int), js
        assert js.get("duplicate") is False, js
        return js

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url(path), **kw)

    # ---- signals
    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit code (None if it did not exit in time)."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        return rc

    def kill9(self):
        self.proc.kill_group(signal.SIGKILL)
        self.proc.wait(10)

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def alive(self):
        return self.proc is not None and self.proc.alive()

    # ---- database (read-only; q() opens sealed columns with the daemon's key)
    def db(self):
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def q(self, sql, *args):
        last = None
        for _ in range(50):
            try:
                conn = self.db()
                try:
                    return [open_row(self.storage_key, sql, dict(r))
                            for r in conn.execute(sql, args).fetchall()]
                finally:
                    conn.close()
            except sqlite3.OperationalError as e:  # locked / busy during a checkpoint
                last = e
                time.sleep(0.05)
        raise last

    def notifications(self, report_id):
        return self.q("SELECT * FROM notifications WHERE report_id = ? ORDER BY id", report_id)

    def wait_settled(self, report_id, timeout=DEFAULT_TIMEOUT, min_count=1):
        """Waits until every notification of the report is out of 'pending'."""
        def settled():
            rows = self.notifications(report_id)
            if len(rows) >= min_count and all(r["status"] != "pending" for r in rows):
                return rows
            return None
        return wait_until(settled, timeout=timeout,
                          what=f"notifications of report {report_id} to settle")

    # ---- metrics
    def metrics_get(self, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.metrics_url(), **kw)

    def metrics(self):
        r = self.metrics_get()
        assert r.status_code == 200, r.status_code
        return parse_metrics(r.text)

    def metrics_text(self):
        return self.metrics_get().text


_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            continue
        labels = dict(_LABEL_RE.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def metric_sum(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == v2 for k, v2 in labels.items()))


def run_ctl(*args, timeout=30, input=None):
    """Runs hotlinectl; returns the CompletedProcess (bytes; see decoded())."""
    require(HOTLINECTL)
    return subprocess.run([str(HOTLINECTL), *map(str, args)], capture_output=True,
                          timeout=timeout, input=input)


def run_hotlined(*args, timeout=30):
    """Runs hotlined in the foreground (for --check or a config it must refuse)."""
    require(HOTLINED)
    return subprocess.run([str(HOTLINED), *map(str, args)], capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def decoded(cp):
    return (cp.stdout.decode("utf-8", errors="replace"),
            cp.stderr.decode("utf-8", errors="replace"))


class Loader:
    """Posts reports from many threads, each with its own keep-alive session."""

    def __init__(self, daemon, threads, per_thread, make_body=None, stop_on_error=True):
        self.daemon = daemon
        self.threads = threads
        self.per_thread = per_thread
        self.make_body = make_body or (lambda t, i: report(
            text=f"Load report {t}/{i}", external_id=f"load-{t}-{i}-{uuid.uuid4().hex[:8]}"))
        self.stop_on_error = stop_on_error
        self.lock = threading.Lock()
        self.sent = {}         # external_id -> body, for every request started
        self.acked = {}        # external_id -> report_id (2xx)
        self.statuses = []     # (external_id, status)
        self.errors = []       # (external_id, repr(exception))
        self.answered = 0
        self.stop_flag = threading.Event()
        self._threads = []

    def _run(self, t):
        s = requests.Session()
        for i in range(self.per_thread):
            if self.stop_flag.is_set():
                break
            body = self.make_body(t, i)
            with self.lock:
                self.sent[body["external_id"]] = body
            try:
                r = self.daemon.post(body, session=s, timeout=15)
            except requests.RequestException as e:
                with self.lock:
                    self.errors.append((body["external_id"], repr(e)))
                if self.stop_on_error:
                    break
                continue
            with self.lock:
                self.answered += 1
                self.statuses.append((body["external_id"], r.status_code))
                if 200 <= r.status_code < 300:
                    self.acked[body["external_id"]] = r.json()["report_id"]
        s.close()

    def start(self):
        for t in range(self.threads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.0, deadline - time.monotonic()))
        return not any(th.is_alive() for th in self._threads)
