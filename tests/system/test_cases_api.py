"""The cases API and `hotlinectl cases` (docs/api.md, "Cases"; issue 10): a responder paged
for a case lists, shows and acknowledges it through the API with their own token; the
acknowledgement cancels the pending escalation step in the same transaction, is audited with
channel api, and the others paged hear of it; notes and a resolve by an admin follow. A
responder never paged for a case cannot see or touch it; bad tokens and bad input are
refused with clear errors, and nothing changes."""
import json
import os
import subprocess

import pytest
import requests

import hotline_harness as h

TOKENS = {"en": "en-api-token-" + "a1b2c3d4e5f60718",
          "ru": "ru-api-token-" + "0f1e2d3c4b5a6978",
          "ops": "ops-api-token-" + "fedcba9876543210"}


@pytest.fixture
def env(wd, http_sink, smtp_sink):
    cfg = h.default_config(http_sink, smtp_sink)
    for p in cfg["responders"]:
        p["api_token_file"] = f"{p['id']}.api.token"
    cfg["admins"][0]["api_token_file"] = "ops.api.token"
    cfg["policies"] = [{
        "id": "rapid",
        "steps": [{"targets": ["responder:en"], "ack_within": "1h"},
                  {"targets": ["partner:ngo"], "ack_within": "1h"}],
        "notify_on": ["ack", "resolve"],
    }]
    cfg["route"] = {"severity": "high", "notify": [], "policy": "rapid"}
    d = h.Daemon(wd, cfg)
    for who, token in TOKENS.items():
        (d.secrets / f"{who}.api.token").write_text(token + "\n")
        (wd.path / f"{who}.token").write_text(token + "\n")
    d.start()
    yield d, http_sink, wd
    d.stop()


def cases(d, wd, *args, who="en"):
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_URL", "HOTLINE_TOKEN_FILE")}
    h.require(h.HOTLINECTL)
    cp = subprocess.run([str(h.HOTLINECTL), "cases", *map(str, args),
                         "--token-file", str(wd.path / f"{who}.token"),
                         "--config", d.config_path], capture_output=True, timeout=30, env=env)
    return cp.returncode, *h.decoded(cp)


def api(d, method, path, who="en", body=None, raw=None, token=None):
    headers = {}
    token = TOKENS[who] if token is None and who else token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    if data is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(method, d.url(path), headers=headers, data=data, timeout=10)


def pending_steps(d, case):
    return d.q("SELECT COUNT(*) AS n FROM timers WHERE subject = ? AND kind = 'escalation_step' "
               "AND fired_at IS NULL AND cancelled_at IS NULL", f"case:{case}")[0]["n"]


