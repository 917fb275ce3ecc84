// The language of a report's text, for templates and matchers.
#pragma once
#include <string>
#include <string_view>

namespace hotline::ingest {

// "ru" when more than half of the letters are Cyrillic, "en" when more than half are
// Latin, "" otherwise (no letters, mixed, other scripts). Invalid UTF-8 gives "".
[[nodiscard]] std::string guess_language(std::string_view text);

// The language of a mail's text from CLD2 (Compact Language Detector 2): an ISO 639-1
// code ("ru", "uk", "be", "kk", "en", ...) or "und" when there is no text, no letters,
// or CLD2 is not sure (a two-word text often is: "Help me" gives "und"). CLD2 rather than
// libexttextcat: on short sentences CLD2 tells Russian, Ukrainian and Belarusian apart, while
// textcat answers "ru, rue, uk" for a Ukrainian sentence (tests/unit/ingest_mime_test.cpp has the
// sentences). Only the first 64 KiB count; invalid UTF-8 gives "und".
[[nodiscard]] std::string detect_language(std::string_view text);

}  // namespace hotline::ingest
