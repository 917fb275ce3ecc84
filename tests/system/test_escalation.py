"""Escalation until someone acknowledges (docs/escalation.md): policy steps fire from the
durable timers table, step by step and round by round, then the admins hear that nobody
acknowledged; an acknowledgement cancels what is pending; kill -9 with steps pending fires
each due step exactly once after the restart; reports of one sender group into one case."""
import json
import time

import pytest

import hotline_harness as h

STEP = "2s"  # ack_within: short, so the test sees several steps


def escalating(cfg, http, steps=None, repeat=0, notify_on=("ack", "resolve"), **route):
    cfg["policies"] = [{
        "id": "rapid",
        "steps": steps or [
            {"targets": ["responder:en"], "ack_within": STEP},
            {"targets": ["responder:ru", "partner:ngo"], "ack_within": STEP},
        ],
        "repeat": repeat,
        "notify_on": list(notify_on),
    }]
    cfg["route"] = {"severity": "high", "notify": [], "policy": "rapid", **route}
    return cfg


def alerts(sink, case_id, path=None):
    return [r for r in sink.records()
            if r["json"] and r["json"].get("case_id") == case_id
            and r["json"].get("kind") == "alert"
            and (path is None or r["path"].startswith(path))]


def events(d, case_id):
    return [row["kind"] for row in d.q(
        "SELECT kind FROM audit_events WHERE case_id = ? ORDER BY id", case_id)]


def test_nobody_acknowledges_steps_fire_then_repeat_then_admins(wd, http_sink, smtp_sink):
    cfg = escalating(h.default_config(http_sink, smtp_sink), http_sink, repeat=1)
    d = h.Daemon(wd, cfg).start()
    case = d.submit(h.report("Followed by two men near the office"))["case_id"]
    # Round 0: step 1 (en), step 2 (ru + ngo); round 1: the same again; then the admins.
    smtp_sink.wait_to("ops@example.org", lambda m: f"#{case}" in m.subject, timeout=30)
    got = alerts(http_sink, case)
    by_target = {}
    for r in got:
        by_target.setdefault(r["json"]["target"], []).append(r["json"])
    assert sorted(by_target) == ["partner:ngo", "responder:en", "responder:ru"]
    assert len(by_target["responder:en"]) == 2
    assert len(by_target["responder:ru"]) == 2
    assert len(by_target["partner:ngo"]) == 2
    first = by_target["responder:en"][0]
    assert first["escalation_step"] == 1 and first["escalated"] is False
    assert by_target["responder:ru"][0]["escalated"] is True
    assert by_target["responder:en"][1]["escalation_round"] == 1
    # The partner sees only what its profile lets it (labels), never the text.
    assert "text" not in by_target["partner:ngo"][0]
    # Every delivery's audit event names the report fields it disclosed.
    disclosed = {}
    for row in d.q("SELECT n.target, a.detail FROM audit_events a JOIN notifications n "
                   "ON n.id = a.notification_id WHERE a.kind = 'notification_delivered' "
                   "AND a.case_id = ?", case):
        disclosed.setdefault(row["target"], set()).update(json.loads(row["detail"])["fields"])
    assert disclosed["partner:ngo"] == {"report_labels"}
    assert {"text", "sender"} <= disclosed["responder:en"]
    kinds = events(d, case)
    assert kinds.count("escalation_step") == 3  # steps 2, 1 (round 1), 2 (round 1)
    assert "escalation_exhausted" in kinds
    assert kinds.index("escalation_exhausted") > max(
        i for i, k in enumerate(kinds) if k == "escalation_step")
    assert d.q("SELECT state FROM cases WHERE id = ?", case)[0]["state"] == "open"


def test_kill9_with_steps_pending_each_due_step_fires_exactly_once(wd, http_sink, smtp_sink):
    cfg = escalating(h.default_config(http_sink, smtp_sink), http_sink,
                     steps=[{"targets": ["responder:en"], "ack_within": "2s"},
                            {"targets": ["responder:ru"], "ack_within": "2s"},
                            {"targets": ["partner:ngo"], "ack_within": "1h"}])
    d = h.Daemon(wd, cfg).start()
    cases = [d.submit(h.report(f"Report {i} at the protest"))["case_id"] for i in range(5)]
    http_sink.wait_for(lambda r: r["json"] and r["json"].get("target") == "responder:en"
                       and r["json"].get("case_id") in cases, count=5, what="step 1 alerts")
    d.kill9()
    # Down while step 2 (due 2s after step 1) and then step 3 (2s later) come due.
    h.wait_until(lambda: min(r["due_at"] for r in d.q(
        "SELECT due_at FROM timers WHERE fired_at IS NULL AND kind = 'escalation_step'"))
        < time.time() * 1000 - 2500, timeout=10, what="both steps overdue")
    d.start()
    # After the restart step 2 fires at once, then step 3 two seconds later: once each.
    http_sink.wait_for(lambda r: r["json"] and r["json"].get("target") == "partner:ngo"
                       and r["json"].get("case_id") in cases, count=5, timeout=30,
                       what="step 3 alerts after the restart")
    for case in cases:
        # Delivery is at least once: an alert the sink took just before the kill, whose
        # outcome was not committed yet, is sent again with the same notification_id (the
        # receiver's idempotency key). Each step's notification is one, exactly.
        got = {r["json"]["notification_id"]: r["json"]["target"] for r in alerts(http_sink, case)}
        targets = sorted(got.values())
        assert targets == ["partner:ngo", "responder:en", "responder:ru"], (case, targets)
        assert events(d, case).count("escalation_step") == 2
    # The next step (the end, in 1h) is pending, once per case.
    n = d.q("SELECT COUNT(*) AS n FROM timers WHERE fired_at IS NULL "
            "AND kind = 'escalation_step'")[0]["n"]
    assert n == 5


def test_three_reports_from_one_sender_are_one_case(wd, http_sink, smtp_sink):
    cfg = escalating(h.default_config(http_sink, smtp_sink), http_sink,
                     steps=[{"targets": ["responder:en"], "ack_within": "1h"},
                            {"targets": ["responder:ru"], "ack_within": "1h"}],
                     group_by=["sender"], group_window="30m")
    d = h.Daemon(wd, cfg).start()
    first = d.submit(h.report("They are outside my flat", sender="+79001112233"))
    second = d.submit(h.report("Now they are knocking", sender="+79001112233"))
    other = d.submit(h.report("Unrelated report", sender="+79004445566"))
    third = d.submit(h.report("Door broken, taken away", sender="+79001112233"))
    assert second["case_id"] == first["case_id"] == third["case_id"]
    assert other["case_id"] != first["case_id"]
    case = first["case_id"]
    # Step 1 paged en once for the case; each joining report told en of the update.
    got = http_sink.wait_for(lambda r: r["json"] and r["json"].get("case_id") == case
                             and r["json"].get("target") == "responder:en", count=3,
                             what="alert + 2 updates")
    updates = [r for r in got if r["json"].get("update")]
    assert len(updates) == 2
    # The escalation did not restart: one pending step timer for the case.
    n = d.q("SELECT COUNT(*) AS n FROM timers WHERE subject = ? AND fired_at IS NULL",
            f"case:{case}")[0]["n"]
    assert n == 1
    assert d.q("SELECT COUNT(*) AS n FROM reports WHERE case_id = ?", case)[0]["n"] == 3
