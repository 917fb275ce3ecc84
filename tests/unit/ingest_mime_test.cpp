// ingest/mime, charset, html_text and detect_language. The .eml fixtures under
// tests/unit/data/mail/ were written by make_fixtures.py with Python's codecs, base64,
// quopri and hashlib, so every expected value here comes from an independent encoder.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "core/utf8.hpp"
#include "ingest/charset.hpp"
#include "ingest/html_text.hpp"
#include "ingest/language.hpp"
#include "ingest/mail_report.hpp"
#include "ingest/mime.hpp"

using namespace hotline::ingest;

namespace {

// A bound that only a stall or quadratic work can exceed (these inputs parse in well under
// a second in the normal build), loose enough for the unoptimised ASan build on a loaded
// 2-core CI machine: the tests prove "never stalls", not a speed.
constexpr std::chrono::seconds stall_bound{30};

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(HOTLINE_SOURCE_DIR) + "/tests/unit/data/mail/" + name,
                     std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), {}};
}

parsed_mail parse_fixture(const std::string& name, const mail_limits& limits = {}) {
    return parse_mail(fixture(name), limits);
}

// Every string a parse returns is valid UTF-8, whatever the input.
void check_utf8(const parsed_mail& m) {
    CHECK(hotline::core::is_valid_utf8(m.sender.address));
    CHECK(hotline::core::is_valid_utf8(m.sender.name));
    CHECK(hotline::core::is_valid_utf8(m.subject));
    CHECK(hotline::core::is_valid_utf8(m.text));
    CHECK(hotline::core::is_valid_utf8(m.message_id));
    for (const auto& a : m.attachments) {
        CHECK(hotline::core::is_valid_utf8(a.file_name));
    }
    for (const auto& f : m.forwards) {
        CHECK(hotline::core::is_valid_utf8(f.subject));
        CHECK(hotline::core::is_valid_utf8(f.text));
    }
}

std::string simple_mail(const std::string& headers, const std::string& body) {
    return "From: a@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n" + headers + "\r\n" + body;
}

}  // namespace

TEST_CASE("UTF-8 mail: headers per RFC 6532, threading, date, text, language") {
    const auto m = parse_fixture("utf8.eml");
    check_utf8(m);
    CHECK(m.sender.address == "ivan@example.org");
    CHECK(m.sender.name == "Иван");
    CHECK(m.subject == "Угроза");
    REQUIRE(m.date_ms.has_value());
    CHECK(*m.date_ms == 1796148000000);  // 2026-12-01 18:00:00 UTC
    CHECK(m.message_id == "utf8-1@example.org");
    CHECK(m.in_reply_to == "case-7@hotline.example.net");
    REQUIRE(m.references.size() == 2);
    CHECK(m.references[0] == "case-7@hotline.example.net");
    CHECK(m.references[1] == "reply-2@example.org");
    CHECK(m.text == "Здравствуйте! Мне угрожают по телефону, пожалуйста помогите.");
    CHECK(m.warnings.empty());
    CHECK(detect_language(report_text(m)) == "ru");
}

TEST_CASE("KOI8-R 8bit body with KOI8-R encoded-word headers") {
    const auto m = parse_fixture("koi8r_8bit.eml");
    check_utf8(m);
    CHECK(m.sender.name == "Ольга");
    CHECK(m.sender.address == "olga@example.org");
    CHECK(m.subject == "Обыск в офисе");
    CHECK(m.text == "Сегодня утром к нам пришли с обыском.\nЗабрали ноутбуки и телефоны.");
    CHECK(m.warnings.empty());
}

