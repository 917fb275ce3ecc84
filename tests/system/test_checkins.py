"""Check-ins and duress (docs/escalation.md, "Check-ins and duress"), through the real Kannel
(bearerbox + smsbox + fake SMSC, kannel.py) into hotline's `kind: sms` source, with
intervals of seconds: a missed check-in opens a case (with the last check-in time) that
pages the policy's step 1; OKs in time move the deadline and open nothing; a wrong PIN is
answered the same but does not count; the duress PIN looks to the sender exactly like a good
check-in while a critical case pages the duress policy; CHECKIN STOP by SMS is refused where
a PIN is set and `hotlinectl checkin stop` stops; `hotlinectl checkin list` and the API.
One daemon and one Kannel for the module."""
import json
import os
import subprocess
import time

import pytest
import requests

import hotline_harness as h
import kannel

DANA = "79160000001"   # PIN 1234, duress PIN 987654
EGOR = "79160000002"   # no PIN
STRANGER = "79990000009"
EN_TOKEN = "en-api-token-" + "c0ffee0123456789"


@pytest.fixture(scope="module")
def env():
    wd = h.Workdir(prefix="hotline-checkins-")
    k = None
    try:
        http = h.HttpSink(wd)
        smtp = h.SmtpSink(wd)
        port = h.free_port()
        k = kannel.Kannel(f"http://127.0.0.1:{port}/v1/sms/kannel?from=%p&to=%P&text=%a"
                          "&id=%I&coding=%c&charset=%C&udh=%u").start()
        secrets = wd.path / "secrets"
        secrets.mkdir(exist_ok=True)
        (secrets / "kannel.password").write_text(k.password + "\n")
        (secrets / "dana.pin").write_text("1234\n")
        (secrets / "dana.duress").write_text("987654\n")
        (secrets / "en.api.token").write_text(EN_TOKEN + "\n")
        (wd.path / "en.token").write_text(EN_TOKEN + "\n")
        cfg = h.default_config(http, smtp)
        cfg["sources"].append({"name": "kannel", "kind": "sms", "gateway": "kannel",
                               "allowed_addresses": ["127.0.0.0/8", "::1"],
                               "default_region": "RU"})
        cfg["channels"].append(
            {"name": "sms", "type": "kannel", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"url": k.sendsms_url, "username": k.user,
                         "password_file": "kannel.password", "from": "1234"}})
        for p in cfg["responders"]:
            if p["id"] == "en":
                p["api_token_file"] = "en.api.token"
        cfg["policies"] = [
            {"id": "checkin-missed", "steps": [{"targets": ["responder:en"],
                                                "ack_within": "30s"}]},
            {"id": "checkin-duress", "steps": [{"targets": ["responder:ru"],
                                                "ack_within": "30s"}]},
        ]
        cfg["checkins"] = [
            {"id": "dana", "name": "Dana", "phone": "+" + DANA, "language": "ru",
             "interval": "4s", "grace": "1s", "policy": "checkin-missed",
             "duress_policy": "checkin-duress", "pin_file": "dana.pin",
             "duress_pin_file": "dana.duress"},
            {"id": "egor", "phone": "+" + EGOR, "interval": "2s", "grace": "1s",
             "policy": "checkin-missed"},
        ]
        d = h.Daemon(wd, cfg).start(port=port)
    except BaseException:
        if k is not None:
            k.close()
        wd.close(keep=True)
        raise
    yield {"wd": wd, "d": d, "kannel": k, "http": http}
    k.close()
    wd.close()


def to(k, phone):
    return [m for m in k.received() if m[1].lstrip("+") == phone]


def state(d, who):
    rows = d.q("SELECT * FROM checkins WHERE id = ?", who)
    return rows[0] if rows else None


def audit(d, kind, who):
    return [r for r in d.q("SELECT actor, detail FROM audit_events WHERE kind = ? ORDER BY id",
                           kind) if json.loads(r["detail"]).get("checkin") == who]


def checkin_cases(d, who):
    return [r for r in d.q(
        "SELECT c.id, c.severity, c.policy, c.labels, r.id AS report_id "
        "FROM cases c JOIN reports r ON r.id = c.report_id WHERE r.source = 'checkin' "
        "ORDER BY c.id") if json.loads(r["labels"]).get("checkin") == who]


