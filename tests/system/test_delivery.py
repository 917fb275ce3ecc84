"""End-to-end delivery: report in over HTTP, signed webhook and localized email out."""
import hashlib
import re

import pytest

import hotline_harness as h

RU_TEXT = "Сегодня утром задержали активиста у здания суда, телефон изъяли."
RU_SUBJECT = "Задержание у суда"


@pytest.fixture(scope="module")
def env():
    """One daemon for the module: tests tell their traffic apart by report id."""
    wd = h.Workdir(prefix="hotline-delivery-")
    try:
        http = h.HttpSink(wd)
        smtp = h.SmtpSink(wd)
        cfg = h.default_config(http, smtp)
        cfg["responders"] += [
            h.person("enmail", "en", [("email", "en-mail@example.org")]),
            h.person("rumail", "ru", [("email", "ru-mail@example.org")], name="Ирина"),
        ]
        cfg["route"]["notify"] = ["responder:en", "responder:enmail"]
        cfg["route"]["routes"][0]["notify"] = ["responder:ru", "responder:rumail", "partner:ngo"]
        d = h.Daemon(wd, cfg).start()
    except BaseException:
        wd.close(keep=True)
        raise
    yield {"wd": wd, "http": http, "smtp": smtp, "d": d}
    wd.close()


def targets_of(d, report_id):
    return {n["target"] for n in d.notifications(report_id)}


def test_report_is_accepted_and_stored(env):
    d = env["d"]
    body = h.report(text="A neutral report about a meeting.", subject="Meeting",
                    labels={"region": "north"})
    ids = d.submit(body)
    rows = d.q("SELECT * FROM reports WHERE id = ?", ids["report_id"])
    assert len(rows) == 1
    row = rows[0]
    assert row["source"] == h.SOURCE
    assert row["source_kind"] == "webhook"
    assert row["external_id"] == body["external_id"]
    cases = d.q("SELECT * FROM cases WHERE id = ?", ids["case_id"])
    assert len(cases) == 1 and cases[0]["report_id"] == ids["report_id"]
    assert cases[0]["state"] == "open"
    assert cases[0]["severity"] == "normal"


def test_webhook_is_signed_and_carries_the_alert(env):
    d, http = env["d"], env["http"]
    body = h.report(text="Neutral: the office printer is broken.", subject="Printer")
    ids = d.submit(body)
    rec = http.wait_report("/ok/en", ids["report_id"])[0]
    assert rec["method"] == "POST"
    h.check_signature(rec)
    assert h.header(rec, "Content-Type").startswith("application/json")
    assert (h.header(rec, "User-Agent") or "").startswith("hotline/")
    key = h.header(rec, "Idempotency-Key")
    assert key, "Idempotency-Key header missing"
    js = rec["json"]
    assert js["kind"] == "alert"
    assert js["report_id"] == ids["report_id"]
    assert js["case_id"] == ids["case_id"]
    assert js["severity"] == "normal"
    assert js["target"] == "responder:en"
    assert js["text"] == body["text"]
    assert js["sender"] == body["sender"]
    assert isinstance(js["message"], dict)
    assert isinstance(js["message"]["subject"], str) and isinstance(js["message"]["body"], str)
    assert f"Case #{ids['case_id']}" in js["message"]["subject"]
    assert body["text"] in js["message"]["body"]
    notes = [n for n in d.notifications(ids["report_id"]) if n["target"] == "responder:en"]
    assert len(notes) == 1
    assert js["notification_id"] == notes[0]["id"]
    assert notes[0]["idempotency_key"] == key
    d.wait_settled(ids["report_id"])
    assert [n["status"] for n in d.notifications(ids["report_id"])
            if n["target"] == "responder:en"] == ["delivered"]


def test_email_in_russian_and_english(env):
    d, smtp = env["d"], env["smtp"]
    ids = d.submit(h.report(text=RU_TEXT, subject=RU_SUBJECT))
    case = ids["case_id"]
    ru = smtp.wait_to("ru-mail@example.org", lambda m: m.header("X-Hotline-Case") == str(case))[0]
    en = smtp.wait_to("en-mail@example.org", lambda m: m.header("X-Hotline-Case") == str(case))[0]

    # Russian: RFC 2047 encoded subject that decodes to "Дело #N", UTF-8 body with the text.
    raw_subject = re.search(rb"^Subject:(.*(?:\r?\n[ \t].*)*)", ru.raw, re.M | re.I)
    assert raw_subject, "no Subject header"
    raw_subject = raw_subject.group(1)
    assert raw_subject.isascii(), f"non-ASCII raw Subject header: {raw_subject!r}"
    assert b"=?" in raw_subject and b"?=" in raw_subject, f"not RFC 2047: {raw_subject!r}"
    assert f"Дело #{case}" in ru.subject, ru.subject
    assert "charset=utf-8" in ru.header("Content-Type").lower().replace('"', "")
    assert RU_TEXT in ru.text
    assert f"ACK {case}" in ru.text
    assert ru.rcpt_tos == ["ru-mail@example.org"]
    assert "hotline@example.org" in ru.header("From")
    assert ru.header("Date")
    assert ru.header("MIME-Version") == "1.0"

    # English recipient of the same case: "Case #N", same text.
    assert f"Case #{case}" in en.subject, en.subject
    assert RU_TEXT in en.text

    # Message-ID names the case and the notification, plus a hash of its idempotency key;
    # every alert of the case refers to one root id, so mail clients thread them.
    notes = {n["address"]: n for n in d.notifications(ids["report_id"])}
    for m, addr in ((ru, "ru-mail@example.org"), (en, "en-mail@example.org")):
        n = notes[addr]
        key8 = hashlib.sha256(n["idempotency_key"].encode()).hexdigest()[:8]
        assert m.message_id == f"<hotline.c{case}.n{n['id']}.{key8}@example.org>", m.message_id
        assert m.header("In-Reply-To") == f"<hotline.c{case}@example.org>"
        assert m.header("References") == f"<hotline.c{case}@example.org>"
        # The case tag, once, at the start of the subject.
        assert m.subject.startswith(f"[HOTLINE #{case}] "), m.subject
        assert m.subject.count(f"[HOTLINE #{case}]") == 1, m.subject


