"""Acknowledging by SMS reply (docs/escalation.md, "Acknowledging"): a policy pages a
responder's phone through the real Kannel (bearerbox + smsbox + fake SMSC, kannel.py); the
responder answers from that phone through the same Kannel into hotline's `kind: sms`
source: `АСК 42` typed in Cyrillic look-alikes acknowledges, the pending step is cancelled,
the others paged hear of it, the phone gets a confirmation in the responder's language;
a bare `RESOLVE` resolves the one open case. The same words from an unknown number are an
ordinary report. One daemon and one Kannel for the module."""
import pytest

import hotline_harness as h
import kannel

RU_PHONE = "79161234567"  # as the SMSC gives it (no '+')
EN_PHONE = "447700900123"
STRANGER = "79990000001"


@pytest.fixture(scope="module")
def env():
    wd = h.Workdir(prefix="hotline-esc-sms-")
    k = None
    try:
        http = h.HttpSink(wd)
        smtp = h.SmtpSink(wd)
        port = h.free_port()
        k = kannel.Kannel(f"http://127.0.0.1:{port}/v1/sms/kannel?from=%p&to=%P&text=%a"
                          "&id=%I&coding=%c&charset=%C&udh=%u").start()
        secrets = wd.path / "secrets"
        secrets.mkdir(exist_ok=True)
        (secrets / "kannel.password").write_text(k.password + "\n")
        cfg = h.default_config(http, smtp)
        cfg["sources"].append({"name": "kannel", "kind": "sms", "gateway": "kannel",
                               "allowed_addresses": ["127.0.0.0/8", "::1"],
                               "default_region": "RU"})
        cfg["channels"].append(
            {"name": "sms", "type": "kannel", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"url": k.sendsms_url, "username": k.user,
                         "password_file": "kannel.password", "from": "1234"}})
        cfg["responders"] += [
            h.person("phone_ru", "ru", [("sms", "+" + RU_PHONE)], name="Борис"),
            h.person("phone_en", "en", [("sms", "+" + EN_PHONE)], name="Alice"),
        ]
        cfg["policies"] = [{
            "id": "rapid",
            "steps": [{"targets": ["responder:phone_ru", "responder:phone_en"],
                       "ack_within": "30s"},
                      {"targets": ["partner:ngo"], "ack_within": "30s"}],
            "notify_on": ["ack", "resolve"],
        }]
        cfg["route"] = {"severity": "high", "notify": [], "policy": "rapid"}
        d = h.Daemon(wd, cfg).start(port=port)
    except BaseException:
        if k is not None:
            k.close()
        wd.close(keep=True)
        raise
    yield {"wd": wd, "d": d, "kannel": k, "http": http}
    k.close()
    wd.close()


def to(k, phone, start):
    return [m for m in k.received()[start:] if m[1].lstrip("+") == phone]


def case_row(d, case):
    return d.q("SELECT state, acked_by, resolved_by FROM cases WHERE id = ?", case)[0]


def test_cyrillic_lookalike_ack_cancels_step_2_and_confirms_in_russian(env):
    d, k = env["d"], env["kannel"]
    start = len(k.received())
    case = d.submit(h.report("Задержали у метро, нужен адвокат"))["case_id"]
    h.wait_until(lambda: len(to(k, RU_PHONE, start)) >= 1 and len(to(k, EN_PHONE, start)) >= 1,
                 what="step 1 SMS to both phones")
    assert f"#{case}" in to(k, RU_PHONE, start)[0][3]
    # "АСК" typed with Cyrillic А, С, К: the same as ACK.
    k.send(RU_PHONE, "1234", f"АСК {case}")
    h.wait_until(lambda: case_row(d, case)["state"] == "acknowledged", what="acknowledged")
    assert case_row(d, case)["acked_by"] == "responder:phone_ru"
    # The confirmation goes back to the phone that acknowledged, in Russian; the other
    # phone paged hears who acknowledged.
    h.wait_until(lambda: any("принято" in m[3] for m in to(k, RU_PHONE, start)),
                 what="the Russian confirmation")
    h.wait_until(lambda: any("Борис" in m[3] or "Boris" in m[3] for m in to(k, EN_PHONE, start)),
                 what="the notice to the other phone")
    kinds = [r["kind"] for r in d.q(
        "SELECT kind FROM audit_events WHERE case_id = ? ORDER BY id", case)]
    assert "case_acknowledged" in kinds
    (detail,) = [r["detail"] for r in d.q(
        "SELECT detail FROM audit_events WHERE case_id = ? AND kind = 'case_acknowledged'", case)]
    assert '"channel":"sms"' in detail
    # Step 2's timer was cancelled in the acknowledgement's transaction.
    live = d.q("SELECT COUNT(*) AS n FROM timers WHERE subject = ? AND fired_at IS NULL "
               "AND kind = 'escalation_step'", f"case:{case}")[0]["n"]
    assert live == 0
    # The other phone acknowledging too changes nothing, and is told who was first.
    k.send(EN_PHONE, "1234", f"ACK {case}")
    h.wait_until(lambda: any(f"#{case} was acknowledged already by" in m[3]
                             for m in to(k, EN_PHONE, start)), what="the 'already' answer")
    assert case_row(d, case)["acked_by"] == "responder:phone_ru"
    # The reply itself is no report.
    assert d.q("SELECT COUNT(*) AS n FROM reports WHERE source = 'kannel'")[0]["n"] == 0


def test_bare_resolve_resolves_the_one_open_case(env):
    d, k = env["d"], env["kannel"]
    start = len(k.received())
    case = d.submit(h.report("Followed since the station"))["case_id"]
    h.wait_until(lambda: len(to(k, EN_PHONE, start)) >= 1, what="step 1 SMS")
    # Earlier cases of this module are acknowledged or resolved; this one is the only open.
    for other in [r["id"] for r in d.q(
            "SELECT id FROM cases WHERE state != 'resolved' AND id != ?", case)]:
        k.send(EN_PHONE, "1234", f"RESOLVE {other}")
        h.wait_until(lambda: case_row(d, other)["state"] == "resolved", what="older resolved")
    k.send(EN_PHONE, "1234", "resolve")
    h.wait_until(lambda: case_row(d, case)["state"] == "resolved", what="resolved")
    assert case_row(d, case)["resolved_by"] == "responder:phone_en"
    h.wait_until(lambda: any(f"#{case} resolved" in m[3] for m in to(k, EN_PHONE, start)),
                 what="the English confirmation")


def test_same_words_from_an_unknown_number_are_a_report(env):
    d, k = env["d"], env["kannel"]
    start = len(k.received())
    case = d.submit(h.report("Police at the door"))["case_id"]
    h.wait_until(lambda: len(to(k, EN_PHONE, start)) >= 1, what="step 1 SMS")
    before = d.q("SELECT COUNT(*) AS n FROM reports WHERE source = 'kannel'")[0]["n"]
    k.send(STRANGER, "1234", f"ACK {case}")
    h.wait_until(lambda: d.q("SELECT COUNT(*) AS n FROM reports WHERE source = 'kannel'")[0]["n"]
                 == before + 1, what="the stranger's SMS stored as a report")
    assert case_row(d, case)["state"] == "open"
    assert to(k, STRANGER, start) == []  # nothing is ever sent to an unknown number
