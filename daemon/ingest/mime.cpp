#include "ingest/mime.hpp"

#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <set>
#include <utility>

#include "core/c_handle.hpp"
#include "core/crypto.hpp"
#include "core/utf8.hpp"
#include "ingest/charset.hpp"
#include "ingest/html_text.hpp"

namespace hotline::ingest {
namespace {

template <class T>
using gobject = core::c_handle<T, g_object_unref>;
using options_handle = core::c_handle<GMimeParserOptions, g_mime_parser_options_free>;
using references_handle = core::c_handle<GMimeReferences, g_mime_references_free>;
using gchar_handle = core::c_handle<char, g_free>;

constexpr std::size_t max_header_block = 1024 * 1024;  // of an oversized mail
constexpr std::size_t max_references = 100;
constexpr std::size_t max_header_text = 998 * 4;  // a subject, a name, a Message-ID

void init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_mime_init();
        xmlInitParser();
        core::crypto::ensure_init();
    });
}

class warnings {
public:
    explicit warnings(std::vector<mail_warning>& out) : out_(out) {}

    void add(std::string code, std::string message) {
        if (seen_.insert(code).second) {
            out_.push_back({std::move(code), std::move(message)});
        }
    }

private:
    std::vector<mail_warning>& out_;
    std::set<std::string> seen_;
};

// GMime's parser findings. `item` may quote the mail, so only the code is kept.
void on_parser_warning(gint64 /*offset*/, GMimeParserWarning code, const gchar* /*item*/,
                       gpointer user_data) {
    auto& w = *static_cast<warnings*>(user_data);
    switch (code) {
        case GMIME_WARN_DUPLICATED_HEADER:
            w.add("duplicate_header", "a header that may appear once appears more than once");
            break;
        case GMIME_WARN_DUPLICATED_PARAMETER:
        case GMIME_CRIT_CONFLICTING_PARAMETER:
        case GMIME_WARN_INVALID_PARAMETER:
            w.add("bad_header_parameter", "a header parameter is repeated, conflicting or invalid");
            break;
        case GMIME_WARN_UNENCODED_8BIT_HEADER:
            break;  // RFC 6532 allows UTF-8; legacy bytes are reported as header_charset_detected
        case GMIME_WARN_INVALID_CONTENT_TYPE:
            w.add("bad_content_type",
                  "an invalid Content-Type was read as application/octet-stream");
            break;
        case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
            w.add("bad_encoded_word", "a header has an invalid RFC 2047 encoded word");
            break;
        case GMIME_WARN_MALFORMED_MULTIPART:
        case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
            w.add("malformed_multipart", "a multipart has no boundary or no parts");
            break;
        case GMIME_WARN_TRUNCATED_MESSAGE:
            w.add("truncated", "the mail ends early (a closing MIME boundary is missing)");
            break;
        case GMIME_CRIT_INVALID_HEADER_NAME:
            w.add("header_garbage", "a header line is not a header; the parser skipped it");
            break;
        case GMIME_CRIT_CONFLICTING_HEADER:
            w.add("conflicting_header", "a header appears twice with different values");
            break;
        case GMIME_WARN_INVALID_ADDRESS_LIST:
            w.add("bad_address", "an address header could not be fully parsed");
            break;
        case GMIME_CRIT_NESTING_OVERFLOW:
            w.add("too_deep", "MIME parts are nested deeper than the parser allows");
            break;
        case GMIME_WARN_MALFORMED_MESSAGE:
        case GMIME_WARN_PART_WITHOUT_CONTENT:
        case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
        default: w.add("malformed_mime", "the MIME structure is malformed"); break;
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

// A header value as one clean line: valid UTF-8, controls (folds included) as spaces,
// trimmed, at most max_header_text bytes.
std::string clean_line(const char* value) {
    if (value == nullptr) {
        return {};
    }
    std::string s(value);
    repair_utf8(s);
    for (char& c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            c = ' ';
        }
    }
    const auto first = s.find_first_not_of(' ');
    if (first == std::string::npos) {
        return {};
    }
    s.erase(0, first);
    s.erase(s.find_last_not_of(' ') + 1);
    if (s.size() > max_header_text) {
        s = std::string(core::utf8_prefix(s, max_header_text));
    }
    return s;
}

// Body text: LF line ends, no control characters but TAB and LF, valid UTF-8 (U+FFFD
// for bytes that did not decode), no trailing white space.
std::string clean_text(std::string s, warnings& w) {
    if (const std::size_t bad = repair_utf8(s); bad > 0) {
        w.add("invalid_bytes", "bytes that are not valid in the text's charset became U+FFFD");
    }
    std::string out;
    out.reserve(s.size());
    bool dropped = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') {
                continue;
            }
            out.push_back('\n');
        } else if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7F) {
            dropped = true;
        } else {
            out.push_back(c);
        }
    }
    if (dropped) {
        w.add("control_chars", "control characters (NUL and others) were removed from the text");
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n' || out.back() == '\t')) {
        out.pop_back();
    }
    const auto first = out.find_first_not_of("\n");
    out.erase(0, first == std::string::npos ? out.size() : first);
    return out;
}

