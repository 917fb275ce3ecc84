"""Encryption at rest: what a defender sent, and whom we notify where, is not on disk in
clear; a missing or wrong key stops startup and changes nothing; rekey rotates the key."""
import os
import signal
import subprocess
import time

import hotline_harness as h

SECRET_TEXT = "Задержали Ивана Петрова у метро Курская"
SECRET_SENDER = "+79005554433"
SECRET_EMAIL = "person@example.org"
SECRET_PHONE_ADDR = "+79001112233"


def sealed_files(d):
    base = str(d.db_path)
    return [p for p in (base, base + "-wal", base + "-shm", base + "-journal")
            if os.path.exists(p)]


def start(wd, http, smtp):
    cfg = h.default_config(http, smtp)
    cfg["responders"][1]["contacts"] = [{"channel": "email", "address": SECRET_EMAIL}]
    return h.Daemon(wd, cfg).start()


def test_nothing_in_clear_on_disk(wd):
    http, smtp = h.HttpSink(wd), h.SmtpSink(wd)
    d = start(wd, http, smtp)
    ids = d.submit(h.report(text=SECRET_TEXT + " задержан", sender=SECRET_SENDER,
                            subject="Арест " + SECRET_PHONE_ADDR))
    smtp.wait_to(SECRET_EMAIL)
    d.wait_settled(ids["report_id"])
    # The harness opens sealed columns with the key: the values are there, sealed.
    rows = d.q("SELECT * FROM reports WHERE id = ?", ids["report_id"])
    assert rows[0]["text"].startswith(SECRET_TEXT) and rows[0]["sender"] == SECRET_SENDER
    assert d.stop() == 0
    for f in sealed_files(d):
        data = open(f, "rb").read()
        for needle in (SECRET_TEXT, "Петрова", SECRET_SENDER, "79005554433", SECRET_EMAIL,
                       SECRET_PHONE_ADDR):
            assert needle.encode() not in data, f"{needle!r} in clear in {f}"


def test_missing_key_exits_1(wd):
    http = h.HttpSink(wd)
    d = h.Daemon(wd, h.default_config(http, None))
    os.unlink(d.secrets / "storage.key")
    path = d.write_config()
    cp = h.run_hotlined("--config", path)
    assert cp.returncode == 1
    out = cp.stderr.decode() + cp.stdout.decode()
    assert "storage.key" in out and "missing" in out, out


def test_wrong_key_exits_1_and_changes_nothing(wd):
    http = h.HttpSink(wd)
    d = h.Daemon(wd, h.default_config(http, None)).start()
    d.submit(h.report(text=SECRET_TEXT))
    assert d.stop() == 0
    before = open(d.db_path, "rb").read()
    h.new_key_file(d.secrets / "storage.key")
    cp = h.run_hotlined("--config", d.config_path)
    assert cp.returncode == 1
    out = cp.stderr.decode() + cp.stdout.decode()
    assert "does not open this database" in out, out
    assert open(d.db_path, "rb").read() == before


def test_corrupt_notification_is_unreadable_and_the_rest_works(wd):
    http = h.HttpSink(wd)
    d = h.Daemon(wd, h.default_config(http, None)).start()
    ids = d.submit(h.report())
    d.wait_settled(ids["report_id"])
    assert d.stop() == 0
    import sqlite3
    conn = sqlite3.connect(str(d.db_path))
    nid, payload = conn.execute(
        "SELECT id, payload FROM notifications WHERE report_id = ?", (ids["report_id"],)
    ).fetchone()
    bad = bytearray(payload)
    bad[-1] ^= 1
    conn.execute("UPDATE notifications SET payload = ?, status = 'pending' WHERE id = ?",
                 (bytes(bad), nid))
    conn.commit()
    conn.close()
    d.start()
    h.wait_until(lambda: d.q("SELECT status FROM notifications WHERE id = ?", nid)[0]["status"]
                 == "dead", what="the corrupt notification to be marked dead")
    row = d.q("SELECT last_error FROM notifications WHERE id = ?", nid)[0]
    assert row["last_error"] == "unreadable: sealed value failed authentication"
    assert h.metric_sum(d.metrics(), "hotline_store_unreadable_total",
                        table="notifications") >= 1
    assert f"id={nid}" in d.log_text()
    ids2 = d.submit(h.report())
    http.wait_report("/ok/en", ids2["report_id"])


def test_rekey_resumes_after_kill_and_rotates(wd):
    http = h.HttpSink(wd)
    d = h.Daemon(wd, h.default_config(http, None)).start()
    reports = [d.submit(h.report(text=f"{SECRET_TEXT} {i}"))["report_id"] for i in range(12)]
    # Refused while hotlined runs.
    new_key = wd.path / "new.key"
    key = h.new_key_file(new_key)
    cp = h.run_ctl("rekey", "--config", d.config_path, "--new-key", new_key)
    assert cp.returncode == 1 and b"in use" in cp.stderr, cp.stderr
    assert d.stop() == 0
    env = dict(os.environ, HOTLINE_TEST_REKEY_BATCH="1", HOTLINE_TEST_REKEY_PAUSE_MS="200")
    p = subprocess.Popen([str(h.HOTLINECTL), "rekey", "--config", str(d.config_path),
                          "--new-key", str(new_key)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    # Half-way: the daemon refuses to start.
    cp = h.run_hotlined("--config", d.config_path)
    assert cp.returncode == 1 and b"interrupted" in cp.stderr + cp.stdout
    cp = h.run_ctl("rekey", "--config", d.config_path, "--new-key", new_key, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert b"were under the new key already" in cp.stdout
    # The old key no longer opens it.
    cp = h.run_hotlined("--config", d.config_path)
    assert cp.returncode == 1
    # With the new key it starts, and every report reads back.
    (d.secrets / "storage.key").write_bytes(key)
    d.storage_key = key
    d.start()
    for i, rid in enumerate(reports):
        assert d.q("SELECT * FROM reports WHERE id = ?", rid)[0]["text"] == f"{SECRET_TEXT} {i}"
