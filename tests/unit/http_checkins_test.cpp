// The check-ins API's pure parts (http/endpoints/checkins): a start request's body (empty,
// {}, an interval; junk, unknown fields, wrong types, out of range) and a defender as JSON
// in each state, never with a phone or PIN; hotlinectl checkin's text (ctl/checkin).
#include <doctest/doctest.h>

#include <string>

#include "http/endpoints/checkins.hpp"

using namespace hotline;
using namespace std::chrono_literals;
using http::endpoints::checkin_json;
using http::endpoints::parse_checkin_start;

TEST_CASE("checkin start bodies: empty, {}, an interval; bad ones refused") {
    CHECK(parse_checkin_start("").value() == 0);
    CHECK(parse_checkin_start("{}").value() == 0);
    CHECK(parse_checkin_start(R"({"interval":"6h"})").value() == 6 * 3'600'000);
    CHECK(parse_checkin_start(R"({"interval":"1m"})").value() == 60'000);
    CHECK(parse_checkin_start(R"({"interval":"30d"})").value() == 30LL * 24 * 3'600'000);
    for (const char* bad :
         {"[]", "null", "\"6h\"", "{", R"({"interval":6})", R"({"interval":"59s"})",
          R"({"interval":"31d"})", R"({"interval":"soon"})", R"({"interval":"6h","pin":"1234"})",
          R"({"every":"6h"})", "\xff\xfe"}) {
        const auto r = parse_checkin_start(bad);
        REQUIRE_MESSAGE(!r.ok(), bad);
        CHECK(r.err().code == "bad_request");
    }
}

TEST_CASE("checkin_json: states, times, no phone or PIN") {
    config::checkin_enrollment e;
    e.id = "dana";
    e.name = "Dana";
    e.phone = "+79001230000";
    e.pin = "1234";
    e.interval = 6h;
    e.grace = 30min;
    ingest::checkin_view v{&e, {}};
    v.state.id = "dana";
    auto j = checkin_json(v, 1'000'000);
    CHECK(j["state"] == "never");
    CHECK(j["interval"] == "6h");
    CHECK(j["grace"] == "30m");
    CHECK(j["last_checkin"].is_null());
    CHECK(j["due_at"].is_null());
    const auto text = j.dump();
    CHECK(text.find("+7900") == std::string::npos);
    CHECK(text.find("1234") == std::string::npos);

    v.state.active = true;
    v.state.interval_ms = 3'600'000;
    v.state.started_at = 1'764'061'200'000;
    v.state.last_at = 1'764'061'200'000;
    v.state.due_at = 1'764'064'800'000;
    v.state.updated_at = 1'764'061'200'000;
    v.state.updated_by = "checkin:dana";
    j = checkin_json(v, 1'764'061'200'000);
    CHECK(j["state"] == "active");
    CHECK(j["interval"] == "1h");
    CHECK(j["last_checkin"] == "2025-11-25T09:00:00Z");
    CHECK(j["due_at"] == "2025-11-25T10:00:00Z");
    CHECK(j["updated_by"] == "checkin:dana");
    CHECK(checkin_json(v, 1'764'064'800'000)["state"] == "overdue");
    v.state.active = false;
    CHECK(checkin_json(v, 0)["state"] == "stopped");
    CHECK(checkin_json(v, 0)["due_at"].is_null());
}
