#include "rules/reply.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "core/utf8.hpp"

namespace hotline::rules {

namespace {

using kind = reply_command::kind;

// Separators: ASCII white space, the Unicode spaces phones insert (no-break, thin, ideographic)
// and the invisible ones (zero-width space and joiners, word joiner, BOM).
bool is_space(char32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == 0x00A0 || (c >= 0x2000 && c <= 0x200D) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF;
}

// Punctuation tolerated around a command ("ACK 42.", "Принял!", "ok, 1234").
bool is_edge_punctuation(char32_t c) {
    return c == '.' || c == '!' || c == '?' || c == ',' || c == ';' || c == ':' ||
           c == 0x2026 /* … */ || c == 0xFF01 /* ！ */;
}

// Upper case for ASCII and Russian Cyrillic, then the Cyrillic capitals that look like Latin
// ones become those Latin letters, so "АСК" typed in Cyrillic is "ACK" and the Russian
// keywords, folded the same way, compare equal whatever mix of scripts was typed.
char32_t fold(char32_t c) {
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 'A';
    }
    if (c >= 0x0430 && c <= 0x044F) {  // а..я
        c = c - 0x0430 + 0x0410;
    } else if (c == 0x0451 || c == 0x0401) {  // ё, Ё
        c = 0x0415;                           // Е
    }
    switch (c) {
        case 0x0410: return 'A';  // А
        case 0x0412: return 'B';  // В
        case 0x0415: return 'E';  // Е
        case 0x041A: return 'K';  // К
        case 0x041C: return 'M';  // М
        case 0x041D: return 'H';  // Н
        case 0x041E: return 'O';  // О
        case 0x0420: return 'P';  // Р
        case 0x0421: return 'C';  // С
        case 0x0422: return 'T';  // Т
        case 0x0423: return 'Y';  // У
        case 0x0425: return 'X';  // Х
        default: return c;
    }
}

// The folded words of `text`, split at spaces and commas, without the punctuation around
// the whole text; nullopt for invalid UTF-8.
std::optional<std::vector<std::string>> folded_words(std::string_view text) {
    std::vector<char32_t> points;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = core::decode_utf8(text, pos);
        if (c == core::invalid_code_point) {
            return std::nullopt;
        }
        points.push_back(c);
    }
    std::size_t begin = 0;
    std::size_t end = points.size();
    while (begin < end && (is_space(points[begin]) || is_edge_punctuation(points[begin]))) {
        ++begin;
    }
    while (end > begin && (is_space(points[end - 1]) || is_edge_punctuation(points[end - 1]))) {
        --end;
    }
    std::vector<std::string> words;
    std::string word;
    for (std::size_t i = begin; i < end; ++i) {
        const char32_t c = points[i];
        if (is_space(c) || c == ',') {
            if (!word.empty()) {
                words.push_back(std::move(word));
                word.clear();
            }
            continue;
        }
        core::append_utf8(word, fold(c));
    }
    if (!word.empty()) {
        words.push_back(std::move(word));
    }
    return words;
}

std::string folded(std::string_view word) {
    auto words = folded_words(word);
    return words && words->size() == 1 ? words->front() : std::string();
}

bool is_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "42" or "#42": 1 .. 10^12 (leading zeros allowed, at most 13 digits).
std::optional<std::int64_t> case_number(std::string_view s) {
    if (!s.empty() && s.front() == '#') {
        s.remove_prefix(1);
    }
    if (!is_digits(s) || s.size() > 13) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (const char c : s) {
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > max_reply_case_id) {
        return std::nullopt;
    }
    return value;
}

struct keyword {
    std::string_view written;
    kind action;
};

// Words that name a case action; each may stand alone, before or after a case number.
constexpr std::array<keyword, 8> case_words{{
    {"ACK", kind::ack},
    {"ПРИНЯЛ", kind::ack},
    {"ПРИНЯЛА", kind::ack},
    {"ПРИНЯТО", kind::ack},
    {"RESOLVE", kind::resolve},
    {"ЗАКРЫТЬ", kind::resolve},
    {"РЕШЕНО", kind::resolve},
    {"ЗАКРЫТО", kind::resolve},
}};

std::optional<kind> case_word(const std::string& w) {
    static const auto table = [] {
        std::vector<std::pair<std::string, kind>> out;
        for (const auto& k : case_words) {
            out.emplace_back(folded(k.written), k.action);
        }
        return out;
    }();
    for (const auto& [word, action] : table) {
        if (w == word) {
            return action;
        }
    }
    return std::nullopt;
}

