// core/text: the label-name rule, ASCII case-insensitive compare, trim, edit distance.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "core/text.hpp"
#include "core/utf8.hpp"

using hotline::core::edit_distance;
using hotline::core::iequals;
using hotline::core::is_label_name;
using hotline::core::label_name_max;
using hotline::core::trim;
using hotline::core::trim_end;

TEST_CASE("is_label_name: letters, digits, '_', '-', '.'; a letter or '_' first; 1-64 bytes") {
    for (const char* ok : {"a", "Z", "_", "_x", "city", "case.ref", "kind.sub-type_1", "a-b",
                           "a..b", "x9", "A_B.c-D"}) {
        INFO(ok);
        CHECK(is_label_name(ok));
    }
    for (const char* bad :
         {"", "9x", "0", ".x", "-x", "a b", "a/b", "a:b", "a=b", "a\"b",
          "\xd0\xb3\xd0\xbe\xd1\x80\xd0\xbe\xd0\xb4", "x\xc3\xa9", "tab\t", "new\nline"}) {
        INFO(bad);
        CHECK_FALSE(is_label_name(bad));
    }
    CHECK(is_label_name(std::string(label_name_max, 'k')));
    CHECK_FALSE(is_label_name(std::string(label_name_max + 1, 'k')));
    CHECK(label_name_max == 64);
    // An embedded NUL must not end the check early.
    CHECK_FALSE(is_label_name(std::string_view("ab\0c", 4)));
}

TEST_CASE("iequals folds ASCII case only") {
    CHECK(iequals("Content-Type", "content-type"));
    CHECK(iequals("UTF-8", "utf-8"));
    CHECK(iequals("", ""));
    CHECK_FALSE(iequals("utf-8", "utf8"));
    CHECK_FALSE(iequals("a", "ab"));
    CHECK_FALSE(iequals("[", "{"));  // 0x5B vs 0x7B differ by the case bit but are not letters
    CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // É vs é: not ASCII, not folded
}

TEST_CASE("trim and trim_end") {
    CHECK(trim("  a b \t") == "a b");
    CHECK(trim("\t\t") == "");
    CHECK(trim("") == "");
    CHECK(trim("x") == "x");
    CHECK(trim("\r\nk\r\n", "\r\n") == "k");
    CHECK(trim_end("  a  ") == "  a");
    CHECK(trim_end("k3y\r\n\n", "\r\n") == "k3y");
    CHECK(trim_end("\n\n", "\r\n") == "");
    CHECK(trim_end("a\nb\n", "\r\n") == "a\nb");
}

TEST_CASE("edit_distance") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("text", "texts") == 1);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("append_utf8 writes every code point as decode_utf8 reads it back") {
    for (const char32_t c : {U'\0', U'A', U'\x7f', U'\x80', U'ж', U'\x7ff', U'\x800', U'€',
                             U'\xfffd', U'\xffff', U'\x10000', U'😀', U'\x10ffff'}) {
        CAPTURE(static_cast<std::uint32_t>(c));
        std::string out = "x";
        hotline::core::append_utf8(out, c);
        CHECK(hotline::core::is_valid_utf8(out));
        std::size_t pos = 1;
        CHECK(hotline::core::decode_utf8(out, pos) == c);
        CHECK(pos == out.size());
    }
    std::string ru;
    for (const char32_t c : std::u32string(U"Задержан")) {
        hotline::core::append_utf8(ru, c);
    }
    CHECK(ru == "Задержан");
}
