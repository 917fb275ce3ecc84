// ingest::silence_set: which silence (if any) keeps a report from paging, by matchers and
// time; parse_silence_matcher's errors for the API.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ingest/silences.hpp"

using namespace hotline;

namespace {

domain::report report_at(std::int64_t at, const std::string& sender = "+79001234567",
                         const std::string& text = "Задержан у метро") {
    domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.external_id = "x";
    r.sender = sender;
    r.text = text;
    r.labels = {{"kind", "drill"}};
    r.received_at = at;
    return r;
}

store::silence make(std::int64_t id, std::vector<std::string> matchers, std::int64_t from,
                    std::int64_t to) {
    store::silence s;
    s.id = id;
    s.matchers = std::move(matchers);
    s.starts_at = from;
    s.ends_at = to;
    s.author = "responder:alice";
    return s;
}

}  // namespace

TEST_CASE("silence_set: every matcher must hold, within [starts_at, ends_at)") {
    const auto set = ingest::silence_set::compile({
        make(7, {R"(sender = "+79001234567")", R"(labels.kind = "drill")"}, 1000, 2000),
    });
    CHECK(set.size() == 1);
    CHECK(set.match(report_at(1000)) == 7);
    CHECK(set.match(report_at(1999)) == 7);
    CHECK_FALSE(set.match(report_at(999)).has_value());
    CHECK_FALSE(set.match(report_at(2000)).has_value());  // ends_at is not silenced
    CHECK_FALSE(set.match(report_at(1500, "+79007654321")).has_value());
    auto other_label = report_at(1500);
    other_label.labels = {{"kind", "detention"}};
    CHECK_FALSE(set.match(other_label).has_value());
    CHECK_FALSE(ingest::silence_set{}.match(report_at(1500)).has_value());
}

TEST_CASE("silence_set: regexes, negations, the lowest id first; expired and empty ones never") {
    auto expired = make(1, {R"(text =~ "метро")"}, 0, 10'000);
    expired.expired_at = 500;
    expired.expired_by = "admin:ops";
    const auto set = ingest::silence_set::compile({
        make(9, {R"(text =~ "МЕТРО")"}, 0, 10'000),  // case-insensitive, Unicode
        expired, make(3, {R"(sender !~ "^\+7")"}, 0, 10'000),
        make(4, {}, 0, 10'000),  // purged by retention: silences nothing
        make(5, {R"(text !~ "метро")"}, 0, 10'000),
        make(6, {R"(text = "x")"}, 5000, 4000),  // ends before it starts: never
    });
    CHECK(set.size() == 3);
    CHECK(set.match(report_at(100)) == 9);
    CHECK(set.match(report_at(100, "+4915112345678")) == 3);
    CHECK(set.match(report_at(100, "+4915112345678", "no station")) == 3);
    CHECK(set.match(report_at(100, "+79001234567", "at home")) == 5);
}

TEST_CASE("silence_set: a matcher that no longer parses leaves its silence out") {
    const auto set = ingest::silence_set::compile({
        make(1, {R"(text =~ "ok")", R"(nonsense ~~ 1)"}, 0, 10'000),
        make(2, {R"(text =~ "(")"}, 0, 10'000),
        make(3, {R"(text =~ "метро")"}, 0, 10'000),
    });
    CHECK(set.size() == 1);
    CHECK(set.match(report_at(1)) == 3);
}

TEST_CASE("parse_silence_matcher: the index and column of what is wrong") {
    CHECK(ingest::parse_silence_matcher(R"(labels.kind = "drill")", 0).ok());
    const auto unknown = ingest::parse_silence_matcher(R"(  txet = "x")", 3);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.err().code == "bad_matcher");
    CHECK(unknown.err().message.starts_with("matchers[3], column 3: unknown field \"txet\""));
    const auto op = ingest::parse_silence_matcher(R"(text == "x")", 0);
    REQUIRE_FALSE(op.ok());
    CHECK(op.err().message.starts_with("matchers[0], column 6: unknown operator \"==\""));
    for (const char* bad : {"", "   ", "text", "text =", R"(text = "unterminated)",
                            R"(text =~ "(")", "labels. = \"x\"", "\xff\xfe = \"x\""}) {
        CAPTURE(bad);
        const auto r = ingest::parse_silence_matcher(bad, 1);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "bad_matcher");
        CHECK(r.err().message.starts_with("matchers[1], column "));
    }
}
