"""Startup details: port 0, JSON logs, connection and read limits."""
import json
import socket
import time

import hotline_harness as h


def test_port_zero_is_logged_and_served(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start(port=0)
    assert d.port > 0
    assert d.get("/healthz").status_code == 200
    d.submit()
    assert d.stop() == 0


def test_json_logs_are_one_object_per_line(wd, base_cfg, http_sink):
    base_cfg["logging"] = {"format": "json", "level": "info"}
    d = h.Daemon(wd, base_cfg).start()
    ids = d.submit(h.report(text="json log check"))
    http_sink.wait_report("/ok/en", ids["report_id"])
    d.wait_settled(ids["report_id"])
    assert d.stop() == 0
    lines = [l for l in d.log_text().splitlines() if l.strip()]
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert {"ts", "level", "msg"} <= set(obj), obj
    assert any("port=" in json.loads(l)["msg"] for l in lines)


def test_read_timeout(wd, base_cfg):
    base_cfg["server"]["max_connections"] = 8
    base_cfg["server"]["read_timeout"] = "500ms"
    # Every slot open to strangers: with reserved slots the 7th and 8th would evict the
    # oldest unauthenticated connections at once (test_floods covers that).
    base_cfg["server"]["reserved_connections"] = 0
    d = h.Daemon(wd, base_cfg).start()
    held = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\n")  # never finished
        held.append(s)
    # The slow requests are cut off by read_timeout, not held forever: the daemon closes
    # each connection without an answer (as Beast's stream timeout does), no earlier than
    # the timeout (a crash or the connection limit would close them at once).
    t0 = time.monotonic()
    for s in held:
        s.settimeout(5)
        data = s.recv(4096)
        closed_after = time.monotonic() - t0
        assert data == b"", data
        assert closed_after >= 0.4, f"closed after {closed_after:.3f} s, before read_timeout"
        s.close()
    assert time.monotonic() - t0 < 4, "read_timeout 500ms not enforced"
    assert d.proc.alive()
    # With the slots free again, the daemon serves.
    d.submit()


def test_connection_limit(wd, base_cfg):
    base_cfg["server"]["max_connections"] = 8
    base_cfg["server"]["read_timeout"] = "10s"
    # No reserved slots: max_connections is then a plain cap (with reserved slots an idle
    # unauthenticated connection would be evicted for the newcomer; test_floods covers it).
    base_cfg["server"]["reserved_connections"] = 0
    d = h.Daemon(wd, base_cfg).start()
    # Past max_connections a new connection is closed at once, without a byte, and
    # counted; the daemon recovers when the others close.
    idle = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(8)]
    h.wait_until(lambda: h.metric_sum(d.metrics(), "hotline_http_connections") == 8,
                 what="the daemon to accept the 8 idle connections")
    rejected = h.metric_sum(d.metrics(), "hotline_http_connections_rejected_total",
                            reason="max_connections")
    extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    extra.settimeout(3)
    try:
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        got = extra.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        got = b""
    extra.close()
    assert got == b"", got
    h.wait_until(lambda: h.metric_sum(d.metrics(), "hotline_http_connections_rejected_total",
                                      reason="max_connections") == rejected + 1,
                 what="the refused connection to be counted")
    for s in idle:
        s.close()
    h.wait_until(lambda: d.get("/healthz", timeout=2).status_code == 200, timeout=5,
                 what="service after the idle connections closed")
    d.submit()