bool base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

// A body that is nothing but base64 lines although its transfer encoding says otherwise
// (a missing or misspelt Content-Transfer-Encoding): decoded, never shown as text.
bool looks_like_base64(std::string_view s) {
    std::size_t chars = 0;
    std::size_t long_lines = 0;
    bool upper = false;
    bool lower_case = false;
    bool digit = false;
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t end = s.find('\n', pos);
        if (end == std::string_view::npos) {
            end = s.size();
        }
        std::string_view line = s.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        for (const char c : line) {
            if (!base64_char(c)) {
                return false;
            }
            upper = upper || (c >= 'A' && c <= 'Z');
            lower_case = lower_case || (c >= 'a' && c <= 'z');
            digit = digit || (c >= '0' && c <= '9');
        }
        chars += line.size();
        long_lines += line.size() >= 40 ? 1 : 0;
    }
    return chars >= 64 && long_lines > 0 && upper && lower_case && digit;
}

std::string base64_decode(std::string_view s) {
    std::string out(s.size() / 4 * 3 + 3, '\0');
    gint state = 0;
    guint save = 0;
    const gsize n = g_base64_decode_step(s.data(), s.size(), reinterpret_cast<guchar*>(out.data()),
                                         &state, &save);
    out.resize(n);
    return out;
}

std::string stream_bytes(GMimeStream* mem) {
    GByteArray* arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (arr == nullptr || arr->data == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(arr->data), arr->len);
}

// Where the header block ends (the offset of the blank line), or npos.
std::size_t header_end(std::string_view raw, std::size_t limit) {
    const std::string_view head = raw.substr(0, limit);
    std::size_t pos = 0;
    while (pos < head.size()) {
        const std::size_t nl = head.find('\n', pos);
        if (nl == std::string_view::npos) {
            return std::string_view::npos;
        }
        const std::size_t next = nl + 1;
        if (next < head.size() &&
            (head[next] == '\n' ||
             (head[next] == '\r' && next + 1 < head.size() && head[next + 1] == '\n'))) {
            return next;
        }
        pos = next;
    }
    return std::string_view::npos;
}

