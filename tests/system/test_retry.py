"""Retries with one idempotency key, fall-through to the next contact, dead letters."""
import json

import pytest

import hotline_harness as h

DOOMED_EMAIL = "doomed@example.org"


@pytest.fixture
def smtp_sink(wd):
    return h.SmtpSink(wd, reject=[DOOMED_EMAIL])


@pytest.fixture
def cfg(base_cfg, http_sink):
    base_cfg["responders"] += [
        h.person("flaky", "en", [("ops-webhook", http_sink.url("/flaky/3/a")),
                                 ("email", "flaky@example.org")]),
        h.person("gone", "en", [("ops-webhook", http_sink.url("/gone/b")),
                                ("email", "gone@example.org")]),
        h.person("doomed", "en", [("ops-webhook", http_sink.url("/down/c")),
                                  ("email", DOOMED_EMAIL)]),
        h.person("patient", "en", [("ops-webhook", http_sink.url("/limited/1/2/e")),
                                   ("email", "patient@example.org")]),
        h.person("sloth", "en", [("slow-hook", http_sink.url("/slow/3/d")),
                                 ("email", "sloth@example.org")]),
    ]
    base_cfg["channels"].append(
        {"name": "slow-hook", "type": "webhook", "timeout": "300ms",
         "retry": {"max_attempts": 2, "initial_backoff": "100ms", "max_backoff": "200ms",
                   "max_age": "1h"},
         "options": {"secret_file": "webhook-signing.key"}})
    base_cfg["route"]["routes"] = []
    return base_cfg


def start(wd, cfg, responder):
    cfg["route"]["notify"] = [f"responder:{responder}"]
    return h.Daemon(wd, cfg).start()


def test_flaky_webhook_is_retried_with_one_key(wd, cfg, http_sink, smtp_sink):
    d = start(wd, cfg, "flaky")
    ids = d.submit(h.report(text="flaky endpoint"))
    reqs = http_sink.wait_for(lambda r: r["path"] == "/flaky/3/a", count=4,
                              what="requests to /flaky/3/a")
    rows = d.wait_settled(ids["report_id"])
    assert len(rows) == 1, rows
    n = rows[0]
    assert n["status"] == "delivered", n
    assert n["attempts"] == 4, n
    assert n["channel"] == "ops-webhook"
    reqs = http_sink.to("/flaky/3/a")
    assert [r["status"] for r in reqs] == [503, 503, 503, 200]
    keys = {h.header(r, "Idempotency-Key") for r in reqs}
    assert keys == {n["idempotency_key"]}, keys
    for r in reqs:
        h.check_signature(r)
        assert r["json"]["notification_id"] == n["id"]
    ok_seq = reqs[-1]["seq"]
    assert n["provider_id"] == f"sink-{ok_seq}", n["provider_id"]
    assert smtp_sink.to("flaky@example.org") == []
    samples = d.metrics()
    assert h.metric_sum(samples, "hotline_notifications_retried_total",
                        channel="ops-webhook") >= 3
    assert h.metric_sum(samples, "hotline_notifications_sent_total", channel="ops-webhook") >= 1


def test_retry_after_is_honoured(wd, cfg, http_sink, smtp_sink):
    d = start(wd, cfg, "patient")
    ids = d.submit(h.report(text="rate limited endpoint"))
    reqs = http_sink.wait_for(lambda r: r["path"] == "/limited/1/2/e", count=2,
                              what="requests to /limited/1/2/e")
    assert [r["status"] for r in reqs] == [429, 200]
    gap = reqs[1]["time"] - reqs[0]["time"]
    # Retry-After: 2 beats the 100 ms..500 ms backoff of the channel.
    assert gap >= 1.9, f"retried after {gap:.2f}s despite Retry-After: 2"
    rows = d.wait_settled(ids["report_id"])
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 2)]
    assert len({h.header(r, "Idempotency-Key") for r in reqs}) == 1