TEST_CASE("windows-1251 quoted-printable, ISO-8859-5 base64, CP866, KOI8-U") {
    const auto cp1251 = parse_fixture("cp1251_qp.eml");
    CHECK(cp1251.subject == "Задержание");
    CHECK(cp1251.text == "Вчера задержали нашего коллегу у здания суда.");
    CHECK(cp1251.sender.name == "Иван Петров");
    const auto iso = parse_fixture("iso88595_base64.eml");
    CHECK(iso.subject == "Слежка");
    CHECK(iso.text == "За мной следят уже третий день, машина стоит у подъезда.");
    const auto dos = parse_fixture("cp866.eml");
    CHECK(dos.subject == "Старый клиент");
    CHECK(dos.text == "Пишу из старой почтовой программы под DOS.");
    const auto uk = parse_fixture("koi8u.eml");
    CHECK(uk.subject == "Погрози");
    CHECK(uk.text ==
          "Добрий день! Мені погрожують телефоном, будь ласка, допоможіть. Їжак ґанок є.");
    CHECK(detect_language(uk.text) == "uk");
    for (const auto* m : {&cp1251, &iso, &dos, &uk}) {
        check_utf8(*m);
        CHECK(m->warnings.empty());
    }
}

TEST_CASE("a subject of five charsets over three folds, a character split across words") {
    const auto m = parse_fixture("subject_five_charsets.eml");
    check_utf8(m);
    CHECK(m.subject == "Срочно угроза от полиции café");
}

TEST_CASE("HTML only: text from HTML, no script/style/comments, entities, breaks") {
    const auto m = parse_fixture("html_only.eml");
    check_utf8(m);
    CHECK(m.text ==
          "Нападение\n\nВчера на нас напали «неизвестные» & угрожали.\n\nАдрес:\nул. Ленина, "
          "5\n\nпервое\nвторое\n\nмного пробелов");
}

TEST_CASE("JPEG and PDF attachments: RFC 2231 and RFC 2047 Cyrillic names, size, SHA-256") {
    const auto m = parse_fixture("attachments.eml");
    check_utf8(m);
    CHECK(m.text == "Фото и повестка во вложении.");
    REQUIRE(m.attachments.size() == 2);
    const auto& jpeg = m.attachments[0];
    CHECK(jpeg.file_name == "фото_угрозы_у_подъезда.jpg");
    CHECK(jpeg.content_type == "image/jpeg");
    CHECK(jpeg.size == 3006);
    CHECK(jpeg.sha256 == "c5254f11aff1da9f968592a03267ccc3c1c519529a0c7c344e111d417551ca14");
    CHECK(jpeg.kept);
    CHECK(jpeg.bytes.size() == 3006);
    CHECK(jpeg.bytes.substr(0, 4) == "\xFF\xD8\xFF\xE0");
    const auto& pdf = m.attachments[1];
    CHECK(pdf.file_name == "Повестка в суд.pdf");
    CHECK(pdf.content_type == "application/pdf");
    CHECK(pdf.size == 5016);
    CHECK(pdf.sha256 == "2be38f4a31d77b28f0667986fde02cb68705eb1d307ff32813fe4963a3f8df76");
    CHECK(m.warnings.empty());

    SUBCASE("bytes are kept only up to max_attachment_bytes") {
        mail_limits limits;
        limits.max_attachment_bytes = 4000;
        const auto small = parse_fixture("attachments.eml", limits);
        REQUIRE(small.attachments.size() == 2);
        CHECK(small.attachments[0].kept);
        CHECK_FALSE(small.attachments[1].kept);
        CHECK(small.attachments[1].bytes.empty());
        CHECK(small.attachments[1].size == 5016);
        CHECK(small.attachments[1].sha256 == pdf.sha256);
        CHECK(small.has_warning("attachment_not_kept"));
    }
}

