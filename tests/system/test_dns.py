"""A DNS server that never answers must not block the event loop.

libcurl's threaded resolver cannot interrupt getaddrinfo: when a transfer times out
mid-lookup, removing it used to join the resolver thread, blocking the io thread (intake,
dispatch, everything) until the lookup gave up (curl issues #2975 and #4852). hotlined sets
CURLOPT_QUICK_EXIT so the thread is left to finish alone.

The test runs hotlined in a private mount namespace whose /etc/resolv.conf names a local
UDP/TCP socket that reads queries and never answers (resolver timeout 30 s), and routes
every report to a webhook on a host name only that server could resolve. Deliveries there
time out after 1 s; meanwhile reports keep being posted and delivered elsewhere."""
import shutil
import socket
import subprocess
import threading
import time

import pytest

import hotline_harness as h

SWALLOW_ADDR = "127.0.0.77"
DNS_NAME = "hotline-dns-test.example"
RESOLVER_TIMEOUT_S = 30


class Swallower:
    """Reads DNS queries on UDP and TCP port 53 and never answers."""

    def __init__(self, addr):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((addr, 53))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, 53))
        self.tcp.listen(16)
        self.queries = 0
        self.held = []
        self.stopping = False
        threading.Thread(target=self._udp, daemon=True).start()
        threading.Thread(target=self._tcp, daemon=True).start()

    def _udp(self):
        while not self.stopping:
            try:
                self.udp.recvfrom(4096)
                self.queries += 1
            except OSError:
                return

    def _tcp(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
                self.held.append(conn)
            except OSError:
                return

    def close(self):
        self.stopping = True
        for s in [self.udp, self.tcp, *self.held]:
            s.close()


def namespace_wrapper(resolv):
    """argv prefix: a private mount namespace with `resolv` over /etc/resolv.conf."""
    unshare = shutil.which("unshare")
    assert unshare, "util-linux unshare is required"
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True, text=True)
    assert probe.returncode == 0, (
        "this test needs mount namespaces (run as root, as scripts/test does): "
        + probe.stderr)
    return [unshare, "-m", "--propagation", "private", "sh", "-c",
            f'mount --bind "{resolv}" /etc/resolv.conf && exec "$@"', "hotlined-in-ns"]


@pytest.fixture
def env():
    wd = h.Workdir(prefix="hotline-dns-")
    dns = None
    try:
        dns = Swallower(SWALLOW_ADDR)
        resolv = wd.path / "resolv.conf"
        resolv.write_text(f"nameserver {SWALLOW_ADDR}\n"
                          f"options timeout:{RESOLVER_TIMEOUT_S} attempts:1\n")
        http = h.HttpSink(wd)
        cfg = h.default_config(http, None)
        cfg["channels"].append({"name": "far-webhook", "type": "webhook", "timeout": "1s",
                                "concurrency": 4,
                                "retry": {"max_attempts": 3, "initial_backoff": "30s",
                                          "max_backoff": "30s", "max_age": "1h"},
                                "options": {"secret_file": "webhook-signing.key"}})
        cfg["responders"].append(h.person(
            "far", "en", [("far-webhook", f"http://{DNS_NAME}:8080/hook")]))
        cfg["route"]["notify"] = ["responder:en", "responder:far"]
        d = h.Daemon(wd, cfg).start(wrapper=namespace_wrapper(resolv))
    except BaseException:
        if dns:
            dns.close()
        wd.close(keep=True)
        raise
    yield {"d": d, "http": http, "dns": dns}
    dns.close()
    wd.close()


def test_unanswered_dns_does_not_block_intake_or_dispatch(env):
    d, http, dns = env["d"], env["http"], env["dns"]
    first = d.submit(h.report(text="report whose far delivery hangs in DNS"))
    h.wait_until(lambda: dns.queries > 0, timeout=10, what="a DNS query to the silent server")
    # The far transfer times out after 1 s, with getaddrinfo still waiting for 30 s. For
    # the next 5 s, everything else goes on: each POST is answered and delivered while
    # the earlier lookups hang. A blocked io thread would hold them for ~29 s.
    ids = [first]
    slowest = 0.0
    t_end = time.monotonic() + 5
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        ids.append(d.submit(h.report(text="report during a hung lookup"), timeout=60))
        slowest = max(slowest, time.monotonic() - t0)
        time.sleep(0.2)
    for i in ids:
        http.wait_report("/ok/en", i["report_id"], timeout=10)
    assert slowest < RESOLVER_TIMEOUT_S / 3, f"a POST took {slowest:.1f} s: the loop blocked"
    # The far notification was attempted, timed out and is waiting for its retry; what is
    # stored and logged is the error class, never the contact's host name.
    rows = h.wait_until(
        lambda: [n for n in d.notifications(first["report_id"])
                 if n["target"] == "responder:far" and n["attempts"] >= 1] or None,
        timeout=10, what="the far notification's first attempt to be recorded")
    assert rows[0]["status"] == "pending"
    assert rows[0]["last_error"] and DNS_NAME not in rows[0]["last_error"]
    assert "Timeout" in rows[0]["last_error"] or "timed out" in rows[0]["last_error"], rows[0]
    assert DNS_NAME not in d.log_text()
    assert d.alive()
