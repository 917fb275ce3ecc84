"""Hostile and malformed HTTP input: clear errors, no crash, no stall."""
import json
import socket
import threading
import time

import pytest
import requests

import hotline_harness as h

BODY_LIMIT = 4096


@pytest.fixture
def daemon(wd, http_sink, smtp_sink):
    cfg = h.default_config(http_sink, smtp_sink, body_limit="4KiB")
    return h.Daemon(wd, cfg).start()


def expect_error(r, status, codes):
    codes = (codes,) if isinstance(codes, str) else codes
    assert r.status_code == status, f"want {status}, got {r.status_code} {r.text!r}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    js = r.json()
    assert isinstance(js.get("error"), dict), js
    assert js["error"].get("code") in codes, js
    assert isinstance(js["error"].get("message"), str) and js["error"]["message"], js
    return js


def assert_still_serving(d):
    assert d.alive(), "hotlined died"
    assert d.get("/healthz").status_code == 200
    d.submit(h.report(text="Good report after the bad ones"))


def raw_exchange(port, payload, timeout=5.0, half_close=False):
    """Sends bytes, returns what came back before close/timeout (b'' on reset)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(payload)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                head, _, rest = got.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if len(rest) >= length:
                    break
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"no answer and no close within {timeout}s; got {got[:200]!r}")
    finally:
        s.close()
    return got


def test_unauthorized(daemon):
    good = h.report()
    for token in (None, "wrong-token", h.TOKEN + "x", ""):
        r = daemon.post(good, token=token)
        expect_error(r, 401, "unauthorized")
        assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), r.headers
    r = daemon.post(good, token=None, headers={"Authorization": f"Basic {h.TOKEN}"})
    expect_error(r, 401, "unauthorized")
    assert daemon.q("SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0
    assert_still_serving(daemon)


def test_malformed_json(daemon):
    for data in (b'{"sender": "x", "text": ', b"", b"not json", b'{"sender":"x","text":"y"} junk',
                 b'{"sender":"x","text":"y",}', b"\x00\x01\x02"):
        expect_error(daemon.post(data=data), 400, "bad_json")
    # Valid JSON that is not an object.
    for data in (b"[1, 2]", b'"text"', b"42", b"null"):
        expect_error(daemon.post(data=data), 400, ("bad_json", "bad_field"))
    assert_still_serving(daemon)


def test_missing_and_wrongly_typed_fields(daemon):
    js = expect_error(daemon.post({"text": "no sender"}), 400, "missing_field")
    assert "sender" in js["error"]["message"]
    js = expect_error(daemon.post({"sender": "+79001234567"}), 400, "missing_field")
    assert "text" in js["error"]["message"]
    expect_error(daemon.post({}), 400, "missing_field")
    bad = [
        {"sender": 5, "text": "x"},
        {"sender": "x", "text": ["a", "b"]},
        {"sender": "x", "text": {"a": 1}},
        {"sender": "x", "text": "y", "subject": 1},
        {"sender": "x", "text": "y", "labels": "region=north"},
        {"sender": "x", "text": "y", "labels": {"region": 1}},
        {"sender": "x", "text": "y", "labels": {"region": {"nested": "no"}}},
        {"sender": "x", "text": "y", "external_id": 7},
        {"sender": None, "text": "y"},
    ]
    for body in bad:
        expect_error(daemon.post(body), 400, ("bad_field", "missing_field"))
    assert daemon.q("SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0
    assert_still_serving(daemon)


def test_invalid_utf8(daemon):
    for data in (b'{"sender":"x","text":"\xff\xfe broken"}',
                 b'{"sender":"x","text":"overlong \xc0\xaf"}',
                 b'{"sender":"x","text":"surrogate \xed\xa0\x80"}',
                 b'{"sender":"\xd0","text":"truncated sequence in sender"}'):
        expect_error(daemon.post(data=data), 400, "invalid_utf8")
    # A lone surrogate written as a JSON escape cannot become UTF-8 either.
    expect_error(daemon.post(data=b'{"sender":"x","text":"\\ud800"}'), 400,
                 ("invalid_utf8", "bad_json"))
    assert daemon.q("SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0
    assert_still_serving(daemon)


def test_body_too_large(daemon):
    big = h.report(text="x" * (BODY_LIMIT + 100))
    expect_error(daemon.post(big), 413, "too_large")
    # Just under the limit is fine.
    fits = h.report(text="y" * (BODY_LIMIT - 300))
    assert len(json.dumps(fits).encode()) < BODY_LIMIT
    daemon.submit(fits)
    # A huge announced Content-Length is refused without waiting for the body.
    head = (f"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {h.TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n").encode()
    got = raw_exchange(daemon.port, head + b'{"sender":', timeout=5)
    assert got.startswith(b"HTTP/1.1 413"), got[:200]

    # Chunked bodies are limited too.
    def chunks():
        for _ in range(16):
            yield b'{"x":"' + b"z" * 1000 + b'"},'
    r = requests.post(daemon.url("/v1/reports"), data=chunks(), timeout=10,
                      headers={"Authorization": f"Bearer {h.TOKEN}",
                               "Content-Type": "application/json"})
    assert r.status_code == 413, (r.status_code, r.text)
    assert_still_serving(daemon)


def test_unsupported_media_type(daemon):
    body = json.dumps(h.report()).encode()
    expect_error(daemon.post(data=body, content_type="text/plain"), 415,
                 "unsupported_media_type")
    expect_error(daemon.post(data=body, content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")
    expect_error(daemon.post(data=body, content_type=None), 415, "unsupported_media_type")
    # Parameters on the right type are fine.
    r = daemon.post(h.report(), content_type="application/json; charset=utf-8")
    assert r.status_code == 202, r.text


def test_not_found_and_method_not_allowed(daemon):
    expect_error(daemon.get("/nope"), 404, "not_found")
    expect_error(daemon.post(h.report(), path="/v1/reportz"), 404, "not_found")
    expect_error(daemon.post(h.report(), path="/v1/reports/1/../../etc/passwd"), 404,
                 "not_found")
    r = daemon.get("/v1/reports", headers={"Authorization": f"Bearer {h.TOKEN}"})
    expect_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers.get("Allow", ""), r.headers
    r = requests.put(daemon.url("/v1/reports"), data=b"{}", timeout=10,
                     headers={"Authorization": f"Bearer {h.TOKEN}",
                              "Content-Type": "application/json"})
    expect_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers.get("Allow", "")
    assert_still_serving(daemon)


def test_rejections_are_counted(daemon):
    daemon.post({"text": "no sender"})
    daemon.post(data=b"{bad")
    daemon.post(h.report(), token="nope")
    samples = daemon.metrics()
    assert h.metric_sum(samples, "hotline_reports_rejected_total") >= 2
    assert h.metric_sum(samples, "hotline_http_requests_total", code="400") >= 2
    assert h.metric_sum(samples, "hotline_http_requests_total", code="401") >= 1


def test_flood_over_keep_alive(daemon):
    s = requests.Session()
    auth = {"Authorization": f"Bearer {h.TOKEN}", "Content-Type": "application/json"}
    kinds = [
        (lambda: s.post(daemon.url("/v1/reports"), data=b"{oops", headers=auth, timeout=10), 400),
        (lambda: s.post(daemon.url("/v1/reports"), data=b'{"text":"x"}', headers=auth,
                        timeout=10), 400),
        (lambda: s.post(daemon.url("/v1/reports"), data=b'{"sender":"x","text":"\xff"}',
                        headers=auth, timeout=10), 400),
        (lambda: s.post(daemon.url("/v1/reports"), data=b"{}", timeout=10,
                        headers={"Content-Type": "application/json"}), 401),
        (lambda: s.post(daemon.url("/v1/reports"), data=b"{}", timeout=10,
                        headers={"Authorization": f"Bearer {h.TOKEN}",
                                 "Content-Type": "text/plain"}), 415),
        (lambda: s.get(daemon.url("/missing"), timeout=10), 404),
    ]
    t0 = time.monotonic()
    for i in range(500):
        fn, want = kinds[i % len(kinds)]
        r = fn()
        assert r.status_code == want, (i, r.status_code, r.text)
    s.close()
    assert time.monotonic() - t0 < 30
    assert_still_serving(daemon)


def test_many_concurrent_connections_and_idle_sockets(daemon):
    # Idle and half-sent requests hold connections; they must not stall anyone else. They
    # come from another host (127.0.0.2): from the clients' own address they would also
    # meet max_connections_per_ip, which test_floods covers.
    idle = []
    for i in range(150):
        c = socket.create_connection(("127.0.0.1", daemon.port), timeout=5,
                                     source_address=("127.0.0.2", 0))
        if i % 2:
            c.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Le")
        idle.append(c)
    errors, codes = [], []
    lock = threading.Lock()

    def worker(t):
        s = requests.Session()
        try:
            for i in range(8):
                if i % 2:
                    r = daemon.post(data=b"[garbage", session=s)
                else:
                    r = daemon.post(h.report(text=f"concurrent {t}/{i}"), session=s)
                with lock:
                    codes.append(r.status_code)
        except requests.RequestException as e:
            with lock:
                errors.append(repr(e))
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(48)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - t0
    for c in idle:
        c.close()
    assert errors == [], errors[:5]
    assert sorted(set(codes)) == [202, 400], sorted(set(codes))
    assert codes.count(202) == 48 * 4
    assert elapsed < 30, elapsed
    assert_still_serving(daemon)


@pytest.mark.parametrize("payload", [
    b"\x00\xff\xfe garbage \r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /v1/reports HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/reports HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde",
    b"POST /v1/reports HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
    b"\r\n" * 5000,
], ids=["binary", "bad_version", "negative_length", "two_lengths", "bad_chunk", "huge_header",
        "crlf_flood"])
def test_garbage_on_raw_socket(daemon, payload):
    got = raw_exchange(daemon.port, payload, half_close=True)
    assert got == b"" or got.startswith(b"HTTP/1.1 4"), got[:200]
    assert_still_serving(daemon)