TEST_CASE("a forwarded mail as attachment and inline gives its sender, subject and text") {
    for (const char* name : {"forward_attached.eml", "forward_inline.eml"}) {
        CAPTURE(name);
        const auto m = parse_fixture(name);
        check_utf8(m);
        CHECK(m.text == "Пересылаю угрозу, которую получил вчера.");
        REQUIRE(m.forwards.size() == 1);
        const auto& f = m.forwards[0];
        CHECK(f.sender.address == "threat@example.com");
        CHECK(f.sender.name == "Аноним");
        CHECK(f.subject == "Последнее предупреждение");
        CHECK(f.text == "Мы знаем, где ты живёшь.");
        const auto all = report_text(m);
        CHECK(all.find("Мы знаем, где ты живёшь.") != std::string::npos);
        CHECK(all.find("Subject: Последнее предупреждение") != std::string::npos);
        CHECK(all.find("From: Аноним <threat@example.com>") != std::string::npos);
    }
    const auto attached = parse_fixture("forward_attached.eml");
    REQUIRE(attached.attachments.size() == 1);
    CHECK(attached.attachments[0].content_type == "message/rfc822");
    CHECK(attached.attachments[0].file_name == "threat.eml");
    CHECK(parse_fixture("forward_inline.eml").attachments.empty());
}

TEST_CASE("no Message-ID, no Date") {
    const auto m = parse_fixture("no_message_id.eml");
    CHECK(m.message_id.empty());
    CHECK_FALSE(m.date_ms.has_value());
    CHECK(m.sender.address == "anon@example.org");
    CHECK(m.text == "Plain message without a Message-ID.");
    CHECK(m.warnings.empty());
}

TEST_CASE("a wrong or missing charset label is detected and repaired") {
    const auto utf8 = parse_fixture("wrong_charset_utf8.eml");
    CHECK(utf8.text == "Здравствуйте! Мне угрожают по телефону, пожалуйста помогите.");
    CHECK(utf8.has_warning("charset_mislabelled"));
    const auto cp1251 = parse_fixture("wrong_charset_cp1251.eml");
    CHECK(cp1251.text.starts_with("Нас преследуют после публикации статьи"));
    CHECK(cp1251.has_warning("charset_mislabelled"));
    const auto koi8 = parse_fixture("undeclared_koi8r.eml");
    CHECK(koi8.text.starts_with("Мне пишут угрозы в социальных сетях"));
    CHECK(koi8.subject == "Угрозы в сети");
    CHECK(koi8.sender.name == "Пётр");
    CHECK(koi8.has_warning("charset_detected"));
    CHECK(koi8.has_warning("header_charset_detected"));
    for (const auto* m : {&utf8, &cp1251, &koi8}) {
        check_utf8(*m);
    }
}

TEST_CASE("a truncated multipart keeps what came before the cut, with warnings") {
    const auto m = parse_fixture("truncated_multipart.eml");
    check_utf8(m);
    CHECK(m.text == "Текст до обрыва.");
    REQUIRE(m.attachments.size() == 1);
    CHECK(m.attachments[0].file_name == "cut.pdf");
    CHECK(m.has_warning("truncated"));
    CHECK(m.has_warning("truncated_base64"));
}

TEST_CASE("a 200 KiB line and bare LF line ends") {
    const auto longm = parse_fixture("long_line.eml");
    CHECK(longm.text.size() == 200 * 1024 + std::string("Начало  конец").size());
    CHECK(longm.text.starts_with("Начало xxx"));
    CHECK(longm.text.ends_with("xxx конец"));
    const auto lf = parse_fixture("bare_lf.eml");
    CHECK(lf.subject == "bare LF");
    CHECK(lf.text == "Первая строка\nВторая строка");
    CHECK(lf.message_id == "lf@example.org");
}