def test_acknowledge_by_api_cancels_the_pending_step(env):
    d, sink, wd = env
    case = d.submit(h.report("Задержан у метро, нужен адвокат", sender="+79001234567"))["case_id"]
    sink.wait_for(lambda r: r["json"] and r["json"].get("case_id") == case
                  and r["json"].get("target") == "responder:en", what="step 1 alert")
    assert pending_steps(d, case) == 1

    # `hotlinectl cases list` and `show` through the API, as en (the --config gives the URL).
    rc, out, err = cases(d, wd, "list")
    assert rc == 0, err
    assert out.splitlines()[0].split() == ["ID", "STATE", "SEVERITY", "OPENED", "REPORTS", "BY"]
    row = out.splitlines()[1].split()
    assert row[0] == str(case) and row[1] == "open" and row[2] == "high"
    rc, out, err = cases(d, wd, "show", f"#{case}")
    assert rc == 0, err
    assert f"Case #{case}  open  high" in out
    assert "Notified:  responder:en" in out
    assert "Задержан у метро, нужен адвокат" in out

    # ru was not paged: the case does not exist for them.
    rc, out, err = cases(d, wd, "list", who="ru")
    assert rc == 0 and out == "no cases\n", (out, err)
    rc, out, err = cases(d, wd, "ack", case, who="ru")
    assert rc == 1 and "no such case" in err, err
    assert d.q("SELECT state FROM cases WHERE id = ?", case)[0]["state"] == "open"

    # en acknowledges with a remark: the step-2 timer is cancelled in the same transaction.
    rc, out, err = cases(d, wd, "ack", case, "--note", "еду, буду через 20 минут")
    assert rc == 0, err
    assert out == f"case #{case}: open -> acknowledged\n"
    row = d.q("SELECT state, acked_by FROM cases WHERE id = ?", case)[0]
    assert (row["state"], row["acked_by"]) == ("acknowledged", "responder:en")
    assert pending_steps(d, case) == 0
    audit = d.q("SELECT actor, detail FROM audit_events WHERE case_id = ? "
                "AND kind = 'case_acknowledged'", case)
    assert len(audit) == 1 and audit[0]["actor"] == "responder:en"
    assert json.loads(audit[0]["detail"])["channel"] == "api"
    # The remark is not in the audit trail in the clear (case notes are sealed).
    assert "еду" not in audit[0]["detail"]
    # Acknowledging again changes nothing.
    rc, out, err = cases(d, wd, "ack", case)
    assert rc == 0 and out == f"case #{case}: already acknowledged, nothing changed\n", out

    # A note, then the admin resolves through the raw API; the history shows all of it.
    rc, out, err = cases(d, wd, "note", case, "Адвокат на месте")
    assert rc == 0 and out == f"case #{case}: note added\n", (out, err)
    r = api(d, "POST", f"/v1/cases/{case}/resolve", who="ops")
    assert r.status_code == 200, r.text
    assert r.json() == {"case_id": case, "action": "resolve", "changed": True,
                        "before": "acknowledged", "after": "resolved"}
    # notify_on resolve: en (paged, not the actor) is told.
    sink.wait_for(lambda r: r["json"] and r["json"].get("case_id") == case
                  and r["json"].get("kind") == "case_notice"
                  and r["json"].get("target") == "responder:en", what="resolve notice to en")
    shown = api(d, "GET", f"/v1/cases/{case}").json()
    assert shown["case"]["state"] == "resolved"
    assert shown["case"]["resolved_by"] == "admin:ops"
    assert shown["report"]["text"] == "Задержан у метро, нужен адвокат"
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds.index("case_acknowledged") < kinds.index("case_resolved")
    notes = [e["detail"].get("note") for e in shown["events"] if e["detail"].get("note")]
    assert "Адвокат на месте" in notes
    # The admin lists every case; filters and paging work.
    listed = api(d, "GET", "/v1/cases?state=resolved&limit=1", who="ops").json()
    assert [c["id"] for c in listed["cases"]] == [case]
    assert api(d, "GET", "/v1/cases?state=open", who="ops").json()["cases"] == []


def test_cases_api_refuses_bad_tokens_and_input(env):
    d, sink, wd = env
    case = d.submit(h.report("Followed by a car"))["case_id"]
    for token in ("", "en-api-token-" + "0000000000000000", "token-webhook"):
        r = api(d, "GET", "/v1/cases", who=None, token=token)
        assert r.status_code == 401, (token, r.text)
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'
    for query in ("?state=closed", "?limit=0", "?limit=5000", "?before=x", "?order=asc"):
        r = api(d, "GET", "/v1/cases" + query)
        assert r.status_code == 400, query
        assert r.json()["error"]["code"] == "bad_request"
    for bad in (b"[1]", b"{\"note\": 1}", b"{\"extra\": \"x\"}", b"not json", b"{\"note\":\"\xff\"}"):
        r = api(d, "POST", f"/v1/cases/{case}/ack", raw=bad)
        assert r.status_code == 400, (bad, r.text)
    r = api(d, "POST", f"/v1/cases/{case}/note", body={"note": "   "})
    assert r.status_code == 400 and "note is required" in r.json()["error"]["message"]
    for path in ("/v1/cases/999999", "/v1/cases/0", "/v1/cases/abc"):
        assert api(d, "GET", path).status_code == 404, path
        assert api(d, "POST", path + "/ack").status_code == 404, path
    r = api(d, "POST", f"/v1/cases/{case}/ack", who="ru")
    assert r.status_code == 404  # never paged for it
    assert api(d, "DELETE", f"/v1/cases/{case}").status_code == 405
    # Nothing above changed the case.
    assert d.q("SELECT state FROM cases WHERE id = ?", case)[0]["state"] == "open"
    assert d.q("SELECT COUNT(*) AS n FROM audit_events WHERE case_id = ? AND kind LIKE 'case_%'",
               case)[0]["n"] == 0
    # The CLI without a token file says so and exits 1.
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_URL", "HOTLINE_TOKEN_FILE")}
    cp = subprocess.run([str(h.HOTLINECTL), "cases", "list", "--config", d.config_path],
                        capture_output=True, timeout=30, env=env)
    assert cp.returncode != 0 and b"token" in cp.stderr
