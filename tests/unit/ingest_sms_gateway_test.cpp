// ingest: phone normalisation (ingest/phone) and the SMS gateway parsers
// (ingest/sms_gateway): signatures against values computed independently (Python's hmac,
// shown beside each), each gateway's fields, bad input, the answers.
#include <doctest/doctest.h>

#include <string>

#include "core/form.hpp"
#include "ingest/phone.hpp"
#include "ingest/sms_gateway.hpp"

using namespace hotline;
using ingest::gateway_request;
using ingest::gateway_result;
using kind = ingest::gateway_result::kind;

namespace {

// 2020-01-03T12:00:00Z, the Vonage example's signed timestamp.
constexpr std::int64_t now_ms = 1578052800LL * 1000;

config::source_config source(const std::string& gateway) {
    config::source_config s;
    s.name = gateway;
    s.kind = "sms";
    s.sms.gateway = gateway;
    s.sms.path = "/v1/sms/" + gateway;
    return s;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& f) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const auto& [k, v] : f) {
        if (!out.empty()) {
            out += '&';
        }
        for (const std::string* s : {&k, &v}) {
            for (const char c : *s) {
                const auto u = static_cast<unsigned char>(c);
                if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.') {
                    out += c;
                } else {
                    out += '%';
                    out += hex[u >> 4U];
                    out += hex[u & 15U];
                }
            }
            if (s == &k) {
                out += '=';
            }
        }
    }
    return out;
}

gateway_request post(const std::string& target, const std::string& body,
                     const std::string& type = "application/x-www-form-urlencoded") {
    gateway_request r;
    r.method = "POST";
    r.target = target;
    r.headers = {{"Content-Type", type}, {"Host", "127.0.0.1:8080"}};
    r.body = body;
    r.peer = "127.0.0.1";
    r.now_ms = now_ms;
    return r;
}

gateway_request get(const std::string& target) {
    gateway_request r;
    r.method = "GET";
    r.target = target;
    r.headers = {{"Host", "127.0.0.1:8080"}};
    r.peer = "127.0.0.1";
    r.now_ms = now_ms;
    return r;
}

// Twilio's documented inbound SMS fields (the text in Russian).
const std::vector<std::pair<std::string, std::string>> twilio_fields{
    {"ToCountry", "US"},
    {"ToState", "CA"},
    {"SmsMessageSid", "SM1234567890abcdef1234567890abcdef"},
    {"NumMedia", "0"},
    {"ToCity", ""},
    {"FromZip", ""},
    {"SmsSid", "SM1234567890abcdef1234567890abcdef"},
    {"FromState", ""},
    {"SmsStatus", "received"},
    {"FromCity", ""},
    {"Body", "Привет, нас задержали"},
    {"FromCountry", "RU"},
    {"To", "+15005550006"},
    {"ToZip", ""},
    {"NumSegments", "1"},
    {"MessageSid", "SM1234567890abcdef1234567890abcdef"},
    {"AccountSid", "AC1234567890abcdef1234567890abcdef"},
    {"From", "+79001234567"},
    {"ApiVersion", "2010-04-01"},
};

const std::vector<std::pair<std::string, std::string>> vonage_fields{
    {"msisdn", "447700900001"},
    {"to", "447700900000"},
    {"messageId", "0A0000000123ABCD1"},
    {"text", "Hello world & more = fun"},
    {"type", "text"},
    {"keyword", "HELLO"},
    {"message-timestamp", "2020-01-01 12:00:00"},
    {"timestamp", "1578052800"},
    {"nonce", "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"},
};

}  // namespace

