#include "ingest/html_text.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <array>
#include <climits>
#include <cstring>

#include "core/c_handle.hpp"
#include "core/utf8.hpp"
#include "ingest/charset.hpp"

namespace hotline::ingest {
namespace {

using doc_handle = core::c_handle<xmlDoc, xmlFreeDoc>;

enum class breaks { none, line, paragraph };

bool named(const xmlNode* n, std::string_view name) {
    return n->name != nullptr && reinterpret_cast<const char*>(n->name) == name;
}

bool skipped(const xmlNode* n) {
    for (const std::string_view name :
         {"script", "style", "head", "title", "template", "noscript", "object", "svg"}) {
        if (named(n, name)) {
            return true;
        }
    }
    return false;
}

breaks block_break(const xmlNode* n) {
    for (const std::string_view name : {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                                        "pre", "table", "ul", "ol", "dl", "hr"}) {
        if (named(n, name)) {
            return breaks::paragraph;
        }
    }
    for (const std::string_view name :
         {"br", "div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "address",
          "center", "form", "fieldset", "caption", "body"}) {
        if (named(n, name)) {
            return breaks::line;
        }
    }
    return breaks::none;
}

class text_builder {
public:
    explicit text_builder(std::size_t max) : max_(max) {}

    void request_break(breaks b) {
        if (static_cast<int>(b) > static_cast<int>(pending_break_)) {
            pending_break_ = b;
        }
    }

    void cell() { pending_space_ = true; }

    void text(std::string_view s, bool preformatted) {
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (full_) {
                return;
            }
            char c = s[i];
            // &nbsp; (U+00A0) is white space to a reader; mail HTML is full of it.
            if (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') {
                c = ' ';
                ++i;
            }
            const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
            if (preformatted) {
                if (c == '\n') {
                    flush_pending();
                    put('\n');
                    at_line_start_ = true;
                } else if (c != '\r') {
                    flush_pending();
                    put(c);
                    at_line_start_ = false;
                }
                continue;
            }
            if (space) {
                pending_space_ = true;
                continue;
            }
            flush_pending();
            put(c);
            at_line_start_ = false;
        }
    }

    [[nodiscard]] bool full() const { return full_; }

    std::string take() {
        while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) {
            out_.pop_back();
        }
        // The cut at max_ may have split a character.
        repair_utf8(out_);
        return std::move(out_);
    }

private:
    void flush_pending() {
        if (out_.empty()) {
            pending_break_ = breaks::none;
            pending_space_ = false;
            return;
        }
        if (pending_break_ != breaks::none) {
            while (!out_.empty() && out_.back() == ' ') {
                out_.pop_back();
            }
            const std::size_t want = pending_break_ == breaks::paragraph ? 2 : 1;
            std::size_t have = 0;
            for (auto it = out_.rbegin(); it != out_.rend() && *it == '\n'; ++it) {
                ++have;
            }
            for (; have < want; ++have) {
                put('\n');
            }
            at_line_start_ = true;
        } else if (pending_space_ && !at_line_start_) {
            put(' ');
        }
        pending_break_ = breaks::none;
        pending_space_ = false;
    }

    void put(char c) {
        if (out_.size() >= max_) {
            full_ = true;
            return;
        }
        out_.push_back(c);
    }

    std::size_t max_;
    std::string out_;
    breaks pending_break_{breaks::none};
    bool pending_space_{false};
    bool at_line_start_{true};
    bool full_{false};
};

// libxml2 prints parse errors to stderr by default: mail is full of them, and they may
// quote the mail.
void ignore_error(void* /*ctx*/, const char* /*msg*/, ...) {}

}  // namespace

html_text html_to_text(std::string_view html, const html_text_limits& limits) {
    html_text out;
    if (html.size() > limits.max_input_bytes) {
        html = html.substr(0, limits.max_input_bytes);
        out.truncated = true;
    }
    if (html.empty()) {
        return out;
    }
    if (html.size() > static_cast<std::size_t>(INT_MAX)) {
        html = html.substr(0, INT_MAX);
    }
    xmlSetGenericErrorFunc(nullptr, ignore_error);
    // No HTML_PARSE_HUGE: libxml2 keeps its own limits on depth and text node size.
    const doc_handle doc(
        htmlReadMemory(html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                           HTML_PARSE_NONET | HTML_PARSE_COMPACT));
    if (!doc) {
        return out;
    }
    text_builder b(limits.max_output_bytes);
    // Iterative pre-order walk over children/next/parent: no recursion, no stack.
    const xmlNode* root = reinterpret_cast<const xmlNode*>(doc.get());
    const xmlNode* n = root->children;
    int pre_depth = 0;
    while (n != nullptr && !b.full()) {
        bool descend = false;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content != nullptr) {
                b.text(reinterpret_cast<const char*>(n->content), pre_depth > 0);
            }
        } else if (n->type == XML_ELEMENT_NODE && !skipped(n)) {
            b.request_break(block_break(n));
            if (named(n, "td") || named(n, "th")) {
                b.cell();
            }
            if (named(n, "pre")) {
                ++pre_depth;
            }
            descend = n->children != nullptr;
            if (!descend && named(n, "pre")) {
                --pre_depth;
            }
        }
        if (descend) {
            n = n->children;
            continue;
        }
        // Leave finished elements (closing their blocks) until one has a next sibling.
        while (n != nullptr && n->next == nullptr) {
            n = n->parent;
            if (n == nullptr || n == root) {
                n = nullptr;
                break;
            }
            if (n->type == XML_ELEMENT_NODE) {
                b.request_break(block_break(n));
                if (named(n, "pre")) {
                    --pre_depth;
                }
            }
        }
        if (n != nullptr) {
            n = n->next;
        }
    }
    out.truncated = out.truncated || b.full();
    out.text = b.take();
    return out;
}

}  // namespace hotline::ingest
