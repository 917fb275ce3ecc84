// Helpers shared by the in-tree channel plugins (smtp, webhook). Internal, header-only:
// this folder has no sources, so CMake builds no module from it, and the public ABI
// stays plugins/include/hotline/channel.h alone (an out-of-tree plugin needs nothing
// from here). Every function is inline: each plugin is its own shared object with
// hidden visibility, so nothing here can clash between modules.
#pragma once

#include <hotline/channel.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace hotline_plugin_support {

inline void set_error(hotline_error* err, std::string_view key, std::string_view message) {
    if (err == nullptr) {
        return;
    }
    std::snprintf(err->key, sizeof err->key, "%.*s", static_cast<int>(key.size()), key.data());
    std::snprintf(err->message, sizeof err->message, "%.*s", static_cast<int>(message.size()),
                  message.data());
}

inline void set_outcome(hotline_outcome* out, int kind, std::string_view detail) {
    out->kind = kind;
    std::snprintf(out->detail, sizeof out->detail, "%.*s", static_cast<int>(detail.size()),
                  detail.data());
}

// A malloc'd copy, because the host frees request fields through free_request.
inline char* dup(std::string_view s) {
    auto* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

inline bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline bool parse_bool(std::string_view v, bool& out) {
    if (v == "true" || v == "1" || v == "yes") {
        out = true;
        return true;
    }
    if (v == "false" || v == "0" || v == "no") {
        out = false;
        return true;
    }
    return false;
}

inline bool is_control(unsigned char u) {
    return u < 0x20 || u == 0x7f;
}

inline bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return is_control(static_cast<unsigned char>(c)); });
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Copies only visible ASCII (0x21..0x7e), truncated to fit with its NUL.
inline void copy_printable(char* dst, std::size_t cap, std::string_view src) {
    std::size_t n = 0;
    for (char c : src) {
        if (n + 1 >= cap) {
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x21 && u < 0x7f) {
            dst[n++] = c;
        }
    }
    dst[n] = '\0';
}

// An option's key or value as a view; the host may pass NULL.
inline std::string_view view_or_empty(const char* s) {
    return s != nullptr ? s : "";
}

// C++ inside, a C ABI outside: an exception unwinding into the host's C frames is
// undefined behaviour, so every entry point runs its body through one of these.
// Anything thrown is reported as `message` and the entry point returns `failed`.
template <class R, class F>
R guarded(hotline_error* err, std::string_view message, R failed, F&& body) noexcept {
    try {
        return body();
    } catch (...) {
        set_error(err, "", message);
        return failed;
    }
}

// The same for classify, which reports through its outcome: a retry, never a loss.
template <class F>
void guarded_classify(hotline_outcome* out, F&& body) noexcept {
    try {
        body();
    } catch (...) {
        set_outcome(out, HOTLINE_RETRY, "classifier ran out of memory");
    }
}

// The answer to hotline_channel_abi for a plugin that speaks ABI v1 only.
inline uint32_t pick_abi_v1(const uint32_t* offered, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (offered[i] == HOTLINE_CHANNEL_ABI_V1) {
            return HOTLINE_CHANNEL_ABI_V1;
        }
    }
    return 0;
}

}  // namespace hotline_plugin_support
