"""The key guarantee: kill -9 loses no acknowledged report and no notification."""
import hashlib
import time

import hotline_harness as h

THREADS = 32
PER_THREAD = 80           # 2560 reports offered
KILL_AFTER = 1000         # answered requests before the kill
MAIL_EVERY = 25           # every 25th report also goes to an email responder


def make_body(t, i):
    n = t * PER_THREAD + i
    text = f"Crash test report {n}"
    if n % MAIL_EVERY == 0:
        text += ": сообщают про арест"
    return {"sender": f"+7900{n:07d}", "text": text, "external_id": f"crash-{n:05d}"}


def test_kill_minus_9_loses_nothing_acknowledged(wd, http_sink, smtp_sink):
    cfg = h.default_config(http_sink, smtp_sink)
    cfg["storage"]["max_batch"] = 512
    cfg["responders"] = [
        h.person("hook", "en", [("ops-webhook", http_sink.url("/ok/crash"))]),
        h.person("mail", "ru", [("email", "crash@example.org")]),
    ]
    cfg["partners"] = []
    cfg["route"] = {"severity": "normal", "notify": ["responder:hook"],
                    "routes": [{"name": "arrest", "keywords": ["арест"], "severity": "critical",
                                "notify": ["responder:mail"]}]}
    d = h.Daemon(wd, cfg).start()

    load = h.Loader(d, THREADS, PER_THREAD, make_body=make_body, stop_on_error=True).start()
    h.wait_until(lambda: load.answered >= KILL_AFTER or not any(
        th.is_alive() for th in load._threads), timeout=60, interval=0.005,
        what=f"{KILL_AFTER} answered reports")
    d.kill9()
    assert load.join(30), "client threads hung after the kill"
    assert not d.alive()
    answered = load.answered
    assert answered < THREADS * PER_THREAD, "the kill came after the load finished"
    non_2xx = [(e, s) for e, s in load.statuses if not 200 <= s < 300]
    assert non_2xx == [], non_2xx[:10]
    acked = dict(load.acked)
    assert len(acked) >= KILL_AFTER

    seen_before_restart = {h.header(r, "Idempotency-Key") for r in http_sink.to("/ok/crash")}
    d.start()  # same DB, same sinks, fresh port

    # Every acknowledged report is there, with the id it was acknowledged with.
    rows = d.q("SELECT id, source, external_id FROM reports")
    by_ext = {}
    for r in rows:
        assert r["source"] == h.SOURCE
        by_ext.setdefault(r["external_id"], []).append(r["id"])
    dups = {e: ids for e, ids in by_ext.items() if len(ids) > 1}
    assert dups == {}, f"duplicate report rows: {list(dups.items())[:5]}"
    missing = [e for e in acked if e not in by_ext]
    assert missing == [], f"{len(missing)} acknowledged reports lost, e.g. {missing[:5]}"
    wrong = [e for e, rid in acked.items() if by_ext[e] != [rid]]
    assert wrong == [], wrong[:5]

    # A client retrying what it never got an answer for gets success, and no new rows
    # for what had been committed.
    unanswered = [e for e in load.sent if e not in acked]
    for e in unanswered:
        r = d.post(load.sent[e])
        assert r.status_code in (200, 202), (e, r.status_code, r.text)
        js = r.json()
        if e in by_ext:
            assert r.status_code == 200 and js["duplicate"] is True, (e, js)
            assert js["report_id"] == by_ext[e][0]
    total = d.q("SELECT COUNT(*) AS n, COUNT(DISTINCT external_id) AS u FROM reports")[0]
    assert total["n"] == total["u"] == len(set(by_ext) | set(unanswered))

    # Every notification of an acknowledged report reaches its sink at least once.
    acked_ids = set(acked.values())
    notes = [n for n in d.q("SELECT id, report_id, case_id, channel, idempotency_key "
                            "FROM notifications")
             if n["report_id"] in acked_ids]
    with_notes = {n["report_id"] for n in notes}
    assert with_notes == acked_ids, f"{len(acked_ids - with_notes)} reports without notifications"
    hook_keys = {n["idempotency_key"] for n in notes if n["channel"] == "ops-webhook"}
    # An email's Message-ID names its case and notification and hashes the key.
    mail_keys = {f"<hotline.c{n['case_id']}.n{n['id']}."
                 f"{hashlib.sha256(n['idempotency_key'].encode()).hexdigest()[:8]}@example.org>"
                 for n in notes if n["channel"] == "email"}
    assert len(hook_keys) == len(acked_ids)
    assert mail_keys, "no email notifications planned; the keyword route did not match"
    # The outbox must have had work left at the kill, or the restart proves nothing.
    pending_at_kill = len(hook_keys - seen_before_restart)
    assert pending_at_kill > 0, "every webhook was out before the kill; slow the channel down"

    def delivered():
        seen_hook = {h.header(r, "Idempotency-Key") for r in http_sink.to("/ok/crash")}
        seen_mail = {m.message_id for m in smtp_sink.to("crash@example.org")}
        lost_hook = hook_keys - seen_hook
        lost_mail = {k for k in mail_keys if k not in seen_mail}
        delivered.last = (len(lost_hook), len(lost_mail))
        return not lost_hook and not lost_mail
    delivered.last = None
    t0 = time.monotonic()
    try:
        h.wait_until(delivered, timeout=60, interval=0.5, what="all notifications delivered")
    except AssertionError as e:
        raise AssertionError(f"{e}; still missing (webhook, email) = {delivered.last}")
    print(f"acked={len(acked)} answered={answered} unanswered={len(unanswered)} "
          f"webhook={len(hook_keys)} pending_at_kill={pending_at_kill} email={len(mail_keys)} "
          f"drain={time.monotonic() - t0:.1f}s")

    # Webhook bodies agree with the stored notification ids.
    by_key = {n["idempotency_key"]: n for n in notes}
    for r in http_sink.to("/ok/crash"):
        n = by_key.get(h.header(r, "Idempotency-Key"))
        if n is not None:
            assert r["json"]["notification_id"] == n["id"]
            assert r["json"]["report_id"] == n["report_id"]
    assert d.stop() == 0
