#include "ingest/json_report.hpp"
#include "core/random.hpp"

#include <array>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "core/utf8.hpp"
#include "ingest/language.hpp"

namespace hotline::ingest {
namespace {

using json = nlohmann::json;
using limits = json_report_limits;

enum class field { none, sender, text, subject, labels, external_id };
enum class value_kind { null, boolean, number, string, object, array };

[[nodiscard]] const char* name_of(field f) {
    switch (f) {
        case field::sender: return "sender";
        case field::text: return "text";
        case field::subject: return "subject";
        case field::labels: return "labels";
        case field::external_id: return "external_id";
        case field::none: break;
    }
    return "";
}

[[nodiscard]] field field_of(std::string_view key) {
    if (key == "sender") {
        return field::sender;
    }
    if (key == "text") {
        return field::text;
    }
    if (key == "subject") {
        return field::subject;
    }
    if (key == "labels") {
        return field::labels;
    }
    if (key == "external_id") {
        return field::external_id;
    }
    return field::none;
}

[[nodiscard]] const char* kind_name(value_kind k) {
    switch (k) {
        case value_kind::null: return "null";
        case value_kind::boolean: return "a boolean";
        case value_kind::number: return "a number";
        case value_kind::string: return "a string";
        case value_kind::object: return "an object";
        case value_kind::array: return "an array";
    }
    return "";
}

// Which C0 controls (and DEL) a field may hold.
enum class controls { none, tab, tab_newlines };

[[nodiscard]] bool has_forbidden_control(std::string_view s, controls allowed) noexcept {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20U && c != 0x7FU) {
            continue;
        }
        if (c == '\t' && allowed != controls::none) {
            continue;
        }
        if ((c == '\n' || c == '\r') && allowed == controls::tab_newlines) {
            continue;
        }
        return true;
    }
    return false;
}

// The label-name rule is core's (one rule for reports, matchers and routes).
static_assert(limits::label_key_max == core::label_name_max);
[[nodiscard]] bool is_label_key(std::string_view k) noexcept {
    return core::is_label_name(k);
}

// A field name from the input is quoted in the message only when it is short and plain,
// so an error message never carries arbitrary input.
[[nodiscard]] std::string quoted_if_plain(std::string_view key) {
    if (key.size() > 64) {
        return {};
    }
    for (const char c : key) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20U || u >= 0x7FU || c == '"' || c == '\\') {
            return {};
        }
    }
    return " \"" + std::string(key) + "\"";
}

core::error bad_field(std::string message, std::string context = {}) {
    return core::make_error("bad_field", std::move(message), std::move(context));
}

[[nodiscard]] std::optional<core::error> check_string(std::string_view what, std::string_view v,
                                                      std::size_t min, std::size_t max,
                                                      controls allowed) {
    if (v.size() < min || v.size() > max) {
        return bad_field(std::string(what) + " must be " +
                         (min > 0 ? std::to_string(min) + ".." + std::to_string(max)
                                  : "at most " + std::to_string(max)) +
                         " bytes");
    }
    if (!core::is_valid_utf8(v)) {  // \u escapes are decoded by the parser; re-check the result
        return core::make_error("invalid_utf8", std::string(what) + " is not valid UTF-8");
    }
    if (has_forbidden_control(v, allowed)) {
        return bad_field(std::string(what) + " contains a control character");
    }
    return std::nullopt;
}

// SAX handler: builds the report while nlohmann parses, so no DOM is built and depth
// costs one bit per level (nlohmann's own stack) instead of a node per level. After the
// first semantic error it keeps going without storing anything, so a body that is also
// broken JSON reports bad_json.
class report_sax {
public:
    explicit report_sax(domain::report& out) : out_(out) {}

    bool null() {
        value(value_kind::null);
        return true;
    }
    bool boolean(bool /*v*/) {
        value(value_kind::boolean);
        return true;
    }
    bool number_integer(json::number_integer_t /*v*/) {
        value(value_kind::number);
        return true;
    }
    bool number_unsigned(json::number_unsigned_t /*v*/) {
        value(value_kind::number);
        return true;
    }
    bool number_float(json::number_float_t /*v*/, const json::string_t& /*s*/) {
        value(value_kind::number);
        return true;
    }
    bool binary(json::binary_t& /*v*/) {
        value(value_kind::string);
        return true;
    }
    bool string(json::string_t& v) {
        if (!value(value_kind::string)) {
            return true;
        }
        if (depth_ == 1) {
            store_field(std::move(v));
        } else if (depth_ == 2) {
            store_label(std::move(v));
        }
        return true;
    }
    bool start_object(std::size_t /*n*/) {
        const bool accepted = value(value_kind::object);
        ++depth_;
        if (accepted && depth_ == 2) {
            in_labels_ = true;
        }
        return true;
    }
    bool end_object() {
        --depth_;
        if (depth_ == 1) {
            in_labels_ = false;
        }
        return true;
    }
    bool start_array(std::size_t /*n*/) {
        value(value_kind::array);
        ++depth_;
        return true;
    }
    bool end_array() {
        --depth_;
        return true;
    }
    bool key(json::string_t& k) {
        if (error_) {
            return true;
        }
        if (depth_ == 1) {
            current_ = field_of(k);
            if (current_ == field::none) {
                fail(bad_field("unknown field" + quoted_if_plain(k)));
                return true;
            }
            const auto bit = 1U << static_cast<unsigned>(current_);
            if ((seen_ & bit) != 0) {
                fail(bad_field(std::string("duplicate field \"") + name_of(current_) + "\""));
                return true;
            }
            seen_ |= bit;
        } else if (depth_ == 2 && in_labels_) {
            if (!is_label_key(k)) {
                fail(bad_field("field \"labels\" keys must match [A-Za-z_][A-Za-z0-9_.-]{0,63}",
                               "labels"));
                return true;
            }
            if (out_.labels.size() >= limits::labels_max) {
                fail(bad_field("field \"labels\" may have at most " +
                                   std::to_string(limits::labels_max) + " entries",
                               "labels"));
                return true;
            }
            if (out_.labels.contains(k)) {
                fail(bad_field("duplicate key in field \"labels\"", "labels"));
                return true;
            }
            label_key_ = std::move(k);
        }
        return true;
    }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& ex) {
        // nlohmann's message quotes the input ("last read: ..."): look at it, never pass it on.
        const std::string_view what = ex.what();
        if (what.find("surrogate") != std::string_view::npos ||
            what.find("UTF-8") != std::string_view::npos) {
            syntax_ = core::make_error("invalid_utf8", "a \\u escape is not valid UTF-16");
        } else {
            syntax_ = core::make_error(
                "bad_json", "body is not valid JSON (near byte " + std::to_string(position) + ")");
        }
        return false;
    }

    [[nodiscard]] const std::optional<core::error>& syntax_error() const { return syntax_; }
    [[nodiscard]] const std::optional<core::error>& error() const { return error_; }
    [[nodiscard]] bool seen(field f) const {
        return (seen_ & (1U << static_cast<unsigned>(f))) != 0;
    }

