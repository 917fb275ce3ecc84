"""SMS state (issue 9): concatenated parts joined into one report (Vonage concat-* posted
out of order, a part missing until parts_timeout, kill -9 between parts), STOP/START from
a responder's number honoured by the Kannel channel (the next contact is used), STOP from
anyone else a report, and receipts through the Kannel channel with their per-day limit.
One daemon and one real Kannel (bearerbox + smsbox + fake SMSC) for the module."""
import json
import time

import pytest
import requests

import hotline_harness as h
import kannel

TOKEN = "vonage0path0token0abcdef"
TOKEN_R = "vonage0path0token0rcpt00"
KANNEL_SECRET = "kannel-get-url-secret"
ALICE_SMS = "+79001112233"  # alice's first contact, on the kannel channel


@pytest.fixture(scope="module")
def env():
    wd = h.Workdir("hotline-sms-state-")
    k = None
    try:
        sink = h.HttpSink(wd)
        port = h.free_port()
        k = kannel.Kannel(f"http://127.0.0.1:{port}/v1/sms/kn?secret={KANNEL_SECRET}&from=%p"
                          "&to=%P&text=%a&id=%I&coding=%c&charset=%C&udh=%u&smsc=%i").start()
        cfg = h.default_config(sink, None)
        cfg["channels"].append(
            {"name": "kannel", "type": "kannel", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"url": k.sendsms_url, "username": k.user,
                         "password_file": "kannel.password", "from": "1234"}})
        cfg["responders"].append(h.person("alice", "en", [("kannel", ALICE_SMS),
                                                          ("ops-webhook", sink.url("/ok/alice"))]))
        # SMS reports go to the webhook responder "en"; alerts for alice name her.
        cfg["route"] = {"severity": "normal", "notify": ["responder:en"],
                        "routes": [{"name": "to-alice", "match": ['labels.to = "alice"'],
                                    "notify": ["responder:alice"]}]}
        body = {"subject": "Case #{{case_id}}", "body": "Case #{{case_id}}: {{text}}"}
        cfg["templates"] = {"kannel": {"en": body, "ru": body}}
        cfg["sources"] += [
            {"name": "vo", "kind": "sms", "gateway": "vonage", "token_file": "vo.token",
             "parts_timeout": "10s"},
            {"name": "kn", "kind": "sms", "gateway": "kannel", "secret_file": "kn.secret",
             "allowed_addresses": ["127.0.0.0/8", "::1"], "default_region": "RU"},
            {"name": "vo-rcpt", "kind": "sms", "gateway": "vonage", "token_file": "vor.token",
             "receipt": {"enabled": True, "channel": "kannel", "max_per_day": 1,
                         "text": {"en": "We received your message.",
                                  "ru": "Мы получили ваше сообщение."}}},
        ]
        d = h.Daemon(wd, cfg)
        (d.secrets / "vo.token").write_text(TOKEN + "\n")
        (d.secrets / "vor.token").write_text(TOKEN_R + "\n")
        (d.secrets / "kn.secret").write_text(KANNEL_SECRET + "\n")
        (d.secrets / "kannel.password").write_text(k.password + "\n")
        d.start(port=port)
    except BaseException:
        if k is not None:
            k.close()
        wd.close(keep=True)
        raise
    yield d, k, sink
    k.close()
    d.stop()
    wd.close()


_ids = iter(range(1, 10**6))


def vonage(d, text, sender="447700900001", source="vo", token=TOKEN, **extra):
    p = {"msisdn": sender, "to": "447700900000", "messageId": f"0C{next(_ids):014d}",
         "text": text, "type": "text", "message-timestamp": "2026-12-02 18:00:00"}
    p.update(extra)
    return requests.get(d.url(f"/v1/sms/{source}/{token}"), params=p, timeout=15)


def part(d, ref, n, total, text, sender="447700900001"):
    r = vonage(d, text, sender, concat="true", **{"concat-ref": ref, "concat-total": str(total),
                                                  "concat-part": str(n)})
    assert r.status_code in (200, 204), r.text
    return r


def reports(d, source="vo"):
    rows = d.q("SELECT id, external_id, sender, text, details FROM reports WHERE source = ? "
               "ORDER BY id", source)
    for r in rows:
        r["details"] = json.loads(r["details"]) if r["details"] else {}
    return rows


def test_three_parts_out_of_order_make_one_exact_report(env):
    d, _, _ = env
    before = len(reports(d))
    texts = ["Задержали троих у станции ", "метро, везут в ОВД ", "Тверской. Нужен адвокат."]
    for n in (3, 1, 2):
        part(d, "a1", n, 3, texts[n - 1], sender="447700900011")
        if n != 2:
            assert len(reports(d)) == before  # held, not a report yet
    rows = h.wait_until(lambda: (lambda r: r if len(r) == before + 1 else None)(reports(d)),
                        what="the joined report")
    got = rows[-1]
    assert got["text"] == "".join(texts)
    assert got["sender"] == "+447700900011"
    assert got["details"]["parts_total"] == 3
    assert "missing_parts" not in got["details"]
    # A repeated part afterwards: success, nothing new.
    part(d, "a1", 2, 3, texts[1], sender="447700900011")
    assert len(reports(d)) == before + 1
    # Nothing of the text is in the log or on disk in clear.
    assert "Тверской" not in d.log_text()
    raw = d.db().execute("SELECT text FROM sms_parts").fetchall()
    assert all(isinstance(t[0], bytes) or t[0] == "" for t in raw)


