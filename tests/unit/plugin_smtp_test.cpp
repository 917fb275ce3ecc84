// The smtp module: the message it produces is parsed back here (headers, RFC 2047,
// base64 body), hostile input must never add header lines.
#include <doctest/doctest.h>

#include <sodium.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"
#include "plugin_test_support.hpp"

using namespace hotline;

namespace {

const plugin_test::channel_block email_block{"conf/mail.yaml", "email", "smtp", 3, 5, 9};

config::channel_option opt(std::string key, std::string value, int line, bool secret = false) {
    return email_block.option(std::move(key), std::move(value), line, secret);
}

std::vector<config::channel_option> base_options(
    std::string from = "Hotline <hotline@example.org>") {
    return {opt("url", "smtp://127.0.0.1:2525", 4), opt("from", std::move(from), 5),
            opt("tls", "none", 6)};
}

core::result<std::shared_ptr<dispatch::channel_instance>> create(
    std::vector<config::channel_option> options) {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    return host.instantiate_channel(email_block.config(std::move(options)), "channels[1]");
}

std::shared_ptr<dispatch::channel_instance> make(
    std::vector<config::channel_option> options = base_options()) {
    auto inst = create(std::move(options));
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    return *inst;
}

struct alert_fixture {
    std::string address{"alice@example.org"};
    std::string subject{
        "[hotline] Дело #7 (критично): Задержание активиста у здания суда, нужна помощь 🚨"};
    std::string body{"Текст сообщения: задержан у суда.\nВторая строка\r\nТретья\n"};
    std::string payload{R"({"kind":"alert","case_id":7,"severity":"critical"})"};
    std::string key{"n7-abc"};
    hotline_alert raw{};
    alert_fixture() { refresh(); }
    void refresh() {
        raw.struct_size = sizeof raw;
        raw.notification_id = "7";
        raw.idempotency_key = key.c_str();
        raw.address = address.c_str();
        raw.subject = subject.c_str();
        raw.body = body.c_str();
        raw.payload_json = payload.c_str();
        raw.severity = "critical";
        raw.language = "ru";
        raw.now_unix = 1'764'061'200;  // Tue, 25 Nov 2025 09:00:00 +0000
        raw.attempt = 1;
    }
};

struct parsed_message {
    std::vector<std::string> raw_header_lines;
    std::vector<std::pair<std::string, std::string>> headers;  // unfolded
    std::string body;
    [[nodiscard]] std::string get(const std::string& name) const {
        for (const auto& [k, v] : headers) {
            if (k == name) {
                return v;
            }
        }
        return {};
    }
    [[nodiscard]] std::size_t count(const std::string& name) const {
        return static_cast<std::size_t>(std::count_if(
            headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; }));
    }
};

parsed_message parse(const std::string& message) {
    parsed_message out;
    const auto split = message.find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    const std::string head = message.substr(0, split + 2);
    out.body = message.substr(split + 4);
    // No bare LF or bare CR anywhere.
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\n') {
            REQUIRE(i > 0);
            REQUIRE(message[i - 1] == '\r');
        }
        if (message[i] == '\r') {
            REQUIRE(i + 1 < message.size());
            REQUIRE(message[i + 1] == '\n');
        }
    }
    std::size_t pos = 0;
    while (pos < head.size()) {
        const auto end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        out.raw_header_lines.push_back(line);
        REQUIRE(line.size() <= 998);
        if (line[0] == ' ' || line[0] == '\t') {
            REQUIRE_FALSE(out.headers.empty());
            out.headers.back().second += line;  // unfold: drop the CRLF, keep the WSP
            continue;
        }
        const auto colon = line.find(": ");
        REQUIRE(colon != std::string::npos);
        out.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
    return out;
}

std::string unbase64(const std::string& in) {
    std::string out(in.size(), '\0');
    std::size_t len = 0;
    REQUIRE(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.c_str(),
                              in.size(), "\r\n", &len, nullptr,
                              sodium_base64_VARIANT_ORIGINAL) == 0);
    out.resize(len);
    return out;
}

bool valid_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80             ? 1
                        : (c & 0xE0) == 0xC0 ? 2
                        : (c & 0xF0) == 0xE0 ? 3
                        : (c & 0xF8) == 0xF0 ? 4
                                             : 0;
        if (n == 0 || i + n > s.size()) {
            return false;
        }
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