// "42a", "#42r": a case number glued to the one-letter form (Cyrillic а folds to A).
std::optional<reply_command> short_form(const std::string& number, const std::string& letter) {
    auto id = case_number(number);
    if (!id) {
        return std::nullopt;
    }
    if (letter == "A") {
        return reply_command{kind::ack, id, {}, {}};
    }
    if (letter == "R") {
        return reply_command{kind::resolve, id, {}, {}};
    }
    return std::nullopt;
}

// "6h", "30m", "1d", "6ч", "2д" (one word or two: "6 h"), 1 to 4 digits, not 0.
std::optional<std::string> duration_of(const std::vector<std::string>& words, std::size_t from) {
    std::string joined;
    for (std::size_t i = from; i < words.size(); ++i) {
        joined += words[i];
    }
    if (words.size() - from > 2 || joined.empty()) {
        return std::nullopt;
    }
    std::size_t digits = 0;
    while (digits < joined.size() && joined[digits] >= '0' && joined[digits] <= '9') {
        ++digits;
    }
    if (digits == 0 || digits > 4 || joined.find_first_not_of('0') >= digits) {
        return std::nullopt;
    }
    const std::string unit = joined.substr(digits);
    static const std::string hours_ru = folded("ч");
    static const std::string days_ru = folded("д");
    char ascii = 0;
    if (unit == "M") {  // Latin m and Cyrillic м fold alike
        ascii = 'm';
    } else if (unit == "H" || unit == hours_ru) {
        ascii = 'h';
    } else if (unit == "D" || unit == days_ru) {
        ascii = 'd';
    } else {
        return std::nullopt;
    }
    return joined.substr(0, digits) + ascii;
}

bool is_word(const std::string& w, std::string_view written) {
    return w == folded(written);
}

std::optional<reply_command> checkin_command(const std::vector<std::string>& w) {
    if (w[0] == "OK") {
        if (w.size() == 1) {
            return reply_command{kind::checkin, std::nullopt, {}, {}};
        }
        if (w.size() == 2 && is_digits(w[1]) && w[1].size() >= 3 && w[1].size() <= 12) {
            return reply_command{kind::checkin, std::nullopt, w[1], {}};
        }
        return std::nullopt;
    }
    const bool checkin = is_word(w[0], "CHECKIN") || is_word(w[0], "CHECK-IN");
    const bool marks = is_word(w[0], "ОТМЕТКИ");
    const auto is_checkin_word = [](const std::string& x) {
        return is_word(x, "CHECKIN") || is_word(x, "CHECK-IN");
    };
    if (w.size() == 2 && ((checkin && is_word(w[1], "STOP")) || (marks && is_word(w[1], "СТОП")) ||
                          (is_word(w[0], "STOP") && is_checkin_word(w[1])) ||
                          (is_word(w[0], "ЗАВЕРШИТЬ") && is_word(w[1], "ОТМЕТКИ")))) {
        return reply_command{kind::checkin_stop, std::nullopt, {}, {}};
    }
    std::size_t rest = 0;
    if (checkin || marks) {
        rest = 1;
        if (checkin && w.size() > 1 && is_word(w[1], "START")) {
            rest = 2;
        }
    } else if (w.size() >= 2 && ((is_word(w[0], "START") && is_checkin_word(w[1])) ||
                                 (is_word(w[0], "НАЧАТЬ") && is_word(w[1], "ОТМЕТКИ")))) {
        rest = 2;
    } else {
        return std::nullopt;
    }
    if (rest == w.size()) {
        return reply_command{kind::checkin_start, std::nullopt, {}, {}};
    }
    auto d = duration_of(w, rest);
    if (!d) {
        return std::nullopt;
    }
    return reply_command{kind::checkin_start, std::nullopt, {}, std::move(*d)};
}