// The charset a raw 8-bit header most likely uses, for GMime's fallback list: the
// top-level Content-Type charset if it names a legacy charset, else uchardet's guess.
std::string header_charset(std::string_view headers, std::string_view body_sample) {
    std::string eight_bit;
    std::string declared;
    std::size_t pos = 0;
    while (pos < headers.size()) {
        std::size_t end = headers.find('\n', pos);
        if (end == std::string_view::npos) {
            end = headers.size();
        }
        const std::string_view line = headers.substr(pos, end - pos);
        pos = end + 1;
        if (std::any_of(line.begin(), line.end(),
                        [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
            eight_bit.append(line).push_back('\n');
        }
        const std::string l = lower(line);
        if (const auto at = l.find("charset="); at != std::string::npos && declared.empty() &&
                                                (istarts_with(line, "content-type:") ||
                                                 line.starts_with(" ") || line.starts_with("\t"))) {
            std::string_view v = std::string_view(l).substr(at + 8);
            const auto stop = v.find_first_of(";\r \t");
            declared = normalise_charset(v.substr(0, stop));
        }
    }
    if (eight_bit.empty() || core::is_valid_utf8(eight_bit)) {
        return {};
    }
    if (!declared.empty() && declared != "utf-8" && !is_ascii_charset(declared)) {
        return declared;
    }
    // A subject alone is little to go on; the body is usually in the same charset.
    if (eight_bit.size() < 256) {
        eight_bit.append(body_sample.substr(0, 16 * 1024));
    }
    return detect_charset(eight_bit);
}

class mail_walker {
public:
    mail_walker(const mail_limits& limits, parsed_mail& mail, warnings& w)
        : limits_(limits), mail_(mail), w_(w) {}

    struct body {
        std::string plain;
        std::string html;
    };

    // The text a body shows: non-empty text/plain, else the text from its HTML.
    [[nodiscard]] static std::string chosen(const body& b) {
        return !b.plain.empty() ? b.plain : b.html;
    }

    void walk(GMimeObject* obj, std::size_t depth, body& b) {
        if (obj == nullptr) {
            return;
        }
        if (++parts_ > limits_.max_parts) {
            w_.add("too_many_parts",
                   "the mail has more MIME parts than the limit; the rest "
                   "were not read");
            return;
        }
        if (depth > limits_.max_depth) {
            w_.add("too_deep",
                   "MIME parts are nested deeper than the limit; the inner ones "
                   "were not read");
            return;
        }
        if (GMIME_IS_MULTIPART(obj)) {
            walk_multipart(GMIME_MULTIPART(obj), depth, b);
        } else if (GMIME_IS_MESSAGE_PART(obj)) {
            walk_forward(GMIME_MESSAGE_PART(obj), depth);
        } else if (GMIME_IS_PART(obj)) {
            walk_part(GMIME_PART(obj), b);
        }
    }

    void read_headers(GMimeMessage* msg, mail_address& sender, std::string& subject) {
        sender = first_address(msg);
        subject = clean_line(g_mime_message_get_subject(msg));
    }

private:
    void walk_multipart(GMimeMultipart* mp, std::size_t depth, body& b) {
        const int count = g_mime_multipart_get_count(mp);
        GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(mp));
        const char* sub = ct == nullptr ? nullptr : g_mime_content_type_get_media_subtype(ct);
        if (sub != nullptr && lower(sub) == "alternative") {
            // Alternatives say the same thing: take the first with plain text, else the
            // first with text from HTML.
            std::vector<body> alts;
            for (int i = 0; i < count && parts_ <= limits_.max_parts; ++i) {
                alts.emplace_back();
                walk(g_mime_multipart_get_part(mp, i), depth + 1, alts.back());
            }
            const auto plain = std::find_if(alts.begin(), alts.end(),
                                            [](const body& a) { return !a.plain.empty(); });
            if (plain != alts.end()) {
                append(b.plain, plain->plain);
                return;
            }
            const auto html = std::find_if(alts.begin(), alts.end(),
                                           [](const body& a) { return !a.html.empty(); });
            if (html != alts.end()) {
                append(b.html, html->html);
            }
            return;
        }
        for (int i = 0; i < count && parts_ <= limits_.max_parts; ++i) {
            walk(g_mime_multipart_get_part(mp, i), depth + 1, b);
        }
    }

    void walk_forward(GMimeMessagePart* part, std::size_t depth) {
        GMimeMessage* msg = g_mime_message_part_get_message(part);
        if (msg == nullptr) {
            return;
        }
        if (attachment_disposition(GMIME_OBJECT(part))) {
            const gobject<GMimeStream> mem(g_mime_stream_mem_new());
            g_mime_object_write_to_stream(GMIME_OBJECT(msg), nullptr, mem.get());
            const char* name =
                g_mime_object_get_content_disposition_parameter(GMIME_OBJECT(part), "filename");
            if (name == nullptr) {
                name = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "name");
            }
            add_attachment(name, "message/rfc822", stream_bytes(mem.get()));
        }
        // Reserve the slot first so forwards are listed outermost first.
        const std::size_t slot = mail_.forwards.size();
        mail_.forwards.emplace_back();
        forwarded_mail f;
        read_headers(msg, f.sender, f.subject);
        body fb;
        walk(g_mime_message_get_mime_part(msg), depth + 1, fb);
        f.text = chosen(fb);
        mail_.forwards[slot] = std::move(f);
    }

    void walk_part(GMimePart* part, body& b) {
        GMimeObject* obj = GMIME_OBJECT(part);
        GMimeContentType* ct = g_mime_object_get_content_type(obj);
        const std::string type =
            ct == nullptr ? "text" : lower(g_mime_content_type_get_media_type(ct));
        const std::string sub =
            ct == nullptr ? "plain" : lower(g_mime_content_type_get_media_subtype(ct));
        std::string bytes = decoded_content(part);
        const bool text_body =
            type == "text" && (sub == "plain" || sub == "html") && !attachment_disposition(obj);
        if (!text_body) {
            add_attachment(g_mime_part_get_filename(part), type + "/" + sub, std::move(bytes));
            return;
        }
        const char* charset = g_mime_object_get_content_type_parameter(obj, "charset");
        auto decoded = decode_text(bytes, charset == nullptr ? "" : charset);
        report_fix(decoded);
        if (decoded.invalid_sequences > 0) {
            w_.add("invalid_bytes", "bytes that are not valid in the text's charset became U+FFFD");
        }
        if (sub == "html") {
            html_text_limits hl;
            hl.max_output_bytes = limits_.max_text_bytes;
            auto h = html_to_text(decoded.text, hl);
            if (h.truncated) {
                w_.add("text_truncated", "the text is longer than the limit and was cut");
            }
            append(b.html, clean_text(std::move(h.text), w_));
        } else {
            append(b.plain, clean_text(std::move(decoded.text), w_));
        }
    }

    void report_fix(const decoded_text& d) {
        switch (d.fix) {
            case charset_fix::none: break;
            case charset_fix::detected:
                w_.add("charset_detected",
                       "a text part had no charset label for its 8-bit text; "
                       "detected " +
                           d.charset);
                break;
            case charset_fix::mislabelled:
                w_.add("charset_mislabelled",
                       "a text part's charset label was wrong; decoded as " + d.charset);
                break;
            case charset_fix::unknown:
                w_.add("charset_unknown",
                       "a text part names an unknown charset; decoded as " + d.charset);
                break;
        }
    }

    // The part's bytes with its transfer encoding undone, with checks GMime leaves out.
    std::string decoded_content(GMimePart* part) {
        GMimeDataWrapper* content = g_mime_part_get_content(part);
        if (content == nullptr) {
            return {};
        }
        const GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
        const char* cte = g_mime_object_get_header(GMIME_OBJECT(part), "Content-Transfer-Encoding");
        const bool unknown_cte = cte != nullptr && g_mime_content_encoding_from_string(cte) ==
                                                       GMIME_CONTENT_ENCODING_DEFAULT;
        if (unknown_cte) {
            w_.add("unknown_transfer_encoding",
                   "a part has an unknown Content-Transfer-Encoding; read as 8bit");
        }
        const gobject<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_data_wrapper_write_to_stream(content, mem.get());
        std::string bytes = stream_bytes(mem.get());
        if (enc == GMIME_CONTENT_ENCODING_BASE64) {
            check_base64(content);
        } else if (enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
                   enc != GMIME_CONTENT_ENCODING_UUENCODE && looks_like_base64(bytes)) {
            w_.add("base64_guessed", "a part is base64 without saying so; decoded it");
            bytes = base64_decode(bytes);
        }
        return bytes;
    }

    // GMime drops a truncated base64 tail silently: count the alphabet to say so.
    void check_base64(GMimeDataWrapper* content) {
        GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
        if (raw == nullptr) {
            return;
        }
        const gobject<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_stream_reset(raw);
        g_mime_stream_write_to_stream(raw, mem.get());
        g_mime_stream_reset(raw);
        const std::string encoded = stream_bytes(mem.get());
        std::size_t chars = 0;
        bool garbage = false;
        for (const char c : encoded) {
            if (base64_char(c)) {
                ++chars;
            } else if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                garbage = true;
            }
        }
        if (chars % 4 != 0) {
            w_.add("truncated_base64",
                   "a base64 part ends in the middle of a group; the last "
                   "bytes are lost");
        }
        if (garbage) {
            w_.add("bad_base64", "a base64 part contains characters outside base64; skipped");
        }
    }

    static bool attachment_disposition(GMimeObject* obj) {
        const char* d = g_mime_object_get_disposition(obj);
        return d != nullptr && lower(d) == "attachment";
    }

    void add_attachment(const char* name, std::string type, std::string bytes) {
        mail_attachment a;
        a.file_name = clean_line(name);
        a.content_type = std::move(type);
        a.size = bytes.size();
        a.sha256 = core::crypto::sha256_hex(bytes);
        if (bytes.size() <= limits_.max_attachment_bytes) {
            a.bytes = std::move(bytes);
            a.kept = true;
        } else {
            w_.add("attachment_not_kept",
                   "an attachment is larger than the limit; only its "
                   "size and SHA-256 are kept");
        }
        mail_.attachments.push_back(std::move(a));
    }

    void append(std::string& to, const std::string& text) {
        if (text.empty() || to.size() >= limits_.max_text_bytes) {
            if (!text.empty()) {
                w_.add("text_truncated", "the text is longer than the limit and was cut");
            }
            return;
        }
        if (!to.empty()) {
            to += "\n\n";
        }
        const std::size_t room =
            limits_.max_text_bytes - std::min(to.size(), limits_.max_text_bytes);
        if (text.size() > room) {
            to += core::utf8_prefix(text, room);
            w_.add("text_truncated", "the text is longer than the limit and was cut");
        } else {
            to += text;
        }
    }

    mail_address first_address(GMimeMessage* msg) {
        mail_address out;
        for (InternetAddressList* list :
             {g_mime_message_get_from(msg), g_mime_message_get_sender(msg)}) {
            if (list == nullptr) {
                continue;
            }
            const int n = internet_address_list_length(list);
            for (int i = 0; i < n; ++i) {
                InternetAddress* a = internet_address_list_get_address(list, i);
                if (INTERNET_ADDRESS_IS_GROUP(a)) {
                    InternetAddressList* members =
                        internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a));
                    if (members == nullptr || internet_address_list_length(members) == 0) {
                        continue;
                    }
                    a = internet_address_list_get_address(members, 0);
                }
                if (!INTERNET_ADDRESS_IS_MAILBOX(a)) {
                    continue;
                }
                out.address =
                    clean_line(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
                out.name = clean_line(internet_address_get_name(a));
                return out;
            }
        }
        return out;
    }

    const mail_limits& limits_;
    parsed_mail& mail_;
    warnings& w_;
    std::size_t parts_{0};
};

