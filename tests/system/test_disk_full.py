"""A full disk (issue 7, fault 1): the store on a size-limited tmpfs, filled while ~120
notifications are pending toward a webhook endpoint that is down, then the endpoint comes
back. Nothing is sent twice while outcomes cannot be recorded, intake and /readyz answer
503; once space returns the daemon recovers by itself: intake 202, /readyz 200, every
pending notification delivered exactly once, every row there.

Needs root (mount -t tmpfs): without it the test fails, it does not skip.
"""
import os
import subprocess
import time

import pytest
import requests

import hotline_harness as h

REPORTS = 40
RESPONDERS = 3  # notifications per report: 120 pending


class ToggleSink(h.LocalWebhook):
    """A webhook endpoint in this process: answers 503 while down, 200 once up; records
    every request's Idempotency-Key (one per notification) and the status it answered."""

    def __init__(self):
        self.up = False
        super().__init__()  # self.requests: (idempotency key, status, monotonic time)

    def answer(self, key):
        with self.lock:
            status = 200 if self.up else 503
            self.requests.append((key, status, time.monotonic()))
        return status, (b'{"id":"x"}' if status == 200 else b"down")


@pytest.fixture
def tmpfs(wd):
    mnt = wd.path / "tmpfs"
    mnt.mkdir()
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mnt)],
                        capture_output=True, text=True)
    assert cp.returncode == 0, (
        f"this test needs a size-limited tmpfs (run as root): mount failed rc={cp.returncode}"
        f" {cp.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture
def sink():
    s = ToggleSink()
    yield s
    s.close()


def fill(path):
    """Writes zeros until the filesystem refuses (ENOSPC)."""
    chunk = b"\0" * (256 * 1024)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        # Small leftovers (a page here and there) fill too.
        for size in (4096, 512, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError:
                    break


def status_of(fn):
    try:
        return fn().status_code
    except requests.RequestException as e:
        return repr(e)


def test_full_disk_sends_nothing_twice_and_recovers(wd, http_sink, smtp_sink, tmpfs, sink):
    cfg = h.default_config(http_sink, smtp_sink)
    cfg["storage"]["path"] = str(tmpfs / "hotline.db")
    hook = cfg["channels"][0]
    hook["retry"] = {"max_attempts": 1000, "initial_backoff": "100ms", "max_backoff": "300ms",
                     "max_age": "1h"}
    cfg["responders"] = [
        h.person(f"r{i}", "en", [("ops-webhook", sink.url(f"/hook/r{i}"))])
        for i in range(RESPONDERS)]
    cfg["partners"] = []
    cfg["route"] = {"severity": "normal",
                    "notify": [f"responder:r{i}" for i in range(RESPONDERS)]}
    d = h.Daemon(wd, cfg).start()

    reports = [d.submit(h.report(text=f"full disk {i}"))["report_id"] for i in range(REPORTS)]
    total = REPORTS * RESPONDERS
    rows = d.q("SELECT id, idempotency_key FROM notifications")
    assert len(rows) == total
    keys = {r["idempotency_key"] for r in rows}

    # Every notification has been tried (and refused) at least once: all are pending retries.
    h.wait_until(lambda: {k for k, _, _ in sink.snapshot()} >= keys, timeout=30,
                 what="a first (refused) attempt of every notification")

    filler = tmpfs / "filler"
    fill(filler)
    # The store cannot write any more: /readyz turns 503 (a failed write batch), intake 503.
    h.wait_until(lambda: status_of(lambda: d.get("/readyz", timeout=5)) == 503, timeout=20,
                 what="/readyz 503 on a full disk")
    intake = d.post(h.report(text="while full"))
    assert intake.status_code == 503, (intake.status_code, intake.text)
    assert intake.headers.get("Retry-After"), intake.headers

    # The endpoint comes back while the disk is still full.
    back = time.monotonic()
    with sink.lock:
        sink.up = True
    time.sleep(5)  # nothing to poll: the defect is what happens in this time
    after = [(k, s) for k, s, t in sink.snapshot() if t >= back]
    seen = {}
    for k, s in after:
        seen[k] = seen.get(k, 0) + 1
    twice = {k: n for k, n in seen.items() if n > 1}
    assert twice == {}, f"{len(twice)} notifications sent more than once while the disk " \
        f"was full ({len(after)} requests in 5 s)"
    assert status_of(lambda: d.get("/readyz", timeout=5)) == 503
    intake = d.post(h.report(text="still full"))
    assert intake.status_code == 503, (intake.status_code, intake.text)
    assert "full disk" not in d.log_text() and "still full" not in d.log_text()

    # Space returns: recovery by itself, within seconds.
    os.unlink(filler)
    freed = time.monotonic()

    def intake_ok():
        r = d.post(h.report(text="space is back"))
        return r.json()["report_id"] if r.status_code == 202 else None

    late_report = h.wait_until(intake_ok, timeout=10, interval=0.2,
                               what="intake 202 after space returned")
    assert time.monotonic() - freed < 10
    h.wait_until(lambda: status_of(lambda: d.get("/readyz", timeout=5)) == 200, timeout=10,
                 what="/readyz 200 after space returned")

    def all_delivered():
        rows = d.q("SELECT id, idempotency_key, status FROM notifications")
        return rows if rows and all(r["status"] == "delivered" for r in rows) else None

    rows = h.wait_until(all_delivered, timeout=30, what="every notification delivered")
    assert len(rows) == total + RESPONDERS  # plus the late report's
    delivered = {}
    for k, s, _ in sink.snapshot():
        if s == 200:
            delivered[k] = delivered.get(k, 0) + 1
    all_keys = {r["idempotency_key"] for r in rows}
    assert set(delivered) == all_keys
    assert {k: n for k, n in delivered.items() if n != 1} == {}
    # Every report and notification row is there (none lost, none of the refused ones).
    stored = {r["id"] for r in d.q("SELECT id FROM reports")}
    assert set(reports) | {late_report} == stored
    for rid in reports:
        assert len(d.notifications(rid)) == RESPONDERS
    assert d.stop() == 0
