"""hotlinectl oncall: who is on call at a time, and the next shifts, from a configuration's
schedules (rules/oncall), as text and JSON; no daemon, no storage key, never an address."""
import json
import os
import subprocess
import textwrap

import hotline_harness as h

CONFIG = textwrap.dedent("""\
    secrets_dir: secrets
    sources:
      - {name: web, token_file: web.token}
    channels:
      - {name: hook, type: webhook, options: {url: "http://127.0.0.1:9/"}}
    responders:
      - {id: alice, name: Alice, contacts: [{channel: hook, address: "http://127.0.0.1:9/alice-secret-path"}]}
      - {id: boris, name: Борис, contacts: [{channel: hook, address: "http://127.0.0.1:9/boris-secret-path"}]}
      - {id: carol, contacts: [{channel: hook, address: "http://127.0.0.1:9/carol-secret-path"}]}
    admins: [{id: ops, contacts: [{channel: hook, address: "http://127.0.0.1:9/ops"}]}]
    teams:
      - {id: local, members: [alice, boris]}
    schedules:
      - id: local-week
        time_zone: Europe/Kyiv
        rotations:
          - {type: weekly, handoff: "09:00", start: 2026-11-30, members: [alice, boris]}
        overrides:
          - {from: 2026-12-05T18:00, to: 2026-12-06T09:00, who: boris}
      - id: london-nights
        time_zone: Europe/London
        rotations:
          - {type: daily, handoff: "01:30", start: 2026-03-27, members: [carol, alice]}
    route:
      notify: [schedule:local-week, team:local]
    """)


def write_config(tmp_path, text=CONFIG):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    (tmp_path / "secrets" / "web.token").write_text("t0ken\n")
    path = tmp_path / "hotline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def oncall(path, *args, code=0):
    cp = h.run_ctl("oncall", "--config", path, *args)
    out, err = h.decoded(cp)
    assert cp.returncode == code, (out, err)
    assert "secret-path" not in out + err  # names and ids, never contact addresses
    return out, err


def test_text_at_a_local_time(tmp_path):
    path = write_config(tmp_path)
    out, err = oncall(path, "--schedule", "local-week", "--at", "2026-12-05T12:00", "--days", "3")
    assert err == ""
    assert out == textwrap.dedent("""\
        schedule local-week (Europe/Kyiv, EET)
          on call at 2026-12-05T12:00+02:00: alice (Alice)
          shifts until 2026-12-08T12:00+02:00:
            2026-11-30T09:00+02:00 .. 2026-12-05T18:00+02:00  alice (Alice)  rotation 1
            2026-12-05T18:00+02:00 .. 2026-12-06T09:00+02:00  boris (Борис)  override 1
            2026-12-06T09:00+02:00 .. 2026-12-07T09:00+02:00  alice (Alice)  rotation 1
            2026-12-07T09:00+02:00 .. 2026-12-14T09:00+02:00  boris (Борис)  rotation 1
        """)


def test_override_and_exact_hand_off_in_json(tmp_path):
    path = write_config(tmp_path)
    # 16:00Z is 18:00 in Kyiv: the override's first instant.
    out, _ = oncall(path, "--schedule", "local-week", "--at", "2026-12-05T16:00Z", "--days", "0",
                    "--json")
    doc = json.loads(out)
    assert doc["days"] == 0
    [s] = doc["schedules"]
    assert s["id"] == "local-week" and s["time_zone"] == "Europe/Kyiv"
    assert s["at"] == "2026-12-05T18:00+02:00"
    assert s["on_call"] == [{"id": "boris", "name": "Борис"}]
    assert s["shifts"] == []
    # The hand-off instant belongs to the next person; a minute before, the previous one.
    out, _ = oncall(path, "--schedule", "local-week", "--at", "2026-12-07T09:00", "--json")
    assert json.loads(out)["schedules"][0]["on_call"] == [{"id": "boris", "name": "Борис"}]
    out, _ = oncall(path, "--schedule", "local-week", "--at", "2026-12-07T08:59+02:00", "--json")
    assert json.loads(out)["schedules"][0]["on_call"] == [{"id": "alice", "name": "Alice"}]


