#include "ingest/silences.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "ingest/pipeline.hpp"

namespace hotline::ingest {

core::result<rules::matcher> parse_silence_matcher(const std::string& text, std::size_t index) {
    const std::string where = "matchers[" + std::to_string(index) + "]";
    auto m = rules::parse_matcher(text, core::mark{where, 1, 1});
    if (!m) {
        // The rules' context is "<where>:1:<column>": say it in words for an API client.
        const std::string& context = m.err().context;
        const auto colon = context.rfind(':');
        const std::string column =
            colon == std::string::npos ? std::string("1") : context.substr(colon + 1);
        return core::make_error("bad_matcher",
                                where + ", column " + column + ": " + m.err().message);
    }
    return m;
}

silence_set silence_set::compile(const std::vector<store::silence>& list) {
    silence_set out;
    for (const auto& s : list) {
        if (s.expired_at != 0 || s.matchers.empty() || s.ends_at <= s.starts_at) {
            continue;  // expired, purged or empty: silences nothing
        }
        entry e{s.id, s.starts_at, s.ends_at, {}};
        bool ok = true;
        for (std::size_t i = 0; i < s.matchers.size() && ok; ++i) {
            auto m = parse_silence_matcher(s.matchers[i], i);
            if (!m) {
                // The message may quote the matcher's text (a number): the code only.
                spdlog::error("silence={} left out: matcher {} does not parse ({})", s.id, i,
                              m.err().code);
                ok = false;
                continue;
            }
            e.matchers.push_back(std::move(*m));
        }
        if (ok) {
            out.entries_.push_back(std::move(e));
        }
    }
    std::sort(out.entries_.begin(), out.entries_.end(),
              [](const entry& a, const entry& b) { return a.id < b.id; });
    return out;
}

std::optional<std::int64_t> silence_set::match(const domain::report& r) const {
    const std::int64_t at = r.received_at;
    for (const auto& e : entries_) {
        if (at < e.starts_at || at >= e.ends_at) {
            continue;
        }
        const bool all =
            std::all_of(e.matchers.begin(), e.matchers.end(),
                        [&r](const rules::matcher& m) { return rules::matches(m, r); });
        if (all) {
            return e.id;
        }
    }
    return std::nullopt;
}

void reload_silences(store::store& db, pipeline& p, asio::any_io_executor io,
                     std::function<void(core::status)> done) {
    db.list_silences(false, [&p, io, done = std::move(done)](
                                core::result<std::vector<store::silence>> list) mutable {
        asio::post(io, [&p, list = std::move(list), done = std::move(done)]() mutable {
            if (!list) {
                spdlog::error("store failed to list the silences: {}", list.err().describe());
                done(list.err());
                return;
            }
            auto set = silence_set::compile(*list);
            spdlog::info("silences in force or to come: {}", set.size());
            p.set_silences(std::move(set));
            done(core::ok());
        });
    });
}

}  // namespace hotline::ingest
