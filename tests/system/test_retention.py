"""storage.retention: the daemon's sweep purges the contents of reports older than the
period (text, sender, subject, labels; notification addresses and payloads), keeps ids,
times and the audit trail, and audits each sweep with its counts. Age is simulated by
moving received_at back in the database; HOTLINE_TEST_RETENTION_SWEEP_MS makes the
hourly sweep run every 200 ms."""
import json
import sqlite3
import time

import hotline_harness as h

DAY_MS = 86_400_000


def test_retention_purges_old_contents_and_audits_the_sweep(wd, base_cfg, http_sink,
                                                           monkeypatch):
    monkeypatch.setenv("HOTLINE_TEST_RETENTION_SWEEP_MS", "200")
    base_cfg["storage"]["retention"] = "30d"
    d = h.Daemon(wd, base_cfg).start()
    old = [d.submit(h.report(text=f"Old report {i}", sender=f"+7900111000{i}",
                             subject="Old subject", labels={"region": "north"}))
           for i in range(3)]
    young = [d.submit(h.report(text=f"Young report {i}")) for i in range(2)]
    for r in old + young:
        d.wait_settled(r["report_id"])
    # Nothing is 30 days old yet: the sweeps so far purged nothing.
    h.wait_until(lambda: d.q("SELECT id FROM audit_events WHERE kind = 'retention_sweep'"),
                 what="a first retention sweep")
    assert all(r["text"].startswith("Young") or r["text"].startswith("Old")
               for r in d.q("SELECT id, text FROM reports"))

    old_ids = [r["report_id"] for r in old]
    conn = sqlite3.connect(str(d.db_path), timeout=10)
    try:
        with conn:
            conn.execute(f"UPDATE reports SET received_at = received_at - {40 * DAY_MS} "
                         f"WHERE id IN ({','.join(map(str, old_ids))})")
    finally:
        conn.close()
    marker = time.time()

    def purged():
        rows = d.q("SELECT id, sender, subject, text, labels FROM reports WHERE id IN "
                   f"({','.join(map(str, old_ids))})")
        return all(r["text"] == "" for r in rows) and rows
    rows = h.wait_until(purged, what="the old reports to be purged")
    for r in rows:
        assert r["sender"] == "" and r["subject"] == "" and r["labels"] == "{}", r
    for rid in old_ids:
        for n in d.notifications(rid):
            assert n["address"] == "purged" and n["payload"] == "", n
            assert n["status"] == "delivered", n  # the outcome and its times stay
            assert n["attempts"] >= 1
    for r in young:
        row = d.q("SELECT id, text, sender FROM reports WHERE id = ?", r["report_id"])[0]
        assert row["text"].startswith("Young report"), row
        assert row["sender"] == "+79001234567"
        assert all(n["address"] != "purged" for n in d.notifications(r["report_id"]))

    # The trail stays: every report_received and delivery event, plus the sweeps.
    assert len(d.q("SELECT id FROM audit_events WHERE kind = 'report_received'")) == 5
    sweeps = d.q("SELECT id, actor, detail FROM audit_events WHERE kind = 'retention_sweep' "
                 "ORDER BY id")
    counts = [json.loads(s["detail"]) for s in sweeps]
    assert all(s["actor"] == "retention" for s in sweeps)
    assert sum(c["reports"] for c in counts) == 3, counts
    assert sum(c["notifications"] for c in counts) == sum(
        len(d.notifications(rid)) for rid in old_ids), counts
    assert "retention sweep: purged reports=3" in d.log_text()
    # Later sweeps find nothing new to purge, and each is still audited.
    n = len(sweeps)
    h.wait_until(lambda: len(d.q("SELECT id FROM audit_events WHERE kind = "
                                 "'retention_sweep'")) > n, what="another sweep")
    assert time.time() - marker < 20
    last = json.loads(d.q("SELECT id, detail FROM audit_events WHERE kind = 'retention_sweep' "
                          "ORDER BY id DESC LIMIT 1")[0]["detail"])
    assert last["reports"] == 0, last
    # A re-delivery of a purged report is still a duplicate (ids and external ids stay).
    r = d.post({"external_id": d.q("SELECT id, external_id FROM reports WHERE id = ?",
                                   old_ids[0])[0]["external_id"],
                "sender": "+79001110000", "text": "again"})
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    log = d.log_text()
    for body in ("Old report", "+7900111000", "Old subject"):
        assert body not in log
    assert d.stop() == 0


def test_retention_shorter_than_a_day_is_refused(wd, base_cfg):
    base_cfg["storage"]["retention"] = "180m"
    d = h.Daemon(wd, base_cfg)
    d.write_config()
    cp = h.run_ctl("check", "--config", d.config_path)
    out, err = h.decoded(cp)
    assert cp.returncode == 1, out + err
    assert "storage.retention: must be at least 1d (or off)" in err, err
