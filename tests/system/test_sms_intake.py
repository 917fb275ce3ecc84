"""SMS intake (issue 9): each gateway's documented inbound payloads posted to hotlined's
`kind: sms` paths: signatures valid and invalid, tampered bodies, GET and POST forms,
repeats; the status and body each gateway expects, and what is stored (sealed). Kannel
through a real bearerbox + smsbox with a fake SMSC: a Russian UCS-2 SMS and an English
one arrive as reports with the right text. One daemon for the module."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest
import requests

import hotline_harness as h
import kannel

TWILIO_TOKEN = "twilio-auth-token-0123456789"
VONAGE_SECRET = "vonage-signature-secret"
VONAGE_TOKEN = "vonage0path0token0abcdef"
SMSSYNC_SECRET = "smssync-phone-secret"
KANNEL_SECRET = "kannel-get-url-secret"
TWILIO_PUBLIC = "https://hotline.example.org/sms/twilio"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_sig(url, params):
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(TWILIO_TOKEN.encode(), data.encode(),
                                     hashlib.sha1).digest()).decode()


def vonage_sig(params, secret=VONAGE_SECRET):
    data = "".join("&%s=%s" % (k, str(v).replace("&", "_").replace("=", "_"))
                   for k, v in sorted(params.items()) if k != "sig")
    return hmac.new(secret.encode(), data.encode(), hashlib.sha256).hexdigest().upper()


@pytest.fixture(scope="module")
def env():
    wd = h.Workdir("hotline-sms-")
    sink = h.HttpSink(wd)
    port = h.free_port()
    mo = (f"http://127.0.0.1:{port}/v1/sms/kannel?secret={KANNEL_SECRET}&from=%p&to=%P"
          "&text=%a&id=%I&coding=%c&charset=%C&udh=%u&smsc=%i")
    k = kannel.Kannel(mo)
    cfg = h.default_config(sink, None)
    cfg["sources"] += [
        {"name": "twilio", "kind": "sms", "gateway": "twilio", "default_region": "RU",
         "auth_token_file": "twilio.token", "public_url": TWILIO_PUBLIC},
        {"name": "vonage", "kind": "sms", "gateway": "vonage", "signature_method": "sha256",
         "signature_secret_file": "vonage.sig"},
        {"name": "vonage-plain", "kind": "sms", "gateway": "vonage", "token_file": "vonage.token"},
        {"name": "phone", "kind": "sms", "gateway": "smssync", "secret_file": "smssync.secret",
         "default_region": "RU", "path": "/v1/smssync"},
        {"name": "kannel", "kind": "sms", "gateway": "kannel", "secret_file": "kannel.secret",
         "allowed_addresses": ["127.0.0.0/8", "::1"], "default_region": "RU"},
    ]
    d = h.Daemon(wd, cfg)
    for name, value in (("twilio.token", TWILIO_TOKEN), ("vonage.sig", VONAGE_SECRET),
                        ("vonage.token", VONAGE_TOKEN), ("smssync.secret", SMSSYNC_SECRET),
                        ("kannel.secret", KANNEL_SECRET)):
        (d.secrets / name).write_text(value + "\n")
    d.start(port=port)
    k.start()
    yield d, k
    k.close()
    d.stop()
    wd.close()


def reports(d, source):
    rows = d.q("SELECT id, source, source_kind, external_id, sender, text, details "
               "FROM reports WHERE source = ? ORDER BY id", source)
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
    return rows


def wait_reports(d, source, n):
    return h.wait_until(lambda: (lambda r: r if len(r) >= n else None)(reports(d, source)),
                        what=f"{n} reports of {source}")


def twilio_fields(sid, body, sender="+79001234567"):
    return {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": body, "FromCountry": "RU", "To": "+15005550006", "ToZip": "",
            "NumSegments": "1", "MessageSid": sid,
            "AccountSid": "AC1234567890abcdef1234567890abcdef", "From": sender,
            "ApiVersion": "2010-04-01"}


def test_twilio_post_signed_stored_once(env):
    d, _ = env
    f = twilio_fields("SM00000000000000000000000000000001", "Нас задержали у суда")
    headers = {"X-Twilio-Signature": twilio_sig(TWILIO_PUBLIC, f)}
    r = requests.post(d.url("/v1/sms/twilio"), data=f, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/xml")
    assert r.text == TWIML and "<Message>" not in r.text
    rows = wait_reports(d, "twilio", 1)
    assert rows[0]["text"] == "Нас задержали у суда"
    assert rows[0]["sender"] == "+79001234567"
    assert rows[0]["source_kind"] == "sms"
    assert rows[0]["external_id"] == "sms:SM00000000000000000000000000000001"
    assert rows[0]["details"]["country"] == "RU"
    # A repeat (Twilio retries): success, nothing new.
    r = requests.post(d.url("/v1/sms/twilio"), data=f, headers=headers, timeout=10)
    assert r.status_code == 200 and r.text == TWIML
    assert len(reports(d, "twilio")) == 1


def test_twilio_bad_signatures_store_nothing(env):
    d, _ = env
    f = twilio_fields("SM00000000000000000000000000000002", "Tampered")
    sig = twilio_sig(TWILIO_PUBLIC, f)
    tampered = dict(f, Body="Tampered!")
    before = len(reports(d, "twilio"))
    for data, headers in ((tampered, {"X-Twilio-Signature": sig}),
                          (f, {"X-Twilio-Signature": "AAAA" + sig[4:]}),
                          (f, {})):
        r = requests.post(d.url("/v1/sms/twilio"), data=data, headers=headers, timeout=10)
        assert r.status_code == 403
    # Signed over the loopback URL instead of public_url: refused too.
    r = requests.post(d.url("/v1/sms/twilio"), data=f, timeout=10,
                      headers={"X-Twilio-Signature": twilio_sig(d.url("/v1/sms/twilio"), f)})
    assert r.status_code == 403
    assert len(reports(d, "twilio")) == before
    samples = d.metrics()
    assert h.metric_sum(samples, "hotline_reports_rejected_total", source="twilio",
                        reason="signature_invalid") >= 3
    assert h.metric_sum(samples, "hotline_reports_rejected_total", source="twilio",
                        reason="signature_missing") >= 1
    log = d.log_text()
    assert "Tampered" not in log and "+79001234567" not in log
    assert log.count("sms request rejected source=twilio") == 1  # once a minute


def test_twilio_get_form(env):
    d, _ = env
    f = twilio_fields("SM00000000000000000000000000000003", "GET form")
    query = urllib.parse.urlencode(f)
    sig = twilio_sig(TWILIO_PUBLIC + "?" + query, {})
    r = requests.get(d.url("/v1/sms/twilio?" + query), headers={"X-Twilio-Signature": sig},
                     timeout=10)
    assert r.status_code == 200 and r.text == TWIML
    assert any(x["text"] == "GET form" for x in wait_reports(d, "twilio", 2))


def vonage_params(mid, text, **extra):
    p = {"msisdn": "447700900001", "to": "447700900000", "messageId": mid, "text": text,
         "type": "text", "keyword": text.split()[0].upper(),
         "message-timestamp": "2026-12-02 18:00:00", "timestamp": str(int(time.time())),
         "nonce": "aaaaaaaa-bbbb-cccc-dddd-" + mid[-12:].rjust(12, "0")}
    p.update(extra)
    return p


def test_vonage_signed_get_post_json(env):
    d, _ = env
    for i, send in enumerate(("get", "form", "json")):
        p = vonage_params(f"0A00000000000{i:03d}", f"Vonage {send} & co = ok")
        p["sig"] = vonage_sig(p)
        if send == "get":
            r = requests.get(d.url("/v1/sms/vonage"), params=p, timeout=10)
        elif send == "form":
            r = requests.post(d.url("/v1/sms/vonage"), data=p, timeout=10)
        else:
            r = requests.post(d.url("/v1/sms/vonage"), json=p, timeout=10)
        assert r.status_code == 204, (send, r.text)
    rows = wait_reports(d, "vonage", 3)
    assert [x["text"] for x in rows] == ["Vonage get & co = ok", "Vonage form & co = ok",
                                         "Vonage json & co = ok"]
    assert rows[0]["sender"] == "+447700900001"
    # Repeat, tampered, stale.
    p = vonage_params("0A00000000000000", "Vonage get & co = ok")
    p["sig"] = vonage_sig(p)
    assert requests.get(d.url("/v1/sms/vonage"), params=p, timeout=10).status_code == 204
    bad = dict(p, text="changed")
    assert requests.get(d.url("/v1/sms/vonage"), params=bad, timeout=10).status_code == 403
    old = vonage_params("0A00000000000099", "old", timestamp=str(int(time.time()) - 3600))
    old["sig"] = vonage_sig(old)
    assert requests.get(d.url("/v1/sms/vonage"), params=old, timeout=10).status_code == 403
    assert len(reports(d, "vonage")) == 3


def test_vonage_token_in_path(env):
    d, _ = env
    p = vonage_params("0B00000000000001", "Token path")
    assert requests.get(d.url(f"/v1/sms/vonage-plain/{VONAGE_TOKEN}"), params=p,
                        timeout=10).status_code == 204
    assert requests.get(d.url("/v1/sms/vonage-plain/wrong0token0abcdefghij"), params=p,
                        timeout=10).status_code == 403
    assert requests.get(d.url("/v1/sms/vonage-plain"), params=p, timeout=10).status_code == 403
    rows = wait_reports(d, "vonage-plain", 1)
    assert len(rows) == 1 and rows[0]["text"] == "Token path"


def test_smssync(env):
    d, _ = env
    f = {"from": "+79001112233", "message": "Обыск в офисе", "message_id": "sync-1",
         "sent_to": "+79007654321", "secret": SMSSYNC_SECRET,
         "sent_timestamp": str(int(time.time() * 1000)), "device_id": "1"}
    r = requests.post(d.url("/v1/smssync"), data=f, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"payload": {"success": True, "error": None}}
    r = requests.post(d.url("/v1/smssync"), data=dict(f, secret="guess"), timeout=10)
    assert r.status_code == 403
    assert r.json()["payload"]["success"] is False
    assert requests.post(d.url("/v1/smssync"), data=f, timeout=10).json()["payload"]["success"]
    r = requests.get(d.url("/v1/smssync"), params={"task": "send", "secret": SMSSYNC_SECRET},
                     timeout=10)
    assert r.json() == {"payload": {"task": "send", "secret": SMSSYNC_SECRET, "messages": []}}
    rows = wait_reports(d, "phone", 1)
    assert len(reports(d, "phone")) == 1
    assert rows[0]["text"] == "Обыск в офисе"
    assert rows[0]["details"]["recipient"] == "+79007654321"


def test_unknown_paths_and_methods(env):
    d, _ = env
    assert requests.get(d.url("/v1/sms/nothing"), timeout=10).status_code == 404
    assert requests.get(d.url("/v1/reports"), timeout=10).status_code == 405
    r = requests.put(d.url("/v1/sms/twilio"), data="x", timeout=10)
    assert r.status_code == 405


def test_kannel_real_bearerbox(env):
    d, k = env
    k.send("79001234567", "1234", "Привет, мир! Нас задержали.")
    k.send("79001234568", "1234", "Hello from an English handset")
    rows = wait_reports(d, "kannel", 2)
    texts = sorted(x["text"] for x in rows)
    assert texts == ["Hello from an English handset", "Привет, мир! Нас задержали."]
    by_text = {x["text"]: x for x in rows}
    assert by_text["Привет, мир! Нас задержали."]["sender"] == "+79001234567"
    assert by_text["Hello from an English handset"]["details"]["smsc"] == "FAKE"
    # A wrong secret straight at the endpoint (not through Kannel).
    r = requests.get(d.url("/v1/sms/kannel"), params={"secret": "no", "from": "1", "text": "x"},
                     timeout=10)
    assert r.status_code == 403


def test_reload_adds_and_removes_paths(env):
    d, _ = env
    cfg = d.cfg
    cfg["sources"].append({"name": "late", "kind": "sms", "gateway": "smssync",
                           "secret_file": "smssync.secret"})
    d.write_config(cfg)
    d.hup()
    f = {"from": "+79001112299", "message": "after reload", "message_id": "late-1",
         "secret": SMSSYNC_SECRET}
    h.wait_until(lambda: requests.post(d.url("/v1/sms/late"), data=f, timeout=10).status_code
                 == 200, what="the new path served")
    cfg["sources"] = [s for s in cfg["sources"] if s["name"] != "late"]
    d.write_config(cfg)
    d.hup()
    h.wait_until(lambda: requests.post(d.url("/v1/sms/late"), data=f, timeout=10).status_code
                 == 404, what="the removed path gone")
