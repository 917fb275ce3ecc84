"""Silences (issue 10): a silence added through hotlinectl (the daemon's API, a person's
token) keeps matching reports from paging anyone: they are stored with their case
(labelled silenced_by) and the sink receives nothing; after `silence expire` the next one
pages; the audit trail has both events (no matchers in it); silences survive a restart;
the API refuses bad tokens and bad input."""
import json
import os
import subprocess

import pytest
import requests

import hotline_harness as h

EN_TOKEN = "en-api-token-" + "9f8e7d6c5b4a3210"
OPS_TOKEN = "ops-api-token-" + "0123456789abcdef"
SILENCED = "+79005550101"


@pytest.fixture
def env(wd, base_cfg, http_sink):
    for p in base_cfg["responders"]:
        if p["id"] == "en":
            p["api_token_file"] = "en.api.token"
    base_cfg["admins"][0]["api_token_file"] = "ops.api.token"
    d = h.Daemon(wd, base_cfg)
    (d.secrets / "en.api.token").write_text(EN_TOKEN + "\n")
    (d.secrets / "ops.api.token").write_text(OPS_TOKEN + "\n")
    # The CLI reads the same tokens from files of its own (a person's copy).
    (wd.path / "en.token").write_text(EN_TOKEN + "\n")
    (wd.path / "ops.token").write_text(OPS_TOKEN + "\n")
    d.start()
    yield d, http_sink, wd
    d.stop()


def ctl(d, wd, *args, token="en.token", url=True):
    extra = ["--token-file", wd.path / token] if token else []
    if url:
        extra += ["--url", d.url("")]
    env = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_URL", "HOTLINE_TOKEN_FILE")}
    h.require(h.HOTLINECTL)
    cp = subprocess.run([str(h.HOTLINECTL), "silence", *map(str, args), *map(str, extra),
                         "--config", d.config_path], capture_output=True, timeout=30, env=env)
    return cp.returncode, *h.decoded(cp)


