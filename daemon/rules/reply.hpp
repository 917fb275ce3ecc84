// Reply commands: what a responder or a defender writes back by SMS or email (ACK 42, 42a,
// ПРИНЯЛ, RESOLVE 42, OK 1234, CHECKIN 6h), parsed from outside input without I/O.
// The grammar is in docs/escalation.md, "Acknowledging" and "Check-ins and duress".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotline::rules {

struct reply_command {
    enum class kind { ack, resolve, checkin, checkin_start, checkin_stop };
    kind action{kind::ack};
    std::optional<std::int64_t> case_id;  // none: "the one open case of that sender"
    std::string pin;                      // checkin only: digits after OK, may be empty
    // checkin_start only: the number and an ASCII unit ("30m", "6h", "1d"; a Russian
    // "6ч" gives "6h"), for core::parse_duration; empty when none was written.
    std::string duration;
};

// Case numbers a reply may name: 1 .. 10^12.
inline constexpr std::int64_t max_reply_case_id = 1'000'000'000'000;
// Longer texts are never commands (a command is a few words).
inline constexpr std::size_t max_reply_bytes = 200;

// An SMS text or an email's first non-quoted line as a command, or nullopt when it is not one
// (then it is an ordinary report / a case note). The whole trimmed text must be the command,
// optionally followed by punctuation: "ACK 42 please come" is not one.
[[nodiscard]] std::optional<reply_command> parse_reply(std::string_view text);

// The first line of a mail body that is not empty, not quoted ("> ..."), not an attribution
// line ("On ... wrote:", "... пишет:", "... написал(а):"), trimmed; "" when the body has none,
// or when it starts with the original message ("-----Original Message-----", an Outlook
// "____" rule, a signature's "-- ").
[[nodiscard]] std::string first_unquoted_line(std::string_view body);

}  // namespace hotline::rules