// A line's text without the white space around it (ASCII and no-break spaces).
std::string_view trim_line(std::string_view s) {
    const auto space_at_front = [&] {
        if (s.empty()) {
            return std::size_t{0};
        }
        if (s.front() == ' ' || s.front() == '\t' || s.front() == '\r') {
            return std::size_t{1};
        }
        return s.substr(0, 2) == "\xC2\xA0" ? std::size_t{2} : std::size_t{0};
    };
    const auto space_at_back = [&] {
        if (s.empty()) {
            return std::size_t{0};
        }
        if (s.back() == ' ' || s.back() == '\t' || s.back() == '\r') {
            return std::size_t{1};
        }
        return s.size() >= 2 && s.substr(s.size() - 2) == "\xC2\xA0" ? std::size_t{2}
                                                                     : std::size_t{0};
    };
    for (std::size_t n = space_at_front(); n != 0; n = space_at_front()) {
        s.remove_prefix(n);
    }
    for (std::size_t n = space_at_back(); n != 0; n = space_at_back()) {
        s.remove_suffix(n);
    }
    return s;
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

bool starts_with(std::string_view s, std::string_view head) {
    return s.substr(0, head.size()) == head;
}

// "On Mon, 3 Dec 2026 at 10:00, Hotline <x@y> wrote:", Russian clients' "... пишет:",
// "... написал:", "... написал(а):", "... написала:".
bool is_attribution_end(std::string_view line) {
    return ends_with(line, "wrote:") || ends_with(line, "пишет:") || ends_with(line, "написал:") ||
           ends_with(line, "написала:") || ends_with(line, "написал(а):");
}

// Where the quoted original starts in clients that do not quote with "> ".
bool is_original_marker(std::string_view line) {
    const auto dashes = [](std::string_view l) {
        return starts_with(l, "-----") && ends_with(l, "-----");
    };
    return (dashes(line) && (line.find("Original Message") != std::string_view::npos ||
                             line.find("Исходное сообщение") != std::string_view::npos ||
                             line.find("Пересылаемое сообщение") != std::string_view::npos ||
                             line.find("Forwarded message") != std::string_view::npos)) ||
           (line.size() >= 10 && line.find_first_not_of('_') == std::string_view::npos) ||
           line == "--";
}

}  // namespace

std::optional<reply_command> parse_reply(std::string_view text) {
    if (text.size() > max_reply_bytes) {
        return std::nullopt;
    }
    const auto parsed = folded_words(text);
    if (!parsed || parsed->empty() || parsed->size() > 4) {
        return std::nullopt;
    }
    const std::vector<std::string>& w = *parsed;
    if (w.size() == 1) {
        if (auto action = case_word(w[0])) {
            return reply_command{*action, std::nullopt, {}, {}};
        }
        // "42a", "#42r"
        const std::string& word = w[0];
        if (word.size() >= 2) {
            if (auto c =
                    short_form(word.substr(0, word.size() - 1), word.substr(word.size() - 1))) {
                return c;
            }
        }
    }
    if (w.size() == 2) {
        // "ACK 42", "ACK #42", "42 ПРИНЯЛ"
        if (auto action = case_word(w[0])) {
            if (auto id = case_number(w[1])) {
                return reply_command{*action, id, {}, {}};
            }
            return std::nullopt;
        }
        if (auto action = case_word(w[1])) {
            if (auto id = case_number(w[0])) {
                return reply_command{*action, id, {}, {}};
            }
            return std::nullopt;
        }
        // "42 a"
        if (auto c = short_form(w[0], w[1])) {
            return c;
        }
    }
    return checkin_command(w);
}

std::string first_unquoted_line(std::string_view body) {
    while (!body.empty()) {
        const auto nl = body.find('\n');
        const std::string_view raw = body.substr(0, nl);
        body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
        // A signature starts at "-- " exactly (RFC 3676); other lines are trimmed first.
        if (raw == "-- " || raw == "-- \r") {
            return {};
        }
        const std::string_view line = trim_line(raw);
        if (line.empty() || line.front() == '>') {
            continue;
        }
        if (is_original_marker(line)) {
            return {};
        }
        if (is_attribution_end(line)) {
            continue;
        }
        // Clients wrap a long attribution: "On Mon, ... Hotline <" / "hotline@x> wrote:".
        if (starts_with(line, "On ") || starts_with(line, "Le ") || starts_with(line, "Am ")) {
            const auto next_nl = body.find('\n');
            const std::string_view next = trim_line(body.substr(0, next_nl));
            if (is_attribution_end(next)) {
                body = next_nl == std::string_view::npos ? std::string_view()
                                                         : body.substr(next_nl + 1);
                continue;
            }
        }
        return std::string(line);
    }
    return {};
}

}  // namespace hotline::rules
