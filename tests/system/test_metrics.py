"""/metrics exposes the agreed families, and the counts move; it is served on its own
loopback listener (server.metrics_listen), not on the main one, or behind a token."""
import requests

import hotline_harness as h

FAMILIES = [
    "hotline_reports_received_total", "hotline_reports_duplicate_total",
    "hotline_reports_rejected_total", "hotline_http_requests_total",
    "hotline_notifications_sent_total", "hotline_notifications_retried_total",
    "hotline_notifications_failed_total", "hotline_notifications_dead_total",
    "hotline_outbox_depth", "hotline_outbox_oldest_due_age_seconds",
    "hotline_commit_batch_size", "hotline_commit_latency_seconds",
    "hotline_transport_transfers_total", "hotline_transport_connections_opened_total",
]
HISTOGRAMS = ["hotline_commit_batch_size", "hotline_commit_latency_seconds"]


def test_health_endpoints(daemon):
    r = daemon.get("/healthz")
    assert r.status_code == 200 and r.text.strip() == "ok"
    assert daemon.get("/readyz").status_code == 200


def test_metric_families_are_exposed(daemon):
    r = daemon.metrics_get()
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    text = r.text
    for name in FAMILIES:
        assert name in text, f"{name} missing from /metrics"
    for name in HISTOGRAMS:
        assert f"# TYPE {name} histogram" in text, name
    for name in FAMILIES:
        if name.endswith("_total"):
            assert f"# TYPE {name} counter" in text, name
    assert "# TYPE hotline_outbox_depth gauge" in text


def test_counters_move(daemon, http_sink):
    before = daemon.metrics()
    ids = [daemon.submit(h.report(text=f"metrics {i}")) for i in range(3)]
    dup = h.report(text="dup")
    daemon.submit(dup)
    assert daemon.post(dup).status_code == 200
    assert daemon.post({"text": "no sender"}).status_code == 400
    for i in ids:
        http_sink.wait_report("/ok/en", i["report_id"])

    def moved():
        after = daemon.metrics()
        sent = (h.metric_sum(after, "hotline_notifications_sent_total", channel="ops-webhook")
                - h.metric_sum(before, "hotline_notifications_sent_total",
                               channel="ops-webhook"))
        return after if sent >= 4 else None
    after = h.wait_until(moved, timeout=10, what="notifications_sent_total to count 4")

    def delta(name, **labels):
        return h.metric_sum(after, name, **labels) - h.metric_sum(before, name, **labels)

    # Every report counter carries the source that sent it (and a rejection its reason).
    assert delta("hotline_reports_received_total", source=h.SOURCE) == 4
    assert delta("hotline_reports_duplicate_total", source=h.SOURCE) == 1
    assert delta("hotline_reports_rejected_total", source=h.SOURCE,
                 reason="missing_field") == 1
    assert delta("hotline_reports_rejected_total") == 1
    assert delta("hotline_http_requests_total", code="202") == 4
    assert delta("hotline_http_requests_total", code="200") >= 1
    assert delta("hotline_http_requests_total", code="400") == 1
    assert delta("hotline_commit_batch_size_count") >= 1
    assert delta("hotline_commit_batch_size_sum") >= 4
    assert delta("hotline_commit_latency_seconds_count") >= 1
    assert any(n == "hotline_commit_latency_seconds_bucket" and l.get("le") == "+Inf"
               for n, l, _ in after)
    # All delivered: the outbox drains to zero.
    h.wait_until(lambda: h.metric_sum(daemon.metrics(), "hotline_outbox_depth") == 0,
                 timeout=10, what="hotline_outbox_depth 0")


def test_metrics_are_not_on_the_main_listener(daemon):
    assert daemon.metrics_port is not None and daemon.metrics_port != daemon.port
    r = daemon.get("/metrics")
    assert r.status_code == 404, r.status_code
    assert "hotline_" not in r.text
    # The metrics listener answers the health checks too.
    assert requests.get(daemon.metrics_url("/healthz"), timeout=5).status_code == 200
    assert requests.get(daemon.metrics_url("/readyz"), timeout=5).status_code == 200


def test_metrics_token(wd, base_cfg):
    base_cfg["server"]["metrics_token_file"] = "metrics.token"
    d = h.Daemon(wd, base_cfg)
    (d.secrets / "metrics.token").write_text("m3trics-token\n")
    d.start()
    assert d.metrics_get().status_code == 401
    assert d.metrics_get(headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert d.metrics_get(headers={"Authorization": f"Bearer {h.TOKEN}"}).status_code == 401
    r = d.metrics_get(headers={"Authorization": "Bearer m3trics-token"})
    assert r.status_code == 200 and "hotline_http_requests_total" in r.text


def test_metrics_listen_off_serves_metrics_on_the_main_listener(wd, base_cfg):
    base_cfg["server"]["metrics_listen"] = "off"
    d = h.Daemon(wd, base_cfg).start()
    assert d.metrics_port is None
    assert "metrics listener" not in d.log_text()
    r = d.get("/metrics")
    assert r.status_code == 200 and "hotline_reports_received_total" in r.text


def test_webhooks_reuse_keep_alive_connections(daemon, http_sink):
    """Bursts of reports with quiet spells between them (one report at a time): the
    webhooks ride connections already open, at most about one per transfer the channel
    runs at once (concurrency 16), however many notifications go out; the transport's
    counters say the same. Before issue 11, curl's shrinking cache closed most of them in
    every quiet spell: one new connection per four notifications."""
    before = daemon.metrics()
    first_seq = len(http_sink.records())
    sent = 0
    for burst in range(8):
        ids = [daemon.submit(h.report(text=f"burst {burst} #{i}"))["report_id"]
               for i in range(20)]
        for rid in ids:
            http_sink.wait_report("/ok/en", rid)
        for i in range(5):
            rid = daemon.submit(h.report(text=f"quiet {burst} #{i}"))["report_id"]
            http_sink.wait_report("/ok/en", rid)
        sent += 25
    got = [r for r in http_sink.records()[first_seq:] if r["path"].startswith("/ok/en")]
    assert len(got) >= sent
    ports = {r["peer_port"] for r in got}
    assert len(ports) <= 17, f"{len(ports)} connections for {len(got)} webhooks"

    def counted():
        after = daemon.metrics()
        n = (h.metric_sum(after, "hotline_transport_transfers_total", protocol="http")
             - h.metric_sum(before, "hotline_transport_transfers_total", protocol="http"))
        return after if n >= sent else None
    after = h.wait_until(counted, timeout=10, what=f"{sent} transfers counted")
    opened = (h.metric_sum(after, "hotline_transport_connections_opened_total", protocol="http")
              - h.metric_sum(before, "hotline_transport_connections_opened_total",
                             protocol="http"))
    assert opened <= len(ports), (opened, len(ports))