private:
    void fail(core::error e) {
        if (!error_) {
            error_ = std::move(e);
        }
    }

    // Checks a value's type where it appears; false when it is not to be stored.
    bool value(value_kind k) {
        if (error_) {
            return false;
        }
        if (depth_ == 0) {
            if (k != value_kind::object) {
                fail(core::make_error("bad_json", "body must be a JSON object"));
                return false;
            }
            return true;
        }
        if (depth_ == 1) {
            const value_kind want =
                current_ == field::labels ? value_kind::object : value_kind::string;
            if (k != want) {
                fail(bad_field(std::string("field \"") + name_of(current_) + "\" must be " +
                                   kind_name(want) + ", not " + kind_name(k),
                               name_of(current_)));
                return false;
            }
            return true;
        }
        if (depth_ == 2 && in_labels_) {
            if (k != value_kind::string) {
                fail(bad_field(
                    std::string("field \"labels\" values must be strings, not ") + kind_name(k),
                    "labels"));
                return false;
            }
            return true;
        }
        return false;  // deeper levels only exist below a value already rejected
    }

    void store_field(json::string_t&& v) {
        std::optional<core::error> e;
        switch (current_) {
            case field::sender:
                e = check_string("field \"sender\"", v, 1, limits::sender_max, controls::none);
                out_.sender = std::move(v);
                break;
            case field::text:
                e = check_string("field \"text\"", v, 1, limits::text_max, controls::tab_newlines);
                out_.text = std::move(v);
                break;
            case field::subject:
                e = check_string("field \"subject\"", v, 0, limits::subject_max, controls::tab);
                out_.subject = std::move(v);
                break;
            case field::external_id:
                e = check_string("field \"external_id\"", v, 1, limits::external_id_max,
                                 controls::none);
                out_.external_id = std::move(v);
                break;
            case field::labels:
            case field::none: break;
        }
        if (e) {
            e->context = name_of(current_);
            fail(std::move(*e));
        }
    }

    void store_label(json::string_t&& v) {
        if (auto e = check_string("field \"labels\" values", v, 0, limits::label_value_max,
                                  controls::tab_newlines)) {
            e->context = "labels";
            fail(std::move(*e));
            return;
        }
        out_.labels.emplace(std::move(label_key_), std::move(v));
    }

    domain::report& out_;
    int depth_{0};
    field current_{field::none};
    unsigned seen_{0};
    bool in_labels_{false};
    std::string label_key_;
    std::optional<core::error> error_;
    std::optional<core::error> syntax_;
};

}  // namespace

std::string generate_external_id() {
    return "gen-" + core::random_hex(16);
}

core::result<domain::report> parse_report_json(std::string_view body, const std::string& source,
                                               std::string_view idempotency_key_header,
                                               std::int64_t now_ms) {
    if (const auto bad = core::find_invalid_utf8(body); bad != std::string_view::npos) {
        return core::make_error("invalid_utf8",
                                "body is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
    }
    domain::report r;
    report_sax sax(r);
    try {
        (void)json::sax_parse(body.begin(), body.end(), &sax, json::input_format_t::json,
                              /*strict=*/true, /*ignore_comments=*/false);
    } catch (const std::exception&) {  // only bad_alloc is possible; keep it off the io loop
        return core::make_error("bad_json", "body could not be parsed");
    }
    if (sax.syntax_error()) {
        return *sax.syntax_error();
    }
    if (sax.error()) {
        return *sax.error();
    }
    for (const field f : {field::sender, field::text}) {
        if (!sax.seen(f)) {
            return core::make_error(
                "missing_field", std::string("missing field \"") + name_of(f) + "\"", name_of(f));
        }
    }
    if (!sax.seen(field::external_id)) {
        if (!idempotency_key_header.empty()) {
            if (auto e = check_string("Idempotency-Key header", idempotency_key_header, 1,
                                      limits::external_id_max, controls::none)) {
                e->context = "Idempotency-Key";
                return *e;
            }
            r.external_id = std::string(idempotency_key_header);
        } else {
            r.external_id = generate_external_id();
        }
    }
    r.source = source;
    r.source_kind = "webhook";
    r.language = guess_language(r.text);
    r.received_at = now_ms;
    return r;
}

}  // namespace hotline::ingest