TEST_CASE("phone: E.164, regions, short codes") {
    using ingest::normalise_phone;
    auto p = normalise_phone("+79001234567", "");
    CHECK(p.valid);
    CHECK(p.text == "+79001234567");
    CHECK(p.region == "RU");
    p = normalise_phone("79001234567", "");  // as Vonage and Kannel send it
    CHECK(p.valid);
    CHECK(p.text == "+79001234567");
    p = normalise_phone("8 (900) 123-45-67", "RU");
    CHECK(p.valid);
    CHECK(p.text == "+79001234567");
    p = normalise_phone("0079001234567", "");
    CHECK(p.text == "+79001234567");
    p = normalise_phone("447700900001", "RU");
    CHECK(p.valid);
    CHECK(p.text == "+447700900001");
    CHECK(p.region == "GB");
    p = normalise_phone("+380501234567", "RU");
    CHECK(p.region == "UA");
    p = normalise_phone("1234", "RU");
    CHECK_FALSE(p.valid);
    CHECK(p.text == "1234");
    CHECK(p.region.empty());
    p = normalise_phone(" BANK ", "RU");
    CHECK_FALSE(p.valid);
    CHECK(p.text == "BANK");
    CHECK_FALSE(normalise_phone("", "RU").valid);
    CHECK_FALSE(normalise_phone("+7+900", "RU").valid);
    CHECK_FALSE(normalise_phone(std::string(100, '7'), "RU").valid);
}

TEST_CASE("twilio: the documented signature example") {
    // Twilio's docs: token 12345 -> 0/KCTR6DLpKmkAf8muzZqo1nDgQ=
    CHECK(ingest::gateway_detail::twilio_signature(
              "12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
              {{"CallSid", "CA1234567890ABCDE"},
               {"Caller", "+12349013030"},
               {"Digits", "1234"},
               {"From", "+12349013030"},
               {"To", "+18005551212"}}) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST_CASE("twilio: inbound SMS") {
    auto src = source("twilio");
    src.sms.auth_token.value = "12345";
    src.sms.public_url = "https://hotline.example.org/v1/sms/twilio";
    auto req = post("/v1/sms/twilio", form(twilio_fields));
    // python3: base64(hmac.new(b'12345', (url + ''.join(k+v for k,v in sorted(f))).encode(),
    //          sha1).digest()) = P/MmlUlymN2WXWhbfPGP5jBMxa0=
    req.headers.emplace_back("X-Twilio-Signature", "P/MmlUlymN2WXWhbfPGP5jBMxa0=");
    SUBCASE("valid") {
        const auto r = ingest::parse_gateway_request(src, req);
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.message_id == "SM1234567890abcdef1234567890abcdef");
        CHECK(r.sms.sender == "+79001234567");
        CHECK(r.sms.sender_valid);
        CHECK(r.sms.country == "RU");
        CHECK(r.sms.recipient == "+15005550006");
        CHECK(r.sms.text == "Привет, нас задержали");
        CHECK(r.sms.received_at == now_ms);
        CHECK(r.sms.details["NumSegments"] == "1");
        CHECK_FALSE(r.sms.is_part());
        const auto report = ingest::sms_report(r.sms, src.sms);
        CHECK(report.source_kind == "sms");
        CHECK(report.external_id == "sms:SM1234567890abcdef1234567890abcdef");
    }
    SUBCASE("tampered body") {
        auto f = twilio_fields;
        f[10].second = "all fine";
        req.body = form(f);
        const auto r = ingest::parse_gateway_request(src, req);
        REQUIRE(r.what == kind::rejected);
        CHECK(r.rejection.status == 403);
        CHECK(r.rejection.reason == "signature_invalid");
    }
    SUBCASE("signed for another URL (no public_url: the request's own)") {
        src.sms.public_url.clear();
        const auto r = ingest::parse_gateway_request(src, req);
        CHECK(r.rejection.reason == "signature_invalid");
    }
    SUBCASE("no signature") {
        req.headers.pop_back();
        CHECK(ingest::parse_gateway_request(src, req).rejection.reason == "signature_missing");
    }
    SUBCASE("a GET form, signed over the whole URL") {
        src.sms.public_url.clear();
        auto g = get("/v1/sms/twilio?" + form(twilio_fields));
        const std::string url = "http://127.0.0.1:8080" + g.target;
        g.headers.emplace_back("X-Twilio-Signature",
                               ingest::gateway_detail::twilio_signature("12345", url, {}));
        const auto r = ingest::parse_gateway_request(src, g);
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.text == "Привет, нас задержали");
    }
    SUBCASE("not a form") {
        req.headers[0].second = "application/json";
        CHECK(ingest::parse_gateway_request(src, req).rejection.status == 415);
    }
    const auto ok = ingest::accepted_answer(src.sms);
    CHECK(ok.status == 200);
    CHECK(ok.content_type == "text/xml");
    CHECK(ok.body == R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)");
}

