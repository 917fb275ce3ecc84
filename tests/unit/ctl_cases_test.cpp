// ctl/cases and ctl/api_client: `hotlinectl cases` usage errors (before any request), the
// token file, the text forms of the API's answers, and an unreachable daemon.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "ctl/api_client.hpp"
#include "ctl/cases.hpp"
#include "temp_dir.hpp"

using namespace hotline::ctl;
using hotline::test::temp_dir;

namespace {

struct run_result {
    int status;
    std::string out;
    std::string err;
};

run_result run(const std::vector<std::string>& args, const cases_options& o) {
    std::ostringstream out;
    std::ostringstream err;
    const int status = run_cases(args, o, out, err);
    return {status, out.str(), err.str()};
}

// A port nothing listens on: bound, then closed.
int dead_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("read_token_file: first line, trailing newline cut; bad files refused") {
    const temp_dir dir;
    const auto ok = read_token_file(dir.write("t", "s3cret-token-value\n"));
    REQUIRE(ok.ok());
    CHECK(*ok == "s3cret-token-value");
    CHECK(*read_token_file(dir.write("crlf", "abc\r\n\n")) == "abc");
    for (const auto& [name, content] :
         std::vector<std::pair<std::string, std::string>>{{"empty", ""},
                                                          {"blank", "\n\n"},
                                                          {"two", "a\nb\n"},
                                                          {"nul", std::string("a\0b", 3)},
                                                          {"huge", std::string(5000, 'x')}}) {
        const auto r = read_token_file(dir.write(name, content));
        INFO(name);
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "token");
        CHECK(r.err().message.find(dir.file(name)) != std::string::npos);
        CHECK(r.err().message.find("xxxx") == std::string::npos);  // never the contents
    }
    CHECK(read_token_file(dir.file("missing")).err().code == "token");
    CHECK(read_token_file("").err().message.find("HOTLINE_TOKEN_FILE") != std::string::npos);
}

TEST_CASE("usage errors exit 2 before any request") {
    cases_options o;
    o.api.url = "http://127.0.0.1:9";  // never contacted
    for (const auto& args :
         std::vector<std::vector<std::string>>{{},
                                               {"frobnicate"},
                                               {"show"},
                                               {"show", "x"},
                                               {"show", "0"},
                                               {"show", "-3"},
                                               {"show", "12abc"},
                                               {"ack", "1", "2"},
                                               {"note", "5"},
                                               {"note", "5", ""},
                                               {"list", "extra"},
                                               {"resolve", "99999999999999999999999"}}) {
        const auto r = run(args, o);
        INFO((args.empty() ? "" : args[0]));
        CHECK(r.status == 2);
        CHECK(r.out.empty());
        CHECK(r.err.find("usage: hotlinectl cases") != std::string::npos);
    }
    cases_options bad_state = o;
    bad_state.state = "closed";
    CHECK(run({"list"}, bad_state).status == 2);
    cases_options bad_limit = o;
    bad_limit.limit = 0;
    CHECK(run({"list"}, bad_limit).status == 2);
    bad_limit.limit = 1001;
    CHECK(run({"list"}, bad_limit).status == 2);
    cases_options bad_url = o;
    bad_url.api.url = "ftp://x";
    const temp_dir dir;
    bad_url.api.token_file = dir.write("t", "tok\n");
    const auto r = run({"list"}, bad_url);
    CHECK(r.status == 2);
    CHECK(r.err.find("--url must be an http:// or https:// URL") != std::string::npos);
}

TEST_CASE("no token, or no daemon: exit 1 with the reason") {
    const temp_dir dir;
    cases_options o;
    o.api.url = "http://127.0.0.1:" + std::to_string(dead_port());
    o.api.token_file = dir.file("missing.token");
    auto r = run({"list"}, o);
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot read the token file") != std::string::npos);
    o.api.token_file = dir.write("t", "tok\n");
    r = run({"show", "#42"}, o);
    CHECK(r.status == 1);
    CHECK(r.err.find("no answer from hotlined at " + o.api.url) != std::string::npos);
}

