// http/ack_page: the signed link's pages as HTML text (languages, redaction for partners,
// the buttons each state allows, escaping, no scripts or external resources).
#include <doctest/doctest.h>

#include <string>

#include "http/ack_page.hpp"

namespace http = hotline::http;
namespace domain = hotline::domain;
namespace config = hotline::config;

namespace {

bool has(const std::string& page, const std::string& part) {
    return page.find(part) != std::string::npos;
}

http::ack_case open_case() {
    http::ack_case c;
    c.id = 42;
    c.state = "open";
    c.severity = "high";
    c.created_at = 1'764'061'200'000;  // 2025-11-25 09:00 UTC
    domain::report r;
    r.subject = "Detained at <the> station";
    r.text = "Two people & a \"journalist\" held\n<script>alert(1)</script>";
    r.sender = "+79001234567";
    c.first_report = r;
    return c;
}

config::config people() {
    config::config cfg;
    domain::person alice;
    alice.id = "alice";
    alice.language = "en";
    domain::person boris;
    boris.id = "boris";
    boris.language = "ru";
    domain::person ngo;
    ngo.id = "ngo";
    ngo.language = "en";
    ngo.sees = {"subject"};
    domain::person ngo_text;
    ngo_text.id = "ngo-text";
    ngo_text.sees = {"text"};
    domain::person ops;
    ops.id = "ops";
    cfg.responders = {alice, boris};
    cfg.partners = {ngo, ngo_text};
    cfg.admins = {ops};
    return cfg;
}

// No script, no external resource of any kind, a viewport for phones.
void check_self_contained(const std::string& page) {
    CHECK_FALSE(has(page, "<script"));
    CHECK_FALSE(has(page, "src="));
    CHECK_FALSE(has(page, "<link"));
    CHECK_FALSE(has(page, "http://"));
    CHECK_FALSE(has(page, "https://"));
    CHECK_FALSE(has(page, "url("));
    CHECK(has(page, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    CHECK(has(page, "<meta charset=\"utf-8\">"));
}

}  // namespace

TEST_CASE("find_viewer: responders, partners and admins by target; unknown ones have none") {
    const auto cfg = people();
    CHECK(http::find_viewer(cfg, "responder:alice").person == &cfg.responders[0]);
    CHECK_FALSE(http::find_viewer(cfg, "responder:alice").partner);
    CHECK(http::find_viewer(cfg, "partner:ngo").person == &cfg.partners[0]);
    CHECK(http::find_viewer(cfg, "partner:ngo").partner);
    CHECK(http::find_viewer(cfg, "admin:ops").person == &cfg.admins[0]);
    for (const std::string t : {"responder:nobody", "partner:alice", "alice", "", ":", "team:x",
                                "responder:", "schedule:alice"}) {
        CHECK(http::find_viewer(cfg, t).person == nullptr);
    }
}

TEST_CASE("a responder's confirm page: the case, the report escaped, both buttons in a form") {
    const auto cfg = people();
    const auto page =
        http::render_ack_confirm(open_case(), http::find_viewer(cfg, "responder:alice"));
    check_self_contained(page);
    CHECK(has(page, "<html lang=\"en\">"));
    CHECK(has(page, "<title>Case #42</title>"));
    CHECK(has(page, ">high<"));
    CHECK(has(page, "2025-11-25 09:00 UTC"));
    CHECK(has(page, "open, nobody has acknowledged it"));
    CHECK(has(page, "Detained at &lt;the&gt; station"));
    CHECK(has(page, "Two people &amp; a &quot;journalist&quot; held\n&lt;script&gt;"));
    CHECK(has(page, "<form method=\"post\">"));
    CHECK_FALSE(has(page, "action=\""));  // posts to the same URL
    CHECK(has(page, "name=\"action\" value=\"ack\""));
    CHECK(has(page, "name=\"action\" value=\"resolve\""));
    // The sender is never on the page.
    CHECK_FALSE(has(page, "+79001234567"));
    CHECK_FALSE(has(page, "79001234567"));
}

TEST_CASE("Russian for a Russian-speaking responder") {
    const auto cfg = people();
    const auto page =
        http::render_ack_confirm(open_case(), http::find_viewer(cfg, "responder:boris"));
    check_self_contained(page);
    CHECK(has(page, "<html lang=\"ru\">"));
    CHECK(has(page, "<title>Дело #42</title>"));
    CHECK(has(page, "высокая"));
    CHECK(has(page, "Принять: я занимаюсь"));
    CHECK(has(page, "Закрыть: вопрос решён"));
    CHECK(has(page, "открыто, никто не принял"));
    CHECK_FALSE(has(page, "Acknowledge"));
}

TEST_CASE("a partner sees only what its sees: lists") {
    const auto cfg = people();
    const auto subject_only =
        http::render_ack_confirm(open_case(), http::find_viewer(cfg, "partner:ngo"));
    CHECK(has(subject_only, "Detained at &lt;the&gt; station"));
    CHECK_FALSE(has(subject_only, "journalist"));
    CHECK(has(subject_only, "The report's text is not shown to you."));
    const auto text_only =
        http::render_ack_confirm(open_case(), http::find_viewer(cfg, "partner:ngo-text"));
    CHECK_FALSE(has(text_only, "Detained"));
    CHECK(has(text_only, "journalist"));
    // A purged report: nothing to show, for anyone.
    auto purged = open_case();
    purged.first_report.reset();
    const auto p = http::render_ack_confirm(purged, http::find_viewer(cfg, "responder:alice"));
    CHECK(has(p, "no longer kept"));
    CHECK_FALSE(has(p, "Detained"));
}

TEST_CASE("the buttons follow the state") {
    const auto cfg = people();
    const auto alice = http::find_viewer(cfg, "responder:alice");
    auto acked = open_case();
    acked.state = "acknowledged";
    acked.acked_by = "responder:boris";
    const auto a = http::render_ack_confirm(acked, alice);
    CHECK_FALSE(has(a, "value=\"ack\""));
    CHECK(has(a, "value=\"resolve\""));
    CHECK(has(a, "acknowledged (by responder:boris)"));
    auto resolved = open_case();
    resolved.state = "resolved";
    resolved.resolved_by = "responder:alice";
    const auto r = http::render_ack_confirm(resolved, alice);
    CHECK_FALSE(has(r, "<form"));
    CHECK_FALSE(has(r, "<button"));
    CHECK(has(r, "This case is resolved"));
}

TEST_CASE("error pages: status, the viewer's language, or both when unknown") {
    using k = http::ack_page_kind;
    CHECK(http::ack_page_status(k::forged) == 404);
    CHECK(http::ack_page_status(k::not_found) == 404);
    CHECK(http::ack_page_status(k::expired) == 410);
    CHECK(http::ack_page_status(k::used) == 410);
    CHECK(http::ack_page_status(k::bad_action) == 400);
    CHECK(http::ack_page_status(k::busy) == 503);
    for (const auto kind : {k::forged, k::expired, k::used, k::not_found, k::bad_action, k::busy}) {
        const auto en = http::render_ack_error(kind, "en");
        const auto ru = http::render_ack_error(kind, "ru");
        const auto both = http::render_ack_error(kind, "");
        check_self_contained(en);
        check_self_contained(ru);
        check_self_contained(both);
        CHECK(has(en, "<html lang=\"en\">"));
        CHECK(has(ru, "<html lang=\"ru\">"));
        CHECK(has(both, "<div lang=\"ru\">"));
        CHECK(en != ru);
    }
    CHECK(has(http::render_ack_error(k::used, "en"), "This link was already used"));
    CHECK(has(http::render_ack_error(k::used, "ru"), "Ссылка уже использована"));
    CHECK(has(http::render_ack_error(k::expired, "en"), "This link has expired"));
    CHECK(has(http::render_ack_error(k::expired, "ru"), "Срок действия ссылки истёк"));
    const auto forged = http::render_ack_error(k::forged, "");
    CHECK(has(forged, "This link is not valid"));
    CHECK(has(forged, "Ссылка недействительна"));
}

TEST_CASE("result pages") {
    const auto ack = http::render_ack_result(42, {"ack", true, "open", "acknowledged"}, "en");
    CHECK(has(ack, "Acknowledged — thank you"));
    CHECK(has(ack, "Case #42 is yours"));
    const auto ack_ru = http::render_ack_result(42, {"ack", true, "open", "acknowledged"}, "ru");
    CHECK(has(ack_ru, "Принято — спасибо"));
    CHECK(has(http::render_ack_result(7, {"resolve", true, "open", "resolved"}, "en"),
              "Case #7 is resolved."));
    CHECK(has(http::render_ack_result(7, {"resolve", true, "open", "resolved"}, "ru"),
              "Дело #7 закрыто."));
    CHECK(has(http::render_ack_result(7, {"ack", false, "resolved", "resolved"}, "en"),
              "Case #7 was already resolved."));
    CHECK(has(http::render_ack_result(7, {"ack", false, "acknowledged", "acknowledged"}, "ru"),
              "уже в состоянии «принято»"));
    check_self_contained(ack);
}

TEST_CASE("security headers and escaping") {
    const auto h = http::ack_page_headers();
    const auto value = [&](const std::string& name) {
        for (const auto& [n, v] : h) {
            if (n == name) {
                return v;
            }
        }
        return std::string{};
    };
    CHECK(value("Content-Security-Policy")
              .rfind("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", 0) == 0);
    CHECK(value("Referrer-Policy") == "no-referrer");
    CHECK(value("X-Frame-Options") == "DENY");
    CHECK(http::html_escape("<a href='x'>&\"</a>") ==
          "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    CHECK(http::html_escape("Привет") == "Привет");
}