def test_permanent_failure_falls_through_to_next_contact(wd, cfg, http_sink, smtp_sink):
    d = start(wd, cfg, "gone")
    ids = d.submit(h.report(text="Gone endpoint, please email me instead"))
    mail = smtp_sink.wait_to("gone@example.org")[0]
    assert mail.header("X-Hotline-Case") == str(ids["case_id"])
    assert "Gone endpoint, please email me instead" in mail.text
    rows = d.wait_settled(ids["report_id"], min_count=2)
    by_channel = {r["channel"]: r for r in rows}
    assert set(by_channel) == {"ops-webhook", "email"}, rows
    hook, mailrow = by_channel["ops-webhook"], by_channel["email"]
    assert hook["status"] == "failed", hook
    assert hook["attempts"] == 1, "410 is permanent: no retry"
    assert hook["last_error"]
    assert mailrow["status"] == "delivered", mailrow
    assert mailrow["contact_index"] == 1
    assert mailrow["target"] == "responder:gone"
    assert mailrow["idempotency_key"] != hook["idempotency_key"]
    assert len(http_sink.to("/gone/b")) == 1
    assert smtp_sink.to("ops@example.org") == [], "no dead letter when a later contact works"


def test_timeouts_are_retried_then_fall_through(wd, cfg, http_sink, smtp_sink):
    d = start(wd, cfg, "sloth")
    ids = d.submit(h.report(text="slow endpoint"))
    smtp_sink.wait_to("sloth@example.org")
    rows = d.wait_settled(ids["report_id"], min_count=2)
    hook = [r for r in rows if r["channel"] == "slow-hook"]
    assert len(hook) == 1 and hook[0]["status"] == "failed" and hook[0]["attempts"] == 2, rows
    assert hook[0]["last_error"]
    assert len(http_sink.to("/slow/3/d")) == 2


def test_everything_failing_ends_in_a_dead_letter(wd, cfg, http_sink, smtp_sink):
    d = start(wd, cfg, "doomed")
    ids = d.submit(h.report(text="Nobody can be reached"))
    admin_mail = smtp_sink.wait_to("ops@example.org", timeout=30)[0]
    words = (admin_mail.subject + "\n" + admin_mail.text).lower()
    assert "dead" in words, (admin_mail.subject, admin_mail.text)
    assert "Nobody can be reached" not in admin_mail.text, "dead letter must not carry the text"

    rows = wait_all_final(d)
    mine = [r for r in rows if r["target"] == "responder:doomed"]
    hook = [r for r in mine if r["channel"] == "ops-webhook"]
    mail = [r for r in mine if r["channel"] == "email"]
    assert len(hook) == 1 and len(mail) == 1, mine
    assert hook[0]["status"] == "failed" and hook[0]["attempts"] == 5, hook
    assert mail[0]["status"] == "dead", mail
    assert mail[0]["last_error"]
    assert len(http_sink.to("/down/c")) == 5
    assert smtp_sink.to(DOOMED_EMAIL) == []

    admin = [r for r in rows if r["target"].startswith("admin:")]
    assert len(admin) == 1, admin
    assert admin[0]["target"] == "admin:ops"
    assert admin[0]["status"] == "delivered"
    payload = json.loads(admin[0]["payload"])
    assert payload["kind"] == "dead_letter"
    # schema.md shows the dead notification as "notification_id", while the store contract
    # sets every payload's notification_id to the row's own id; the daemon resolves that
    # with "failed_notification_id". Either way the dead one must be named.
    assert mail[0]["id"] in (payload.get("failed_notification_id"),
                             payload.get("notification_id")), payload
    assert payload["report_id"] == ids["report_id"]
    assert payload["case_id"] == ids["case_id"]
    assert payload["target"] == "responder:doomed"
    assert payload["channel"] == "email"
    assert "text" not in payload and "sender" not in payload

    samples = d.metrics()
    assert h.metric_sum(samples, "hotline_notifications_dead_total") >= 1
    assert h.metric_sum(samples, "hotline_notifications_failed_total") >= 1


def wait_all_final(d, timeout=h.DEFAULT_TIMEOUT):
    def final():
        rows = d.q("SELECT * FROM notifications ORDER BY id")
        return rows if rows and all(r["status"] != "pending" for r in rows) else None
    return h.wait_until(final, timeout=timeout, what="all notifications final")
