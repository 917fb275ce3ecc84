// libFuzzer target for POST /v1/reports bodies: parse_report_json on the input (the first
// line, up to 300 bytes, is the Idempotency-Key header; the rest is the body). Checks the
// parser's promises: no crash, and a report it accepts keeps every documented rule
// (lengths, valid UTF-8, no control characters where none are allowed, label names).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/text.hpp"
#include "core/utf8.hpp"
#include "fuzz_support.hpp"
#include "ingest/json_report.hpp"

namespace {

bool has_control(std::string_view s, bool allow_whitespace) {
    for (const unsigned char c : s) {
        if ((c < 0x20 || c == 0x7f) &&
            !(allow_whitespace && (c == '\t' || c == '\n' || c == '\r'))) {
            return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    using limits = ingest::json_report_limits;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view key;
    if (const auto nl = input.find('\n'); nl != std::string_view::npos && nl <= 300) {
        key = input.substr(0, nl);
        input.remove_prefix(nl + 1);
    }
    const auto r = ingest::parse_report_json(input, "fuzz", key, 1'700'000'000'000);
    if (!r) {
        require(!r.err().code.empty() && !r.err().message.empty());
        // Messages name the field, never its contents: never longer than a sentence.
        require(r.err().message.size() < 512);
        return 0;
    }
    require(r->source == "fuzz" && r->source_kind == "webhook");
    require(!r->sender.empty() && r->sender.size() <= limits::sender_max);
    require(core::is_valid_utf8(r->sender) && !has_control(r->sender, false));
    require(!r->text.empty() && r->text.size() <= limits::text_max);
    require(core::is_valid_utf8(r->text) && !has_control(r->text, true));
    require(r->subject.size() <= limits::subject_max && core::is_valid_utf8(r->subject));
    for (const char c : r->subject) {
        require(c != '\r' && c != '\n');
    }
    require(!r->external_id.empty() && r->external_id.size() <= limits::external_id_max);
    require(core::is_valid_utf8(r->external_id) && !has_control(r->external_id, false));
    require(r->labels.size() <= limits::labels_max);
    for (const auto& [k, v] : r->labels) {
        require(core::is_label_name(k));
        require(v.size() <= limits::label_value_max && core::is_valid_utf8(v));
        require(!has_control(v, true));
    }
    return 0;
}