// Cuts a mail where it would make GMime build more parts than we will read (every
// "--" line may start a part, every boundary= a nesting level): the rest is dropped with
// a warning, so a hostile mail costs bounded memory and time.
std::size_t bounded_length(std::string_view raw, const mail_limits& limits, warnings& w) {
    const std::size_t max_dash_lines = limits.max_parts * 4 + 16;
    const std::size_t max_boundaries = limits.max_depth * 8 + 8;
    std::size_t dash_lines = 0;
    std::size_t boundaries = 0;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        std::size_t end = raw.find('\n', pos);
        if (end == std::string_view::npos) {
            end = raw.size();
        }
        const std::string_view line = raw.substr(pos, end - pos);
        if (line.starts_with("--") && ++dash_lines > max_dash_lines) {
            w.add("too_many_parts",
                  "the mail has more MIME parts than the limit; the rest were "
                  "not read");
            return pos;
        }
        // Only header-like lines can declare a boundary; body lines are long and many.
        if (line.size() < 1024) {
            const std::string l = lower(line);
            for (std::size_t at = l.find("boundary"); at != std::string::npos;
                 at = l.find("boundary", at + 8)) {
                // A declaration is "boundary" then "=" (or "*0=" and the like).
                const auto eq = l.find_first_not_of(" \t*0123456789", at + 8);
                if (eq == std::string::npos || l[eq] != '=') {
                    continue;
                }
                if (++boundaries > max_boundaries) {
                    w.add("too_deep",
                          "the mail declares more multipart boundaries than the "
                          "limit; the rest was not read");
                    return pos;
                }
            }
        }
        pos = end + 1;
    }
    return raw.size();
}

