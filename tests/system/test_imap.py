"""The IMAP source (issue 8) against a real Dovecot on loopback: every kind of mail a
defender's client sends becomes exactly one report, decoded; IDLE picks a mail up at
once; the mail is flagged only after its commit; a Dovecot restart, a kill -9 of hotlined
between commit and flag, and a recreated mailbox (new UIDVALIDITY) neither lose nor
double a mail; replies join their case; failures are visible and never leak the login."""
import base64
import hashlib
import re
import threading
import time
from pathlib import Path

import pytest

import hotline_harness as h

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "data" / "mail"
SOURCE = "mailbox"


def fixture(name):
    return (FIXTURES / name).read_bytes()


def imap_source(dv, user, name=SOURCE, **extra):
    src = {"name": name, "kind": "imap", "host": "127.0.0.1", "port": dv.port, "tls": "none",
           "username": user, "password_file": dv.password_file(user),
           # IDLE delivers at once; a long poll interval proves that nothing waits for it.
           "poll_interval": "1h", "timeout": "5s"}
    src.update(extra)
    return src


def daemon_with(wd, http_sink, smtp_sink, *sources, edit=None):
    cfg = h.default_config(http_sink, smtp_sink)
    cfg["sources"].extend(sources)
    if edit:
        edit(cfg)
    return h.Daemon(wd, cfg)


def reports(d, source=SOURCE):
    return d.q("SELECT id, source, source_kind, external_id, sender, subject, text, language, "
               "case_id, dedup_key FROM reports WHERE source = ? ORDER BY id", source)


def wait_reports(d, n, source=SOURCE, timeout=h.DEFAULT_TIMEOUT):
    def enough():
        rows = reports(d, source)
        return rows if len(rows) >= n else None
    return h.wait_until(enough, timeout=timeout, what=f"{n} reports from {source}")


def wait_seen(dv, uids, user, mailbox="INBOX", timeout=h.DEFAULT_TIMEOUT):
    def all_seen():
        return all("\\Seen" in (dv.flags(u, mailbox, user) or set()) for u in uids)
    h.wait_until(all_seen, timeout=timeout, what=f"\\Seen on uids {uids}")


def source_up(d, source=SOURCE):
    return h.metric_sum(d.metrics(), "hotline_source_up", source=source) == 1


def readyz_line(d, source=SOURCE):
    text = d.get("/readyz").text
    for line in text.splitlines():
        if line.startswith(f"source {source}:"):
            return line
    return None


def by_uid(rows, uidvalidity):
    out = {}
    for r in rows:
        m = re.fullmatch(r"imap:(\d+):(\d+)", r["external_id"])
        assert m, r["external_id"]
        assert int(m.group(1)) == uidvalidity
        out[int(m.group(2))] = r
    return out


# What each fixture must become (values from tests/unit/ingest_mime_test.cpp, which the
# fixtures' generator computed with Python's own codecs).
EXPECTED = {
    "utf8.eml": dict(sender="ivan@example.org", subject="Угроза",
                     text="Здравствуйте! Мне угрожают по телефону, пожалуйста помогите.",
                     language="ru"),
    "koi8r_8bit.eml": dict(sender="olga@example.org", subject="Обыск в офисе",
                           text="Сегодня утром к нам пришли с обыском.\n"
                                "Забрали ноутбуки и телефоны."),
    "cp1251_qp.eml": dict(subject="Задержание",
                          text="Вчера задержали нашего коллегу у здания суда."),
    "iso88595_base64.eml": dict(subject="Слежка",
                                text="За мной следят уже третий день, машина стоит у подъезда."),
    "cp866.eml": dict(subject="Старый клиент", text="Пишу из старой почтовой программы под DOS."),
    "koi8u.eml": dict(subject="Погрози", language="uk"),
    "subject_five_charsets.eml": dict(subject="Срочно угроза от полиции café"),
    "html_only.eml": dict(text_starts="Нападение\n\nВчера на нас напали «неизвестные» & угрожали."),
    "attachments.eml": dict(text="Фото и повестка во вложении."),
    "forward_attached.eml": dict(text_has=["Пересылаю угрозу, которую получил вчера.",
                                           "Subject: Последнее предупреждение",
                                           "Мы знаем, где ты живёшь."]),
    "forward_inline.eml": dict(text_has=["Subject: Последнее предупреждение",
                                         "From: Аноним <threat@example.com>"]),
    "no_message_id.eml": dict(sender="anon@example.org", text="Plain message without a Message-ID."),
    "wrong_charset_utf8.eml": dict(
        text="Здравствуйте! Мне угрожают по телефону, пожалуйста помогите."),
    "wrong_charset_cp1251.eml": dict(text_starts="Нас преследуют после публикации статьи"),
    "undeclared_koi8r.eml": dict(subject="Угрозы в сети",
                                 text_starts="Мне пишут угрозы в социальных сетях"),
    "truncated_multipart.eml": dict(text="Текст до обрыва."),
    "long_line.eml": dict(text_len=200 * 1024 + len("Начало  конец"), text_starts="Начало xxx"),
    "bare_lf.eml": dict(subject="bare LF", text="Первая строка\nВторая строка"),
}

