// Inbound mail (RFC 5322 + MIME) to what a report needs, on GMime 3. The IMAP source and
// `hotlinectl ingest --dry-run` call parse_mail; it never throws and never gives up: a
// broken mail yields what could be decoded plus warnings. Every string it returns is
// valid UTF-8; warnings carry codes and counts, never contents.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hotline::ingest {

struct mail_limits {
    // Over this the headers are decoded, the body is not (warning too_large).
    std::size_t max_message_bytes = 25 * 1024 * 1024;
    // An attachment's bytes are kept when it is at most this big (else only its size
    // and hash, warning attachment_not_kept).
    std::size_t max_attachment_bytes = 10 * 1024 * 1024;
    std::size_t max_text_bytes = 1024 * 1024;  // body text, and each forward's text
    std::size_t max_parts = 1000;              // MIME parts looked at (too_many_parts)
    std::size_t max_depth = 16;                // multipart/message nesting (too_deep)
};

struct mail_address {
    std::string address;  // "user@example.org", may be empty
    std::string name;     // display name, decoded; may be empty
};

struct mail_attachment {
    std::string file_name;     // decoded (RFC 2231 / RFC 2047); may be empty
    std::string content_type;  // "image/jpeg", lower case
    std::size_t size{};        // decoded bytes
    std::string sha256;        // of the decoded bytes, lower-case hex
    std::string bytes;         // decoded bytes, empty when size > max_attachment_bytes
    bool kept{false};          // bytes holds the whole attachment
};

// A message/rfc822 part (forwarded as an attachment or inline).
struct forwarded_mail {
    mail_address sender;
    std::string subject;
    std::string text;
};

struct mail_warning {
    std::string code;     // too_large, charset_mislabelled, truncated, ...
    std::string message;  // a sentence for people; never quotes the mail
};

struct parsed_mail {
    mail_address sender;
    std::string subject;
    std::optional<std::int64_t> date_ms;  // unix ms; absent when missing or unparseable
    std::string message_id;               // without angle brackets; empty when absent
    std::string in_reply_to;
    std::vector<std::string> references;
    std::string text;  // the mail's own text: non-empty text/plain, else text from HTML
    std::vector<mail_attachment> attachments;
    std::vector<forwarded_mail> forwards;
    std::vector<mail_warning> warnings;

    [[nodiscard]] bool has_warning(std::string_view code) const;
};

[[nodiscard]] parsed_mail parse_mail(std::string_view raw, const mail_limits& limits = {}) noexcept;

// A mail over max_message_bytes that was not fetched whole: its header block (IMAP
// BODY.PEEK[HEADER]) and the size the server gave. Gives what parse_mail gives for the
// whole mail: the headers decoded and warning too_large. With full_size 0 it is parse_mail.
[[nodiscard]] parsed_mail parse_oversized(std::string_view header_block, std::size_t full_size,
                                          const mail_limits& limits = {}) noexcept;

// What the rules see as the report's text: the mail's own text, then each forwarded
// mail as a block "---------- Forwarded message ----------" / From / Subject / text.
[[nodiscard]] std::string report_text(const parsed_mail& mail);

}  // namespace hotline::ingest
