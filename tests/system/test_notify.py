"""systemd's notify protocol over a real NOTIFY_SOCKET: READY=1 once the port is bound,
WATCHDOG=1 every WATCHDOG_USEC/2, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
SIGTERM."""
import socket
import time

import fault_harness as fh
import hotline_harness as h


def test_ready_watchdog_reloading_stopping(wd, base_cfg):
    d = h.Daemon(wd, base_cfg)
    bound_at_ready = []

    def on_message(fields):
        # Checked as READY=1 arrives: the listener must already accept.
        if fields.get("READY") == "1" and not bound_at_ready:
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
                bound_at_ready.append(True)
            except OSError as e:
                bound_at_ready.append(repr(e))

    notify = fh.NotifySocket(wd, on_message=on_message)
    d.start(wait_ready=False, env=notify.env(watchdog_usec=1_000_000),
            wrapper=fh.WATCHDOG_PID_WRAPPER)
    ready = notify.wait_for("READY", timeout=20)
    assert bound_at_ready == [True], bound_at_ready
    d.wait_ready()

    # Kicks every 500 ms (half of WATCHDOG_USEC), from READY on.
    kicks = notify.wait_for("WATCHDOG", count=5, after=ready[0], timeout=10)
    gaps = [b - a for a, b in zip(kicks, kicks[1:])]
    assert all(0.3 <= g <= 1.0 for g in gaps), gaps

    # SIGHUP: RELOADING=1, then READY=1 once the new config is in force.
    before = time.monotonic()
    d.hup()
    reloading = notify.wait_for("RELOADING", after=before, timeout=10)[0]
    ready_again = notify.wait_for("READY", after=reloading, timeout=10)[0]
    assert ready_again >= reloading
    h.wait_until(lambda: "reloaded: " in d.log_text(), timeout=10, what="the reload log line")
    d.submit()

    # SIGTERM: STOPPING=1, then a clean exit.
    before = time.monotonic()
    assert d.stop() == 0
    notify.wait_for("STOPPING", after=before, timeout=5)
    notify.close()


def test_no_watchdog_kicks_for_another_pid(wd, base_cfg):
    """WATCHDOG_PID names the process systemd watches; any other process keeps quiet."""
    d = h.Daemon(wd, base_cfg)
    notify = fh.NotifySocket(wd)
    d.start(env={**notify.env(watchdog_usec=200_000), "WATCHDOG_PID": "1"})
    notify.wait_for("READY", timeout=10)
    time.sleep(1.0)  # a negative: five kick intervals with nothing
    assert notify.times("WATCHDOG") == []
    assert d.stop() == 0
    notify.close()