ATTACHMENTS = [  # attachments.eml
    ("фото_угрозы_у_подъезда.jpg", "image/jpeg", 3006,
     "c5254f11aff1da9f968592a03267ccc3c1c519529a0c7c344e111d417551ca14"),
    ("Повестка в суд.pdf", "application/pdf", 5016,
     "2be38f4a31d77b28f0667986fde02cb68705eb1d307ff32813fe4963a3f8df76"),
]


def test_every_kind_of_mail_becomes_one_decoded_report(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user, big_user = dv.add_user(), dv.add_user()
    uids = {name: dv.append(fixture(name), user=user) for name in EXPECTED}
    big_uid = dv.append(fixture("oversized.eml"), user=big_user)
    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user),
                    imap_source(dv, big_user, name="big", max_message_size="4KiB"))
    d.start()
    rows = wait_reports(d, len(EXPECTED))
    uv = dv.uidvalidity(user=user)
    got = by_uid(rows, uv)
    assert sorted(got) == sorted(uids.values())
    for name, exp in EXPECTED.items():
        r = got[uids[name]]
        assert r["source_kind"] == "email", name
        for key in ("sender", "subject", "text", "language"):
            if key in exp:
                assert r[key] == exp[key], (name, key, r[key][:200])
        if "text_starts" in exp:
            assert r["text"].startswith(exp["text_starts"]), (name, r["text"][:200])
        for part in exp.get("text_has", []):
            assert part in r["text"], (name, part)
        if "text_len" in exp:
            assert len(r["text"]) == exp["text_len"], name
        assert "\ufffd" not in r["subject"], name
    # Each mail is a case of its own.
    assert len({r["case_id"] for r in rows}) == len(rows)

    # Attachments: name, type, size and SHA-256 stored; the kept bytes hash to it.
    att_report = got[uids["attachments.eml"]]["id"]
    atts = d.q("SELECT id, report_id, position, file_name, content_type, size, sha256, kept "
               "FROM attachments WHERE report_id = ? ORDER BY position", att_report)
    assert [(a["file_name"], a["content_type"], a["size"], a["sha256"]) for a in atts] \
        == ATTACHMENTS
    assert all(a["kept"] for a in atts)
    for a in atts:
        # q() opens sealed columns (bytes for the binary ones) with the daemon's key.
        plain = d.q("SELECT id, bytes FROM attachments WHERE id = ?", a["id"])[0]["bytes"]
        assert isinstance(plain, bytes) and hashlib.sha256(plain).hexdigest() == a["sha256"]
    fwd = d.q("SELECT id, file_name, content_type FROM attachments WHERE report_id = ?",
              got[uids["forward_attached.eml"]]["id"])
    assert [(a["file_name"], a["content_type"]) for a in fwd] == [("threat.eml", "message/rfc822")]

    # The raw mail is kept byte-exact (sealed): evidence as it arrived.
    row = d.q("SELECT id, raw FROM reports WHERE id = ?", got[uids["koi8r_8bit.eml"]]["id"])[0]
    assert row["raw"] == fixture("koi8r_8bit.eml")

    # The oversized mail: its headers, a report that says so, flagged like any other.
    big = wait_reports(d, 1, source="big")[0]
    assert big["subject"] == "Большое письмо"
    assert big["text"] == ""
    details = d.q("SELECT id, details FROM reports WHERE id = ?", big["id"])[0]["details"]
    assert '"too_large":true' in details.replace(" ", "")
    wait_seen(dv, [big_uid], big_user)

    # Every mail flagged \Seen, each report notified.
    wait_seen(dv, list(uids.values()), user)
    for r in rows:
        assert d.notifications(r["id"]), r["id"]
    # Discretion: no mail contents, addresses or the login in the log.
    log = d.log_text()
    for secret in ("Здравствуйте", "ivan@example.org", "olga@example.org", user, big_user,
                   dv.passwords[user]):
        assert secret not in log, secret
    metrics = d.metrics()
    assert h.metric_sum(metrics, "hotline_source_mails_total", source=SOURCE,
                        outcome="stored") == len(EXPECTED)
    assert source_up(d) and source_up(d, "big")
    assert d.stop() == 0


