#include "core/form.hpp"

#include <optional>

namespace hotline::core {

namespace {

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Decodes piece (starting at `offset` in the whole input, for the error message).
result<std::string> decode(std::string_view piece, std::size_t offset) {
    std::string out;
    out.reserve(piece.size());
    for (std::size_t i = 0; i < piece.size(); ++i) {
        const char c = piece[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            const int hi = i + 1 < piece.size() ? hex_digit(piece[i + 1]) : -1;
            const int lo = i + 2 < piece.size() ? hex_digit(piece[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return make_error("bad_form", "bad percent escape at offset " +
                                                  std::to_string(offset + i) +
                                                  " (want %XX with two hex digits)");
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

result<form_fields> parse_form(std::string_view input, form_limits limits) {
    if (input.size() > limits.max_bytes) {
        return make_error("bad_form", "form input of " + std::to_string(input.size()) +
                                          " bytes is over the limit of " +
                                          std::to_string(limits.max_bytes));
    }
    form_fields fields;
    std::size_t start = 0;
    while (start <= input.size()) {
        std::size_t end = input.find('&', start);
        if (end == std::string_view::npos) {
            end = input.size();
        }
        const std::string_view piece = input.substr(start, end - start);
        if (!piece.empty()) {
            if (fields.size() == limits.max_fields) {
                return make_error(
                    "bad_form", "more than " + std::to_string(limits.max_fields) + " form fields");
            }
            const std::size_t eq = piece.find('=');
            const std::string_view name = piece.substr(0, eq);
            const std::string_view value =
                eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
            auto decoded_name = decode(name, start);
            if (!decoded_name) {
                return decoded_name.err();
            }
            auto decoded_value = decode(value, start + eq + 1);
            if (!decoded_value) {
                return decoded_value.err();
            }
            fields.emplace_back(std::move(decoded_name).value(), std::move(decoded_value).value());
        }
        start = end + 1;
    }
    return fields;
}

const std::string* form_value(const form_fields& fields, std::string_view name) {
    for (const auto& [key, value] : fields) {
        if (key == name) {
            return &value;
        }
    }
    return nullptr;
}

}  // namespace hotline::core
