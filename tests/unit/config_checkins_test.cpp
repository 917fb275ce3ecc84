// config: `checkins:` (config/checkins.cpp): every key and its default, PINs from files
// (digits, lengths, the duress PIN different), phones, periods, policy references with
// did-you-mean, duplicate ids and phones, hostile values; errors positioned with the key path.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "config_test_support.hpp"
#include "temp_dir.hpp"

using hotline::config::load_config;
using hotline::config::load_result;
using hotline::test::temp_dir;
using namespace std::chrono_literals;

namespace {

using hotline::test::dump;

void expect_errors(const load_result& r, const std::vector<std::string>& expected) {
    hotline::test::expect_errors(r, expected, hotline::test::error_starts_with);
}

// Lines 1 to 13; what a test adds begins on line 14.
std::string base(const std::string& extra) {
    return "secrets_dir: secrets\n"
           "sources:\n"
           "  - {name: web, token_file: token}\n"
           "channels:\n"
           "  - {name: hook, type: webhook, options: {url: \"http://127.0.0.1:1/\"}}\n"
           "responders:\n"
           "  - {id: alice, contacts: [{channel: hook, address: a}]}\n"
           "admins: [{id: ops, contacts: [{channel: hook, address: o}]}]\n"
           "route:\n"
           "  notify: [responder:alice]\n"
           "policies:\n"
           "  - {id: missed, steps: [{targets: [responder:alice], ack_within: 5m}]}\n"
           "  - {id: duress, steps: [{targets: [responder:alice], ack_within: 1m}]}\n" +
           extra;
}

struct fixture {
    temp_dir dir{"hotline-checkins"};
    std::string file;
    fixture() : file(dir.file("main.yaml")) {
        dir.write("secrets/token", "t0ken\n");
        dir.write("secrets/pin", "1234\n");
        dir.write("secrets/duress", "987654\n");
    }
    load_result load(const std::string& extra) {
        file = dir.write("main.yaml", base(extra));
        return load_config(file);
    }
    [[nodiscard]] std::string at(int line, int column) const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
    }
};

}  // namespace

TEST_CASE("checkins: every key, and the defaults") {
    fixture f;
    auto r = f.load(
        "checkins:\n"
        "  - id: dana\n"
        "    name: Dana K.\n"
        "    phone: \"+79001230000\"\n"
        "    language: ru\n"
        "    interval: 4h\n"
        "    grace: 15m\n"
        "    policy: missed\n"
        "    duress_policy: duress\n"
        "    pin_file: pin\n"
        "    duress_pin_file: duress\n"
        "  - {id: egor, phone: \"+380501112233\", policy: missed}\n");
    INFO(dump(r));
    REQUIRE(r.cfg != nullptr);
    REQUIRE(r.cfg->checkins.size() == 2);
    const auto& d = r.cfg->checkins[0];
    CHECK(d.id == "dana");
    CHECK(d.name == "Dana K.");
    CHECK(d.phone == "+79001230000");
    CHECK(d.language == "ru");
    CHECK(d.interval == 4h);
    CHECK(d.grace == 15min);
    CHECK(d.policy == "missed");
    CHECK(d.duress_policy == "duress");
    CHECK(d.pin == "1234");
    CHECK(d.duress_pin == "987654");
    CHECK(d.at.line == 15);
    const auto& e = r.cfg->checkins[1];
    CHECK(e.language == "en");
    CHECK(e.interval == 6h);
    CHECK(e.grace == 30min);
    CHECK(e.pin.empty());
    CHECK(e.duress_pin.empty());
    CHECK(r.cfg->find_checkin("egor") == &e);
    CHECK(r.cfg->find_checkin_by_phone("+79001230000") == &d);
    CHECK(r.cfg->find_checkin_by_phone("") == nullptr);
    CHECK(r.cfg->find_checkin("nobody") == nullptr);
}