// Decodes an unstructured header value made of RFC 2047 B words (or plain text).
// Whitespace between adjacent encoded words is dropped (RFC 2047 section 6.2).
std::string decode_2047(const std::string& value, std::vector<std::string>* words = nullptr) {
    std::string out;
    std::size_t pos = 0;
    bool last_was_word = false;
    while (pos < value.size()) {
        const auto start = value.find("=?", pos);
        if (start == std::string::npos) {
            out += value.substr(pos);
            break;
        }
        const std::string between = value.substr(pos, start - pos);
        const bool only_space = between.find_first_not_of(" \t") == std::string::npos;
        if (!(last_was_word && only_space)) {
            out += between;
        }
        const auto end = value.find("?=", start + 10);
        REQUIRE(end != std::string::npos);
        const std::string word = value.substr(start, end + 2 - start);
        REQUIRE(word.rfind("=?UTF-8?B?", 0) == 0);
        const std::string decoded = unbase64(word.substr(10, word.size() - 12));
        CHECK(valid_utf8(decoded));  // never split a UTF-8 sequence across words
        if (words != nullptr) {
            words->push_back(word);
        }
        out += decoded;
        pos = end + 2;
        last_was_word = true;
    }
    return out;
}

std::string message_of(const hotline_request& req) {
    return {req.body, req.body_len};
}

}  // namespace

TEST_CASE("smtp build: RFC 5322 message, RFC 2047 subject, base64 body, envelope") {
    REQUIRE(sodium_init() >= 0);
    const auto channel = make();
    alert_fixture alert;
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;
    CHECK(req.transport == HOTLINE_TRANSPORT_SMTP);
    CHECK(std::string(req.url) == "smtp://127.0.0.1:2525");
    CHECK(std::string(req.mail_from) == "hotline@example.org");
    REQUIRE(req.n_rcpt == 1);
    CHECK(std::string(req.rcpt[0]) == "alice@example.org");
    CHECK(req.use_tls == 0);
    CHECK(req.username == nullptr);

    const auto m = parse(message_of(req));
    CHECK(m.get("Date") == "Tue, 25 Nov 2025 09:00:00 +0000");
    CHECK(m.get("From") == "Hotline <hotline@example.org>");
    CHECK(m.get("To") == "<alice@example.org>");
    // Names case 7 and notification 7, plus SHA-256("n7-abc")'s first 8 hex digits.
    CHECK(m.get("Message-ID") == "<hotline.c7.n7.c01494ce@example.org>");
    CHECK(m.get("In-Reply-To") == "<hotline.c7@example.org>");
    CHECK(m.get("References") == "<hotline.c7@example.org>");
    CHECK(m.get("MIME-Version") == "1.0");
    CHECK(m.get("Content-Type") == "text/plain; charset=utf-8");
    CHECK(m.get("Content-Transfer-Encoding") == "base64");
    CHECK(m.get("X-Hotline-Case") == "7");
    CHECK(m.get("X-Hotline-Severity") == "critical");
    CHECK(m.get("Auto-Submitted") == "auto-generated");
    for (const char* h :
         {"Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References"}) {
        CHECK(m.count(h) == 1);
    }

    std::vector<std::string> words;
    CHECK(decode_2047(m.get("Subject"), &words) == alert.subject);
    CHECK(words.size() > 2);  // long enough to need folding
    for (const auto& w : words) {
        CHECK(w.size() <= 75);
    }
    for (const auto& line : m.raw_header_lines) {
        if (line.rfind("Subject:", 0) == 0 || line.rfind(" =?", 0) == 0) {
            CHECK(line.size() <= 84);
        }
    }

    for (std::size_t pos = 0; pos < m.body.size();) {
        const auto end = m.body.find("\r\n", pos);
        REQUIRE(end != std::string::npos);
        CHECK(end - pos <= 76);
        pos = end + 2;
    }
    CHECK(unbase64(m.body) == "Текст сообщения: задержан у суда.\r\nВторая строка\r\nТретья\r\n");
}

TEST_CASE("smtp build: the Message-ID is stable across retries") {
    const auto channel = make();
    alert_fixture alert;
    auto a = channel->build(alert.raw);
    alert.raw.attempt = 4;
    alert.raw.now_unix += 3600;
    auto b = channel->build(alert.raw);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(parse(message_of((*a)->raw)).get("Message-ID") ==
          parse(message_of((*b)->raw)).get("Message-ID"));
    CHECK(parse(message_of((*a)->raw)).get("Date") != parse(message_of((*b)->raw)).get("Date"));
}

