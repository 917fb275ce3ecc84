// Which case an inbound mail names: one of our Message-IDs in In-Reply-To or References
// (a reply to an alert), else the case tag "[HOTLINE #42]" in its subject. The outbound
// side is plugins/smtp (Message-IDs) and dispatch::case_tag (the tag).
#pragma once
#include <cstdint>
#include <string_view>

#include "ingest/mime.hpp"

namespace hotline::ingest {

// The case number one of our Message-IDs names, 0 when `id` is not one:
// "hotline.c42.n1234.0a1b2c3d@example.org" (an alert) or "hotline.c42@example.org" (the
// case's root id). Angle brackets are optional; the domain is any non-empty one.
[[nodiscard]] std::int64_t case_of_message_id(std::string_view id) noexcept;

// The case number of the first tag "[<prefix> #N]" in `subject` (prefix compared ASCII
// case-insensitively, N a positive decimal that fits int64), 0 when there is none.
[[nodiscard]] std::int64_t case_of_subject(std::string_view subject,
                                           std::string_view tag_prefix) noexcept;

// True when `m` is one of our own alerts (its Message-ID is ours): an alert that came back
// into a watched mailbox (a responder's address forwarding to it, a bounce of the original)
// must not join its case, or each update would bring the next one back.
[[nodiscard]] bool is_own_alert(const parsed_mail& m) noexcept;

// The case `m` names, 0 when none. Most specific first: In-Reply-To, then References from
// the last (the message replied to) to the first, then the subject tag (also inside
// "Re:", "Fwd:", "Отв:", "AW:"; the parser decoded RFC 2047 already). Whether that case
// exists is the store's business: a case that does not opens a new one.
[[nodiscard]] std::int64_t case_reference(const parsed_mail& m,
                                          std::string_view tag_prefix) noexcept;

}  // namespace hotline::ingest