void read_threading(GMimeMessage* msg, GMimeParserOptions* options, parsed_mail& out) {
    out.message_id = clean_line(g_mime_message_get_message_id(msg));
    if (const char* irt = g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To")) {
        const gchar_handle id(g_mime_utils_decode_message_id(irt));
        out.in_reply_to = clean_line(id.get());
    }
    if (const char* refs = g_mime_object_get_header(GMIME_OBJECT(msg), "References")) {
        const references_handle list(g_mime_references_parse(options, refs));
        if (list) {
            const int n = g_mime_references_length(list.get());
            for (int i = 0; i < n && out.references.size() < max_references; ++i) {
                std::string id = clean_line(g_mime_references_get_message_id(list.get(), i));
                if (!id.empty()) {
                    out.references.push_back(std::move(id));
                }
            }
        }
    }
}

void read_date(GMimeMessage* msg, parsed_mail& out, warnings& w) {
    GDateTime* date = g_mime_message_get_date(msg);
    if (date != nullptr) {
        out.date_ms = static_cast<std::int64_t>(g_date_time_to_unix(date)) * 1000 +
                      g_date_time_get_microsecond(date) / 1000;
    } else if (g_mime_object_get_header(GMIME_OBJECT(msg), "Date") != nullptr) {
        w.add("bad_date", "the Date header could not be parsed");
    }
}

