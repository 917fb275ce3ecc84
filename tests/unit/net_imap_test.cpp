// net/imap without a server: the wire helpers (mailbox names, UID sets, IDLE lines) and
// the interrupter. The session itself is tested against Dovecot in
// tests/system/test_imap_client.py.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "net/imap.hpp"
#include "net/imap_wire.hpp"

namespace imap = hotline::net::imap;
namespace wire = hotline::net::imap::wire;

TEST_CASE("encode_mailbox: ASCII passes, '&' is escaped, the rest is modified UTF-7") {
    CHECK(wire::encode_mailbox("INBOX") == "INBOX");
    CHECK(wire::encode_mailbox("Archive/2024 done") == "Archive/2024 done");
    CHECK(wire::encode_mailbox("A&B") == "A&-B");
    CHECK(wire::encode_mailbox("") == "");
    // RFC 3501 5.1.3's own example: "~peter/mail/台北/日本語".
    CHECK(wire::encode_mailbox(
              "~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") ==
          "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    // What Dovecot and Thunderbird call a folder named "Архив".
    CHECK(wire::encode_mailbox("\xD0\x90\xD1\x80\xD1\x85\xD0\xB8\xD0\xB2") == "&BBAEQARFBDgEMg-");
    CHECK(wire::encode_mailbox("\xD0\x90\xD1\x80\xD1\x85\xD0\xB8\xD0\xB2 & co") ==
          "&BBAEQARFBDgEMg- &- co");
    // Outside the BMP: a surrogate pair ("😀" U+1F600).
    CHECK(wire::encode_mailbox("\xF0\x9F\x98\x80") == "&2D3eAA-");
}

TEST_CASE("encode_mailbox refuses invalid UTF-8 and control characters") {
    CHECK_FALSE(wire::encode_mailbox("bad\xFF").has_value());
    CHECK_FALSE(wire::encode_mailbox("\xD0").has_value());
    CHECK_FALSE(wire::encode_mailbox("a\r\nb").has_value());
    CHECK_FALSE(wire::encode_mailbox(std::string("a\0b", 3)).has_value());
    CHECK_FALSE(wire::encode_mailbox("del\x7F").has_value());
}

TEST_CASE("uid_ranges sorts, deduplicates, folds runs and drops UID 0") {
    using ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
    CHECK(wire::uid_ranges({}) == ranges{});
    CHECK(wire::uid_ranges({0}) == ranges{});
    CHECK(wire::uid_ranges({5, 1, 2, 3, 9, 2}) == ranges{{1, 3}, {5, 5}, {9, 9}});
    CHECK(wire::uid_ranges({4294967295U, 4294967294U}) == ranges{{4294967294U, 4294967295U}});
    CHECK(wire::uid_ranges({7, 0, 8}) == ranges{{7, 8}});
}

TEST_CASE("classify_idle_line") {
    using wire::idle_line;
    CHECK(wire::classify_idle_line("+ idling") == idle_line::continuation);
    CHECK(wire::classify_idle_line("+") == idle_line::continuation);
    CHECK(wire::classify_idle_line("* OK Still here") == idle_line::keepalive);
    CHECK(wire::classify_idle_line("* ok still here") == idle_line::keepalive);
    CHECK(wire::classify_idle_line("* 3 EXISTS") == idle_line::change);
    CHECK(wire::classify_idle_line("* 2 EXPUNGE") == idle_line::change);
    CHECK(wire::classify_idle_line("* 1 FETCH (FLAGS (\\Seen) UID 4)") == idle_line::change);
    CHECK(wire::classify_idle_line("* 1 RECENT") == idle_line::change);
    CHECK(wire::classify_idle_line("* OKAY") == idle_line::change);  // not the word OK
    CHECK(wire::classify_idle_line("* BYE Server shutting down.") == idle_line::bye);
    CHECK(wire::classify_idle_line("12 OK Idle completed") == idle_line::tagged);
}

TEST_CASE("tagged_status") {
    CHECK(wire::tagged_status("12 OK Idle completed (0.001 + 2.5 secs).", "12") == "OK");
    CHECK(wire::tagged_status("12 NO nope", "12") == "NO");
    CHECK(wire::tagged_status("12 BAD what", "12") == "BAD");
    CHECK(wire::tagged_status("12 OK", "12") == "OK");
    CHECK(wire::tagged_status("123 OK done", "12").empty());
    CHECK(wire::tagged_status("* OK Still here", "12").empty());
    CHECK(wire::tagged_status("12 OKAY", "12").empty());
    CHECK(wire::tagged_status("12 OK", "").empty());
}

TEST_CASE("trailing_literal") {
    CHECK(wire::trailing_literal("* 1 FETCH (BODY[] {42}") == 42U);
    CHECK(wire::trailing_literal("* 1 FETCH (BODY[] {0}") == 0U);
    CHECK(wire::trailing_literal("A1 LOGIN {5+}") == 5U);
    CHECK_FALSE(wire::trailing_literal("* 3 EXISTS").has_value());
    CHECK_FALSE(wire::trailing_literal("* OK {x}").has_value());
    CHECK_FALSE(wire::trailing_literal("* OK {}").has_value());
    CHECK_FALSE(wire::trailing_literal("}").has_value());
    CHECK_FALSE(wire::trailing_literal("* OK {99999999999999999999999}").has_value());
}

TEST_CASE("interrupter: sticky until reset, visible from another thread") {
    imap::interrupter stop;
    CHECK_FALSE(stop.interrupted());
    CHECK(stop.fd() >= 0);
    std::thread([&stop] { stop.interrupt(); }).join();
    CHECK(stop.interrupted());
    CHECK(stop.interrupted());  // reading the state does not clear it
    stop.interrupt();           // twice is still one interrupt
    stop.reset();
    CHECK_FALSE(stop.interrupted());
    stop.reset();  // resetting a clear one is harmless
    CHECK_FALSE(stop.interrupted());
}

TEST_CASE("connect returns interrupted at once when already interrupted") {
    imap::interrupter stop;
    stop.interrupt();
    imap::endpoint ep;
    ep.host = "192.0.2.1";  // TEST-NET-1: would hang until the timeout if dialled
    ep.port = 993;
    ep.timeout = std::chrono::seconds(30);
    const auto t0 = std::chrono::steady_clock::now();
    auto s = imap::session::connect(ep, stop);
    REQUIRE_FALSE(s.ok());
    CHECK(s.err().code == "interrupted");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}

TEST_CASE("connect: a name that does not resolve is a connect error naming no secrets") {
    imap::interrupter stop;
    imap::endpoint ep;
    ep.host = "no-such-host.invalid";  // RFC 6761: never resolves
    ep.port = 993;
    ep.username = "anna@example.org";
    ep.password = "hunter2-secret";
    ep.timeout = std::chrono::seconds(10);
    auto s = imap::session::connect(ep, stop);
    REQUIRE_FALSE(s.ok());
    CHECK((s.err().code == "connect" || s.err().code == "timeout"));
    CHECK(s.err().message.find("anna") == std::string::npos);
    CHECK(s.err().message.find("hunter2") == std::string::npos);
}
