// HTML mail bodies to plain text for the rules and responders: libxml2's HTML parser (it
// recovers from broken markup the way browsers do), then one walk over the tree.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace hotline::ingest {

struct html_text_limits {
    std::size_t max_input_bytes = 8 * 1024 * 1024;  // more is cut (and truncated is set)
    std::size_t max_output_bytes = 1024 * 1024;
};

struct html_text {
    std::string text;  // valid UTF-8
    bool truncated{false};
};

// `html` must be UTF-8 (decode the part's charset first). Drops <script>, <style>, <head>
// and comments; decodes entities; p, div, br, li, tr, h1-h6 and friends become line
// breaks (paragraphs a blank line); other white space runs collapse to one space;
// <pre> keeps its white space. The walk is iterative: depth costs no stack.
[[nodiscard]] html_text html_to_text(std::string_view html, const html_text_limits& limits = {});

}  // namespace hotline::ingest
