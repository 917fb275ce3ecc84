// The pure pieces of the IMAP client (net/imap.cpp): mailbox-name encoding, UID sets and
// reading the untagged lines a server sends during IDLE. No I/O, so unit tests cover them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotline::net::imap::wire {

// A mailbox name as IMAP puts it on the wire: modified UTF-7 (RFC 3501 section 5.1.3),
// so that a folder configured as "Архив" is the folder a mail client shows as "Архив".
// Printable ASCII passes as is ('&' becomes "&-"). nullopt: not valid UTF-8, or a control
// character (a server would refuse or misread it).
[[nodiscard]] std::optional<std::string> encode_mailbox(std::string_view utf8);

// Sorted, deduplicated UIDs folded into inclusive ranges: {5,1,2,3,9} -> [1,3],[5,5],[9,9].
// UID 0 (not a valid UID) is dropped.
[[nodiscard]] std::vector<std::pair<std::uint32_t, std::uint32_t>> uid_ranges(
    std::vector<std::uint32_t> uids);

// What a line read while IDLE means (the line without its CRLF).
enum class idle_line {
    continuation,  // "+ idling": IDLE accepted
    keepalive,     // "* OK ..." (Dovecot's "Still here"): nothing changed
    change,        // "* 3 EXISTS", "* 2 EXPUNGE", "* 1 FETCH ...", "* 4 RECENT", anything else
    bye,           // "* BYE ...": the server is closing the connection
    tagged,        // "<tag> OK|NO|BAD ...": the end of the command
};
[[nodiscard]] idle_line classify_idle_line(std::string_view line);

// The status of a tagged line "<tag> OK ..." when its tag is `tag`: "OK", "NO", "BAD", or
// empty when the line is not tagged with `tag`.
[[nodiscard]] std::string_view tagged_status(std::string_view line, std::string_view tag);

// A line that ends in a literal announcement "{123}" (or "{123+}") is followed by 123 raw
// bytes and then the rest of the response: returns 123, or nullopt.
[[nodiscard]] std::optional<std::size_t> trailing_literal(std::string_view line);

}  // namespace hotline::net::imap::wire