def test_idle_takes_a_new_mail_at_once(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user)).start()
    h.wait_until(lambda: (readyz_line(d) or "").endswith("up (idle)"), what="source idling")
    uid = dv.append(fixture("utf8.eml"), user=user)
    # poll_interval is an hour: only IDLE can bring it in this soon.
    r = wait_reports(d, 1, timeout=20)[0]
    assert r["external_id"].endswith(f":{uid}")
    http_sink.wait_report("/ok/en", r["id"])
    wait_seen(dv, [uid], user)
    # Later mails too, one after another.
    more = [dv.append(fixture("cp1251_qp.eml").replace(b"cp1251@", b"cp1251-%d@" % i),
                      user=user) for i in range(3)]
    rows = wait_reports(d, 4, timeout=20)
    assert sorted(int(x["external_id"].rsplit(":", 1)[1]) for x in rows) == sorted([uid, *more])
    assert d.stop() == 0


def test_dovecot_restart_mid_stream_loses_and_doubles_nothing(dovecot_server, wd, http_sink,
                                                              smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    base = fixture("utf8.eml")

    def mail(i):
        return base.replace(b"utf8-1@example.org", b"restart-%d@example.org" % i)

    first = [dv.append(mail(i), user=user) for i in range(20)]
    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user)).start()
    wait_reports(d, 20)
    appended = list(first)
    errors = []

    def feed():
        try:
            for i in range(20, 60):
                if i == 35:
                    dv.restart()
                for attempt in range(50):
                    try:
                        appended.append(dv.append(mail(i), user=user))
                        break
                    except OSError:
                        time.sleep(0.1)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=feed)
    t.start()
    t.join(60)
    assert not errors, errors
    assert len(appended) == 60
    rows = wait_reports(d, 60, timeout=60)
    time.sleep(0.5)  # nothing more may come: no duplicates
    rows = reports(d)
    assert len(rows) == 60
    assert len({r["external_id"] for r in rows}) == 60
    wait_seen(dv, appended, user)
    metrics = d.metrics()
    assert h.metric_sum(metrics, "hotline_source_errors_total", source=SOURCE) >= 1
    h.wait_until(lambda: source_up(d), what="source up again")
    assert d.stop() == 0


