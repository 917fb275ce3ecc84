"""Storage faults, injected with the LD_PRELOAD shim (tests/faults/README.md): an fsync
error ends the daemon at once, a stalled fsync answers 503 and stops the watchdog, and a
power cut (only synced bytes survive) loses no acknowledged report."""
import time

import fault_harness as fh
import hotline_harness as h

IO_ERROR_EXIT = 74  # store/sqlite/writer.hpp io_error_exit_code (EX_IOERR)


def assert_acked_present(d, acked):
    by_ext = {}
    for r in d.q("SELECT id, external_id FROM reports"):
        by_ext.setdefault(r["external_id"], []).append(r["id"])
    missing = [e for e in acked if e not in by_ext]
    assert missing == [], f"{len(missing)} of {len(acked)} acknowledged reports lost: {missing[:5]}"
    wrong = [(e, rid, by_ext[e]) for e, rid in acked.items() if by_ext[e] != [rid]]
    assert wrong == [], wrong[:5]
    return by_ext


def test_fsync_error_exits_at_once_and_loses_nothing_acknowledged(wd, base_cfg):
    d = h.Daemon(wd, base_cfg)
    shim = fh.FaultShim(wd, d.db_path.parent)
    d.start(env=shim.env())
    load = h.Loader(d, 8, 1000, stop_on_error=False).start()
    h.wait_until(lambda: len(load.acked) >= 150, timeout=60, interval=0.01,
                 what="150 acknowledged reports")

    shim.set("fsync=eio")
    rc = d.proc.wait(15)
    load.stop_flag.set()
    assert load.join(30), "client threads hung after the exit"
    assert rc == IO_ERROR_EXIT, f"hotlined exit status {rc}, want {IO_ERROR_EXIT}"
    acked = dict(load.acked)
    assert len(acked) < len(load.sent), "the load finished before the fault"

    log = d.log_text()
    assert "hotline-faults: fsync=eio on " in log, "the shim injected nothing"
    lines = [l for l in log.splitlines() if " critical " in l]
    assert len(lines) == 1, lines
    assert "COMMIT failed with an I/O error (SQLITE_IOERR_FSYNC" in lines[0], lines[0]
    assert f"exiting with status {IO_ERROR_EXIT}" in lines[0], lines[0]
    # Nothing after it: no completion ran, nothing was answered or drained.
    after = log[log.index(lines[0]) + len(lines[0]):]
    assert "stored report=" not in after and "drain" not in after, after[:2000]
    # The line names no report contents.
    assert "Load report" not in lines[0] and "+7900" not in lines[0]

    # Restarted without the shim (systemd's Restart=on-failure), SQLite recovers from the
    # WAL: every acknowledged report is there, with the id it was acknowledged with.
    d.start()
    by_ext = assert_acked_present(d, acked)
    # A client retrying what it got no 2xx for is answered success, once.
    for ext in [e for e in load.sent if e not in acked][:20]:
        r = d.post(load.sent[ext])
        assert r.status_code in (200, 202), (ext, r.status_code, r.text)
        if ext in by_ext:
            assert r.status_code == 200 and r.json()["duplicate"] is True
    assert d.stop() == 0


def test_stalled_writer_answers_503_within_the_deadline_and_stops_the_watchdog(wd, base_cfg):
    base_cfg["server"]["submit_timeout"] = "1s"
    d = h.Daemon(wd, base_cfg)
    shim = fh.FaultShim(wd, d.db_path.parent)
    notify = fh.NotifySocket(wd)
    # WATCHDOG_USEC=1s: kicks every 500 ms; a writer silent for 1 s stops them.
    d.start(env={**shim.env(), **notify.env(watchdog_usec=1_000_000)},
            wrapper=fh.WATCHDOG_PID_WRAPPER)
    d.submit()
    notify.wait_for("WATCHDOG", count=3, after=time.monotonic(), timeout=10)

    shim.set("fsync=stall")
    body = h.report()
    started = time.monotonic()
    r = d.post(body, timeout=15)
    took = time.monotonic() - started
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers.get("Retry-After"), r.headers
    assert r.json()["error"]["code"] == "unavailable", r.text
    assert 0.9 <= took < 3.0, f"answered after {took:.2f}s, submit_timeout is 1s"
    assert "hotline-faults: fsync=stall on " in d.log_text(), "the shim stalled nothing"

    # The writer has been stuck in one batch since `started`: no kick once it has been
    # silent for 1 s (plus one kick interval and slack for a loaded machine).
    time.sleep(max(0.0, started + 4.0 - time.monotonic()))
    late = notify.times("WATCHDOG", after=started + 2.0)
    assert late == [], f"{len(late)} watchdog kicks while the writer was stalled"
    assert "store writer silent for " in d.log_text()
    assert d.alive()

    # Unstalled: the kicks resume, and the late commit landed, so the retry is a duplicate.
    shim.set("none")
    notify.wait_for("WATCHDOG", count=2, after=time.monotonic(), timeout=10)
    assert "store writer alive again" in d.log_text()
    again = d.post(body)
    assert again.status_code == 200, (again.status_code, again.text)
    assert again.json()["duplicate"] is True
    log = d.log_text()
    assert "within submit_timeout=1s: answered unavailable" in log
    assert "committed after its source was answered unavailable" in log
    assert d.stop() == 0
    notify.close()


def test_power_cut_loses_no_acknowledged_report(wd, base_cfg):
    """synchronous=FULL is what this proves: the shim keeps, per file, only the bytes of
    its last successful fsync (and only files whose directory was synced); everything
    else is lost at the "power cut". A kill -9 alone keeps the page cache and proves
    nothing about power loss (it passes with synchronous=OFF)."""
    d = h.Daemon(wd, base_cfg)
    shim = fh.FaultShim(wd, d.db_path.parent)
    shim.set("powerloss")
    d.start(env=shim.env())  # a fresh store: its creation is modelled too
    load = h.Loader(d, 8, 100, stop_on_error=True).start()
    h.wait_until(lambda: len(load.acked) >= 300, timeout=90, interval=0.005,
                 what="300 acknowledged reports")
    d.kill9()
    assert load.join(30)
    acked = dict(load.acked)

    kept = dict(shim.power_cut())
    wal = d.db_path.name + "-wal"
    assert kept.get(wal, 0) > 0, f"no synced WAL survived: {kept}"
    d.start()  # without the shim: SQLite recovers from what survived
    assert_acked_present(d, acked)
    assert d.q("PRAGMA integrity_check")[0]["integrity_check"] == "ok"
    assert d.stop() == 0