def ctl(d, wd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_URL", "HOTLINE_TOKEN_FILE")}
    h.require(h.HOTLINECTL)
    cp = subprocess.run([str(h.HOTLINECTL), "checkin", *map(str, args), "--token-file",
                         str(wd.path / "en.token"), "--url", d.url(""), "--config",
                         str(d.config_path)], capture_output=True, timeout=30, env=env)
    return cp.returncode, *h.decoded(cp)


def test_a_missed_checkin_opens_a_case_and_pages_step_1(env):
    d, k, http = env["d"], env["kannel"], env["http"]
    k.send(EGOR, "1234", "CHECKIN START")
    h.wait_until(lambda: state(d, "egor") is not None and state(d, "egor")["active"] == 1,
                 what="egor's check-ins started")
    started = state(d, "egor")
    assert started["interval_ms"] == 2000
    # No OK: due after 2s, the case opens after 1s more of grace.
    h.wait_until(lambda: checkin_cases(d, "egor"), timeout=20, what="the missed check-in case")
    (case,) = checkin_cases(d, "egor")
    labels = json.loads(case["labels"])
    assert labels["last_checkin"] == "never"
    assert case["severity"] == "high"
    assert case["policy"] == "checkin-missed"
    # Step 1 of the policy is paged.
    http.wait_report("/ok/en", case["report_id"])
    # Nothing went to the defender's phone.
    assert to(k, EGOR) == []
    # It fires once: the deadline passed, no new timer until the next OK.
    time.sleep(3)
    assert len(checkin_cases(d, "egor")) == 1
    # The next OK sets a new deadline; another miss is another case with that time.
    k.send(EGOR, "1234", "OK")
    h.wait_until(lambda: state(d, "egor")["last_at"] > 0, what="egor's OK counted")
    h.wait_until(lambda: len(checkin_cases(d, "egor")) == 2, timeout=20, what="second miss")
    last = json.loads(checkin_cases(d, "egor")[1]["labels"])["last_checkin"]
    assert last != "never" and last.endswith("Z")
    k.send(EGOR, "1234", "checkin stop")  # no PIN: a stop by SMS works
    h.wait_until(lambda: state(d, "egor")["active"] == 0, what="egor stopped")


def test_oks_in_time_move_the_deadline_and_a_wrong_pin_does_not_count(env):
    d, k, wd = env["d"], env["kannel"], env["wd"]
    k.send(DANA, "1234", "НАЧАТЬ ОТМЕТКИ")
    h.wait_until(lambda: state(d, "dana") is not None and state(d, "dana")["active"] == 1,
                 what="dana's check-ins started")
    dues = [state(d, "dana")["due_at"]]
    for i in range(4):  # 4 OKs 1.5s apart: 6s in all, past the first deadline (4s + 1s)
        time.sleep(1.5)
        k.send(DANA, "1234", "ОК 1234" if i % 2 else "ok 1234")
        h.wait_until(lambda: state(d, "dana")["due_at"] > dues[-1], what=f"OK {i} counted")
        dues.append(state(d, "dana")["due_at"])
    assert checkin_cases(d, "dana") == []
    # One live timer only, due at the last due + grace.
    live = d.q("SELECT due_at FROM timers WHERE subject = 'checkin:dana' AND fired_at IS NULL")
    assert [r["due_at"] for r in live] == [dues[-1] + 1000]
    # A wrong PIN: refused (audited), the deadline stays.
    before = state(d, "dana")
    k.send(DANA, "1234", "OK 4321")
    h.wait_until(lambda: audit(d, "checkin_refused", "dana"), what="the refusal audited")
    assert json.loads(audit(d, "checkin_refused", "dana")[0]["detail"])["reason"] == "wrong_pin"
    assert state(d, "dana")["due_at"] == before["due_at"]
    # CHECKIN STOP by SMS is refused where a PIN is set ...
    k.send(DANA, "1234", "CHECKIN STOP")
    h.wait_until(lambda: len(audit(d, "checkin_refused", "dana")) == 2, what="stop refused")
    assert state(d, "dana")["active"] == 1
    # ... and hotlinectl stops.
    rc, out, err = ctl(d, wd, "stop", "dana")
    assert rc == 0, err
    assert "stopped" in out
    assert state(d, "dana")["active"] == 0
    assert audit(d, "checkin_stopped", "dana")[0]["actor"] == "responder:en"
    rc, out, err = ctl(d, wd, "list")
    assert rc == 0, err
    assert "dana (Dana): stopped" in out
    assert "egor: stopped" in out
    assert DANA not in out and "1234" not in out
    # Nothing ever went to the defender's phone.
    assert to(k, DANA) == []


def test_the_duress_pin_looks_like_a_checkin_but_pages_the_duress_policy(env):
    d, k, http, wd = env["d"], env["kannel"], env["http"], env["wd"]
    rc, out, err = ctl(d, wd, "start", "dana", "--interval", "1h")
    assert rc == 0, err
    assert state(d, "dana")["interval_ms"] == 3_600_000
    logged = d.log_text()
    t = time.monotonic()
    prev = state(d, "dana")["last_at"]
    k.send(DANA, "1234", "OK 1234")
    h.wait_until(lambda: state(d, "dana")["last_at"] > prev, what="good check-in")
    good = state(d, "dana")
    k.send(DANA, "1234", "OK 987654")
    h.wait_until(lambda: state(d, "dana")["last_at"] > good["last_at"], what="duress check-in")
    # Counted like a good one: the deadline moved by the interval.
    after = state(d, "dana")
    assert after["due_at"] == after["last_at"] + 3_600_000
    h.wait_until(lambda: checkin_cases(d, "dana"), what="the duress case")
    (case,) = checkin_cases(d, "dana")
    assert case["severity"] == "critical"
    assert case["policy"] == "checkin-duress"
    http.wait_report("/ok/ru", case["report_id"])
    # The sender sees nothing different: no SMS after either, and the gateway's answers
    # (Kannel's smsbox logs the HTTP status of each get-url) are the same.
    time.sleep(1)
    assert to(k, DANA) == []
    # The audit trail records both as plain check-ins.
    details = [json.loads(r["detail"]) for r in audit(d, "checkin", "dana")[-2:]]
    assert [sorted(x) for x in details] == [["channel", "checkin", "due_at"]] * 2
    # Logs never hold the number or a PIN.
    new = d.log_text()[len(logged):]
    assert DANA not in new and "987654" not in new
    assert time.monotonic() - t < 30
    # What the gateway (and so the phone) is answered, byte for byte: a good PIN, the
    # duress PIN and a wrong one look the same. (As Kannel's get-url would ask.)
    answers = []
    for i, text in enumerate(["OK 1234", "OK 987654", "OK 4321"]):
        r = requests.get(d.url("/v1/sms/kannel"), timeout=10, params={
            "from": DANA, "to": "1234", "text": text, "id": f"direct-{i}", "coding": "0",
            "charset": "UTF-8", "udh": ""})
        answers.append((r.status_code, r.headers.get("Content-Type"), r.content))
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0][0] == 200
    h.wait_until(lambda: len(checkin_cases(d, "dana")) == 2, what="the second duress case")
    rc, out, err = ctl(d, wd, "stop", "dana")
    assert rc == 0, err