TEST_CASE("vonage: signatures of every method") {
    using ingest::gateway_detail::vonage_signature;
    // python3: d = ''.join('&%s=%s' % (k, v.replace('&','_').replace('=','_'))
    //                      for k, v in sorted(f.items())); md5((d + secret)) / hmac(secret, d)
    CHECK(vonage_signature("md5hash", "secret123", vonage_fields) ==
          "75fe0177b2c412a510c153b95474829d");
    CHECK(vonage_signature("md5", "secret123", vonage_fields) ==
          "9eba1c289a64a00465bc7bf9e3e154aa");
    CHECK(vonage_signature("sha1", "secret123", vonage_fields) ==
          "c44889b467d08c8d5c479168c70457ed43a98e97");
    CHECK(vonage_signature("sha256", "secret123", vonage_fields) ==
          "079b50692c32e4407f7e777ba36447b6cbb2e8cc06eebdc87e3d95332663863b");
    CHECK(vonage_signature("sha512", "secret123", vonage_fields) ==
          "95a4a4a039d5f493e5f1a9fe728bd208338fa2b279f5eee3bb9966b42841a3d60b54c10fd98aeac7ef4529"
          "5ae88f441fb84e9f8137ce2a6c9541b4d144c60db2");
}

TEST_CASE("vonage: signed GET, POST form and JSON; token; address") {
    auto src = source("vonage");
    src.sms.signature_secret.value = "secret123";
    src.sms.signature_method = "sha256";
    auto f = vonage_fields;
    // Vonage sends the HMAC in upper case.
    f.emplace_back("sig", "079B50692C32E4407F7E777BA36447B6CBB2E8CC06EEBDC87E3D95332663863B");
    SUBCASE("GET") {
        const auto r = ingest::parse_gateway_request(src, get("/v1/sms/vonage?" + form(f)));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.sender == "+447700900001");
        CHECK(r.sms.country == "GB");
        CHECK(r.sms.recipient == "+447700900000");
        CHECK(r.sms.text == "Hello world & more = fun");
        CHECK(r.sms.message_id == "0A0000000123ABCD1");
        CHECK(r.sms.details["keyword"] == "HELLO");
    }
    SUBCASE("POST form") {
        CHECK(ingest::parse_gateway_request(src, post("/v1/sms/vonage", form(f))).what ==
              kind::message);
    }
    SUBCASE("POST JSON") {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& [k, v] : f) {
            j[k] = v;
        }
        const auto r = ingest::parse_gateway_request(
            src, post("/v1/sms/vonage", j.dump(), "application/json"));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.text == "Hello world & more = fun");
    }
    SUBCASE("tampered") {
        f[3].second = "Hello world";
        CHECK(
            ingest::parse_gateway_request(src, get("/v1/sms/vonage?" + form(f))).rejection.reason ==
            "signature_invalid");
    }
    SUBCASE("stale timestamp") {
        auto g = get("/v1/sms/vonage?" + form(f));
        g.now_ms += 301'000;
        CHECK(ingest::parse_gateway_request(src, g).rejection.reason == "timestamp_stale");
    }
    SUBCASE("unsigned") {
        f.pop_back();
        CHECK(
            ingest::parse_gateway_request(src, get("/v1/sms/vonage?" + form(f))).rejection.reason ==
            "signature_missing");
    }
    SUBCASE("bad JSON") {
        const auto r = ingest::parse_gateway_request(
            src, post("/v1/sms/vonage", "{\"msisdn\":", "application/json"));
        CHECK(r.rejection.status == 400);
    }
    SUBCASE("token in the path, and allowed addresses") {
        auto plain = source("vonage");
        plain.sms.token.value = "0123456789abcdef";
        f.pop_back();
        CHECK(
            ingest::parse_gateway_request(plain, get("/v1/sms/vonage/0123456789abcdef?" + form(f)))
                .what == kind::message);
        CHECK(
            ingest::parse_gateway_request(plain, get("/v1/sms/vonage/0123456789abcdeX?" + form(f)))
                .rejection.reason == "token_invalid");
        CHECK(ingest::parse_gateway_request(plain, get("/v1/sms/vonage?" + form(f)))
                  .rejection.reason == "token_invalid");
        auto by_address = source("vonage");
        by_address.sms.allowed_addresses = {"10.0.0.0/8", "::1"};
        auto g = get("/v1/sms/vonage?" + form(f));
        CHECK(ingest::parse_gateway_request(by_address, g).rejection.reason ==
              "address_not_allowed");
        g.peer = "10.1.2.3";
        CHECK(ingest::parse_gateway_request(by_address, g).what == kind::message);
        g.peer = "::ffff:10.9.9.9";
        CHECK(ingest::parse_gateway_request(by_address, g).what == kind::message);
    }
    SUBCASE("concatenated parts") {
        auto plain = source("vonage");
        plain.sms.allowed_addresses = {"127.0.0.1"};
        f.pop_back();
        f.emplace_back("concat", "true");
        f.emplace_back("concat-ref", "108");
        f.emplace_back("concat-total", "3");
        f.emplace_back("concat-part", "2");
        auto r = ingest::parse_gateway_request(plain, get("/v1/sms/vonage?" + form(f)));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.is_part());
        CHECK(r.sms.part == ingest::sms_message::part_info{"108", 3, 2});
        f.back().second = "4";
        r = ingest::parse_gateway_request(plain, get("/v1/sms/vonage?" + form(f)));
        CHECK(r.rejection.reason == "bad_concat");
    }
    CHECK(ingest::accepted_answer(src.sms).status == 204);
}