def test_kill9_between_commit_and_flag_refetches_without_a_duplicate(dovecot_server, wd,
                                                                     http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    uids = [dv.append(fixture(n), user=user)
            for n in ("utf8.eml", "koi8r_8bit.eml", "no_message_id.eml")]
    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user))
    # The test hook holds the flag step for a minute after the commit.
    d.start(env={"HOTLINE_TEST_IMAP_FLAG_DELAY_MS": 60000})
    rows = wait_reports(d, 3)
    assert all("\\Seen" not in (dv.flags(u, user=user) or set()) for u in uids)
    d.kill9()
    d.start(env={"HOTLINE_TEST_IMAP_FLAG_DELAY_MS": None})
    wait_seen(dv, uids, user)
    after = reports(d)
    assert [r["id"] for r in after] == [r["id"] for r in rows]
    metrics = d.metrics()
    assert h.metric_sum(metrics, "hotline_reports_duplicate_total", source=SOURCE) == 3
    assert h.metric_sum(metrics, "hotline_reports_received_total", source=SOURCE) == 0
    assert d.stop() == 0


def test_recreated_mailbox_takes_each_mail_exactly_once(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    dv.create("Reports", user=user)
    names = ["utf8.eml", "koi8r_8bit.eml", "cp1251_qp.eml", "no_message_id.eml", "bare_lf.eml"]
    for n in names:
        dv.append(fixture(n), mailbox="Reports", user=user)
    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user, mailbox="Reports")).start()
    wait_reports(d, 5)
    old_uv = dv.uidvalidity("Reports", user=user)
    assert d.stop() == 0
    # Deleted and created again (new UIDVALIDITY), the same mails plus new ones.
    dv.recreate("Reports", user=user)
    assert dv.uidvalidity("Reports", user=user) != old_uv
    again = [dv.append(fixture(n), mailbox="Reports", user=user) for n in names]
    new = [dv.append(fixture(n), mailbox="Reports", user=user)
           for n in ("iso88595_base64.eml", "html_only.eml")]
    new.append(dv.append(fixture("no_message_id.eml").replace(b"Plain message", b"Another message"),
                         mailbox="Reports", user=user))
    d.start()
    rows = wait_reports(d, 8)
    wait_seen(dv, again + new, user, mailbox="Reports")
    time.sleep(0.5)
    rows = reports(d)
    assert len(rows) == 8, [r["external_id"] for r in rows]
    assert len({r["dedup_key"] for r in rows}) == 8
    assert "mailbox was recreated" in d.log_text()
    metrics = d.metrics()
    assert h.metric_sum(metrics, "hotline_source_mails_total", source=SOURCE, outcome="known") == 5
    assert d.stop() == 0