def test_checkin_words_from_anyone_else_are_reports_and_the_api_checks_input(env):
    d, k = env["d"], env["kannel"]
    before = d.q("SELECT COUNT(*) AS n FROM reports WHERE source = 'kannel'")[0]["n"]
    k.send(STRANGER, "1234", "OK 987654")
    h.wait_until(lambda: d.q("SELECT COUNT(*) AS n FROM reports WHERE source = 'kannel'")[0]["n"]
                 == before + 1, what="the stranger's SMS stored as a report")
    auth = {"Authorization": f"Bearer {EN_TOKEN}"}
    r = requests.get(d.url("/v1/checkins"), headers=auth, timeout=10)
    assert r.status_code == 200
    listed = {c["id"]: c for c in r.json()["checkins"]}
    assert set(listed) == {"dana", "egor"}
    assert "phone" not in listed["dana"]
    assert requests.get(d.url("/v1/checkins"), timeout=10).status_code == 401
    r = requests.post(d.url("/v1/checkins/nobody/start"), headers=auth, timeout=10)
    assert r.status_code == 404
    for body in (b"[]", b'{"interval": 5}', b'{"interval": "1s"}', b'{"every": "1h"}',
                 b'{"interval":'):
        r = requests.post(d.url("/v1/checkins/dana/start"), data=body, timeout=10,
                          headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400, body
    r = requests.post(d.url("/v1/checkins/dana/start"), data=b"x", timeout=10,
                      headers={**auth, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert state(d, "dana")["active"] == 0


def test_a_deadline_passed_while_the_daemon_was_down_fires_at_once_after_a_restart(env):
    d, k = env["d"], env["kannel"]
    before = len(checkin_cases(d, "egor"))
    k.send(EGOR, "1234", "CHECKIN START")
    h.wait_until(lambda: state(d, "egor")["active"] == 1, what="egor started again")
    due = state(d, "egor")["due_at"] + 1000  # + grace
    d.kill9()
    h.wait_until(lambda: time.time() * 1000 > due + 1500, timeout=10, what="the deadline past")
    d.start(port=d.port)
    h.wait_until(lambda: len(checkin_cases(d, "egor")) == before + 1, timeout=10,
                 what="the missed check-in's case after the restart")
    time.sleep(2)
    assert len(checkin_cases(d, "egor")) == before + 1  # once
    k.send(EGOR, "1234", "CHECKIN STOP")
    h.wait_until(lambda: state(d, "egor")["active"] == 0, what="egor stopped")
