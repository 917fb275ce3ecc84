#!/usr/bin/python3
"""Local stand-ins for the Twilio Messages API and the Vonage SMS API (loopback only).

Usage: sms_providers.py RECORD_FILE PORT_FILE CONFIG_JSON
CONFIG_JSON: {"twilio_sid", "twilio_token", "vonage_key", "vonage_secret"}

Each checks a request the way the provider does and answers with the provider's own
JSON, so the channel plugins are tested against what the real services say:

Twilio  POST /2010-04-01/Accounts/{sid}/Messages.json
  HTTP basic auth sid:token (else 401 code 20003); form-encoded To, From or
  MessagingServiceSid (exactly one), Body. Answers 201 {"sid": "SM...", ...}; a To that
  is not E.164 or is Twilio's magic invalid number +15005550001 gets the real 400
  {"code": 21211, ...} (whose message names the number, as Twilio's does); +15005550009
  gets 21614 (not a mobile number). A To in LIMITED gets one 429 (code 20429,
  Retry-After: 1), then 201.
Vonage  POST /sms/json
  api_key and api_secret in the form (else status 4 "Bad Credentials"); from, to (digits,
  no +), text required (else status 2); to 79005550003 is status 3 "Invalid to number";
  a to in LIMITED gets one HTTP 429 (Retry-After: 1). Text with characters outside
  GSM-7 sent without type=unicode is recorded as "garbled" (the real service would
  deliver question marks).

Every request is appended to RECORD_FILE as one JSON line: provider, method, path,
headers, raw body, the decoded form ({name: [values]}), basic-auth user and password,
the status answered and the answer.
"""
import base64
import itertools
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORD_FILE, PORT_FILE, CONFIG = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

LIMITED = {"+79005550429", "79005550429"}
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
# GSM 03.38 default alphabet and extension table (what goes without type=unicode).
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
           "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")

_lock = threading.Lock()
_seen = {}
_ids = itertools.count(1)
_out = open(RECORD_FILE, "a", encoding="utf-8")


def _first_time(key):
    with _lock:
        n = _seen.get(key, 0)
        _seen[key] = n + 1
        return n == 0


def _record(entry):
    line = json.dumps(entry, ensure_ascii=False)
    with _lock:
        _out.write(line + "\n")
        _out.flush()


def _twilio_error(status, code, message):
    return status, {"code": code, "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def twilio(path, headers, form, user, password):
    m = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", path)
    if not m:
        return _twilio_error(404, 20404, "The requested resource was not found"), {}
    if user != CONFIG["twilio_sid"] or password != CONFIG["twilio_token"] \
            or m.group(1) != CONFIG["twilio_sid"]:
        return _twilio_error(401, 20003, "Authenticate"), {}
    if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        return _twilio_error(400, 20001, "Content-Type must be form-encoded"), {}
    to = form.get("To", [""])
    frm, msid = form.get("From"), form.get("MessagingServiceSid")
    body = form.get("Body", [""])
    if len(to) != 1 or not to[0]:
        return _twilio_error(400, 21604, "A 'To' phone number is required."), {}
    if bool(frm) == bool(msid):
        return _twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' is required."), {}
    if not body[0]:
        return _twilio_error(400, 21602, "Message body is required."), {}
    if len(body[0]) > 1600:
        return _twilio_error(400, 21617, "The concatenated message body exceeds 1600"), {}
    to = to[0]
    if not E164.match(to) or to == "+15005550001":
        return _twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number."), {}
    if to == "+15005550009":
        return _twilio_error(400, 21614, f"'To' number {to} is not a valid mobile number"), {}
    if to in LIMITED and _first_time(("twilio", to)):
        return _twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": "1"}
    sid = "SM%032x" % next(_ids)
    return (201, {"sid": sid, "status": "queued", "to": to, "from": frm[0] if frm else None,
                  "messaging_service_sid": msid[0] if msid else None, "body": body[0],
                  "num_segments": "1", "account_sid": CONFIG["twilio_sid"]}), {}


def _vonage(status, text):
    return 200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]}


def vonage(path, headers, form, entry):
    if path != "/sms/json":
        return (404, {"error": "not found"}), {}
    one = {k: v[0] for k, v in form.items()}
    if one.get("api_key") != CONFIG["vonage_key"] or \
            one.get("api_secret") != CONFIG["vonage_secret"]:
        return _vonage("4", "Bad Credentials"), {}
    for field in ("from", "to", "text"):
        if not one.get(field):
            return _vonage("2", f"Missing {field} param"), {}
    to = one["to"]
    if not to.isdigit() or to == "79005550003":
        return _vonage("3", f"Invalid to number {to}"), {}
    if to in LIMITED and _first_time(("vonage", to)):
        return (429, {"type": "https://developer.nexmo.com/api-errors#throttled",
                      "title": "Too Many Requests"}), {"Retry-After": "1"}
    text = one["text"]
    if one.get("type") != "unicode" and any(c not in GSM7 for c in text):
        entry["garbled"] = True
    return (200, {"message-count": "1", "messages": [{
        "to": to, "message-id": "0A%014X" % next(_ids), "status": "0",
        "remaining-balance": "10.00", "message-price": "0.05", "network": "25001",
        **({"client-ref": one["client-ref"]} if "client-ref" in one else {})}]}), {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        received = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        user = password = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        try:
            form = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                                         strict_parsing=bool(raw))
        except (ValueError, UnicodeDecodeError):
            form = {}
        entry = {"time": received, "method": self.command, "path": self.path,
                 "headers": dict(self.headers.items()), "body": raw.decode("utf-8", "replace"),
                 "form": form, "user": user, "password": password}
        if path.startswith("/2010-04-01/"):
            entry["provider"] = "twilio"
            (status, answer), extra = twilio(path, self.headers, form, user, password)
        else:
            entry["provider"] = "vonage"
            (status, answer), extra = vonage(path, self.headers, form, entry)
        entry["status"], entry["answer"] = status, answer
        _record(entry)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, PORT_FILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