def test_move_after_store(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    for n in ("utf8.eml", "cp866.eml"):
        dv.append(fixture(n), user=user)
    d = daemon_with(wd, http_sink, smtp_sink,
                    imap_source(dv, user, after_store={"move": "Done"})).start()
    wait_reports(d, 2)
    h.wait_until(lambda: dv.count(user=user) == 0, what="INBOX emptied")
    assert dv.count("Done", user=user) == 2
    assert d.stop() == 0


def test_failures_are_visible_and_never_leak_the_login(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    wrong = wd.path / "wrong.password"
    wrong.write_text("not the password\n")
    dead_port = h.free_port()
    d = daemon_with(wd, http_sink, smtp_sink,
                    imap_source(dv, user, password_file=str(wrong)),
                    imap_source(dv, user, name="dead", port=dead_port))
    d.start()
    h.wait_until(lambda: "last error auth" in (readyz_line(d) or ""), what="auth failure shown")
    h.wait_until(lambda: "last error connect" in (readyz_line(d, "dead") or ""),
                 what="connect failure shown")
    # The daemon stays ready: the webhook intake still works.
    assert d.get("/readyz").status_code == 200
    d.submit()
    metrics = d.metrics()
    assert h.metric_sum(metrics, "hotline_source_up", source=SOURCE) == 0
    assert h.metric_sum(metrics, "hotline_source_errors_total", source=SOURCE, reason="auth") >= 1
    assert h.metric_sum(metrics, "hotline_source_errors_total", source="dead",
                        reason="connect") >= 1
    # Backoff: a few attempts, not a spin, while it keeps failing.
    time.sleep(2)
    assert h.metric_sum(d.metrics(), "hotline_source_errors_total", source=SOURCE) <= 4
    log = d.log_text()
    assert user not in log and "not the password" not in log
    assert log.count("imap source=mailbox down reason=auth") == 1
    # The right password and a reload: the source comes up and takes the mail.
    uid = dv.append(fixture("utf8.eml"), user=user)
    wrong.write_text(dv.passwords[user] + "\n")
    d.hup()
    h.wait_until(lambda: source_up(d), what="source up after the reload")
    wait_reports(d, 1)
    wait_seen(dv, [uid], user)
    assert d.stop() == 0


def test_tls_and_starttls_verify_the_server(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()
    dv.append(fixture("utf8.eml"), user=user)
    other = dv.add_user()
    dv.append(fixture("cp866.eml"), user=other)
    d = daemon_with(
        wd, http_sink, smtp_sink,
        imap_source(dv, user, port=dv.tls_port, tls="tls", ca_file=dv.ca_file),
        imap_source(dv, other, name="starttls", tls="starttls", ca_file=dv.ca_file),
        imap_source(dv, user, name="untrusted", port=dv.tls_port, tls="tls"))
    d.start()
    wait_reports(d, 1)
    wait_reports(d, 1, source="starttls")
    h.wait_until(lambda: "last error tls" in (readyz_line(d, "untrusted") or ""),
                 what="an unverified certificate refused")
    assert not reports(d, "untrusted")
    assert d.stop() == 0


def reply_mail(subject, message_id, in_reply_to=None, references=None,
               text="Они вернулись, стоят у двери."):
    lines = ["From: =?utf-8?B?0JjQstCw0L0=?= <ivan@example.org>", "To: hotline@example.net",
             f"Subject: =?utf-8?B?{base64.b64encode(subject.encode()).decode()}?=",
             f"Message-ID: <{message_id}>", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    return ("\r\n".join(lines) + "\r\n\r\n" + text + "\r\n").encode()


def test_replies_and_case_tags_join_their_case(dovecot_server, wd, http_sink, smtp_sink):
    dv = dovecot_server
    user = dv.add_user()

    def email_first(cfg):
        for r in cfg["responders"]:
            if r["id"] == "en":
                r["contacts"] = [{"channel": "email", "address": "en@example.org"}]

    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user), edit=email_first).start()
    dv.append(fixture("utf8.eml"), user=user)
    first = wait_reports(d, 1)[0]
    case = first["case_id"]
    alert = smtp_sink.wait_to("en@example.org")[0]
    assert f"[HOTLINE #{case}]" in alert.subject
    assert alert.message_id.startswith(f"<hotline.c{case}.")
    assert f"<hotline.c{case}@" in (alert.header("References") or "")

    # A reply to the alert (In-Reply-To: its Message-ID) joins the case; the responder
    # already notified hears of it.
    dv.append(reply_mail("Re: Угроза", "reply-1@example.org", in_reply_to=alert.message_id),
              user=user)
    rows = wait_reports(d, 2)
    assert rows[1]["case_id"] == case
    update = smtp_sink.wait_to("en@example.org", count=2)[1]
    assert f"[HOTLINE #{case}]" in update.subject
    assert "New message in case" in update.subject

    # A reply by References alone, and one by the subject tag alone (Russian client,
    # lower-case prefix), join it too.
    dv.append(reply_mail("Fwd: дополнение", "reply-2@example.org",
                         references=f"<other@example.org> {alert.message_id}"), user=user)
    dv.append(reply_mail(f"Отв: [hotline #{case}] ещё", "reply-3@example.org"), user=user)
    rows = wait_reports(d, 4)
    assert [r["case_id"] for r in rows[2:]] == [case, case]
    smtp_sink.wait_to("en@example.org", count=4)
    assert d.q("SELECT COUNT(*) AS n FROM cases")[0]["n"] == 1

    # A tag naming no case opens a new one, as a mail without a tag would; nothing is
    # sent to the sender.
    dv.append(reply_mail("Re: [HOTLINE #987654] помогите", "reply-4@example.org"), user=user)
    rows = wait_reports(d, 5)
    assert rows[4]["case_id"] not in (case, 987654)
    assert d.q("SELECT COUNT(*) AS n FROM cases")[0]["n"] == 2
    smtp_sink.wait_to("en@example.org", count=5)
    assert not smtp_sink.to("ivan@example.org")
    joined = d.q("SELECT COUNT(*) AS n FROM audit_events WHERE kind = 'report_joined'")[0]["n"]
    assert joined == 3

    # One of hotline's own alerts landing in the mailbox (a notified address forwarding to
    # it) is flagged and counted, never a report: it would page again and loop.
    own = dv.append(alert.raw, user=user)
    wait_seen(dv, [own], user)
    assert len(reports(d)) == 5
    assert h.metric_sum(d.metrics(), "hotline_source_mails_total", source=SOURCE,
                        outcome="own_alert") == 1
    assert len(smtp_sink.to("en@example.org")) == 5
    assert d.stop() == 0


def responder_reply(frm, subject, in_reply_to, message_id, text):
    lines = [f"From: {frm}", "To: hotline@example.net",
             f"Subject: =?utf-8?B?{base64.b64encode(subject.encode()).decode()}?=",
             f"Message-ID: <{message_id}>", f"In-Reply-To: {in_reply_to}", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(lines) + "\r\n\r\n" + text + "\r\n").encode()


def test_a_responder_acknowledges_by_email_reply_other_replies_are_notes(
        dovecot_server, wd, http_sink, smtp_sink):
    """docs/escalation.md, "Acknowledging": a paged responder's reply whose first unquoted
    line is `Принял` acknowledges (the pending step is cancelled); another reply of theirs
    is a case note, not a report."""
    dv = dovecot_server
    user = dv.add_user()

    def escalate(cfg):
        for r in cfg["responders"]:
            r["contacts"] = [{"channel": "email", "address": f"{r['id']}@example.org"}]
        cfg["policies"] = [{"id": "p", "steps": [
            {"targets": ["responder:ru"], "ack_within": "1h"},
            {"targets": ["responder:en"], "ack_within": "1h"}], "notify_on": ["ack"]}]
        cfg["route"] = {"severity": "high", "notify": [], "policy": "p"}

    d = daemon_with(wd, http_sink, smtp_sink, imap_source(dv, user), edit=escalate).start()
    dv.append(fixture("utf8.eml"), user=user)
    case = wait_reports(d, 1)[0]["case_id"]
    alert = smtp_sink.wait_to("ru@example.org")[0]
    assert f"[HOTLINE #{case}]" in alert.subject
    # A note first: any reply that is not a command.
    dv.append(responder_reply("Руслан <RU@example.org>", "Re: " + alert.subject,
                              alert.message_id, "note-1@example.org",
                              "Выезжаю, буду через 20 минут.\r\n\r\n> " + alert.text[:40]),
              user=user)
    h.wait_until(lambda: d.q("SELECT COUNT(*) AS n FROM audit_events WHERE case_id = ? AND "
                             "kind = 'case_note'", case)[0]["n"] == 1, what="the case note")
    # Then the acknowledgement, top-posted above the quoted alert.
    dv.append(responder_reply("ru@example.org", "Re: " + alert.subject, alert.message_id,
                              "ack-1@example.org",
                              "Принял\r\n\r\nOn Tue, Hotline wrote:\r\n> " + alert.text[:40]),
              user=user)
    h.wait_until(lambda: d.q("SELECT state FROM cases WHERE id = ?", case)[0]["state"]
                 == "acknowledged", what="acknowledged by email")
    row = d.q("SELECT acked_by FROM cases WHERE id = ?", case)[0]
    assert row["acked_by"] == "responder:ru"
    ack = d.q("SELECT actor, detail FROM audit_events WHERE case_id = ? AND "
              "kind = 'case_acknowledged'", case)[0]
    assert '"channel":"email"' in ack["detail"]
    assert d.q("SELECT COUNT(*) AS n FROM timers WHERE subject = ? AND fired_at IS NULL",
               f"case:{case}")[0]["n"] == 0
    # Neither reply is a report.
    assert len(reports(d)) == 1
    assert not smtp_sink.to("en@example.org")  # step 2 never fired
