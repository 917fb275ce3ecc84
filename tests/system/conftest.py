"""Fixtures for the system tests: a temp dir per test, sinks, the daemon."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import dovecot  # noqa: E402
import hotline_harness as h  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed and h.ACTIVE_WORKDIRS:
        for wd in h.ACTIVE_WORKDIRS:
            rep.sections.append((f"hotline logs {wd.path}", wd.logs()))
    if rep.failed:
        for d in dovecot.ACTIVE:
            rep.sections.append((f"dovecot log {d.dir}", d.logs()[-20000:]))


def pytest_sessionfinish(session, exitstatus):
    for wd in list(h.ACTIVE_WORKDIRS):
        wd.close(keep=True)


def _failed(request):
    return any(getattr(request.node, "rep_" + w, None) is not None
               and getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))


@pytest.fixture
def wd(request):
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:40]
    w = h.Workdir(prefix=f"hotline-{safe}-")
    yield w
    w.close(keep=_failed(request))


@pytest.fixture
def http_sink(wd):
    return h.HttpSink(wd)


@pytest.fixture
def smtp_sink(wd):
    return h.SmtpSink(wd)


@pytest.fixture
def base_cfg(http_sink, smtp_sink):
    return h.default_config(http_sink, smtp_sink)


@pytest.fixture
def daemon(wd, base_cfg):
    """hotlined with the default config, started and ready."""
    return h.Daemon(wd, base_cfg).start()


@pytest.fixture(scope="module")
def dovecot_server():
    """A Dovecot IMAP server with TLS (tests/system/dovecot.py), one per test module."""
    h.require(h.IMAP_PROBE)
    d = dovecot.started(tls=True)
    yield d
    d.close(keep=bool(os.environ.get("HOTLINE_KEEP_TMP")))


@pytest.fixture
def dovecot_user(dovecot_server):
    """A user of dovecot_server nobody used before: an empty INBOX of one's own."""
    return dovecot_server.add_user()