TEST_CASE("smtp build: a case's Message-ID names case and notification; others keep the key") {
    const auto channel = make();
    alert_fixture alert;
    const auto message_id = [&](const std::string& payload, const char* notification_id) {
        alert.payload = payload;
        alert.refresh();
        alert.raw.notification_id = notification_id;
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto m = parse(message_of((*built)->raw));
        return m.get("Message-ID") + " " + m.get("In-Reply-To") + " " + m.get("References");
    };
    CHECK(message_id(R"({"case_id":9223372036854775807})", "123456") ==
          "<hotline.c9223372036854775807.n123456.c01494ce@example.org> "
          "<hotline.c9223372036854775807@example.org> <hotline.c9223372036854775807@example.org>");
    // Different notifications of one case: different ids, one root.
    CHECK(message_id(R"({"case_id":42})", "8") ==
          "<hotline.c42.n8.c01494ce@example.org> <hotline.c42@example.org> "
          "<hotline.c42@example.org>");
    // No case, case 0, a case id that is not an integer, no notification id: no threading.
    for (const char* payload : {R"({})", R"({"case_id":0})", R"({"case_id":"7"})",
                                R"({"case_id":-3})", R"({"case_id":1.5})", "not json"}) {
        CAPTURE(payload);
        CHECK(message_id(payload, "7") == "<hotline-n7-abc@example.org>  ");
    }
    CHECK(message_id(R"({"case_id":7})", "") == "<hotline-n7-abc@example.org>  ");
    CHECK(message_id(R"({"case_id":7})", "7x") == "<hotline-n7-abc@example.org>  ");
}