TEST_CASE("the text forms") {
    const auto list = nlohmann::json::parse(R"({
      "cases": [
        {"id": 42, "state": "acknowledged", "severity": "critical", "reports": 3,
         "created_at": "2026-12-03T13:22:05Z", "acked_by": "responder:alice"},
        {"id": 41, "state": "open", "severity": "normal", "reports": 1,
         "created_at": "2026-12-03T12:00:00Z", "acked_by": null}],
      "next_before": 41})");
    const auto text = format_case_list(list);
    CHECK(text.find("ID      STATE         SEVERITY") == 0);
    CHECK(text.find("42      acknowledged  critical  2026-12-03 13:22:05  3        "
                    "responder:alice\n") != std::string::npos);
    CHECK(text.find("41      open          normal    2026-12-03 12:00:00  1        -\n") !=
          std::string::npos);
    CHECK(text.find("more: --before 41") != std::string::npos);
    CHECK(format_case_list(nlohmann::json::parse(R"({"cases": [], "next_before": null})")) ==
          "no cases\n");

    const auto one = nlohmann::json::parse(R"({
      "case": {"id": 42, "state": "resolved", "severity": "high", "route": "root/detention",
               "labels": {"kind": "detention"}, "policy": "rapid",
               "created_at": "2026-12-03T13:22:05Z", "acked_by": "responder:alice",
               "acked_at": "2026-12-03T13:25:00Z", "resolved_by": "responder:boris",
               "resolved_at": "2026-12-03T14:00:00Z", "reports": 2,
               "last_report_at": "2026-12-03T13:30:00Z"},
      "report": {"source": "hook", "received_at": "2026-12-03T13:22:05Z",
                 "subject": "Detained", "text": "line one\nline two"},
      "targets": ["responder:alice", "partner:ngo"],
      "events": [{"id": 1, "at": "2026-12-03T13:22:05Z", "actor": "source:hook",
                  "kind": "report_received", "detail": {}},
                 {"id": 2, "at": "2026-12-03T13:25:00Z", "actor": "responder:alice",
                  "kind": "case_acknowledged", "detail": {"channel": "link"}},
                 {"id": 3, "at": "2026-12-03T13:26:00Z", "actor": "responder:alice",
                  "kind": "case_note", "detail": {"note": "lawyer called", "channel": "cli"}}]})");
    const auto shown = format_case(one);
    CHECK(shown.find("Case #42  resolved  high\n") == 0);
    CHECK(shown.find("Route:     root/detention\n") != std::string::npos);
    CHECK(shown.find("Policy:    rapid\n") != std::string::npos);
    CHECK(shown.find("Labels:    kind=detention\n") != std::string::npos);
    CHECK(shown.find("Acked:     2026-12-03 13:25:00 UTC by responder:alice\n") !=
          std::string::npos);
    CHECK(shown.find("Resolved:  2026-12-03 14:00:00 UTC by responder:boris\n") !=
          std::string::npos);
    CHECK(shown.find("Notified:  responder:alice, partner:ngo\n") != std::string::npos);
    CHECK(shown.find("Subject: Detained\n  line one\n  line two\n") != std::string::npos);
    CHECK(shown.find("case_acknowledged     responder:alice (link)") != std::string::npos);
    CHECK(shown.find("case_note             responder:alice: lawyer called (cli)") !=
          std::string::npos);
    auto purged = one;
    purged["report"] = nullptr;
    CHECK(format_case(purged).find("First report: no longer kept") != std::string::npos);

    CHECK(format_action(nlohmann::json::parse(
                            R"({"case_id": 42, "changed": true, "before": "open",
                                "after": "acknowledged"})"),
                        "ack") == "case #42: open -> acknowledged\n");
    CHECK(format_action(nlohmann::json::parse(
                            R"({"case_id": 42, "changed": false, "before": "resolved",
                                "after": "resolved"})"),
                        "ack") == "case #42: already resolved, nothing changed\n");
    CHECK(format_action(nlohmann::json::parse(R"({"case_id": 7, "changed": true})"), "note") ==
          "case #7: note added\n");
    // Hostile shapes do not throw.
    for (const auto* junk :
         {R"({})", R"({"cases": 5})", R"({"case": [1]})", R"([])", "null",
          R"({"cases": [{"id": {"x": 1}}]})", R"({"changed": "yes", "case_id": [1]})",
          R"({"case": {"labels": [1], "acked_by": 5}, "events": [1, "x"]})"}) {
        const auto j = nlohmann::json::parse(junk);
        CHECK_NOTHROW((void)format_case_list(j));
        CHECK_NOTHROW((void)format_case(j));
        CHECK_NOTHROW((void)format_action(j, "ack"));
    }
}
