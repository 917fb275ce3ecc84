// libFuzzer target for the mail path: parse_mail with small limits (so the limit paths are
// reached quickly), then the language detector on what came out, as the IMAP source will.
// Checks the parser's promises: no crash, valid UTF-8 everywhere, limits kept.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/utf8.hpp"
#include "ingest/language.hpp"
#include "ingest/mime.hpp"

namespace {

void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    ingest::mail_limits limits;
    limits.max_message_bytes = 256 * 1024;
    limits.max_attachment_bytes = 4096;
    limits.max_text_bytes = 16 * 1024;
    limits.max_parts = 64;
    limits.max_depth = 8;
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    const auto mail = ingest::parse_mail(raw, limits);
    require(core::is_valid_utf8(mail.sender.address) && core::is_valid_utf8(mail.sender.name));
    require(core::is_valid_utf8(mail.subject) && core::is_valid_utf8(mail.text));
    require(core::is_valid_utf8(mail.message_id) && core::is_valid_utf8(mail.in_reply_to));
    require(mail.text.size() <= limits.max_text_bytes);
    for (const auto& a : mail.attachments) {
        require(core::is_valid_utf8(a.file_name));
        require(a.bytes.size() <= limits.max_attachment_bytes);
        require(a.sha256.size() == 64);
    }
    for (const auto& f : mail.forwards) {
        require(core::is_valid_utf8(f.subject) && core::is_valid_utf8(f.text));
    }
    const auto text = ingest::report_text(mail);
    require(core::is_valid_utf8(text));
    (void)ingest::detect_language(text);
    return 0;
}