def test_detention_report_takes_the_critical_route(env):
    d, http = env["d"], env["http"]
    ids = d.submit(h.report(text="Вчера вечером задержали двоих наблюдателей."))
    assert targets_of(d, ids["report_id"]) == {
        "responder:en", "responder:enmail", "responder:ru", "responder:rumail", "partner:ngo"}
    ru = http.wait_report("/ok/ru", ids["report_id"])[0]
    assert ru["json"]["severity"] == "critical"
    assert ru["json"]["labels"].get("kind") == "detention"
    assert "detention" in ru["json"]["route"]
    h.check_signature(ru)
    en = http.wait_report("/ok/en", ids["report_id"])[0]
    assert en["json"]["severity"] == "critical"
    assert d.q("SELECT severity FROM cases WHERE id = ?", ids["case_id"])[0]["severity"] == \
        "critical"


def test_regex_match_is_case_insensitive_unicode(env):
    d = env["d"]
    ids = d.submit(h.report(text="СЕГОДНЯ ЗАДЕРЖАЛИ ЖУРНАЛИСТА"))
    assert "responder:ru" in targets_of(d, ids["report_id"])
    assert d.q("SELECT severity FROM cases WHERE id = ?", ids["case_id"])[0]["severity"] == \
        "critical"


def test_neutral_report_goes_only_to_root_targets(env):
    d, http = env["d"], env["http"]
    ids = d.submit(h.report(text="Everything is calm today, just checking in."))
    assert targets_of(d, ids["report_id"]) == {"responder:en", "responder:enmail"}
    en = http.wait_report("/ok/en", ids["report_id"])[0]
    assert en["json"]["severity"] == "normal"
    d.wait_settled(ids["report_id"], min_count=2)
    others = [r for r in http.records()
              if (r["path"].startswith("/ok/ru") or r["path"].startswith("/ok/ngo"))
              and r["json"] and r["json"].get("report_id") == ids["report_id"]]
    assert others == []


def test_partner_sees_only_what_it_may(env):
    d, http = env["d"], env["http"]
    secret_text = "Задержали Петрова на Лубянке, адрес квартиры Тверская 7"
    secret_sender = "+79161112233"
    secret_subject = "Срочно Петров"
    ids = d.submit(h.report(text=secret_text, sender=secret_sender, subject=secret_subject,
                            labels={"region": "moscow"}))
    rec = http.wait_report("/ok/ngo", ids["report_id"])[0]
    h.check_signature(rec)
    js = rec["json"]
    assert js["target"] == "partner:ngo"
    assert js["severity"] == "critical"
    assert js["case_id"] == ids["case_id"]
    for field in ("text", "sender", "subject"):
        assert field not in js, f"partner payload leaks {field}: {js}"
    assert js.get("report_labels") == {"region": "moscow"}
    raw = rec["raw"].decode("utf-8")
    for needle in (secret_text, "Петрова", secret_sender, "79161112233", secret_subject):
        assert needle not in raw, f"partner request contains {needle!r}"
    # The stored payload is redacted too (it is what retries resend).
    stored = [n for n in d.notifications(ids["report_id"]) if n["target"] == "partner:ngo"]
    assert len(stored) == 1
    for needle in ("Петрова", "79161112233", secret_subject):
        assert needle not in stored[0]["payload"]


HOSTILE_TEXT = ('quotes " and \\ backslash, tab\t, emoji \U0001F6A8, '
                'mustache {{case_id}} {{{text}}} {{#x}}y{{/x}}, html <b>&amp;</b>\n'
                '.\n'
                '..starts with dots\n'
                'last line')


