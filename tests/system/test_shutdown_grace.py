"""A routine restart does not burn attempts (issue 7, fault 6): a delivery still in flight
when SIGTERM's dispatch grace (5 s) runs out is aborted, and that abort is not an attempt.
With max_attempts 1 a counted abort would give up on the contact and fall through to the
next one (an email); instead the notification stays pending with its attempts unchanged and
is delivered once after the restart."""
import threading
import time

import pytest

import hotline_harness as h


class HoldingSink(h.LocalWebhook):
    """A webhook endpoint in this process that holds every request (answers nothing) while
    `hold` is set, and answers 200 otherwise; records each request's Idempotency-Key."""

    def __init__(self):
        self.hold = threading.Event()
        self.release = threading.Event()
        super().__init__()  # self.requests: (idempotency key, answered status or None while held)

    def answer(self, key):
        held = self.hold.is_set()
        with self.lock:
            self.requests.append((key, None if held else 200))
        if held:
            self.release.wait(60)  # past the daemon's grace; the daemon hangs up
            return None
        return 200, b'{"id":"held-sink"}'

    def close(self):
        self.release.set()
        super().close()


@pytest.fixture
def holding_sink():
    s = HoldingSink()
    yield s
    s.close()


def test_transfer_aborted_at_shutdown_is_not_an_attempt(wd, http_sink, smtp_sink, holding_sink):
    cfg = h.default_config(http_sink, smtp_sink)
    hook = cfg["channels"][0]
    hook["timeout"] = "60s"  # the sink outlasts the grace, not the channel's timeout
    hook["retry"] = {"max_attempts": 1, "initial_backoff": "100ms", "max_backoff": "100ms",
                     "max_age": "1h"}
    cfg["responders"] = [h.person("en", "en", [("ops-webhook", holding_sink.url("/hold/en")),
                                               ("email", "en@example.org")])]
    cfg["partners"] = []
    cfg["route"] = {"severity": "normal", "notify": ["responder:en"]}
    d = h.Daemon(wd, cfg).start()

    holding_sink.hold.set()
    rid = d.submit(h.report(text="in flight at shutdown"))["report_id"]
    h.wait_until(lambda: len(holding_sink.snapshot()) == 1, what="the held delivery")
    before = d.notifications(rid)
    assert [(r["status"], r["attempts"]) for r in before] == [("pending", 0)], before

    t0 = time.monotonic()
    assert d.stop(timeout=20) == 0
    took = time.monotonic() - t0
    assert 4.0 <= took < 15.0, f"exit after {took:.1f} s: the 5 s dispatch grace did not apply"
    log = d.log_text()
    assert "aborting 1 transfers" in log, log[-3000:]
    rows = d.notifications(rid)
    assert len(rows) == 1, f"a follow-up was planned: {rows}"
    n = rows[0]
    assert (n["status"], n["attempts"], n["last_error"]) == ("pending", 0, None), n
    kinds = [r["kind"] for r in d.q("SELECT kind FROM audit_events WHERE notification_id = ?",
                                    n["id"])]
    assert kinds == [], kinds
    assert smtp_sink.messages() == []

    # After the restart it is delivered, once, to the same contact, on its first attempt.
    holding_sink.hold.clear()
    d.start()
    rows = d.wait_settled(rid)
    assert [(r["status"], r["attempts"], r["contact_index"]) for r in rows] == \
        [("delivered", 1, 0)], rows
    answered = [k for k, s in holding_sink.snapshot() if s == 200]
    assert answered == [n["idempotency_key"]]
    assert [k for k, _ in holding_sink.snapshot()] == [n["idempotency_key"]] * 2
    time.sleep(0.5)  # nothing to poll: no fall-through or dead letter may follow
    assert smtp_sink.messages() == []
    assert d.q("SELECT COUNT(*) AS n FROM notifications WHERE status = 'dead'")[0]["n"] == 0
    assert d.stop() == 0
