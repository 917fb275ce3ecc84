"""Issue 7, fault 9: a partial reload is visible. server.* and storage.* settings that a
SIGHUP cannot apply are named in the reload log line and by `hotlinectl check --diff`,
which compares the file with what the running daemon recorded at start
(<storage.path>.running.json: no secrets)."""
import copy
import json
import os
import stat

import hotline_harness as h


def reload_and_wait(d, count):
    d.hup()
    return h.wait_until(lambda: d.log_text().count("reloaded: ") >= count,
                        what=f"reload number {count}")


def diff(d):
    cp = h.run_ctl("check", "--diff", "--config", d.config_path)
    out, err = h.decoded(cp)
    assert cp.returncode == 0, out + err
    return out


def test_restart_only_settings_are_named_by_reload_and_check_diff(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    record_path = str(d.db_path) + ".running.json"
    record = json.loads(open(record_path, encoding="utf-8").read())
    assert stat.S_IMODE(os.stat(record_path).st_mode) == 0o600
    assert record["pid"] == d.proc.pid
    assert record["settings"]["server.port"] == str(d.port)
    assert record["settings"]["storage.key_id"] == h.key_id_hex(d.storage_key)
    text = open(record_path, encoding="utf-8").read()
    for secret in (h.TOKEN, h.SIGNING_KEY, d.storage_key.hex()):
        assert secret not in text

    out = diff(d)
    assert "config OK" in out
    assert f"running hotlined (pid {d.proc.pid}) has this file's server and storage" in out, out

    # A reload that changes only what a reload applies: no restart named.
    cfg = copy.deepcopy(d.cfg)
    cfg["logging"]["level"] = "debug"
    d.write_config(cfg)
    reload_and_wait(d, 1)
    assert "take effect on restart" not in d.log_text()

    # The port, the address and max_batch cannot change under a running daemon (nor the
    # connection slots reserved for authenticated sources, a quarter of max_connections).
    cfg = copy.deepcopy(d.cfg)
    cfg["server"]["port"] = d.port + 1
    cfg["server"]["max_connections"] = 77
    cfg["storage"]["max_batch"] = 64
    d.write_config(cfg)
    reload_and_wait(d, 2)
    line = [ln for ln in d.log_text().splitlines() if "reloaded: " in ln][-1]
    assert ("server.max_connections, server.port, server.reserved_connections, "
            "storage.max_batch: take effect on restart" in line), line
    out = diff(d)
    assert ("server.max_connections, server.port, server.reserved_connections, "
            "storage.max_batch: take effect on restart "
            f"(running hotlined, pid {d.proc.pid})") in out, out
    assert "server.reserved_connections: running 256, file 19" in out, out
    assert f"server.port: running {d.port}, file {d.port + 1}" in out, out
    assert "storage.max_batch: running 512, file 64" in out, out
    # Still serving on the old port: the change was not applied.
    d.submit()

    # A second reload still names them: compared with the start, not the last reload.
    reload_and_wait(d, 3)
    line = [ln for ln in d.log_text().splitlines() if "reloaded: " in ln][-1]
    assert ("server.max_connections, server.port, server.reserved_connections, "
            "storage.max_batch: take effect on restart" in line), line

    # A new storage key in the same file is a restart-only change too.
    h.new_key_file(d.secrets / "storage.key")
    out = diff(d)
    assert "storage.key_id" in out, out

    # After a clean stop there is no record: everything applies at the next start.
    assert d.stop() == 0
    assert not os.path.exists(record_path)
    out = diff(d)
    assert "no running hotlined recorded" in out, out


def test_check_diff_names_a_stale_record(wd, base_cfg):
    d = h.Daemon(wd, base_cfg).start()
    record_path = str(d.db_path) + ".running.json"
    d.kill9()
    assert os.path.exists(record_path)
    out = diff(d)
    assert "is not running" in out and "stale" in out, out