TEST_CASE("an oversized mail: headers decoded, body not parsed, too_large") {
    mail_limits limits;
    limits.max_message_bytes = 4096;
    const auto m = parse_fixture("oversized.eml", limits);
    CHECK(m.has_warning("too_large"));
    CHECK(m.subject == "Большое письмо");
    CHECK(m.message_id == "big@example.org");
    CHECK(m.attachments.empty());
    CHECK(m.text.empty());
    // Under the default limit the same mail parses in full.
    const auto full = parse_fixture("oversized.eml");
    CHECK_FALSE(full.has_warning("too_large"));
    REQUIRE(full.attachments.size() == 1);
    CHECK(full.attachments[0].size == 8192);

    SUBCASE("50 MiB against the 25 MiB default: the size check comes first, fast") {
        std::string big = simple_mail(
            "Message-ID: <huge@example.org>\r\nContent-Type: "
            "text/plain; charset=utf-8\r\n",
            "");
        big.append(50 * 1024 * 1024, 'a');
        const auto start = std::chrono::steady_clock::now();
        const auto h = parse_mail(big);
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(h.has_warning("too_large"));
        CHECK(h.message_id == "huge@example.org");
        CHECK(h.text.empty());
        CHECK(took < stall_bound);
    }
}

TEST_CASE("an oversized mail fetched by its headers only gives what the whole mail gives") {
    mail_limits limits;
    limits.max_message_bytes = 4096;
    const std::string whole = fixture("oversized.eml");
    const auto end = whole.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    const std::string head = whole.substr(0, end + 4);  // what BODY.PEEK[HEADER] returns
    const auto from_head = parse_oversized(head, whole.size(), limits);
    const auto from_whole = parse_mail(whole, limits);
    CHECK(from_head.has_warning("too_large"));
    CHECK(from_head.subject == "Большое письмо");
    CHECK(from_head.subject == from_whole.subject);
    CHECK(from_head.message_id == from_whole.message_id);
    CHECK(from_head.sender.address == from_whole.sender.address);
    CHECK(from_head.text.empty());
    CHECK(from_head.attachments.empty());
    // The warning names the real size, not the header block's.
    bool names_size = false;
    for (const auto& w : from_head.warnings) {
        if (w.code == "too_large") {
            names_size = w.message.find(std::to_string(whole.size())) != std::string::npos;
        }
    }
    CHECK(names_size);
    // Under the limit, parse_oversized with full_size 0 is parse_mail.
    CHECK(parse_oversized(whole, 0).attachments.size() == 1);
}

TEST_CASE("mail_report: what the rules see and what is kept with the report") {
    auto m = parse_fixture("attachments.eml");
    const std::string raw = fixture("attachments.eml");
    const auto key = dedup_key_for(m, raw);
    const auto r = mail_report(std::move(m), raw, {"mail", "ru", 1234});
    CHECK(r.source == "mail");
    CHECK(r.source_kind == "email");
    CHECK(r.received_at == 1234);
    CHECK(r.text == "Фото и повестка во вложении.");
    CHECK(r.raw == raw);
    CHECK(r.dedup_key == key);
    CHECK(r.dedup_key.size() == 64);
    REQUIRE(r.attachments.size() == 2);
    CHECK(r.attachments[0].file_name == "фото_угрозы_у_подъезда.jpg");
    CHECK(r.attachments[0].bytes.size() == 3006);
    CHECK(r.attachments[1].sha256 ==
          "2be38f4a31d77b28f0667986fde02cb68705eb1d307ff32813fe4963a3f8df76");
    CHECK(r.details.is_object());
    CHECK(r.details["warnings"].is_array());
    CHECK(r.details["too_large"] == false);

    SUBCASE("the dedup key: the Message-ID's hash, else the raw bytes'") {
        const auto a = parse_fixture("utf8.eml");
        const auto b = parse_fixture("no_message_id.eml");
        // Same Message-ID, other bytes (a mailbox recreated, a header rewritten): same key.
        CHECK(dedup_key_for(a, "x") == dedup_key_for(a, "y"));
        CHECK(dedup_key_for(b, "x") != dedup_key_for(b, "y"));
        CHECK(dedup_key_for(a, "x") != dedup_key_for(b, "x"));
    }
    SUBCASE("default_language fills in only when the detector is unsure") {
        auto shortm = parse_mail(simple_mail("Content-Type: text/plain\r\n", "ok\r\n"));
        const auto und = mail_report(std::move(shortm), "", {"mail", "ru", 1});
        CHECK(und.language == "ru");
        auto ru = parse_fixture("utf8.eml");
        CHECK(mail_report(std::move(ru), "", {"mail", "en", 1}).language == "ru");
        auto keep = parse_mail(simple_mail("Content-Type: text/plain\r\n", "ok\r\n"));
        CHECK(mail_report(std::move(keep), "", {"mail", "", 1}).language == "und");
    }
}