def test_missing_part_is_stored_after_the_timeout_with_a_note(env):
    d, _, _ = env
    before = len(reports(d))
    started = time.monotonic()
    part(d, "b2", 1, 3, "Начало ", sender="447700900012")
    part(d, "b2", 3, 3, " конец", sender="447700900012")
    rows = h.wait_until(lambda: (lambda r: r if len(r) == before + 1 else None)(reports(d)),
                        timeout=30, what="the timed-out report")
    assert time.monotonic() - started >= 9  # not before parts_timeout (10 s)
    got = rows[-1]
    assert got["text"] == "Начало […] конец"
    assert got["details"]["missing_parts"] == [2]
    assert got["details"]["parts_total"] == 3
    # The late part joins the same group: the same report, no second one.
    part(d, "b2", 2, 3, "середина", sender="447700900012")
    time.sleep(0.5)
    assert len(reports(d)) == before + 1


def test_kill9_between_parts_then_restart_one_report(env):
    d, _, _ = env
    before = len(reports(d))
    part(d, "c3", 2, 3, "two ", sender="447700900013")
    part(d, "c3", 1, 3, "one ", sender="447700900013")
    d.kill9()
    d.start(port=d.port)
    part(d, "c3", 3, 3, "three", sender="447700900013")
    rows = h.wait_until(lambda: (lambda r: r if len(r) == before + 1 else None)(reports(d)),
                        what="the joined report after the restart")
    assert rows[-1]["text"] == "one two three"
    time.sleep(0.5)
    assert len(reports(d)) == before + 1


def test_stop_from_a_responder_then_start(env):
    d, k, sink = env
    before = len(reports(d))
    r = vonage(d, "  Stop ", sender=ALICE_SMS[1:])
    assert r.status_code in (200, 204)
    h.wait_until(lambda: d.q("SELECT COUNT(*) AS n FROM sms_opt_outs")[0]["n"] == 1,
                 what="the opt-out recorded")
    assert len(reports(d)) == before  # not a report
    assert "responder=alice sent STOP" in d.log_text()
    assert ALICE_SMS not in d.log_text()
    audit = d.q("SELECT kind, detail FROM audit_events WHERE kind = 'sms_opt_out'")
    assert audit and json.loads(audit[-1]["detail"]) == {"responder": "alice"}
    # An alert for alice: no SMS to her number; the webhook contact is used instead.
    ids = d.submit(h.report(text="After STOP", labels={"to": "alice"}))
    rows = d.wait_settled(ids["report_id"], min_count=2)
    sms = [x for x in rows if x["channel"] == "kannel"]
    assert sms and sms[0]["status"] == "failed"
    assert sms[0]["last_error"] == "recipient opted out (STOP)"
    assert any(x["channel"] == "ops-webhook" and x["status"] == "delivered" for x in rows)
    assert not [m for m in k.received() if "After STOP" in m[3]]
    # START: SMS to her again.
    assert vonage(d, "START", sender=ALICE_SMS[1:]).status_code in (200, 204)
    h.wait_until(lambda: d.q("SELECT COUNT(*) AS n FROM sms_opt_outs")[0]["n"] == 0,
                 what="the opt-out cleared")
    d.submit(h.report(text="After START", labels={"to": "alice"}))
    got = h.wait_until(lambda: [m for m in k.received() if "After START" in m[3]],
                       what="the SMS to alice after START")
    assert got[0][1].lstrip("+") == ALICE_SMS[1:]


def test_stop_from_anyone_else_is_a_report(env):
    d, _, _ = env
    before = len(reports(d))
    assert vonage(d, "STOP", sender="447700900099").status_code in (200, 204)
    assert vonage(d, "stop the car", sender=ALICE_SMS[1:]).status_code in (200, 204)
    rows = h.wait_until(lambda: (lambda r: r if len(r) == before + 2 else None)(reports(d)),
                        what="two ordinary reports")
    assert [x["text"] for x in rows[-2:]] == ["STOP", "stop the car"]


def test_receipt_once_per_day_to_the_reporter(env):
    d, k, _ = env
    assert vonage(d, "Нас задержали у суда, нужна помощь", sender="79005550001",
                  source="vo-rcpt", token=TOKEN_R).status_code in (200, 204)

    def to_reporter():
        return [m for m in k.received() if m[1].lstrip("+") == "79005550001"]
    mine = h.wait_until(to_reporter, what="the receipt at the fake SMSC")
    assert len(mine) == 1 and mine[0][3] == "Мы получили ваше сообщение.", mine
    # A second report the same day: no second receipt.
    assert vonage(d, "Ещё одно сообщение", sender="79005550001", source="vo-rcpt",
                  token=TOKEN_R).status_code in (200, 204)
    h.wait_until(lambda: len(reports(d, "vo-rcpt")) == 2, what="the second report")
    time.sleep(1.0)
    assert len(to_reporter()) == 1
    rows = d.q("SELECT id, target, payload FROM notifications WHERE target = 'reporter'")
    assert len(rows) == 1
    payload = rows[0]["payload"]
    payload = payload.decode() if isinstance(payload, bytes) else payload
    assert json.loads(payload)["kind"] == "receipt"
    assert "задержали" not in payload


def test_three_parts_through_real_kannel_with_udh(env):
    d, k, _ = env
    texts = ["Detained-at", "-the-court", "-need-a-lawyer"]
    for n in (2, 3, 1):
        k.send("79001230077", "1234", texts[n - 1], udh=bytes([5, 0, 3, 0x2A, 3, n]))
    rows = h.wait_until(lambda: (lambda r: r if r else None)(reports(d, "kn")),
                        what="the joined Kannel report")
    time.sleep(0.5)
    rows = reports(d, "kn")
    assert len(rows) == 1
    assert rows[0]["text"] == "".join(texts)
    assert rows[0]["sender"] == "+79001230077"
    assert rows[0]["details"]["parts_total"] == 3
