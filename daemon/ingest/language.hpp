// The language of a report's text, for templates and matchers.
#pragma once
#include <string>
#include <string_view>

namespace hotline::ingest {

// "ru" when more than half of the letters are Cyrillic, "en" when more than half are
// Latin, "" otherwise (no letters, mixed, other scripts). Invalid UTF-8 gives "".
[[nodiscard]] std::string guess_language(std::string_view text);

}  // namespace hotline::ingest
