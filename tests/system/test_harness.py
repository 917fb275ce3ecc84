"""Self-checks of the sinks, so a harness bug is not mistaken for a daemon bug."""
import smtplib
import time
from email.message import EmailMessage

import requests

import hotline_harness as h


def test_http_sink_behaviours(http_sink):
    assert requests.post(http_sink.url("/ok/x"), data=b"{}", timeout=5).json()["id"]
    codes = [requests.post(http_sink.url("/flaky/2/y"), data=b"a", timeout=5).status_code
             for _ in range(3)]
    assert codes == [503, 503, 200]
    assert requests.post(http_sink.url("/flaky/2/z"), data=b"a", timeout=5).status_code == 503
    assert requests.post(http_sink.url("/down/q"), timeout=5).status_code == 500
    assert requests.post(http_sink.url("/gone/q"), timeout=5).status_code == 410
    t0 = time.monotonic()
    assert requests.post(http_sink.url("/slow/0.3/q"), timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.3
    recs = http_sink.records()
    assert len(recs) == 8
    assert recs[0]["raw"] == b"{}" and recs[0]["json"] == {}
    assert [r["hit"] for r in http_sink.to("/flaky/2/y")] == [1, 2, 3]


def test_signature_check_detects_tampering(http_sink):
    import hashlib
    import hmac
    body = b'{"a":1}'
    t = str(int(time.time()))
    sig = hmac.new(h.SIGNING_KEY.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    requests.post(http_sink.url("/ok/sig"), data=body, timeout=5,
                  headers={"X-Hotline-Signature": f"t={t},v1={sig}"})
    requests.post(http_sink.url("/ok/sig"), data=body + b" ", timeout=5,
                  headers={"X-Hotline-Signature": f"t={t},v1={sig}"})
    good, bad = http_sink.to("/ok/sig")
    h.check_signature(good)
    try:
        h.check_signature(bad)
    except AssertionError:
        pass
    else:
        raise AssertionError("tampered body passed the signature check")


def test_smtp_sink_stores_and_rejects(wd):
    sink = h.SmtpSink(wd, reject=["no@example.org"])
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.org"
    msg["Subject"] = "Дело #5"
    msg.set_content("Привет, мир")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
        refused = s.send_message(msg, to_addrs=["b@example.org", "no@example.org"])
    assert "no@example.org" in refused and refused["no@example.org"][0] == 550
    m = sink.wait_to("b@example.org")[0]
    assert m.rcpt_tos == ["b@example.org"]
    assert m.subject == "Дело #5"
    assert "Привет, мир" in m.text
    assert sink.to("no@example.org") == []
