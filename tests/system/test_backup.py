"""`hotlinectl backup` while reports are being posted: the copy is whole (integrity_check
ok), private (0600), still sealed, holds every report acknowledged before the backup
started, and a daemon started on it knows them (a re-post is a duplicate of the same id);
the live database keeps every report acknowledged during and after the backup."""
import copy
import os
import shutil
import sqlite3
import stat

import hotline_harness as h


def test_backup_while_posting(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    for _ in range(20):
        d.submit()
    loader = h.Loader(d, threads=4, per_thread=150).start()
    h.wait_until(lambda: len(loader.acked) >= 100, what="100 acknowledged reports under load")
    with loader.lock:
        acked_before = dict(loader.acked)
        bodies = {eid: loader.sent[eid] for eid in acked_before}
    target = wd.path / "backup" / "hotline-copy.db"
    target.parent.mkdir()
    cp = h.run_ctl("backup", "--config", d.config_path, "--to", target, timeout=60)
    assert loader.join(60), "load did not finish"
    out, err = h.decoded(cp)
    assert cp.returncode == 0, out + err
    assert "integrity ok" in out, out
    assert h.key_id_hex(d.storage_key) in out, out
    assert loader.errors == [], loader.errors[:3]
    assert len(loader.acked) > len(acked_before), "the backup did not overlap the load"

    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not os.path.exists(str(target) + ".partial")
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {eid: (rid, text) for rid, eid, text in
                conn.execute("SELECT id, external_id, text FROM reports")}
    finally:
        conn.close()
    missing = [eid for eid in acked_before if eid not in rows]
    assert not missing, f"{len(missing)} acknowledged reports not in the backup: {missing[:3]}"
    for eid, rid in acked_before.items():
        got_id, sealed = rows[eid]
        assert got_id == rid
        # Still sealed: raw SQL sees ciphertext, the daemon's key opens it.
        assert isinstance(sealed, bytes), f"report {rid} text is not sealed in the backup"
        assert h.open_sealed(d.storage_key, sealed, f"reports.text:{rid}") == bodies[eid]["text"]
    # The live database lost nothing either: every report acknowledged during and after
    # the backup is there once the daemon has stopped. (The backup's connection closing
    # once made SQLite delete the daemon's -wal: every later commit went to an unlinked
    # file. That is why the store never open()s its database file itself.)
    d.submit()
    assert d.stop() == 0
    conn = sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True)
    try:
        live = {eid for (eid,) in conn.execute("SELECT external_id FROM reports")}
    finally:
        conn.close()
    lost = [eid for eid in loader.acked if eid not in live]
    assert not lost, f"{len(lost)} acknowledged reports lost from the live database"

    # Restore: a daemon on the copy (same key) serves the reports.
    wd2 = h.Workdir(prefix="hotline-restore-")
    try:
        (wd2.path / "secrets").mkdir()
        shutil.copy2(d.secrets / "storage.key", wd2.path / "secrets" / "storage.key")
        cfg = copy.deepcopy(base_cfg)
        cfg["storage"]["path"] = str(target)
        restored = h.Daemon(wd2, cfg).start()
        sample = list(acked_before.items())[:: max(1, len(acked_before) // 25)]
        for eid, rid in sample:
            r = restored.post(bodies[eid])
            assert r.status_code == 200, (r.status_code, r.text)
            assert r.json()["duplicate"] is True and r.json()["report_id"] == rid, r.json()
        fresh = restored.submit()
        assert fresh["report_id"] > max(rid for rid, _ in rows.values())
        assert restored.stop() == 0
    finally:
        wd2.close()


def test_backup_refuses_an_existing_file_and_a_missing_database(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    d.submit()
    target = wd.path / "exists.db"
    target.write_bytes(b"precious")
    cp = h.run_ctl("backup", "--config", d.config_path, "--to", target)
    out, err = h.decoded(cp)
    assert cp.returncode == 1, out + err
    assert "exists" in err, err
    assert target.read_bytes() == b"precious"
    cp = h.run_ctl("backup", "--config", d.config_path)
    assert cp.returncode == 2
    assert "--to FILE is required" in h.decoded(cp)[1]
    assert d.stop() == 0

    cfg = copy.deepcopy(base_cfg)
    cfg["storage"]["path"] = "var/none.db"
    d.write_config(cfg)
    cp = h.run_ctl("backup", "--config", d.config_path, "--to", wd.path / "none-copy.db")
    out, err = h.decoded(cp)
    assert cp.returncode == 1, out + err
    assert "not_found" in err or "no database" in err, err
    assert not (wd.path / "var" / "none.db").exists()
    assert not (wd.path / "none-copy.db").exists()
