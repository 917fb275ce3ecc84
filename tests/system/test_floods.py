"""Floods and abuse (issue 7): connection caps, the pre-authentication timeout, slots
reserved for authenticated connections, rate limits (429 + Retry-After) and a flood from
one source beside one critical report per second from another."""
import json
import resource
import socket
import threading
import time
import uuid

import pytest
import requests

import hotline_harness as h


@pytest.fixture(autouse=True)
def _many_fds():
    # 1,100 client sockets here, as many accepted ones in the daemon (which inherits this).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def raw_post(sock, body, token=h.TOKEN):
    """One keep-alive POST /v1/reports on `sock`; returns (status, headers, body)."""
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n"
                 .encode() + data)
    return read_response(sock)


def raw_get(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return read_response(sock)


def read_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    return status, headers, rest[:length]


def closed_without_answer(sock, timeout=3):
    """True when the daemon closes `sock` without sending a byte."""
    sock.settimeout(timeout)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def connect(port, source="127.0.0.1", timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def open_idle(port, source, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(port, source))
        except OSError:
            break  # the accept queue is full: enough are held
    return socks


def close_all(socks):
    for s in socks:
        s.close()


def metric(d, name, **labels):
    return h.metric_sum(d.metrics(), name, **labels)


def test_1100_idle_sockets_from_one_host_do_not_stop_a_partner(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    idle = open_idle(d.port, "127.0.0.2", 1100)
    try:
        assert len(idle) >= 1024
        # The daemon has accepted them all (and refused past the per-IP cap).
        h.wait_until(lambda: metric(d, "hotline_http_connections_rejected_total",
                                    reason="per_ip") >= len(idle) - 64,
                     timeout=10, what="the idle sockets past the per-IP cap refused")
        r = d.post(h.report(text="partner report during an idle flood"))
        assert r.status_code == 202, (r.status_code, r.text)
    finally:
        close_all(idle)


def test_per_ip_cap_refuses_the_65th_while_another_host_connects(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    held = [connect(d.port, "127.0.0.2") for _ in range(64)]
    try:
        for s in held:  # each one is served: they are really open
            assert raw_get(s, "/healthz")[0] == 200
        extra = connect(d.port, "127.0.0.2")
        assert closed_without_answer(extra), "65th connection from one IP was served"
        extra.close()
        other = connect(d.port, "127.0.0.3")
        assert raw_get(other, "/healthz")[0] == 200
        other.close()
        assert metric(d, "hotline_http_connections_rejected_total", reason="per_ip") == 1
    finally:
        close_all(held)


def test_reserved_slots_keep_authenticated_connections_and_admit_a_partner(wd, base_cfg):
    srv = base_cfg["server"]
    srv.update({"max_connections": 100, "reserved_connections": 25,
                "max_connections_per_ip": 1000, "preauth_timeout": "30s",
                "read_timeout": "30s"})
    d = h.Daemon(wd, base_cfg).start()
    partner = connect(d.port, "127.0.0.1")
    assert raw_post(partner, h.report(text="before the flood"))[0] == 202
    idle = open_idle(d.port, "127.0.0.2", 300)
    try:
        h.wait_until(lambda: metric(d, "hotline_http_connections_evicted_total") >= 200,
                     timeout=10, what="idle unauthenticated connections evicted")
        # The authenticated keep-alive connection was not evicted: it still serves.
        assert raw_post(partner, h.report(text="same connection, during the flood"))[0] == 202
        # A new partner connection finds a slot (an idle stranger makes room).
        r = d.post(h.report(text="new connection, during the flood"))
        assert r.status_code == 202, (r.status_code, r.text)
        samples = d.metrics()
        assert h.metric_sum(samples, "hotline_http_connections") <= 100
        # The strangers never held more than the unreserved 75 slots.
        alive = sum(1 for s in idle if not closed_without_answer(s, timeout=0.2))
        assert alive <= 75, alive
    finally:
        partner.close()
        close_all(idle)


def test_preauth_timeout_closes_strangers_not_partners(wd, base_cfg):
    base_cfg["server"].update({"preauth_timeout": "1s", "idle_timeout": "30s",
                               "read_timeout": "5s"})
    d = h.Daemon(wd, base_cfg).start()
    silent = connect(d.port)
    prober = connect(d.port)  # unauthenticated but active: keep-alive GETs
    partner = connect(d.port)
    t0 = time.monotonic()
    assert raw_get(prober, "/healthz")[0] == 200
    assert raw_post(partner, h.report(text="authenticated keep-alive"))[0] == 202
    silent.settimeout(5)
    assert silent.recv(1) == b""
    assert 0.8 <= time.monotonic() - t0 < 3.5
    prober.settimeout(5)
    assert prober.recv(1) == b""
    time.sleep(1.0)
    # Two seconds after its accept the authenticated connection is still served.
    assert raw_post(partner, h.report(text="still the same connection"))[0] == 202
    for s in (silent, prober, partner):
        s.close()


def test_rate_limits_answer_429_with_retry_after(wd, base_cfg):
    base_cfg["server"]["rate_limits"] = {"sender": {"rate": "6/min", "burst": 3},
                                         "source": {"rate": "1000/s", "burst": 1000}}
    # The other source has its own source limit (per-source override).
    base_cfg["sources"][1]["rate_limits"] = {"source": {"rate": "1/h", "burst": 2}}
    d = h.Daemon(wd, base_cfg).start()
    sender = "+79005550123"
    for i in range(3):
        d.submit(h.report(text=f"burst {i}", sender=sender))
    r = d.post(h.report(text="over the sender limit", sender=sender))
    assert r.status_code == 429, (r.status_code, r.text)
    assert r.headers["Retry-After"].isdigit()
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert r.json()["error"]["code"] == "rate_limited"
    for i in range(5):
        assert d.post(h.report(text=f"more {i}", sender=sender)).status_code == 429
    # Another sender of the same source is not limited.
    d.submit(h.report(text="another sender", sender="+79005550999"))
    # The per-source override: two reports, then 429 from the source limiter.
    for i in range(2):
        d.submit(h.report(text=f"other {i}", sender=f"+7900555000{i}"), token=h.OTHER_TOKEN)
    r = d.post(h.report(text="other over", sender="+79005550777"), token=h.OTHER_TOKEN)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1000  # 1/h: the next token is ~30 min away
    samples = d.metrics()
    assert h.metric_sum(samples, "hotline_reports_limited_total", source=h.SOURCE,
                        limiter="sender") == 6
    assert h.metric_sum(samples, "hotline_reports_limited_total", source="other",
                        limiter="source") == 1
    log = d.log_text()
    lines = [line for line in log.splitlines() if "reports limited" in line]
    # Once per limiter and minute: one line for the sender limiter, one for the source's.
    assert len([x for x in lines if "limiter=sender" in x]) == 1, lines
    assert len([x for x in lines if "limiter=source" in x]) == 1, lines
    assert sender not in log and "5550123" not in log


def test_flood_from_one_source_does_not_delay_critical_reports(wd, base_cfg, http_sink):
    """One client floods at full speed from one source; another posts one critical report
    per second from another source: each is committed and delivered."""
    del base_cfg["server"]["rate_limits"]  # the daemon's defaults, as in production
    d = h.Daemon(wd, base_cfg).start()
    stop = threading.Event()
    flood_codes = []

    def flood():
        s = requests.Session()
        i = 0
        while not stop.is_set():
            try:
                r = d.post(h.report(text=f"junk {i}", sender=f"+7999{i % 1000:07d}"),
                           session=s, timeout=10)
                flood_codes.append(r.status_code)
            except requests.RequestException:
                flood_codes.append(0)
            i += 1

    flooders = [threading.Thread(target=flood) for _ in range(4)]
    for t in flooders:
        t.start()
    critical = []
    try:
        time.sleep(0.5)
        for i in range(10):
            t0 = time.monotonic()
            body = h.report(text=f"Detained at the border, case {i}",
                            external_id=f"crit-{uuid.uuid4().hex[:8]}")
            critical.append(d.submit(body, token=h.OTHER_TOKEN))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    finally:
        stop.set()
        for t in flooders:
            t.join(30)
    assert len(flood_codes) > 50, "the flood did not run"
    assert set(flood_codes) <= {202, 429, 503}, sorted(set(flood_codes))
    for ids in critical:
        rows = d.q("SELECT severity FROM cases WHERE id = ?", ids["case_id"])
        assert rows and rows[0]["severity"] == "critical", rows
        http_sink.wait_report("/ok/ru", ids["report_id"], timeout=30)
