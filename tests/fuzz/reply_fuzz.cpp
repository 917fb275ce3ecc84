// libFuzzer target for reply commands (SMS texts, an email's first unquoted line):
// parse_reply on the input, then first_unquoted_line on it and parse_reply on that line.
// Checks the parser's promises: no crash, and a command only from valid UTF-8 of at most
// max_reply_bytes, with a case number in 1 .. 10^12, a PIN of 3-12 digits only on a
// check-in, a duration like "6h" only on a check-in start.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.hpp"
#include "fuzz_support.hpp"
#include "rules/reply.hpp"

namespace {

using hotline::fuzz::require;
using hotline::rules::reply_command;

bool all_digits(std::string_view s) {
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

void check(const std::optional<reply_command>& c, std::string_view text) {
    if (!c) {
        return;
    }
    require(text.size() <= hotline::rules::max_reply_bytes);
    require(hotline::core::is_valid_utf8(text));
    using kind = reply_command::kind;
    const bool case_action = c->action == kind::ack || c->action == kind::resolve;
    if (c->case_id) {
        require(case_action);
        require(*c->case_id >= 1 && *c->case_id <= hotline::rules::max_reply_case_id);
    }
    if (!c->pin.empty()) {
        require(c->action == kind::checkin);
        require(c->pin.size() >= 3 && c->pin.size() <= 12 && all_digits(c->pin));
    }
    if (!c->duration.empty()) {
        require(c->action == kind::checkin_start);
        const std::string_view d = c->duration;
        require(d.size() >= 2 && d.size() <= 5 && d.front() != '0');
        require(all_digits(d.substr(0, d.size() - 1)));
        require(d.back() == 'm' || d.back() == 'h' || d.back() == 'd');
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check(hotline::rules::parse_reply(input), input);
    const std::string line = hotline::rules::first_unquoted_line(input);
    require(line.size() <= input.size());
    require(line.find('\n') == std::string::npos);
    require(input.find(line) != std::string_view::npos);
    require(line.empty() || (line.front() != ' ' && line.back() != ' ' && line.front() != '>'));
    check(hotline::rules::parse_reply(line), line);
    return 0;
}
