#include "http/raw_request.hpp"

#include <charconv>

#include "core/text.hpp"

namespace hotline::http {
namespace {

// One line without its CR LF (or LF); advances `pos` past it. False at the end.
bool next_line(std::string_view s, std::size_t& pos, std::string_view& line) {
    if (pos >= s.size()) {
        return false;
    }
    const auto lf = s.find('\n', pos);
    const auto end = lf == std::string_view::npos ? s.size() : lf;
    line = s.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    pos = lf == std::string_view::npos ? s.size() : lf + 1;
    return true;
}

core::error bad(const std::string& why) {
    return core::make_error("bad_request", why);
}

}  // namespace

core::result<raw_request> parse_raw_request(std::string_view bytes) {
    raw_request out;
    std::size_t pos = 0;
    std::string_view line;
    if (!next_line(bytes, pos, line) || line.empty()) {
        return bad("no request line");
    }
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
        return bad("the request line is not \"METHOD TARGET HTTP/1.x\"");
    }
    out.method = std::string(line.substr(0, sp1));
    out.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    if (out.target.empty() || out.target.front() != '/') {
        return bad("the target must be an absolute path");
    }
    bool ended = false;
    while (next_line(bytes, pos, line)) {
        if (line.empty()) {
            ended = true;
            break;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 ||
            line.substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
            return bad("a malformed header line");
        }
        out.headers.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(core::trim(line.substr(colon + 1))));
        if (out.headers.size() > 200) {
            return bad("more than 200 headers");
        }
    }
    const std::string_view rest = ended ? bytes.substr(pos) : std::string_view{};
    std::string_view length;
    for (const auto& [k, v] : out.headers) {
        if (core::iequals(k, "Transfer-Encoding") && !core::iequals(v, "identity")) {
            return bad("chunked bodies are not replayed: save the request with Content-Length");
        }
        if (core::iequals(k, "Content-Length")) {
            length = v;
        }
    }
    if (length.empty()) {
        out.body = std::string(rest);
        return out;
    }
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (ec != std::errc{} || end != length.data() + length.size()) {
        return bad("Content-Length is not a number");
    }
    if (n > rest.size()) {
        return bad("the body is shorter than Content-Length");
    }
    out.body = std::string(rest.substr(0, n));
    return out;
}

}  // namespace hotline::http