TEST_CASE("malformed MIME never crashes and says what happened") {
    SUBCASE("NUL bytes in headers and body") {
        std::string raw = simple_mail("Content-Type: text/plain; charset=utf-8\r\n",
                                      std::string("before\0after\r\n", 14));
        raw.insert(raw.find("Subject: s") + 9, std::string("\0x", 2));
        const auto m = parse_mail(raw);
        check_utf8(m);
        CHECK(m.text == "beforeafter");
        CHECK(m.has_warning("control_chars"));
    }
    SUBCASE("header garbage") {
        const auto m = parse_mail(
            "From: a@example.org\r\n\x01\x02garbage line without colon\r\n"
            "Subject: still here\r\n: no name\r\n\r\nbody\r\n");
        check_utf8(m);
        CHECK(m.sender.address == "a@example.org");
    }
    SUBCASE("base64 body without a transfer encoding is decoded, not shown") {
        const std::string payload = "Это текст, закодированный в base64 без заголовка CTE.";
        // base64 of payload, computed with Python's base64.b64encode.
        const std::string b64 =
            "0K3RgtC+INGC0LXQutGB0YIsINC30LDQutC+0LTQuNGA0L7QstCw0L3QvdGL0Lkg0LIgYmFzZTY0INCx0LXQ"
            "tyDQt9Cw0LPQvtC70L7QstC60LAgQ1RFLg==";
        const auto m =
            parse_mail(simple_mail("Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Transfer-Encoding: base-64\r\n",
                                   b64.substr(0, 76) + "\r\n" + b64.substr(76) + "\r\n"));
        CHECK(m.has_warning("unknown_transfer_encoding"));
        CHECK(m.has_warning("base64_guessed"));
        CHECK(m.text == payload);
    }
    SUBCASE("invalid UTF-8 in a UTF-8 part is replaced, with a warning") {
        const auto m = parse_mail(
            simple_mail("Content-Type: text/plain; charset=utf-8\r\n", "Привет \xFF\xFE мир\r\n"));
        check_utf8(m);
        CHECK(m.text == "Привет \xEF\xBF\xBD\xEF\xBF\xBD мир");
        CHECK(m.has_warning("invalid_bytes"));
    }
    SUBCASE("deep nesting is bounded") {
        std::string body;
        std::string headers = "Content-Type: multipart/mixed; boundary=\"b0\"\r\n";
        const int depth = 2000;
        for (int i = 1; i < depth; ++i) {
            body += "--b" + std::to_string(i - 1) +
                    "\r\nContent-Type: multipart/mixed; boundary=\"b" + std::to_string(i) +
                    "\"\r\n\r\n";
        }
        body += "--b" + std::to_string(depth - 1) + "\r\nContent-Type: text/plain\r\n\r\ndeep\r\n";
        const auto start = std::chrono::steady_clock::now();
        const auto m = parse_mail(simple_mail(headers, body));
        CHECK(std::chrono::steady_clock::now() - start < stall_bound);
        CHECK(m.has_warning("too_deep"));
        CHECK(m.text.empty());
    }
    SUBCASE("10,000 parts are bounded") {
        std::string body;
        for (int i = 0; i < 10000; ++i) {
            body += "--b\r\nContent-Type: text/plain\r\n\r\npart " + std::to_string(i) + "\r\n";
        }
        body += "--b--\r\n";
        const auto start = std::chrono::steady_clock::now();
        const auto m =
            parse_mail(simple_mail("Content-Type: multipart/mixed; boundary=b\r\n", body));
        CHECK(std::chrono::steady_clock::now() - start < stall_bound);
        CHECK(m.has_warning("too_many_parts"));
        CHECK(m.text.starts_with("part 0\n\npart 1\n\n"));
        CHECK(m.text.find("part 9999") == std::string::npos);
    }
    SUBCASE("not a mail at all") {
        const auto m = parse_mail(std::string("\xFF\xFE\x00\x01 binary", 11));
        check_utf8(m);
        const auto empty = parse_mail("");
        check_utf8(empty);
        CHECK(empty.text.empty());
    }
}