TEST_CASE("smtp build: the case tag is in the subject once") {
    const auto channel = make();
    alert_fixture alert;
    const auto subject_of = [&](const std::string& subject, const std::string& payload) {
        alert.subject = subject;
        alert.payload = payload;
        alert.refresh();
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        return decode_2047(parse(message_of((*built)->raw)).get("Subject"));
    };
    const std::string tagged = R"({"case_id":7,"case_tag":"[HOTLINE #7]"})";
    // The shipped templates start with the tag: nothing is added.
    CHECK(subject_of("[HOTLINE #7] Case #7 (high): x", tagged) == "[HOTLINE #7] Case #7 (high): x");
    CHECK(subject_of("Case #7 [hotline #7]", tagged) == "Case #7 [hotline #7]");
    // A custom template without it: put in front.
    CHECK(subject_of("Дело 7", tagged) == "[HOTLINE #7] Дело 7");
    CHECK(subject_of("", tagged) == "[HOTLINE #7] ");
    // Another case's tag in the subject (a quoted report subject) is not this one's.
    CHECK(subject_of("Re: [HOTLINE #77]", tagged) == "[HOTLINE #7] Re: [HOTLINE #77]");
    CHECK(subject_of("x", R"({"case_id":7,"case_tag":"[ngo_2-x #7]"})") == "[ngo_2-x #7] x");
    // No tag in the payload, or something that is not a tag: the subject as rendered.
    for (const char* payload :
         {R"({"case_id":7})", R"({"case_id":7,"case_tag":7})",
          R"({"case_id":7,"case_tag":"[HOTLINE #7]
Bcc: x@evil.example"})",
          R"({"case_id":7,"case_tag":"HOTLINE #7"})", R"({"case_id":7,"case_tag":"[HOT LINE #7]"})",
          R"({"case_id":7,"case_tag":"[HOTLINE #x]"})", R"({"case_id":7,"case_tag":"[ #7]"})",
          R"({"case_id":7,"case_tag":"[HOTLINE #]"})"}) {
        CAPTURE(payload);
        CHECK(subject_of("plain", payload) == "plain");
    }
}

TEST_CASE("smtp build: ASCII subjects stay readable and are folded at spaces") {
    const auto channel = make();
    alert_fixture alert;
    alert.subject = "[hotline] Case #7 (critical): " + std::string(40, 'a') + " " +
                    std::string(40, 'b') + " end";
    alert.refresh();
    auto built = channel->build(alert.raw);
    REQUIRE(built.ok());
    const auto m = parse(message_of((*built)->raw));
    CHECK(m.get("Subject") == alert.subject);  // unfolding restores it exactly
    for (const auto& line : m.raw_header_lines) {
        CHECK(line.size() <= 78);
    }
    alert.subject = "short";
    alert.refresh();
    auto small = channel->build(alert.raw);
    REQUIRE(small.ok());
    CHECK(message_of((*small)->raw).find("\r\nSubject: short\r\n") != std::string::npos);
}

TEST_CASE("smtp build: header injection through subject, from and address is neutralised") {
    SUBCASE("CR/LF in the subject") {
        const auto channel = make();
        for (const std::string& evil : std::vector<std::string>{
                 "Hi\r\nBcc: victim@evil.example", "Hi\nBcc: victim@evil.example",
                 "Hi\rBcc: victim@evil.example", "Привет\r\nBcc: victim@evil.example",
                 "x\r\n\r\nbody injection"}) {
            CAPTURE(evil);
            alert_fixture alert;
            alert.subject = evil;
            alert.refresh();
            auto built = channel->build(alert.raw);
            REQUIRE(built.ok());
            const auto m = parse(message_of((*built)->raw));
            CHECK(m.count("Bcc") == 0);
            CHECK(m.get("Content-Transfer-Encoding") == "base64");  // the head did not end early
            CHECK(decode_2047(m.get("Subject")).find('\n') == std::string::npos);
        }
    }
    SUBCASE("CR/LF in the recipient address") {
        const auto channel = make();
        for (const char* evil :
             {"alice@example.org\r\nBcc: x@evil.example", "alice@example.org>, <x@evil.example",
              "alice@example.org\n", "a lice@example.org"}) {
            CAPTURE(evil);
            CHECK_FALSE(channel->validate_address(evil).ok());
            alert_fixture alert;
            alert.raw.address = evil;
            CHECK_FALSE(channel->build(alert.raw).ok());
        }
    }
    SUBCASE("CR/LF in from is rejected at create") {
        const auto r = create(base_options("Hotline <hotline@example.org>\r\nBcc: x@evil.example"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().context == "conf/mail.yaml:5:9");
        CHECK(r.err().message.rfind("channels[1].options.from:", 0) == 0);
    }
    SUBCASE("display names are quoted or encoded") {
        auto quoted = make(base_options(R"(Hot "line", NGO <hotline@example.org>)"));
        alert_fixture alert;
        auto built = quoted->build(alert.raw);
        REQUIRE(built.ok());
        CHECK(parse(message_of((*built)->raw)).get("From") ==
              R"("Hot \"line\", NGO" <hotline@example.org>)");

        auto cyrillic = make(base_options("Горячая линия <desk@ngo.example>"));
        auto b2 = cyrillic->build(alert.raw);
        REQUIRE(b2.ok());
        const auto m = parse(message_of((*b2)->raw));
        const std::string from = m.get("From");
        CHECK(from.rfind("=?UTF-8?B?", 0) == 0);
        CHECK(decode_2047(from.substr(0, from.find(" <"))) == "Горячая линия");
        CHECK(m.get("Message-ID") == "<hotline.c7.n7.c01494ce@ngo.example>");
        CHECK(m.get("References") == "<hotline.c7@ngo.example>");
        CHECK(std::string((*b2)->raw.mail_from) == "desk@ngo.example");
    }
    SUBCASE("a hostile idempotency key cannot break the Message-ID") {
        const auto channel = make();
        alert_fixture alert;
        alert.key = "a>\r\nBcc: x@y <b";
        // No case (hotlinectl send-test): the Message-ID is made of the key.
        alert.payload = R"({"kind":"alert","severity":"critical"})";
        alert.refresh();
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const auto m = parse(message_of((*built)->raw));
        CHECK(m.count("Bcc") == 0);
        CHECK(m.get("Message-ID") == "<hotline-a___Bcc__x_y__b@example.org>");
        // A case's: only a hash of the key.
        alert.payload = R"({"kind":"alert","case_id":7,"severity":"critical"})";
        alert.refresh();
        auto with_case = channel->build(alert.raw);
        REQUIRE(with_case.ok());
        const auto mc = parse(message_of((*with_case)->raw));
        CHECK(mc.count("Bcc") == 0);
        CHECK(mc.get("Message-ID") == "<hotline.c7.n7.616ef503@example.org>");
    }
    SUBCASE("invalid UTF-8 and controls in the body survive as valid UTF-8") {
        const auto channel = make();
        alert_fixture alert;
        alert.body = "ok \xC0\xAF \xED\xA0\x80 end\n.\nlast";
        alert.refresh();
        auto built = channel->build(alert.raw);
        REQUIRE(built.ok());
        const std::string text = unbase64(parse(message_of((*built)->raw)).body);
        CHECK(valid_utf8(text));
        CHECK(text.find("end\r\n.\r\nlast") != std::string::npos);
    }
}

TEST_CASE("smtp addresses") {
    const auto channel = make();
    for (const char* good :
         {"alice@example.org", "a.b+tag@sub.example.co", "x@localhost", "иван@пример.рф"}) {
        CAPTURE(good);
        CHECK(channel->validate_address(good).ok());
    }
    const std::string long_local = std::string(65, 'a') + "@example.org";
    const std::vector<std::string> bad{"",
                                       "alice",
                                       "@example.org",
                                       "alice@",
                                       "a@b@c",
                                       "alice@.org",
                                       "alice@exa..mple",
                                       "alice@example.org.",
                                       "al ice@example.org",
                                       "<alice@example.org>",
                                       "alice@exa_mple.org",
                                       "\"q\"@example.org",
                                       long_local};
    plugin_test::check_addresses_refused(*channel, bad, "email address");
}

TEST_CASE("smtp options") {
    SUBCASE("tls defaults follow the scheme: smtp:// means STARTTLS required") {
        alert_fixture alert;
        auto plain = make();  // tls: none on a loopback host
        auto a = plain->build(alert.raw);
        REQUIRE(a.ok());
        CHECK((*a)->raw.use_tls == 0);
        for (const char* url : {"smtp://127.0.0.1:2525", "smtp://mail.example.org:25"}) {
            auto def = make({opt("url", url, 4), opt("from", "h@example.org", 5)});
            auto d = def->build(alert.raw);
            REQUIRE(d.ok());
            CHECK((*d)->raw.use_tls == 1);
        }
        for (const char* url : {"smtp://localhost:25", "smtp://[::1]:25", "smtp://127.8.9.10",
                                "smtp://user@127.0.0.1:25"}) {
            CAPTURE(url);
            auto ok = create(
                {opt("url", url, 4), opt("from", "h@example.org", 5), opt("tls", "none", 6)});
            CHECK(ok.ok());
        }
        auto allowed =
            make({opt("url", "smtp://relay.example.org:25", 4), opt("from", "h@example.org", 5),
                  opt("tls", "none", 6), opt("allow_plaintext", "true", 7)});
        auto p = allowed->build(alert.raw);
        REQUIRE(p.ok());
        CHECK((*p)->raw.use_tls == 0);
        auto implicit =
            make({opt("url", "smtps://mail.example.org:465", 4), opt("from", "h@example.org", 5)});
        auto b = implicit->build(alert.raw);
        REQUIRE(b.ok());
        CHECK((*b)->raw.use_tls == 2);
        auto starttls =
            make({opt("url", "smtp://mail.example.org:587", 4), opt("from", "h@example.org", 5),
                  opt("tls", "starttls", 6), opt("username", "hotline", 7),
                  opt("password", "pw", 8, true), opt("insecure_skip_verify", "true", 9),
                  opt("helo", "hotline.example.org", 10)});
        auto c = starttls->build(alert.raw);
        REQUIRE(c.ok());
        CHECK((*c)->raw.use_tls == 1);
        CHECK(std::string((*c)->raw.username) == "hotline");
        CHECK(std::string((*c)->raw.password) == "pw");
        CHECK((*c)->raw.insecure_skip_verify == 1);
        CHECK(std::string((*c)->raw.url) == "smtp://mail.example.org:587/hotline.example.org");
    }
    struct bad_case {
        std::vector<config::channel_option> options;
        std::string context;
        std::string path;
    };
    const std::vector<bad_case> cases{
        {{opt("from", "h@example.org", 5)}, "conf/mail.yaml:3:5", "channels[1].options.url:"},
        {{opt("url", "smtp://h:25", 4)}, "conf/mail.yaml:3:5", "channels[1].options.from:"},
        {{opt("url", "http://h:25", 4), opt("from", "h@example.org", 5)},
         "conf/mail.yaml:4:9",
         "channels[1].options.url:"},
        {{opt("url", "smtp://", 4), opt("from", "h@example.org", 5)},
         "conf/mail.yaml:4:9",
         "channels[1].options.url:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "not an address", 5)},
         "conf/mail.yaml:5:9",
         "channels[1].options.from:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5), opt("tls", "tls", 6)},
         "conf/mail.yaml:6:9",
         "channels[1].options.tls:"},
        {{opt("url", "smtps://h:465", 4), opt("from", "h@example.org", 5), opt("tls", "none", 6)},
         "conf/mail.yaml:6:9",
         "channels[1].options.tls:"},
        {{opt("url", "smtp://relay.example.org:25", 4), opt("from", "h@example.org", 5),
          opt("tls", "none", 6)},
         "conf/mail.yaml:6:9",
         "channels[1].options.tls:"},
        {{opt("url", "smtp://127.0.0.1.example.org:25", 4), opt("from", "h@example.org", 5),
          opt("tls", "none", 6)},
         "conf/mail.yaml:6:9",
         "channels[1].options.tls:"},
        {{opt("url", "smtp://[::2]:25", 4), opt("from", "h@example.org", 5), opt("tls", "none", 6),
          opt("allow_plaintext", "maybe", 7)},
         "conf/mail.yaml:7:9",
         "channels[1].options.allow_plaintext:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5), opt("tls", "ssl", 6)},
         "conf/mail.yaml:6:9",
         "channels[1].options.tls:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5), opt("username", "u", 7)},
         "conf/mail.yaml:7:9",
         "channels[1].options.username:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5),
          opt("password", "p", 8, true)},
         "conf/mail.yaml:8:9",
         "channels[1].options.password_file:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5),
          opt("helo", "bad helo", 10)},
         "conf/mail.yaml:10:9",
         "channels[1].options.helo:"},
        {{opt("url", "smtp://h:25", 4), opt("from", "h@example.org", 5), opt("port", "25", 11)},
         "conf/mail.yaml:11:9",
         "channels[1].options.port: unknown option"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.path);
        const auto r = create(c.options);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().context == c.context);
        CHECK(r.err().message.rfind(c.path, 0) == 0);
    }
}

TEST_CASE("smtp classify") {
    const auto channel = make();
    struct row {
        int transport_error;
        long status;
        std::string line;
        int kind;
        std::string provider_id;
        std::string detail;
    };
    const std::vector<row> table{
        {0, 250, "250 2.0.0 Ok: queued as 4XyZ12", HOTLINE_DELIVERED, "4XyZ12", "SMTP 250 2.0.0"},
        {0, 250, "250 OK id=1tQ7-000Abc-2x", HOTLINE_DELIVERED, "1tQ7-000Abc-2x", "SMTP 250"},
        {0, 250, "250 OK", HOTLINE_DELIVERED, "", "SMTP 250"},
        {0, 250, "", HOTLINE_DELIVERED, "", "SMTP 250"},
        {55, 550, "550 5.1.1 <bob@example.org>: Recipient address rejected", HOTLINE_PERMANENT, "",
         "SMTP 550 5.1.1"},
        {8, 554, "554 5.7.1 rejected", HOTLINE_PERMANENT, "", "SMTP 554 5.7.1"},
        {67, 535, "535 5.7.8 Authentication failed", HOTLINE_PERMANENT, "", "SMTP 535 5.7.8"},
        {55, 451, "451 4.3.0 try later", HOTLINE_RETRY, "", "SMTP 451 4.3.0"},
        {56, 421, "421 Service not available", HOTLINE_RETRY, "", "SMTP 421"},
        {7, 0, "", HOTLINE_RETRY, "", "transport error 7: boom"},
        {28, 354, "354 End data with <CR><LF>.<CR><LF>", HOTLINE_RETRY, "",
         "transport error 28: boom"},
        {1, 0, "", HOTLINE_PERMANENT, "", "bad URL: boom"},
        {3, 0, "", HOTLINE_PERMANENT, "", "bad URL: boom"},
        {0, 0, "", HOTLINE_RETRY, "", "unexpected SMTP 0"},
    };
    for (const auto& r : table) {
        CAPTURE(r.status);
        CAPTURE(r.transport_error);
        hotline_reply raw{};
        raw.struct_size = sizeof raw;
        raw.transport = HOTLINE_TRANSPORT_SMTP;
        raw.transport_error = r.transport_error;
        raw.error_text = "boom";
        raw.status = r.status;
        raw.body = r.line.c_str();
        raw.body_len = r.line.size();
        const auto out = channel->classify(raw);
        CHECK(out.kind == r.kind);
        CHECK(std::string(out.provider_id) == r.provider_id);
        CHECK(std::string(out.detail) == r.detail);
        CHECK(std::string(out.detail).find('@') == std::string::npos);
    }
}
