"""SMS channels end to end: a webhook report in, an SMS out through the twilio, vonage and
kannel plugins. Twilio and Vonage are local stand-ins that check requests the way the
providers do (sinks/sms_providers.py); Kannel is the real bearerbox + smsbox with a fake
SMSC (kannel.py). One daemon and one set of servers for the module; tests tell their
traffic apart by the responder's phone number."""
import json

import pytest

import hotline_harness as h
import kannel

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-7f3e"
VONAGE_KEY = "abcd1234"
VONAGE_SECRET = "vonage-secret-9c2d"
TWILIO_FROM = "+15005550006"

RU_TEXT = "Задержали активиста у суда"
EN_TEXT = "Activist detained at the court"

# number per responder (and so per test)
TW_RU, TW_EN, TW_BAD, TW_LIMITED = "+79001110001", "+79001110011", "+15005550001", \
    "+79005550429"
VO_RU, VO_EN, VO_BAD, VO_LIMITED = "+79001110002", "+79001110012", "+79005550003", \
    "+79005550429"
KN_RU, KN_EN = "+79001110003", "+79001110013"


class SmsProviders:
    """sinks/sms_providers.py in a child process."""

    def __init__(self, wd):
        self.record_file = wd.path / "sms_providers.jsonl"
        port_file = wd.path / "sms_providers.port"
        cfg = json.dumps({"twilio_sid": TWILIO_SID, "twilio_token": TWILIO_TOKEN,
                          "vonage_key": VONAGE_KEY, "vonage_secret": VONAGE_SECRET})
        self.proc = wd.spawn([h.PYTHON, h.HERE / "sinks" / "sms_providers.py",
                              self.record_file, port_file, cfg], "sms_providers.log")
        self.port = h._wait_port_file(self.proc, port_file, "SMS provider stand-in")
        self.url = f"http://127.0.0.1:{self.port}"

    def records(self):
        if not self.record_file.exists():
            return []
        out = []
        with open(self.record_file, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out

    def wait_for(self, provider, to, count=1):
        def got():
            found = [r for r in self.records() if r["provider"] == provider
                     and (r["form"].get("To") or r["form"].get("to") or [None])[0] == to]
            return found if len(found) >= count else None
        return h.wait_until(got, what=f"{count} {provider} request(s) to {to}")


def template(ru):
    if ru:
        return {"subject": "Дело #{{case_id}}", "body": "Дело #{{case_id}}: {{text}} ACK {{case_id}}"}
    return {"subject": "Case #{{case_id}}", "body": "Case #{{case_id}}: {{text}} ACK {{case_id}}"}


@pytest.fixture(scope="module")
def env():
    wd = h.Workdir(prefix="hotline-sms-channels-")
    k = None
    try:
        http = h.HttpSink(wd)
        smtp = h.SmtpSink(wd)
        providers = SmsProviders(wd)
        port = h.free_port()
        # MO traffic is not this module's business; the get-url only has to exist.
        k = kannel.Kannel(f"http://127.0.0.1:{port}/v1/sms/kannel?from=%p&text=%a").start()
        secrets = wd.path / "secrets"
        secrets.mkdir(exist_ok=True)
        (secrets / "twilio.token").write_text(TWILIO_TOKEN + "\n")
        (secrets / "vonage.key").write_text(VONAGE_KEY + "\n")
        (secrets / "vonage.secret").write_text(VONAGE_SECRET + "\n")
        (secrets / "kannel.password").write_text(k.password + "\n")
        cfg = h.default_config(http, smtp)
        cfg["channels"] += [
            {"name": "twilio", "type": "twilio", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"account_sid": TWILIO_SID, "auth_token_file": "twilio.token",
                         "from": TWILIO_FROM, "api_url": providers.url}},
            {"name": "vonage", "type": "vonage", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"api_key_file": "vonage.key", "api_secret_file": "vonage.secret",
                         "from": "HotlineNGO", "api_url": providers.url}},
            {"name": "kannel", "type": "kannel", "timeout": "5s", "retry": dict(h.RETRY_FAST),
             "options": {"url": k.sendsms_url, "username": k.user,
                         "password_file": "kannel.password", "from": "1234"}},
        ]
        cfg["templates"] = {t: {"en": template(False), "ru": template(True)}
                            for t in ("twilio", "vonage", "kannel")}
        people = {
            "twru": ("ru", [("twilio", TW_RU)]),
            "twen": ("en", [("twilio", TW_EN)]),
            "twbad": ("ru", [("twilio", TW_BAD), ("email", "twbad@example.org")]),
            "twlimited": ("ru", [("twilio", TW_LIMITED)]),
            "voru": ("ru", [("vonage", VO_RU)]),
            "voen": ("en", [("vonage", VO_EN)]),
            "vobad": ("ru", [("vonage", VO_BAD), ("email", "vobad@example.org")]),
            "volimited": ("en", [("vonage", VO_LIMITED)]),
            "knru": ("ru", [("kannel", KN_RU)]),
            "knen": ("en", [("kannel", KN_EN)]),
        }
        cfg["responders"] += [h.person(pid, lang, contacts)
                              for pid, (lang, contacts) in people.items()]
        # Each report names its responder in labels.to; the root target is a webhook.
        cfg["route"] = {"severity": "normal", "notify": ["responder:en"],
                        "routes": [{"name": f"to-{pid}", "match": [f'labels.to = "{pid}"'],
                                    "notify": [f"responder:{pid}"]} for pid in people]}
        d = h.Daemon(wd, cfg).start(port=port)
    except BaseException:
        if k is not None:
            k.close()
        wd.close(keep=True)
        raise
    yield {"wd": wd, "d": d, "providers": providers, "kannel": k, "smtp": smtp}
    k.close()
    wd.close()


