"""Many SIGHUPs while reports flow (issue 7, item 5): a reload changes the logger's level
and format while the writer thread logs, and must never free what another thread uses.
Meant for an ASan build: with HOTLINE_ASAN_BUILD_DIR set (scripts/test sets it to
build-asan) it runs that hotlined and fails on any AddressSanitizer or UBSan report;
without it, the normal build (which only shows the daemon survives). HOTLINE_TEST_RELOADS
sets the number of reloads. The race it guards against is narrow: with the old logger
(replaced on each reload) 40, and once 200, reloads under ASan did not hit it, while
tests/unit/core_log_test.cpp under ASan does at once; this test keeps the whole daemon
honest (reload, formatter swap, writer logging) under the sanitizers."""
import json
import os
from pathlib import Path

import hotline_harness as h

ASAN_DIR = os.environ.get("HOTLINE_ASAN_BUILD_DIR")
RELOADS = int(os.environ.get("HOTLINE_TEST_RELOADS", "40"))
# Debug and trace make the writer thread log every batch; json and text swap the formatter.
LOGGING = [("text", "debug"), ("json", "trace"), ("json", "info"), ("text", "trace")]


def test_many_sighups_under_load(wd, base_cfg):
    binary, env = None, None
    cfg = json.loads(json.dumps(base_cfg))
    if ASAN_DIR:
        binary = Path(ASAN_DIR) / "hotlined"
        cfg["plugin_dir"] = str(Path(ASAN_DIR) / "plugins")
        env = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    d = h.Daemon(wd, cfg).start(binary=binary, env=env, wait_ready=True)
    load = h.Loader(d, 6, 100_000, stop_on_error=True).start()
    h.wait_until(lambda: len(load.acked) >= 20, timeout=60, what="reports flowing")

    for i in range(RELOADS):
        fmt, level = LOGGING[i % len(LOGGING)]
        cfg["logging"] = {"format": fmt, "level": level}
        d.write_config(cfg)
        done = d.log_text().count("reloaded: ")
        d.hup()
        h.wait_until(lambda: not d.alive() or d.log_text().count("reloaded: ") > done,
                     timeout=30, interval=0.02, what=f"reload {i + 1}")
        assert d.alive(), d.log_text()[-4000:]
    acked_during = len(load.acked)
    load.stop_flag.set()
    assert load.join(60)

    log = d.log_text()
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        assert marker not in log, log[log.index(marker) - 200:][:6000]
    assert load.errors == [], load.errors[:5]
    bad = [(e, s) for e, s in load.statuses if not 200 <= s < 300]
    assert bad == [], bad[:5]
    assert acked_during >= 40, acked_during
    # The writer really logged through the reloads (debug lines of its batches).
    assert "store: batch committed ops=" in log
    assert d.stop(timeout=30) == 0