TEST_CASE("header decoding: encoded words, folds, bad charsets") {
    const auto m = parse_mail(
        "From: =?windows-1251?Q?=CC=E0=F0=E8=FF?= <maria@example.org>\r\n"
        "Subject: =?koi8-r?B?8NLJ18XU?=\r\n =?utf-8?Q?_=D0=BC=D0=B8=D1=80?=\r\n\r\nx\r\n");
    CHECK(m.sender.name == "Мария");
    CHECK(m.subject == "Привет мир");
    const auto bad = parse_mail(
        "From: a@example.org\r\nSubject: =?x-no-such?B?8NLJ18XU?= "
        "=?utf-8?B?/w==?=\r\n\r\nx\r\n");
    check_utf8(bad);
}

TEST_CASE("charset: conversion, detection, repair") {
    CHECK(normalise_charset(" \"CP1251\" ") == "windows-1251");
    CHECK(normalise_charset("IBM866") == "cp866");
    CHECK(normalise_charset("x-mac-cyrillic") == "maccyrillic");
    CHECK(is_ascii_charset("US-ASCII"));
    CHECK(is_ascii_charset("ANSI_X3.4-1968"));
    // "Привет" in KOI8-R, windows-1251, ISO-8859-5, CP866 (bytes from Python's codecs).
    CHECK(convert_to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r").text == "Привет");
    CHECK(convert_to_utf8("\xCF\xF0\xE8\xE2\xE5\xF2", "windows-1251").text == "Привет");
    CHECK(convert_to_utf8("\xBF\xE0\xD8\xD2\xD5\xE2", "iso-8859-5").text == "Привет");
    CHECK(convert_to_utf8("\x8F\xE0\xA8\xA2\xA5\xE2", "cp866").text == "Привет");
    CHECK(convert_to_utf8("\xB6\xC7\xD2\xC9", "koi8-u").text == "Ігри");
    CHECK(convert_to_utf8("caf\xE9", "iso-8859-1").text == "café");
    const auto unmapped = convert_to_utf8("a\x98z", "windows-1251");
    CHECK(unmapped.text == "a\xEF\xBF\xBDz");
    CHECK(unmapped.invalid_sequences == 1);
    CHECK_FALSE(convert_to_utf8("abc", "no-such-charset").known_charset);
    CHECK(convert_to_utf8("abc", "utf-8//IGNORE").known_charset == false);

    const std::string cp1251 =
        "\xcd\xe0\xf1 \xef\xf0\xe5\xf1\xeb\xe5\xe4\xf3\xfe\xf2 \xef\xee\xf1\xeb\xe5 "
        "\xef\xf3\xe1\xeb\xe8\xea\xe0\xf6\xe8\xe8 \xf1\xf2\xe0\xf2\xfc\xe8 \xee "
        "\xea\xee\xf0\xf0\xf3\xef\xf6\xe8\xe8";  // "Нас преследуют после публикации статьи о
                                                 // коррупции"
    CHECK(detect_charset(cp1251) == "windows-1251");
    CHECK(detect_charset("plain ascii").empty());
    const auto d = decode_text(cp1251, "");
    CHECK(d.text == "Нас преследуют после публикации статьи о коррупции");
    CHECK(d.fix == charset_fix::detected);
    const auto latin = decode_text("Привет, мир, это UTF-8", "iso-8859-1");
    CHECK(latin.text == "Привет, мир, это UTF-8");
    CHECK(latin.fix == charset_fix::mislabelled);
    const auto damaged = decode_text("Привет \xFF мир", "utf-8");
    CHECK(damaged.text == "Привет \xEF\xBF\xBD мир");
    CHECK(damaged.fix == charset_fix::none);
    const auto western_cyr = decode_text(cp1251, "iso-8859-1");
    CHECK(western_cyr.charset == "windows-1251");
    CHECK(western_cyr.fix == charset_fix::mislabelled);
    CHECK(decode_text("caf\xE9 cr\xE8me br\xFB"
                      "l\xE9"
                      "e",
                      "iso-8859-1")
              .text == "café crème brûlée");

    std::string broken = "ok\xC3";
    CHECK(repair_utf8(broken) == 1);
    CHECK(broken == "ok\xEF\xBF\xBD");
}

TEST_CASE("html_to_text") {
    CHECK(html_to_text("<p>one</p><p>two</p>").text == "one\n\ntwo");
    CHECK(html_to_text("a<br>b<br/>c").text == "a\nb\nc");
    CHECK(html_to_text("<div>x</div><div>y</div>").text == "x\ny");
    CHECK(html_to_text("<ul><li>1</li><li>2</li></ul>").text == "1\n2");
    CHECK(html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>").text ==
          "a b\nc");
    CHECK(html_to_text("<h2>T</h2>text").text == "T\n\ntext");
    CHECK(html_to_text("  lots   of \n\t space  ").text == "lots of space");
    CHECK(html_to_text("<script>var x=1;</script><style>p{}</style><!-- c -->seen").text == "seen");
    CHECK(html_to_text("&lt;b&gt; &amp; &quot;q&quot; &#1055;&#x440;").text == "<b> & \"q\" Пр");
    CHECK(html_to_text("<pre>a  b\n  c</pre>after").text == "a  b\n  c\n\nafter");
    CHECK(html_to_text("<p>unclosed <b>bold <i>both</p>more").text == "unclosed bold both\n\nmore");
    CHECK(html_to_text("").text.empty());

    SUBCASE("deep nesting and huge input are bounded") {
        std::string deep;
        for (int i = 0; i < 100000; ++i) {
            deep += "<div>";
        }
        deep += "bottom";
        const auto start = std::chrono::steady_clock::now();
        const auto out = html_to_text(deep);
        CHECK(std::chrono::steady_clock::now() - start < stall_bound);
        CHECK(hotline::core::is_valid_utf8(out.text));
        std::string wide;
        for (int i = 0; i < 200000; ++i) {
            wide += "<p>para</p>";
        }
        html_text_limits limits;
        limits.max_output_bytes = 1000;
        const auto cut = html_to_text(wide, limits);
        CHECK(cut.truncated);
        CHECK(cut.text.size() <= 1000);
    }
}

TEST_CASE("detect_language tells Russian, Ukrainian, Belarusian, Kazakh and English apart") {
    CHECK(detect_language("Мне угрожают по телефону, пожалуйста помогите.") == "ru");
    CHECK(detect_language("Мені погрожують телефоном, будь ласка, допоможіть.") == "uk");
    CHECK(detect_language("Мне пагражаюць па тэлефоне, калі ласка, дапамажыце.") == "be");
    CHECK(detect_language("Маған телефон арқылы қорқытып жатыр, көмектесіңізші.") == "kk");
    CHECK(detect_language("They threaten me by phone, please help.") == "en");
    CHECK(detect_language("Вчора до нас прийшли поліцейські і забрали ноутбук.") == "uk");
    CHECK(detect_language("Учора да нас прыйшлі міліцыянты і забралі ноўтбук.") == "be");
    CHECK(detect_language("") == "und");
    CHECK(detect_language("12345 !!!") == "und");
    CHECK(detect_language("bad \xFF utf8") == "und");
    // The webhook path's script count is unchanged.
    CHECK(guess_language("Мені погрожують") == "ru");
}