TEST_CASE("kannel: secret, address, codings, UDH") {
    auto src = source("kannel");
    src.sms.shared_secret.value = "s3cret";
    src.sms.default_region = "RU";
    const std::string base =
        "/v1/sms/kannel?secret=s3cret&from=79001234567&to=1234&id=7e1b&smsc=FAKE";
    SUBCASE("mo-recode: UTF-8, coding 0") {
        const auto r = ingest::parse_gateway_request(
            src, get(base + "&coding=0&charset=UTF-8&text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.text == "Привет");
        CHECK(r.sms.sender == "+79001234567");
        CHECK(r.sms.recipient == "1234");
        CHECK(r.sms.message_id == "7e1b");
        CHECK(r.sms.details["smsc"] == "FAKE");
    }
    SUBCASE("coding 2: UTF-16BE bytes") {
        const auto r = ingest::parse_gateway_request(
            src, get(base + "&coding=2&charset=UTF-16BE&text=%04%1F%04%40%048%042%045%04B"));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.text == "Привет");
    }
    SUBCASE("invalid UTF-8 repaired, NULs removed") {
        const auto r = ingest::parse_gateway_request(src, get(base + "&text=a%00b%FFc"));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.text ==
              "ab\xEF\xBF\xBD"
              "c");
    }
    SUBCASE("UDH: 8-bit and 16-bit concatenation references") {
        auto r = ingest::parse_gateway_request(src, get(base + "&text=x&udh=%05%00%03%2A%03%01"));
        REQUIRE(r.what == kind::message);
        CHECK(r.sms.part == ingest::sms_message::part_info{"42", 3, 1});
        r = ingest::parse_gateway_request(src, get(base + "&text=x&udh=%06%08%04%01%00%02%02"));
        CHECK(r.sms.part == ingest::sms_message::part_info{"256", 2, 2});
        r = ingest::parse_gateway_request(src, get(base + "&text=x&udh=%05%00%03%2A%03%04"));
        CHECK_FALSE(r.sms.is_part());
    }
    SUBCASE("wrong or missing secret, address") {
        CHECK(ingest::parse_gateway_request(src, get("/v1/sms/kannel?secret=no&from=1&text=x"))
                  .rejection.reason == "secret_invalid");
        CHECK(ingest::parse_gateway_request(src, get("/v1/sms/kannel?from=1&text=x"))
                  .rejection.reason == "secret_missing");
        src.sms.allowed_addresses = {"192.168.0.0/16"};
        CHECK(ingest::parse_gateway_request(src, get(base + "&text=x")).rejection.reason ==
              "address_not_allowed");
    }
    SUBCASE("malformed query, no sender, too long") {
        CHECK(ingest::parse_gateway_request(src, get(base + "&text=%zz")).rejection.status == 400);
        CHECK(ingest::parse_gateway_request(src, get("/v1/sms/kannel?secret=s3cret&text=x"))
                  .rejection.reason == "sender_missing");
        CHECK(ingest::parse_gateway_request(src, get(base + "&text=" + std::string(20000, 'a')))
                  .rejection.status == 413);
    }
    const auto ok = ingest::accepted_answer(src.sms);
    CHECK(ok.status == 200);
    CHECK(ok.body.empty());
}

