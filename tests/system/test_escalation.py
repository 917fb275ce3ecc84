"""Escalation until someone acknowledges (docs/escalation.md): policy steps fire from the
durable timers table, step by step and round by round, then the admins hear that nobody
acknowledged; an acknowledgement cancels what is pending; kill -9 with steps pending fires
each due step exactly once after the restart; reports of one sender group into one case."""
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
    kinds = events(d, case)
    assert kinds.count("escalation_step") == 3  # steps 2, 1 (round 1), 2 (round 1)
    assert kinds[-1] == "escalation_exhausted"
    (state,) = d.q("SELECT state FROM cases WHERE id = ?", case)[0]
    assert state == "open"


def test_ack_by_cli_cancels_pending_steps_and_tells_those_paged(wd, http_sink, smtp_sink):
    cfg = escalating(h.default_config(http_sink, smtp_sink), http_sink,
                     steps=[{"targets": ["responder:en", "responder:ru"], "ack_within": "3s"},
                            {"targets": ["partner:ngo"], "ack_within": "3s"}])
    d = h.Daemon(wd, cfg).start()
    case = d.submit(h.report("Searched at the border"))["case_id"]
    http_sink.wait_for(lambda r: r["json"] and r["json"].get("case_id") == case, count=2,
                       what="step 1 alerts")
    ack = h.hotlinectl("cases", "ack", str(case), "--config", d.config_path, "--as",
                       "responder:en", "--offline")
    assert ack.returncode == 0, ack.stderr
    # ru was paged too: it hears that en acknowledged; en (who acted) does not.
    notice = http_sink.wait_for(
        lambda r: r["json"] and r["json"].get("kind") == "case_notice"
        and r["json"].get("case_id") == case, what="ack notice")[0]["json"]
    assert notice["target"] == "responder:ru" and notice["event"] == "acknowledged"
    assert notice["by"] == "Erin"
    time.sleep(4)  # past step 2's due time: it must not fire (nothing to await: absence)
    assert [r for r in alerts(http_sink, case) if r["json"]["target"] == "partner:ngo"] == []
    assert events(d, case).count("escalation_step") == 0
    (state, acked_by) = d.q("SELECT state, acked_by FROM cases WHERE id = ?", case)[0]
    assert (state, acked_by) == ("acknowledged", "responder:en")