def api(d, method, path, token=EN_TOKEN, body=None, headers=None, **kw):
    headers = dict(headers or ({"Authorization": f"Bearer {token}"} if token else {}))
    if body is not None:
        headers["Content-Type"] = "application/json"
        kw["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return requests.request(method, d.url(path), headers=headers, timeout=10, **kw)


def case_labels(d, case_id):
    return json.loads(d.q("SELECT labels FROM cases WHERE id = ?", case_id)[0]["labels"])


def deliveries(sink, report_id):
    return [r for r in sink.records() if r["json"] and r["json"].get("report_id") == report_id]


def test_silence_round_trip(env):
    d, sink, wd = env
    rc, out, err = ctl(d, wd, "add", f'sender = "{SILENCED}"', 'text =~ "учения"',
                       "--duration", "1h", "--comment", "drill at the office")
    assert rc == 0, err
    assert out.startswith("silence 1 added\nsilence 1 (active) "), out
    assert f'  sender = "{SILENCED}"\n' in out and "  comment: drill at the office\n" in out

    silenced = d.submit(h.report("Учения: задержан у метро", sender=SILENCED))
    # Stored, with its case, but nothing planned for anyone.
    assert d.notifications(silenced["report_id"]) == []
    assert case_labels(d, silenced["case_id"])["silenced_by"] == "1"
    stored = d.q("SELECT id, text FROM reports WHERE id = ?", silenced["report_id"])
    assert stored[0]["text"] == "Учения: задержан у метро"
    # Not every report of that sender: both matchers must hold.
    other = d.submit(h.report("Задержан у метро", sender=SILENCED))
    sink.wait_report("/ok/", other["report_id"])
    assert deliveries(sink, silenced["report_id"]) == []
    samples = d.metrics()
    assert h.metric_sum(samples, "hotline_reports_silenced_total", source=h.SOURCE) == 1

    rc, out, err = ctl(d, wd, "list")
    assert rc == 0, err
    assert out.startswith("silence 1 (active) ") and "by responder:en\n" in out, out
    rc, out, err = ctl(d, wd, "list", "--json")
    assert rc == 0, err
    listed = json.loads(out)["silences"]
    assert [s["id"] for s in listed] == [1] and listed[0]["author"] == "responder:en"

    # An admin expires it; the next matching report pages.
    rc, out, err = ctl(d, wd, "expire", "1", token="ops.token")
    assert rc == 0, err
    assert out.startswith("silence 1 expired\nsilence 1 (expired) "), out
    assert "expired " in out and " by admin:ops\n" in out
    rc, out, err = ctl(d, wd, "expire", "1", token="ops.token")
    assert rc == 0 and out.startswith("silence 1 was over already; nothing changed\n"), out
    after = d.submit(h.report("Учения: задержан у метро", sender=SILENCED))
    sink.wait_report("/ok/", after["report_id"])
    assert "silenced_by" not in case_labels(d, after["case_id"])
    rc, out, err = ctl(d, wd, "list")
    assert rc == 0 and out == "no silences\n", out
    rc, out, err = ctl(d, wd, "list", "--all")
    assert rc == 0 and out.startswith("silence 1 (expired) "), out

    # The trail: who added, who expired, and the silenced report; never the number.
    events = d.q("SELECT actor, kind, detail FROM audit_events WHERE kind LIKE 'silence%' "
                 "ORDER BY id")
    assert [(e["actor"], e["kind"]) for e in events] == [
        ("responder:en", "silence_added"), ("admin:ops", "silence_expired")]
    for e in events:
        detail = json.loads(e["detail"])
        assert set(detail) == {"silence_id", "starts_at", "ends_at"} and detail["silence_id"] == 1
    received = d.q("SELECT detail FROM audit_events WHERE kind = 'report_received' AND "
                   "report_id = ?", silenced["report_id"])
    assert json.loads(received[0]["detail"])["silenced_by"] == "1"
    trail = " ".join(r["detail"] for r in d.q("SELECT detail FROM audit_events"))
    assert SILENCED not in trail and "9005550101" not in trail
    # Sealed at rest, never logged.
    raw = d.db().execute("SELECT matchers FROM silences WHERE id = 1").fetchone()[0]
    assert isinstance(raw, bytes) and SILENCED.encode() not in raw
    assert SILENCED not in d.log_text()


def test_silences_survive_a_restart_and_the_url_comes_from_the_config(env):
    d, sink, wd = env
    # No --url and no HOTLINE_URL: the config's server address and port.
    rc, out, err = ctl(d, wd, "add", 'labels.kind = "detention"', "--until",
                       "2099-01-01T00:00:00+03:00", "--comment", "flood", url=False)
    assert rc == 0, err
    assert " .. 2098-12-31T21:00:00Z by responder:en\n" in out, out
    d.stop()
    d.start()
    silenced = d.submit(h.report("Задержан у метро", sender="+79005550199",
                                 labels={"kind": "detention"}))
    assert d.notifications(silenced["report_id"]) == []
    assert case_labels(d, silenced["case_id"])["silenced_by"] == "1"
    calm = d.submit(h.report("A neutral question", sender="+79005550199"))
    sink.wait_report("/ok/en", calm["report_id"])


def test_api_refuses_bad_tokens_and_bad_input(env):
    d, sink, wd = env
    for token in (None, "", "en-api-token-", EN_TOKEN + "x", h.TOKEN):
        r = api(d, "GET", "/v1/silences", token=token)
        assert r.status_code == 401, (token, r.text)
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'
        assert r.json()["error"]["code"] == "unauthorized"
    r = api(d, "POST", "/v1/silences", body={"matchers": ["text == \"x\""], "duration": "1h",
                                            "comment": "c"})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "bad_matcher",
        "message": 'matchers[0], column 6: unknown operator "==" (use =, !=, =~ or !~)'}
    r = api(d, "POST", "/v1/silences", body={"matchers": ["text = x"], "comment": "c",
                                            "starts_at": "2099-01-02T00:00:00Z",
                                            "ends_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["error"]["message"] == \
        "ends_at must be after starts_at"
    r = api(d, "POST", "/v1/silences",
            body={"matchers": ["text = x"] * 1001, "duration": "1h", "comment": "c"})
    assert r.status_code == 400 and "at most 1000 matchers" in r.json()["error"]["message"]
    r = api(d, "POST", "/v1/silences", data=b"x" * 70000,
            headers={"Authorization": f"Bearer {EN_TOKEN}", "Content-Type": "application/json"})
    assert r.status_code == 413
    r = api(d, "POST", "/v1/silences", data=b'{"matchers":', headers={
        "Authorization": f"Bearer {EN_TOKEN}", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = api(d, "POST", "/v1/silences", data=b"{}", headers={
        "Authorization": f"Bearer {EN_TOKEN}", "Content-Type": "text/plain"})
    assert r.status_code == 415
    for path in ("/v1/silences/999/expire", "/v1/silences/abc/expire", "/v1/silences/0/expire",
                 "/v1/silences/99999999999999999999999/expire"):
        r = api(d, "POST", path)
        assert r.status_code == 404, path
    assert api(d, "GET", "/v1/silences?all=maybe").status_code == 400
    assert api(d, "GET", "/v1/silences?all=true").json() == {"silences": []}
    # Nothing was added by all that.
    assert d.q("SELECT count(*) AS n FROM silences")[0]["n"] == 0
    assert d.q("SELECT count(*) AS n FROM audit_events WHERE kind LIKE 'silence%'")[0]["n"] == 0

    # The CLI's own refusals.
    rc, out, err = ctl(d, wd, "add", "text = x", "--comment", "c")
    assert rc == 2 and "either --duration" in err
    rc, out, err = ctl(d, wd, "add", "text = x", "--duration", "1h")
    assert rc == 2 and "--comment" in err
    rc, out, err = ctl(d, wd, "expire", "x")
    assert rc == 2
    rc, out, err = ctl(d, wd, "list", token=None)
    assert rc == 1 and "no API token" in err
    (wd.path / "bad.token").write_text("not-a-token-of-anyone\n")
    rc, out, err = ctl(d, wd, "list", token="bad.token")
    assert rc == 1 and "401" in err
    rc, out, err = ctl(d, wd, "add", "txet = x", "--duration", "1h", "--comment", "c")
    assert rc == 1 and 'matchers[0], column 1: unknown field "txet"' in err, err
