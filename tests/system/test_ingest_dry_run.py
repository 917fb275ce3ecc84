"""hotlinectl ingest --dry-run FILE.eml: the report a mail becomes, as JSON, no daemon."""
import hashlib
import json

import hotline_harness as h

MAIL = h.REPO / "tests" / "unit" / "data" / "mail"


def dry_run(*args):
    cp = h.run_ctl("ingest", "--dry-run", *args)
    out, err = h.decoded(cp)
    assert cp.returncode == 0, (out, err)
    return json.loads(out)


def test_utf8_mail_report():
    d = dry_run(MAIL / "utf8.eml")
    assert d["source_kind"] == "email"
    assert d["sender"] == "ivan@example.org"
    assert d["sender_name"] == "Иван"
    assert d["subject"] == "Угроза"
    assert d["text"] == "Здравствуйте! Мне угрожают по телефону, пожалуйста помогите."
    assert d["language"] == "ru"
    assert d["message_id"] == "utf8-1@example.org"
    assert d["in_reply_to"] == "case-7@hotline.example.net"
    assert d["references"] == ["case-7@hotline.example.net", "reply-2@example.org"]
    assert d["date"] == 1796148000000
    assert d["attachments"] == [] and d["warnings"] == []


def test_koi8r_and_ukrainian():
    d = dry_run(MAIL / "koi8r_8bit.eml")
    assert d["subject"] == "Обыск в офисе"
    assert d["sender_name"] == "Ольга"
    assert d["text"].startswith("Сегодня утром к нам пришли с обыском.")
    assert dry_run(MAIL / "koi8u.eml")["language"] == "uk"


def test_attachments_have_name_type_size_hash_and_no_bytes():
    raw = (MAIL / "attachments.eml").read_bytes()
    d = dry_run(MAIL / "attachments.eml")
    names = [a["name"] for a in d["attachments"]]
    assert names == ["фото_угрозы_у_подъезда.jpg", "Повестка в суд.pdf"]
    jpeg = d["attachments"][0]
    assert jpeg["type"] == "image/jpeg" and jpeg["size"] == 3006
    assert jpeg["sha256"] == "c5254f11aff1da9f968592a03267ccc3c1c519529a0c7c344e111d417551ca14"
    assert set(jpeg) == {"name", "type", "size", "sha256"}
    assert hashlib.sha256(raw).hexdigest() not in json.dumps(d)


def test_forward_contributes_sender_subject_text():
    d = dry_run(MAIL / "forward_attached.eml")
    assert d["forwards"] == [{"sender": "threat@example.com", "sender_name": "Аноним",
                              "subject": "Последнее предупреждение"}]
    assert "Мы знаем, где ты живёшь." in d["text"]
    assert "Пересылаю угрозу" in d["text"]


def test_malformed_mail_gives_warnings_with_codes_not_contents():
    d = dry_run(MAIL / "truncated_multipart.eml")
    codes = [w["code"] for w in d["warnings"]]
    assert "truncated" in codes and "truncated_base64" in codes
    assert d["text"] == "Текст до обрыва."
    for w in d["warnings"]:
        assert "Текст" not in w["message"]


def test_with_config_prints_the_route(wd, base_cfg):
    d_ = h.Daemon(wd, base_cfg)  # writes the config and its secrets
    base_cfg["server"]["port"] = h.free_port()
    path = d_.write_config()
    d = dry_run(MAIL / "cp1251_qp.eml", "--config", path)
    assert d["text"] == "Вчера задержали нашего коллегу у здания суда."
    route = d["route"]
    assert route["source_kind"] == "email"
    assert route["severity"] == "critical"
    assert route["labels"].get("kind") == "detention"


def test_usage_errors():
    cp = h.run_ctl("ingest", MAIL / "utf8.eml")
    assert cp.returncode == 2
    cp = h.run_ctl("ingest", "--dry-run", MAIL / "no-such-file.eml")
    assert cp.returncode == 1
    assert b"cannot read" in cp.stderr