// `full_size`: the mail's size when `raw` is only its header block (an oversized mail the
// IMAP source did not fetch whole); 0 when `raw` is the whole mail.
void parse_into(std::string_view raw, std::size_t full_size, const mail_limits& limits,
                parsed_mail& out, warnings& w) {
    init_once();
    const std::size_t size = full_size > 0 ? full_size : raw.size();
    const bool too_large = size > limits.max_message_bytes;
    std::string_view input = raw;
    std::string headers_only;
    if (too_large) {
        w.add("too_large", "the mail is larger than the limit (" + std::to_string(size) + " > " +
                               std::to_string(limits.max_message_bytes) +
                               " bytes); only its headers were read");
        const std::size_t end =
            header_end(raw, std::min(max_header_block, limits.max_message_bytes));
        std::size_t cut = end;
        if (cut == std::string_view::npos) {
            const std::string_view head = raw.substr(0, std::min(max_header_block, raw.size()));
            const std::size_t nl = head.rfind('\n');
            cut = nl == std::string_view::npos ? 0 : nl + 1;
        }
        headers_only.assign(raw.substr(0, cut));
        headers_only += "\n\n";
        input = headers_only;
    } else {
        input = raw.substr(0, bounded_length(raw, limits, w));
    }
    const std::size_t hend = header_end(input, std::min(input.size(), max_header_block));
    const std::string_view header_block = input.substr(
        0, hend == std::string_view::npos ? std::min(input.size(), max_header_block) : hend);
    const std::string_view body_sample =
        hend == std::string_view::npos ? std::string_view{} : input.substr(hend);

    const options_handle options(g_mime_parser_options_new());
    g_mime_parser_options_set_rfc2047_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(options.get(), GMIME_RFC_COMPLIANCE_LOOSE);
    const std::string hcs = header_charset(header_block, body_sample);
    if (!hcs.empty()) {
        w.add("header_charset_detected", "headers carry unlabelled 8-bit text; decoded as " + hcs);
    }
    std::array<const char*, 4> fallback{"utf-8", hcs.empty() ? "windows-1252" : hcs.c_str(),
                                        "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(options.get(), fallback.data());
    g_mime_parser_options_set_warning_callback(options.get(), on_parser_warning, &w);

    const gobject<GMimeStream> stream(
        g_mime_stream_mem_new_with_buffer(input.data(), input.size()));
    const gobject<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    const gobject<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), options.get()));
    if (!msg) {
        w.add("not_a_mail", "the input could not be read as a mail");
        return;
    }
    mail_walker walker(limits, out, w);
    walker.read_headers(msg.get(), out.sender, out.subject);
    read_date(msg.get(), out, w);
    read_threading(msg.get(), options.get(), out);
    if (too_large) {
        return;
    }
    mail_walker::body b;
    walker.walk(g_mime_message_get_mime_part(msg.get()), 0, b);
    out.text = mail_walker::chosen(b);
}

}  // namespace

bool parsed_mail::has_warning(std::string_view code) const {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const mail_warning& w) { return w.code == code; });
}

parsed_mail parse_mail(std::string_view raw, const mail_limits& limits) noexcept {
    return parse_oversized(raw, 0, limits);
}

parsed_mail parse_oversized(std::string_view header_block, std::size_t full_size,
                            const mail_limits& limits) noexcept {
    parsed_mail out;
    try {
        warnings w(out.warnings);
        parse_into(header_block, full_size, limits, out, w);
    } catch (...) {
        // Out of memory, most likely: what was decoded so far is still worth a report.
        try {
            out.warnings.push_back({"internal_error", "parsing stopped early"});
        } catch (...) {
        }
    }
    return out;
}

std::string report_text(const parsed_mail& mail) {
    std::string out = mail.text;
    for (const auto& f : mail.forwards) {
        if (!out.empty()) {
            out += "\n\n";
        }
        out += "---------- Forwarded message ----------\n";
        out += "From: ";
        out += f.sender.name.empty() ? f.sender.address
                                     : f.sender.name + " <" + f.sender.address + ">";
        out += "\nSubject: " + f.subject + "\n\n" + f.text;
    }
    return out;
}

}  // namespace hotline::ingest