TEST_CASE("checkins: missing keys, unknown keys, bad values, positioned") {
    fixture f;
    expect_errors(
        f.load("checkins:\n"
               "  - {name: x}\n"),
        {f.at(15, 5) + "checkins[0].id: missing", f.at(15, 5) + "checkins[0].phone: missing",
         f.at(15, 5) + "checkins[0].policy: missing"});
    auto unknown = f.load(
        "checkins:\n"
        "  - {id: a, phone: \"+79001230000\", policy: missed, pin: 1234}\n");
    CHECK(unknown.cfg == nullptr);
    REQUIRE(unknown.errors.size() == 1);
    CHECK(unknown.errors[0].describe().find("checkins[0].pin") != std::string::npos);
    for (const char* phone : {"79001230000", "+7 900 123 00 00", "+0123456789", "+123",
                              "+1234567890123456", "+7900123000a", "\"\""}) {
        INFO(phone);
        auto r =
            f.load(std::string("checkins:\n  - {id: a, policy: missed, phone: ") + phone + "}\n");
        CHECK(r.cfg == nullptr);
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].describe().find("checkins[0].phone") != std::string::npos);
        if (std::string(phone).size() > 4) {
            CHECK(r.errors[0].describe().find(phone) == std::string::npos);  // never echoed
        }
    }
    expect_errors(f.load("checkins:\n"
                         "  - {id: a, phone: \"+79001230000\", policy: missd, interval: 0s,\n"
                         "     grace: soon, language: de}\n"),
                  {f.at(15, 44) + "checkins[0].policy: unknown policy \"missd\"; did you mean "
                                  "\"missed\"?",
                   f.at(15, 61) + "checkins[0].interval: expected a duration above zero",
                   f.at(16, 13) + "checkins[0].grace:", f.at(16, 29) + "checkins[0].language:"});
    expect_errors(f.load("checkins: {id: a}\n"), {f.at(14, 11) + "checkins: expected a list"});
}

TEST_CASE("checkins: PINs from files: digits, 4 to 12, the duress PIN differs and has a policy") {
    fixture f;
    const std::string head = "checkins:\n  - {id: a, phone: \"+79001230000\", policy: missed, ";
    for (const char* bad : {"12a4", "123", "1234567890123", " 1234", "12 34", "１２３４"}) {
        INFO(bad);
        f.dir.write("secrets/bad", std::string(bad) + "\n");
        auto r = f.load(head + "pin_file: bad}\n");
        CHECK(r.cfg == nullptr);
        REQUIRE(r.errors.size() == 1);
        const auto msg = r.errors[0].describe();
        CHECK(msg.find("checkins[0].pin_file") != std::string::npos);
        CHECK(msg.find("4 to 12 digits") != std::string::npos);
        CHECK(msg.find(std::string(bad)) == std::string::npos);  // the PIN is never quoted
    }
    f.dir.write("secrets/long", "123456789012\n");
    auto longest = f.load(head + "pin_file: long}\n");
    INFO(dump(longest));
    REQUIRE(longest.cfg != nullptr);
    CHECK(longest.cfg->checkins[0].pin == "123456789012");

    auto missing = f.load(head + "pin_file: nothere}\n");
    CHECK(missing.cfg == nullptr);
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].describe().find("checkins[0].pin_file") != std::string::npos);

    f.dir.write("secrets/same", "1234\n");
    expect_errors(f.load(head + "pin_file: pin, duress_pin_file: same, duress_policy: duress}\n"),
                  {f.at(15, 84) + "checkins[0].duress_pin_file: the duress PIN must differ"});
    expect_errors(f.load(head + "duress_pin_file: duress}\n"),
                  {f.at(15, 69) + "checkins[0].duress_policy: missing"});
    expect_errors(f.load(head + "duress_pin_file: duress, duress_policy: nope}\n"),
                  {f.at(15, 92) + "checkins[0].duress_policy: unknown policy \"nope\""});
}

TEST_CASE("checkins: duplicate ids and phones, across files") {
    fixture f;
    f.dir.write("more.yaml",
                "checkins:\n"
                "  - {id: dana, phone: \"+79001230001\", policy: missed}\n"
                "  - {id: egor, phone: \"+79001230000\", policy: missed}\n");
    auto r = f.load(
        "include: [more.yaml]\n"
        "checkins:\n"
        "  - {id: dana, phone: \"+79001230000\", policy: missed}\n");
    CHECK(r.cfg == nullptr);
    INFO(dump(r));
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].describe().find("duplicate id \"dana\"") != std::string::npos);
    CHECK(r.errors[1].describe().find("the same phone as checkins entry \"dana\"") !=
          std::string::npos);
}