TEST_CASE("smssync: secret, message, poll, answers") {
    auto src = source("smssync");
    src.sms.shared_secret.value = "phone-secret";
    src.sms.default_region = "RU";
    const std::vector<std::pair<std::string, std::string>> f{
        {"from", "+79001234567"},   {"message", "Обыск в офисе"},
        {"message_id", "m-1"},      {"sent_to", "+79007654321"},
        {"secret", "phone-secret"}, {"sent_timestamp", "1578052800000"},
        {"device_id", "1"}};
    auto r = ingest::parse_gateway_request(src, post("/v1/sms/smssync", form(f)));
    REQUIRE(r.what == kind::message);
    CHECK(r.sms.text == "Обыск в офисе");
    CHECK(r.sms.message_id == "m-1");
    CHECK(r.sms.recipient == "+79007654321");
    auto bad = f;
    bad[4].second = "guess";
    r = ingest::parse_gateway_request(src, post("/v1/sms/smssync", form(bad)));
    REQUIRE(r.what == kind::rejected);
    const auto no = ingest::rejected_answer(src.sms, r.rejection);
    CHECK(no.status == 403);
    CHECK(no.body == R"({"payload":{"error":"the secret does not match","success":false}})");
    CHECK(ingest::accepted_answer(src.sms).body == R"({"payload":{"error":null,"success":true}})");
    r = ingest::parse_gateway_request(src, get("/v1/sms/smssync?task=send&secret=phone-secret"));
    CHECK(r.what == kind::poll);
    CHECK(ingest::poll_answer(src.sms).body ==
          R"({"payload":{"messages":[],"secret":"phone-secret","task":"send"}})");
    r = ingest::parse_gateway_request(src, get("/v1/sms/smssync?task=send&secret=x"));
    CHECK(r.what == kind::rejected);
    const auto busy = ingest::retry_answer(src.sms, 429, 5);
    CHECK(busy.status == 429);
    CHECK(busy.retry_after == 5);
}

TEST_CASE("find_sms_source: paths and vonage token segments") {
    config::config cfg;
    auto v = source("vonage");
    v.sms.token.value = "0123456789abcdef";
    cfg.sources.push_back(v);
    cfg.sources.push_back(source("kannel"));
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/vonage") == &cfg.sources[0]);
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/vonage/xyz") == &cfg.sources[0]);
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/vonage/x/y") == nullptr);
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/kannel") == &cfg.sources[1]);
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/kannel/x") == nullptr);
    CHECK(ingest::find_sms_source(cfg, "/v1/sms/other") == nullptr);
}

TEST_CASE("text helpers") {
    using namespace ingest::gateway_detail;
    CHECK(utf16be_to_utf8(std::string("\xD8\x3D\xDE\x00", 4)) == "\xF0\x9F\x98\x80");  // 😀
    CHECK(utf16be_to_utf8(std::string("\xD8\x3D\x00\x41", 4)) ==
          "\xEF\xBF\xBD"
          "A");
    CHECK(utf16be_to_utf8(std::string("\x00\x41\x00", 3)) == "A\xEF\xBF\xBD");
    CHECK(clean_text("ok") == "ok");
    CHECK_FALSE(udh_part("").has_value());
    CHECK_FALSE(udh_part(std::string("\x05\x00\x03", 3)).has_value());
}