def test_hostile_text_survives_json_and_templates(env):
    d, http, smtp = env["d"], env["http"], env["smtp"]
    body = h.report(text=HOSTILE_TEXT, subject="{{severity}} \"quoted\"",
                    labels={"k.e-y_1": "va\\lue \"q\" <x>"})
    ids = d.submit(body)
    rec = http.wait_report("/ok/en", ids["report_id"])[0]
    h.check_signature(rec)
    js = rec["json"]
    assert js["text"] == HOSTILE_TEXT
    assert js["subject"] == body["subject"]
    assert js["report_labels"] == body["labels"]
    # User content is data, never template: the mustache in it stays literal.
    assert "{{case_id}}" in js["message"]["body"]
    assert "{{{text}}}" in js["message"]["body"]
    assert "{{severity}}" in js["message"]["subject"]
    mail = smtp.wait_to("en-mail@example.org",
                        lambda m: m.header("X-Hotline-Case") == str(ids["case_id"]))[0]
    text = mail.text.replace("\r\n", "\n")
    # SMTP dot-stuffing must be undone: the lone "." line and ".." prefix arrive as sent.
    assert "\n.\n..starts with dots\n" in text, text
    assert "{{case_id}}" in text
    assert "\U0001F6A8" in text


def test_control_characters_are_refused(env):
    """Controls other than TAB/CR/LF in the text, and CR/LF in the subject (it becomes an
    email header), are refused outright: nothing is stored, nothing is sent."""
    d, smtp = env["d"], env["smtp"]
    injection = "Привет\r\nBcc: evil@example.org\r\nX-Injected: yes"
    for body, field in ((h.report(text="bell \u0007 and escape \u001b[31m red"), "text"),
                        (h.report(subject=injection), "subject")):
        r = d.post(body)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "bad_field", r.text
        assert field in err["message"], r.text
    assert smtp.to("evil@example.org") == []
    assert "\x1b[31m" not in d.log_text()


def test_line_breaks_in_text_and_labels_cannot_inject(env):
    """CR/LF are allowed in the text and in label values, so they reach the templates and
    the channels: an SMTP command or header smuggled in them must stay body text."""
    d, http, smtp = env["d"], env["http"], env["smtp"]
    text = ("Меня задержали.\r\n.\r\nMAIL FROM:<evil@example.org>\r\n"
            "RCPT TO:<evil@example.org>\r\nDATA\r\nSubject: injected\r\n\r\nevil\r\n.\r\n"
            "Bcc: evil@example.org\n.\nQUIT")
    body = h.report(text=text, labels={"where": "x\r\nBcc: evil@example.org\r\nX-Injected: yes"})
    r = d.post(body)
    assert r.status_code == 202, r.text
    ids = r.json()
    mail = smtp.wait_to("en-mail@example.org",
                        lambda m: m.header("X-Hotline-Case") == str(ids["case_id"]))[0]
    assert mail.rcpt_tos == ["en-mail@example.org"]
    assert mail.msg.get("Bcc") is None and mail.msg.get("X-Injected") is None, mail.raw
    assert "injected" not in (mail.subject or "")
    # The smuggled lines arrive as text of the one message (dot-stuffing kept them in).
    assert "MAIL FROM:<evil@example.org>" in mail.text, mail.raw
    assert "QUIT" in mail.text, mail.raw
    rec = http.wait_report("/ok/en", ids["report_id"])[0]
    assert rec["json"]["text"] == text
    assert smtp.to("evil@example.org") == []


def test_email_long_lines_and_long_subject(env):
    d, smtp = env["d"], env["smtp"]
    long_line = "Очень длинная строка без переводов. " * 120   # ~4.3 KB, ~8 KB in UTF-8
    long_subject_tail = "Длинная тема " * 20
    ids = d.submit(h.report(text=long_line, subject="Привет " + long_subject_tail))
    mail = smtp.wait_to("en-mail@example.org",
                        lambda m: m.header("X-Hotline-Case") == str(ids["case_id"]))[0]
    assert mail.rcpt_tos == ["en-mail@example.org"]
    assert "Привет" in mail.subject
    assert long_subject_tail.strip() in mail.subject
    for line in mail.raw.split(b"\r\n" if b"\r\n" in mail.raw else b"\n"):
        assert len(line) <= 998, f"raw line of {len(line)} bytes breaks RFC 5322"
    for word in re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", mail.raw):
        assert len(word) <= 75, f"encoded-word longer than 75: {word[:40]!r}..."
    assert long_line.strip() in " ".join(mail.text.split()), "long body line damaged"


def test_log_has_ids_but_no_contents(env):
    d, http, smtp = env["d"], env["http"], env["smtp"]
    text = "Задержали Сидорову у метро, нужна помощь адвоката"
    sender = "+79257654321"
    ids = d.submit(h.report(text=text, sender=sender, subject="Сидорова"))
    http.wait_report("/ok/ru", ids["report_id"])
    smtp.wait_to("ru-mail@example.org", lambda m: m.header("X-Hotline-Case") == str(ids["case_id"]))
    d.wait_settled(ids["report_id"], min_count=5)
    log = d.log_text()
    assert f"report={ids['report_id']}" in log or str(ids["report_id"]) in log
    for needle in ("Сидоров", "79257654321", "7654321", "@example.org", RU_TEXT[:20],
                   "Петров", "metro"):
        assert needle not in log, f"log at info level contains {needle!r}"
