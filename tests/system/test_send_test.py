"""hotlinectl send-test: one message through one channel, outcome in the exit code."""
import hotline_harness as h


def ctl_config(wd, cfg):
    d = h.Daemon(wd, cfg)
    cfg["server"]["port"] = h.free_port()
    return d.write_config()


def test_send_test_webhook_ok(wd, base_cfg, http_sink):
    path = ctl_config(wd, base_cfg)
    cp = h.run_ctl("send-test", "--config", path, "--channel", "ops-webhook",
                   "--to", http_sink.url("/ok/sendtest"))
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    rec = http_sink.wait_for(lambda r: r["path"] == "/ok/sendtest", what="send-test request")
    assert len(http_sink.to("/ok/sendtest")) == 1
    rec = rec[0]
    h.check_signature(rec)
    assert h.header(rec, "Idempotency-Key")
    assert rec["json"] is not None and "message" in rec["json"]


def test_send_test_webhook_failure(wd, base_cfg, http_sink):
    path = ctl_config(wd, base_cfg)
    cp = h.run_ctl("send-test", "--config", path, "--channel", "ops-webhook",
                   "--to", http_sink.url("/down/sendtest"), timeout=60)
    out, err = h.decoded(cp)
    assert cp.returncode != 0, (out, err)
    both = (out + err).lower()
    assert "500" in both or "retry" in both or "fail" in both, (out, err)
    assert http_sink.to("/down/sendtest"), "nothing was sent"

    cp = h.run_ctl("send-test", "--config", path, "--channel", "ops-webhook",
                   "--to", http_sink.url("/gone/sendtest"), timeout=60)
    out, err = h.decoded(cp)
    assert cp.returncode != 0, (out, err)
    assert "410" in out + err or "fail" in (out + err).lower(), (out, err)


def test_send_test_smtp(wd, base_cfg, smtp_sink):
    path = ctl_config(wd, base_cfg)
    cp = h.run_ctl("send-test", "--config", path, "--channel", "email",
                   "--to", "probe@example.org")
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    m = smtp_sink.wait_to("probe@example.org")[0]
    assert "hotline@example.org" in m.header("From")
    assert m.message_id.startswith("<hotline-")

    cp = h.run_ctl("send-test", "--config", path, "--channel", "email",
                   "--to", "probe-ru@example.org", "--language", "ru")
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    m = smtp_sink.wait_to("probe-ru@example.org")[0]
    assert any("\u0400" <= ch <= "\u04ff" for ch in m.subject + m.text), (m.subject, m.text)


def test_send_test_smtp_rejected_and_unknown_channel(wd, http_sink):
    smtp = h.SmtpSink(wd, reject=["nobody@example.org"], name="smtp_reject")
    cfg = h.default_config(http_sink, smtp)
    path = ctl_config(wd, cfg)
    cp = h.run_ctl("send-test", "--config", path, "--channel", "email",
                   "--to", "nobody@example.org", timeout=60)
    out, err = h.decoded(cp)
    assert cp.returncode != 0, (out, err)
    assert smtp.messages() == []
    cp = h.run_ctl("send-test", "--config", path, "--channel", "pigeon",
                   "--to", "x@example.org")
    out, err = h.decoded(cp)
    assert cp.returncode != 0
    assert "pigeon" in out + err
