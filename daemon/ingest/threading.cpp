#include "ingest/threading.hpp"

#include <charconv>
#include <system_error>

#include "core/text.hpp"

namespace hotline::ingest {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

// A positive int64 written as decimal digits only; 0 for anything else (empty, a sign,
// overflow).
std::int64_t positive(std::string_view digits) {
    if (digits.empty()) {
        return 0;
    }
    for (const char c : digits) {
        if (!is_digit(c)) {
            return 0;
        }
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value <= 0) {
        return 0;
    }
    return value;
}

}  // namespace

std::int64_t case_of_message_id(std::string_view id) noexcept {
    id = core::trim(id, " \t\r\n");
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') {
        id = id.substr(1, id.size() - 2);
    }
    const auto at = id.find('@');
    if (at == std::string_view::npos || at + 1 == id.size() ||
        id.find_first_of("@<> \t", at + 1) != std::string_view::npos) {
        return 0;
    }
    std::string_view local = id.substr(0, at);
    constexpr std::string_view head = "hotline.c";
    if (local.substr(0, head.size()) != head) {
        return 0;
    }
    local.remove_prefix(head.size());
    const auto dot = local.find('.');
    const std::int64_t case_id = positive(local.substr(0, dot));
    if (case_id == 0 || dot == std::string_view::npos) {
        return case_id;  // the root id "hotline.c42", or not ours
    }
    // An alert's: ".n<notification>.<8 lower-case hex>", nothing more.
    std::string_view rest = local.substr(dot + 1);
    if (rest.size() < 2 || rest.front() != 'n') {
        return 0;
    }
    rest.remove_prefix(1);
    const auto dot2 = rest.find('.');
    if (dot2 == std::string_view::npos || positive(rest.substr(0, dot2)) == 0) {
        return 0;
    }
    const auto hash = rest.substr(dot2 + 1);
    if (hash.size() != 8) {
        return 0;
    }
    for (const char c : hash) {
        if (!is_hex(c)) {
            return 0;
        }
    }
    return case_id;
}

std::int64_t case_of_subject(std::string_view subject, std::string_view tag_prefix) noexcept {
    if (tag_prefix.empty()) {
        return 0;
    }
    for (std::size_t open = subject.find('['); open != std::string_view::npos;
         open = subject.find('[', open + 1)) {
        std::string_view rest = subject.substr(open + 1);
        if (rest.size() <= tag_prefix.size() ||
            !core::iequals(rest.substr(0, tag_prefix.size()), tag_prefix)) {
            continue;
        }
        rest.remove_prefix(tag_prefix.size());
        // Blanks are optional: a client that refolds the subject may double the space,
        // a person typing the tag may leave it out.
        const auto hash = rest.find_first_not_of(" \t");
        if (hash == std::string_view::npos || rest[hash] != '#') {
            continue;
        }
        rest.remove_prefix(hash + 1);
        // Only digits up to the ']': scanning no further keeps a subject of many
        // unclosed "[HOTLINE #" linear.
        std::size_t end = 0;
        while (end < rest.size() && is_digit(rest[end])) {
            ++end;
        }
        if (end == rest.size() || rest[end] != ']') {
            continue;
        }
        if (const std::int64_t case_id = positive(rest.substr(0, end)); case_id != 0) {
            return case_id;
        }
    }
    return 0;
}

bool is_own_alert(const parsed_mail& m) noexcept {
    return case_of_message_id(m.message_id) != 0;
}

std::int64_t case_reference(const parsed_mail& m, std::string_view tag_prefix) noexcept {
    if (const auto c = case_of_message_id(m.in_reply_to); c != 0) {
        return c;
    }
    for (auto it = m.references.rbegin(); it != m.references.rend(); ++it) {
        if (const auto c = case_of_message_id(*it); c != 0) {
            return c;
        }
    }
    return case_of_subject(m.subject, tag_prefix);
}

}  // namespace hotline::ingest