def test_every_schedule_and_dst(tmp_path):
    path = write_config(tmp_path)
    out, _ = oncall(path, "--at", "2026-03-28T12:00Z", "--days", "2", "--json")
    doc = json.loads(out)
    assert [s["id"] for s in doc["schedules"]] == ["local-week", "london-nights"]
    kyiv, london = doc["schedules"]
    assert kyiv["on_call"] == []  # before its start
    assert kyiv["shifts"] == []
    # 01:30 does not exist in London on 2026-03-29: the hand-off is at 02:00 BST (01:00Z).
    assert [(x["who"], x["from"], x["to"]) for x in london["shifts"]] == [
        ("alice", "2026-03-28T01:30+00:00", "2026-03-29T02:00+01:00"),
        ("carol", "2026-03-29T02:00+01:00", "2026-03-30T01:30+01:00"),
        ("alice", "2026-03-30T01:30+01:00", "2026-03-31T01:30+01:00"),
    ]
    first = london["shifts"][0]
    assert first["to_ms"] - first["from_ms"] == 23.5 * 3600 * 1000
    assert first["override"] is False and first["layer"] == 0
    assert london["on_call"] == [{"id": "alice", "name": "Alice"}]
    text, _ = oncall(path, "--at", "2026-03-28T12:00Z", "--days", "1")
    assert "schedule local-week (Europe/Kyiv, EET)\n  on call at 2026-03-28T14:00+02:00: nobody\n" \
        "  shifts until 2026-03-29T15:00+03:00: none\n" in text
    assert "schedule london-nights (Europe/London, GMT)" in text


def test_now_by_default(tmp_path):
    path = write_config(tmp_path)
    out, _ = oncall(path, "--json")
    doc = json.loads(out)
    assert doc["days"] == 7
    assert len(doc["schedules"]) == 2
    # Both schedules have started (2026); someone is on call in each.
    for s in doc["schedules"]:
        assert len(s["on_call"]) == 1, s


def test_mistakes(tmp_path):
    path = write_config(tmp_path)
    _, err = oncall(path, "--schedule", "local-wek", code=1)
    assert err == 'hotlinectl oncall: unknown schedule "local-wek"; did you mean "local-week"?\n'
    _, err = oncall(path, "--at", "next friday", code=2)
    assert err.startswith("hotlinectl oncall: --at: expected an ISO 8601 time")
    _, err = oncall(path, "--at", "2026-02-30T10:00", code=2)
    assert "no such date" in err
    _, err = oncall(path, "--days", "367", code=2)
    assert "--days must be 0 to 366" in err
    _, err = oncall(path, "--days", "-1", code=2)
    _, err = oncall(path, "extra", code=2)
    assert "usage: oncall" in err
    # A bad configuration: its errors, positioned, and exit 1.
    text = CONFIG.replace("members: [alice, boris]}\n    overrides",
                          "members: [alice, bob]}\n    overrides")
    assert text != CONFIG
    _, err = oncall(write_config(tmp_path, text), code=1)
    assert "hotline.yaml:17:78: schedules[0].rotations[0].members[1]: unknown responder \"bob\"" \
        in err, err
    # No schedules at all: said so, exit 0.
    none = write_config(tmp_path, CONFIG.split("teams:")[0] + "route:\n  notify: [responder:alice]\n")
    out, _ = oncall(none)
    assert out.startswith("no schedules in ")


def test_shipped_example(tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "webhook.token").write_text("example-token\n")
    (creds / "webhook-signing.key").write_text("example-signing-key\n")
    env = dict(os.environ, CREDENTIALS_DIRECTORY=str(creds))
    h.require(h.HOTLINECTL)
    cp = subprocess.run([str(h.HOTLINECTL), "oncall", "--config",
                         str(h.REPO / "conf" / "hotline.yaml"),
                         "--at", "2026-12-02T12:00+02:00", "--days", "14"],
                        capture_output=True, timeout=30, env=env)
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    assert out.startswith("schedule local-week (Europe/Kyiv, EET)\n"
                          "  on call at 2026-12-02T12:00+02:00: alice (Alice)\n")
    assert "2026-12-07T09:00+02:00 .. 2026-12-14T09:00+02:00  boris (Борис)  rotation 1" in out
    assert "@example.org" not in out