def send(env, pid, text):
    d = env["d"]
    ids = d.submit(h.report(text=text, labels={"to": pid}))
    return ids


def sms_row(env, ids, channel):
    rows = env["d"].wait_settled(ids["report_id"], min_count=2)
    mine = [r for r in rows if r["channel"] == channel]
    assert len(mine) == 1, rows
    return mine[0]


def test_twilio_russian_alert_arrives_intact(env):
    ids = send(env, "twru", RU_TEXT)
    rec = env["providers"].wait_for("twilio", TW_RU)[0]
    assert rec["status"] == 201, rec["answer"]
    assert rec["method"] == "POST"
    assert rec["path"] == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert (rec["user"], rec["password"]) == (TWILIO_SID, TWILIO_TOKEN)
    assert rec["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = rec["form"]
    assert form["To"] == [TW_RU] and form["From"] == [TWILIO_FROM]
    assert form["Body"] == [f"Дело #{ids['case_id']}: {RU_TEXT} ACK {ids['case_id']}"]
    assert TWILIO_TOKEN not in rec["body"]
    row = sms_row(env, ids, "twilio")
    assert row["status"] == "delivered", row
    assert row["provider_id"] == rec["answer"]["sid"]
    assert row["attempts"] == 1


def test_twilio_english_alert(env):
    ids = send(env, "twen", EN_TEXT)
    rec = env["providers"].wait_for("twilio", TW_EN)[0]
    assert rec["form"]["Body"] == [f"Case #{ids['case_id']}: {EN_TEXT} ACK {ids['case_id']}"]
    assert sms_row(env, ids, "twilio")["status"] == "delivered"


def test_twilio_invalid_number_falls_through_to_the_next_contact(env):
    ids = send(env, "twbad", RU_TEXT + " (неверный номер)")
    rec = env["providers"].wait_for("twilio", TW_BAD)[0]
    assert rec["status"] == 400 and rec["answer"]["code"] == 21211
    mail = env["smtp"].wait_to("twbad@example.org")[0]
    assert mail.header("X-Hotline-Case") == str(ids["case_id"])
    rows = env["d"].wait_settled(ids["report_id"], min_count=3)
    tw = [r for r in rows if r["channel"] == "twilio"]
    em = [r for r in rows if r["channel"] == "email" and r["address"] == "twbad@example.org"]
    # The permanent bad number also tells the admins (one notice naming the responder id).
    notice = [r for r in rows if r["address"] == "ops@example.org"]
    assert len(tw) == 1 and len(em) == 1 and len(notice) == 1, rows
    admin_mail = env["smtp"].wait_to("ops@example.org", lambda m: "BAD NUMBER" in m.subject)
    assert "responder:twbad" in admin_mail[0].subject or "twbad" in admin_mail[0].text
    assert TW_BAD[1:] not in admin_mail[0].raw.decode("utf-8", "replace")
    assert tw[0]["status"] == "failed" and tw[0]["attempts"] == 1, tw[0]
    assert tw[0]["last_error"].startswith("twilio 21211 invalid number"), tw[0]["last_error"]
    assert TW_BAD[1:] not in tw[0]["last_error"]
    assert em[0]["status"] == "delivered" and em[0]["contact_index"] == 1
    assert len(env["providers"].wait_for("twilio", TW_BAD)) == 1, "a 21211 is not retried"
    # discretion: Twilio's error message names the number; the daemon's log must not
    assert TW_BAD[1:] not in env["d"].log_text()


def test_twilio_429_is_retried_after_retry_after(env):
    ids = send(env, "twlimited", RU_TEXT + " (лимит)")
    reqs = env["providers"].wait_for("twilio", TW_LIMITED, count=2)
    assert [r["status"] for r in reqs[:2]] == [429, 201]
    gap = reqs[1]["time"] - reqs[0]["time"]
    assert gap >= 0.9, f"retried after {gap:.2f}s despite Retry-After: 1"
    row = sms_row(env, ids, "twilio")
    assert (row["status"], row["attempts"]) == ("delivered", 2), row


def test_vonage_russian_alert_is_unicode(env):
    ids = send(env, "voru", RU_TEXT)
    rec = env["providers"].wait_for("vonage", VO_RU[1:])[0]
    assert rec["status"] == 200 and rec["answer"]["messages"][0]["status"] == "0", rec["answer"]
    assert rec["path"] == "/sms/json"
    form = {k: v[0] for k, v in rec["form"].items()}
    assert form["api_key"] == VONAGE_KEY and form["api_secret"] == VONAGE_SECRET
    assert form["from"] == "HotlineNGO"
    assert form["to"] == VO_RU[1:]
    assert form["type"] == "unicode"
    assert form["text"] == f"Дело #{ids['case_id']}: {RU_TEXT} ACK {ids['case_id']}"
    assert not rec.get("garbled")
    row = sms_row(env, ids, "vonage")
    assert row["status"] == "delivered", row
    assert form["client-ref"] == str(row["id"])
    assert row["provider_id"] == rec["answer"]["messages"][0]["message-id"]


def test_vonage_english_alert_is_text(env):
    ids = send(env, "voen", EN_TEXT)
    rec = env["providers"].wait_for("vonage", VO_EN[1:])[0]
    form = {k: v[0] for k, v in rec["form"].items()}
    assert form["type"] == "text"
    assert form["text"] == f"Case #{ids['case_id']}: {EN_TEXT} ACK {ids['case_id']}"
    assert not rec.get("garbled")
    assert sms_row(env, ids, "vonage")["status"] == "delivered"


def test_vonage_invalid_number_falls_through(env):
    ids = send(env, "vobad", RU_TEXT + " (плохой номер)")
    rec = env["providers"].wait_for("vonage", VO_BAD[1:])[0]
    assert rec["answer"]["messages"][0]["status"] == "3"
    env["smtp"].wait_to("vobad@example.org")
    rows = env["d"].wait_settled(ids["report_id"], min_count=3)
    vo = [r for r in rows if r["channel"] == "vonage"][0]
    assert vo["status"] == "failed" and vo["attempts"] == 1, vo
    assert vo["last_error"].startswith("vonage status 3 invalid parameters"), vo["last_error"]
    assert VO_BAD[1:] not in vo["last_error"]
    assert VO_BAD[1:] not in env["d"].log_text()


def test_vonage_429_is_retried(env):
    ids = send(env, "volimited", EN_TEXT + " (limited)")
    reqs = env["providers"].wait_for("vonage", VO_LIMITED[1:], count=2)
    assert [r["status"] for r in reqs[:2]] == [429, 200]
    assert reqs[1]["time"] - reqs[0]["time"] >= 0.9
    row = sms_row(env, ids, "vonage")
    assert (row["status"], row["attempts"]) == ("delivered", 2), row


def test_kannel_russian_alert_reaches_the_phone_as_ucs2(env):
    k = env["kannel"]
    ids = send(env, "knru", RU_TEXT)
    want = f"Дело #{ids['case_id']}: {RU_TEXT} ACK {ids['case_id']}"

    def arrived():
        return [m for m in k.received() if m[1].lstrip("+") == KN_RU[1:]]
    got = h.wait_until(arrived, what="the Russian SMS at the fake SMSC")
    assert len(got) == 1, got
    frm, to, coding, text = got[0]
    assert frm == "1234"
    assert coding == "ucs-2"
    assert text == want
    row = sms_row(env, ids, "kannel")
    assert row["status"] == "delivered", row
    assert row["attempts"] == 1


def test_kannel_english_alert_goes_as_gsm7_text(env):
    k = env["kannel"]
    ids = send(env, "knen", EN_TEXT)
    want = f"Case #{ids['case_id']}: {EN_TEXT} ACK {ids['case_id']}"

    def arrived():
        return [m for m in k.received() if m[1].lstrip("+") == KN_EN[1:]]
    got = h.wait_until(arrived, what="the English SMS at the fake SMSC")
    assert len(got) == 1, got
    assert got[0][2] == "text"
    assert got[0][3] == want
    assert sms_row(env, ids, "kannel")["status"] == "delivered"


def test_sms_contacts_must_be_e164(env, tmp_path):
    """A responder's SMS contact that is not E.164 stops the config check, naming it."""
    cfg = json.loads(json.dumps(env["d"].cfg))
    cfg["responders"][-1]["contacts"][0]["address"] = "8 900 111-00-13"
    path = env["wd"].path / "bad-e164.yaml"
    path.write_text(h.dump_yaml(cfg), encoding="utf-8")
    cp = h.run_hotlined("--config", path, "--check")
    out, err = h.decoded(cp)
    assert cp.returncode != 0
    assert "kannel address must be an E.164 number" in out + err, out + err


def test_bad_sms_options_are_named_with_their_position(env):
    """Both from and messaging_service_sid: the check names the option and where it is."""
    cfg = json.loads(json.dumps(env["d"].cfg))
    tw = next(c for c in cfg["channels"] if c["type"] == "twilio")
    tw["options"]["messaging_service_sid"] = "MG" + "0123456789abcdef" * 2
    path = env["wd"].path / "bad-twilio.yaml"
    path.write_text(h.dump_yaml(cfg), encoding="utf-8")
    cp = h.run_hotlined("--config", path, "--check")
    out, err = h.decoded(cp)
    assert cp.returncode != 0
    text = out + err
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1)
                if "messaging_service_sid:" in l)
    assert f"bad-twilio.yaml:{line}:" in text, text
    assert "options.messaging_service_sid: set exactly one of from and messaging_service_sid" \
        in text, text
    assert TWILIO_TOKEN not in text


def kannel_text(k, to):
    """The text Kannel sent to `to`, once all of it arrived: one ucs-2 line, or the parts of
    a concatenated UCS-2 message (a long text: Kannel splits it, and the fake SMSC gets
    "udh" lines with the UDH, then the UCS-2 data) joined in their order. None until
    complete."""
    import urllib.parse
    with k._cond:
        lines = list(k._lines)
    parts, total = {}, None
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 4 or fields[1].lstrip("+") != to[1:]:
            continue
        if fields[2] == "ucs-2":
            return urllib.parse.unquote_to_bytes(fields[3].replace("+", "%20")).decode(
                "utf-16-be")
        if fields[2] == "udh" and len(fields) >= 6:  # "<from> <to> udh <udh> data <data>"
            udh = urllib.parse.unquote_to_bytes(fields[3])
            total, seq = udh[-2], udh[-1]  # IE 00 (8-bit ref) 03: ref, total, seq
            parts[seq] = urllib.parse.unquote_to_bytes(fields[5].replace("+", "%20"))
    if total and len(parts) == total:
        return b"".join(parts[i] for i in sorted(parts)).decode("utf-16-be")
    return None


@pytest.mark.parametrize("channel", ["twilio", "vonage", "kannel"])
def test_send_test_through_each_sms_channel(env, channel):
    """hotlinectl send-test checks an SMS setup end to end, in Russian."""
    to = {"twilio": "+79001110091", "vonage": "+79001110092", "kannel": "+79001110093"}[channel]
    cp = h.run_ctl("send-test", "--config", env["d"].config_path, "--channel", channel,
                   "--to", to, "--language", "ru")
    out, err = h.decoded(cp)
    assert cp.returncode == 0, out + err
    if channel == "kannel":
        text = h.wait_until(lambda: kannel_text(env["kannel"], to), what="the test SMS")
    else:
        rec = env["providers"].wait_for(channel, to if channel == "twilio" else to[1:])[0]
        text = (rec["form"].get("Body") or rec["form"].get("text"))[0]
        if channel == "vonage":
            assert rec["form"]["type"] == ["unicode"]
    assert any("\u0400" <= c <= "\u04ff" for c in text), text
