#include "ingest/imap_source.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "ingest/mail_report.hpp"
#include "ingest/mime.hpp"
#include "ingest/threading.hpp"

namespace hotline::ingest {
namespace {

constexpr std::int64_t min_backoff_ms = 1'000;
constexpr std::int64_t max_backoff_ms = 300'000;
// A batch: fetched with one UID FETCH, submitted together (one group commit), flagged with
// one UID STORE. Bounded in count and bytes so a mailbox of big mails does not pile up
// in memory (libetpan holds a whole FETCH answer).
constexpr std::size_t batch_mails = 64;
constexpr std::size_t batch_bytes = 16 * 1024 * 1024;
constexpr std::size_t uids_per_command = 500;
// A store failure or a deadline (not a limit with its own Retry-After): retry this soon.
constexpr std::int64_t store_retry_ms = 5'000;
// How often a wait for the io thread looks at stopping_ (stop() does not know the waits).
constexpr std::chrono::milliseconds wake_check{100};

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

net::imap::tls_mode tls_of(const std::string& t) {
    if (t == "none") {
        return net::imap::tls_mode::none;
    }
    return t == "starttls" ? net::imap::tls_mode::starttls : net::imap::tls_mode::tls;
}

// A value delivered on the io thread (a store or pipeline completion) to the source
// thread, which waits for it unless the source is stopping. Shared, so a completion that
// runs after the source gave up waiting still has somewhere to write.
template <class T>
struct handoff {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<T> value;

    void set(T v) {
        {
            const std::lock_guard lock(mu);
            value = std::move(v);
        }
        cv.notify_all();
    }
};

// Starts a store operation (`start` gets its completion) and waits on this thread for what
// it delivers on the io thread; nullopt when the source is stopping meanwhile.
template <class T, class Start>
std::optional<T> wait_for_store(const std::atomic<bool>& stopping, Start start) {
    auto got = std::make_shared<handoff<T>>();
    start([got](T v) { got->set(std::move(v)); });
    std::unique_lock lock(got->mu);
    while (!got->value.has_value() && !stopping) {
        got->cv.wait_for(lock, wake_check);
    }
    if (stopping) {
        return std::nullopt;
    }
    return std::move(got->value);
}

// Outcome of one mail's submit.
struct submit_outcome {
    enum class kind { stored, duplicate, refused, failed } what{kind::failed};
    std::int64_t retry_after_ms{};
    std::int64_t report_id{};
    std::int64_t case_id{};
    bool joined{false};
};

struct batch_state {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left{0};
    std::vector<submit_outcome> outcomes;

    void set(std::size_t i, submit_outcome o) {
        {
            const std::lock_guard lock(mu);
            outcomes[i] = o;
            --left;
        }
        cv.notify_all();
    }
};

std::string join_uids(const std::vector<std::uint32_t>& uids) {
    std::string out;
    for (const auto u : uids) {
        if (!out.empty()) {
            out += ',';
        }
        out += std::to_string(u);
    }
    return out;
}

}  // namespace

imap_source::imap_source(std::shared_ptr<const config::config> cfg,
                         const config::source_config& source, asio::any_io_executor io,
                         pipeline& pipeline, store::store& db, core::metrics& metrics)
    : cfg_(std::move(cfg)),
      source_(source),
      io_(std::move(io)),
      pipeline_(pipeline),
      db_(db),
      metrics_(metrics) {
    metrics_.describe_gauge("hotline_source_up",
                            "1 while a pulling source (IMAP) is connected and watching, by source");
    metrics_.describe_counter("hotline_source_errors_total",
                              "Failures of a pulling source's connection, by source and reason "
                              "(connect, tls, auth, mailbox, timeout, protocol, closed)");
    metrics_.describe_counter("hotline_source_mails_total",
                              "Mails a pulling source looked at, by source and outcome (stored, "
                              "duplicate, known, deferred, gone)");
    metrics_.gauge_set("hotline_source_up", {{"source", source_.name}}, 0);
    if (const char* d = std::getenv("HOTLINE_TEST_IMAP_FLAG_DELAY_MS"); d != nullptr) {
        flag_delay_ms_ = std::strtoll(d, nullptr, 10);
    }
    status_.state = "starting";
    status_.since_ms = wall_ms();
}

imap_source::~imap_source() {
    stop();
}

void imap_source::start() {
    if (thread_.joinable()) {
        return;
    }
    stopping_ = false;
    stop_.reset();
    thread_ = std::thread([this] { run(); });
}

void imap_source::set_config(std::shared_ptr<const config::config> cfg) {
    const std::lock_guard lock(cfg_mu_);
    cfg_ = std::move(cfg);
}

void imap_source::request_stop() {
    stopping_ = true;
    stop_.interrupt();
}

void imap_source::stop() {
    request_stop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

imap_source::status imap_source::current() const {
    const std::lock_guard lock(status_mu_);
    return status_;
}

void imap_source::set_state(std::string state, bool up, const std::string& error) {
    // Logged once per change of state that matters to an admin: up, or down with a new
    // reason. Reconnect attempts while down and idle/fetching turns are debug only, so a
    // server that stays down, or a busy mailbox, does not fill the log.
    bool notable = false;
    bool changed = false;
    {
        const std::lock_guard lock(status_mu_);
        changed = status_.state != state || status_.up != up ||
                  (!error.empty() && status_.last_error != error);
        notable = status_.up != up || (!error.empty() && status_.last_error != error) ||
                  status_.state == "starting";
        if (changed) {
            status_.state = state;
            status_.up = up;
            if (!error.empty() || up) {
                status_.last_error = error;
            }
            status_.since_ms = wall_ms();
        }
    }
    metrics_.gauge_set("hotline_source_up", {{"source", source_.name}}, up ? 1 : 0);
    if (!changed) {
        return;
    }
    if (!notable) {
        spdlog::debug("imap source={} {}", source_.name, state);
    } else if (!error.empty()) {
        spdlog::warn("imap source={} {} reason={}", source_.name, state, error);
    } else {
        spdlog::info("imap source={} {}{}", source_.name, up ? "up " : "", state);
    }
}

bool imap_source::pause(std::int64_t ms) {
    if (stopping_) {
        return false;
    }
    pollfd p{stop_.fd(), POLLIN, 0};
    const int timeout = static_cast<int>(std::clamp<std::int64_t>(ms, 0, 24 * 3600 * 1000));
    (void)::poll(&p, 1, timeout);
    return !stopping_;
}

void imap_source::run() {
    core::name_this_thread("imap:" + source_.name);
    // Where this source stands: loaded once; from here on this thread keeps it.
    {
        using loaded = core::result<std::optional<std::string>>;
        const auto got = wait_for_store<loaded>(
            stopping_, [this](auto done) { db_.load_cursor(source_.name, std::move(done)); });
        if (!got) {
            return;
        }
        if (!*got) {
            spdlog::error("imap source={} cannot read its cursor: {}", source_.name,
                          got->err().describe());
        } else if (**got) {
            const auto j = nlohmann::json::parse(***got, nullptr, false);
            if (j.is_object() && j.value("uidvalidity", 0U) != 0) {
                cursor_.uidvalidity = j.value("uidvalidity", 0U);
                cursor_.uid = j.value("uid", 0U);
                cursor_.known = true;
            }
        }
    }
    net::imap::endpoint ep;
    ep.host = source_.imap.host;
    ep.port = source_.imap.port;
    ep.tls = tls_of(source_.imap.tls);
    ep.username = source_.imap.username;
    ep.password = source_.imap.password.value;
    ep.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(source_.imap.timeout);
    ep.ca_file = source_.imap.ca_file;
    std::int64_t backoff = min_backoff_ms;
    while (!stopping_) {
        set_state("connecting", false);
        auto s = net::imap::session::connect(ep, stop_);
        core::status outcome = s ? serve(**s) : core::status(s.err());
        if (stopping_) {
            if (s) {
                (*s)->logout();
            }
            break;
        }
        if (s) {
            (*s)->logout();
        }
        const auto& err = outcome.err();
        metrics_.counter_add("hotline_source_errors_total",
                             {{"source", source_.name}, {"reason", err.code}});
        // A session that was up and watching failed: start over at the shortest wait.
        if (current().up) {
            backoff = min_backoff_ms;
        }
        set_state("down", false, err.code);
        spdlog::debug("imap source={} failure: {}", source_.name, err.describe());
        if (!pause(backoff)) {
            break;
        }
        backoff = std::min(backoff * 2, max_backoff_ms);
    }
    set_state("stopped", false);
}

core::status imap_source::serve(net::imap::session& s) {
    auto st = s.select(source_.imap.mailbox);
    if (!st) {
        return st.err();
    }
    if (!source_.imap.move_to.empty()) {
        if (auto c = s.create(source_.imap.move_to); !c) {
            return c;
        }
    }
    const std::uint32_t uidvalidity = st->uidvalidity;
    const bool rescan = cursor_.known && cursor_.uidvalidity != uidvalidity;
    if (rescan) {
        spdlog::warn(
            "imap source={} mailbox was recreated (uidvalidity {} -> {}): looking at every mail "
            "in it again; the ones already stored are only flagged",
            source_.name, cursor_.uidvalidity, uidvalidity);
        deferred_.clear();
    }
    set_state("fetching", true);
    // The first pass after connecting also looks below the cursor: mails a crash left
    // unflagged (seen), or every mail still in the mailbox (move).
    std::vector<std::uint32_t> first;
    std::uint32_t top = st->uidnext > 0 ? st->uidnext - 1 : 0;
    if (rescan || !source_.imap.move_to.empty()) {
        auto all = s.uids_from(1);
        if (!all) {
            return all.err();
        }
        first = std::move(*all);
    } else {
        auto unseen = s.unseen();
        if (!unseen) {
            return unseen.err();
        }
        first = std::move(*unseen);
        if (cursor_.known) {
            auto above = s.uids_from(cursor_.uid + 1);
            if (!above) {
                return above.err();
            }
            first.insert(first.end(), above->begin(), above->end());
        }
    }
    for (const auto u : first) {
        top = std::max(top, u);
    }
    if (auto t = take(s, uidvalidity, std::move(first), rescan); !t) {
        return t;
    }
    if (!cursor_.known || cursor_.uidvalidity != uidvalidity) {
        // First contact (or the rescan is done): mails already read by a person before
        // hotline first looked are not taken; everything that arrives from now on is.
        cursor_.uidvalidity = uidvalidity;
        cursor_.uid = top;
        cursor_.known = true;
        db_.save_cursor(
            source_.name,
            nlohmann::json{{"uidvalidity", cursor_.uidvalidity}, {"uid", cursor_.uid}}.dump(),
            [](core::status) {});
    }
    const auto poll_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(source_.imap.poll_interval).count();
    // Search before every wait, never only after one: a mail that arrived while this
    // session was busy (its EXISTS came with a FETCH or STORE answer, not during IDLE)
    // would otherwise wait for the next change or poll_interval. A mail appended after the
    // search is announced when IDLE starts.
    while (!stopping_) {
        auto above = s.uids_from(cursor_.uid + 1);
        if (!above) {
            return above.err();
        }
        std::vector<std::uint32_t> uids = std::move(*above);
        const std::int64_t now = steady_ms();
        for (const auto& [uid, at] : deferred_) {
            if (at <= now) {
                uids.push_back(uid);
            }
        }
        if (!uids.empty()) {
            set_state("fetching", true);
            if (auto t = take(s, uidvalidity, std::move(uids), false); !t) {
                return t;
            }
            continue;
        }
        set_state(s.has_idle() ? "idle" : "polling", true);
        std::int64_t wait = poll_ms;
        if (!deferred_.empty()) {
            std::int64_t soonest = deferred_.begin()->second;
            for (const auto& [uid, at] : deferred_) {
                soonest = std::min(soonest, at);
            }
            wait = std::clamp<std::int64_t>(soonest - now, 0, poll_ms);
        }
        if (s.has_idle()) {
            auto r = s.idle(std::chrono::milliseconds(std::max<std::int64_t>(wait, 1)));
            if (!r) {
                return r.err();
            }
        } else {
            if (!pause(wait)) {
                break;
            }
            if (auto n = s.noop(); !n) {
                return n;
            }
        }
    }
    return core::make_error("interrupted", "stopping");
}

core::status imap_source::take(net::imap::session& s, std::uint32_t uidvalidity,
                               std::vector<std::uint32_t> uids, bool rescan) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    if (uids.empty()) {
        return core::ok();
    }
    const auto& m = source_.imap;
    mail_limits limits;
    limits.max_message_bytes = m.max_message_size;
    limits.max_attachment_bytes = m.max_attachment_size;
    std::string prefix;
    {
        const std::lock_guard lock(cfg_mu_);
        prefix = cfg_->case_tag_prefix;
    }

    for (std::size_t from = 0; from < uids.size() && !stopping_; from += uids_per_command) {
        const std::vector<std::uint32_t> chunk(
            uids.begin() + static_cast<std::ptrdiff_t>(from),
            uids.begin() +
                static_cast<std::ptrdiff_t>(std::min(uids.size(), from + uids_per_command)));
        auto sizes = s.sizes(chunk);
        if (!sizes) {
            return sizes.err();
        }
        {
            // Gone between the search and the fetch (deleted by a person): nothing to take.
            std::set<std::uint32_t> present;
            for (const auto& ms : *sizes) {
                present.insert(ms.uid);
            }
            for (const auto u : chunk) {
                if (present.count(u) == 0) {
                    deferred_.erase(u);
                    metrics_.counter_add("hotline_source_mails_total",
                                         {{"source", source_.name}, {"outcome", "gone"}});
                }
            }
        }
        std::size_t i = 0;
        while (i < sizes->size() && !stopping_) {
            // One batch: whole mails up to the bounds, oversized ones by their headers only.
            std::vector<std::uint32_t> whole;
            std::vector<std::uint32_t> heads;
            std::map<std::uint32_t, std::size_t> size_of;
            std::size_t bytes = 0;
            while (i < sizes->size() && whole.size() + heads.size() < batch_mails) {
                const auto& ms = (*sizes)[i];
                const bool big = ms.size > m.max_message_size;
                const std::size_t cost = big ? 64 * 1024 : ms.size;
                if (!whole.empty() && bytes + cost > batch_bytes) {
                    break;
                }
                (big ? heads : whole).push_back(ms.uid);
                size_of[ms.uid] = ms.size;
                bytes += cost;
                ++i;
            }
            std::vector<net::imap::message> mails;
            if (!whole.empty()) {
                auto got = s.fetch(whole);
                if (!got) {
                    return got.err();
                }
                mails = std::move(*got);
            }
            if (!heads.empty()) {
                auto got = s.fetch(heads, true);
                if (!got) {
                    return got.err();
                }
                for (auto& h : *got) {
                    mails.push_back(std::move(h));
                }
            }
            // Parse here, on this source's thread: the io thread only routes and commits.
            std::vector<domain::report> reports;
            std::vector<std::uint32_t> report_uids;
            const std::int64_t received = wall_ms();
            std::vector<std::uint32_t> done;
            for (auto& mail : mails) {
                const bool big = size_of[mail.uid] > m.max_message_size;
                auto parsed = big ? parse_oversized(mail.raw, size_of[mail.uid], limits)
                                  : parse_mail(mail.raw, limits);
                if (is_own_alert(parsed)) {
                    // One of our alerts came back (a responder's address forwards to this
                    // mailbox, a bounce): as a report it would page again, and come back
                    // again. Flagged, counted and logged, never a report.
                    spdlog::warn(
                        "imap source={} uid={} is one of hotline's own alerts: not a "
                        "report (does a notified address forward to this mailbox?)",
                        source_.name, mail.uid);
                    metrics_.counter_add("hotline_source_mails_total",
                                         {{"source", source_.name}, {"outcome", "own_alert"}});
                    done.push_back(mail.uid);
                    continue;
                }
                const std::int64_t case_ref = case_reference(parsed, prefix);
                auto r = mail_report(std::move(parsed), mail.raw,
                                     {source_.name, m.default_language, received});
                r.external_id =
                    "imap:" + std::to_string(uidvalidity) + ":" + std::to_string(mail.uid);
                r.case_id = case_ref;
                reports.push_back(std::move(r));
                report_uids.push_back(mail.uid);
            }
            // After a recreated mailbox: the mails whose dedup key is stored are only flagged.
            if (rescan && !reports.empty()) {
                std::vector<std::string> keys;
                for (const auto& r : reports) {
                    keys.push_back(r.dedup_key);
                }
                using found = core::result<std::vector<std::string>>;
                const auto got = wait_for_store<found>(stopping_, [&](auto done) {
                    db_.known_dedup_keys(source_.name, keys, std::move(done));
                });
                if (!got) {
                    return core::make_error("interrupted", "stopping");
                }
                if (!*got) {
                    return got->err();
                }
                const std::set<std::string> known((*got)->begin(), (*got)->end());
                std::vector<domain::report> fresh;
                std::vector<std::uint32_t> fresh_uids;
                for (std::size_t k = 0; k < reports.size(); ++k) {
                    if (known.count(reports[k].dedup_key) != 0) {
                        done.push_back(report_uids[k]);
                        metrics_.counter_add("hotline_source_mails_total",
                                             {{"source", source_.name}, {"outcome", "known"}});
                    } else {
                        fresh.push_back(std::move(reports[k]));
                        fresh_uids.push_back(report_uids[k]);
                    }
                }
                reports = std::move(fresh);
                report_uids = std::move(fresh_uids);
            }
            // Hand the batch to the pipeline on the io thread; wait for every answer.
            auto state = std::make_shared<batch_state>();
            state->left = reports.size();
            state->outcomes.resize(reports.size());
            if (!reports.empty()) {
                asio::post(io_, [this, state, reports = std::move(reports)]() mutable {
                    for (std::size_t k = 0; k < reports.size(); ++k) {
                        auto refused = pipeline_.submit(
                            std::move(reports[k]), [state, k](core::result<domain::report_ids> r) {
                                submit_outcome o;
                                if (!r) {
                                    o.what = submit_outcome::kind::failed;
                                    o.retry_after_ms = store_retry_ms;
                                } else {
                                    o.what = r->duplicate ? submit_outcome::kind::duplicate
                                                          : submit_outcome::kind::stored;
                                    o.report_id = r->report_id;
                                    o.case_id = r->case_id;
                                    o.joined = r->joined;
                                }
                                state->set(k, o);
                            });
                        if (refused) {
                            submit_outcome o;
                            o.what = submit_outcome::kind::refused;
                            o.retry_after_ms =
                                std::max<std::int64_t>(refused->retry_after_s, 1) * 1000;
                            state->set(k, o);
                        }
                    }
                });
                std::unique_lock lock(state->mu);
                while (state->left != 0 && !stopping_) {
                    state->cv.wait_for(lock, wake_check);
                }
                if (stopping_) {
                    return core::make_error("interrupted", "stopping");
                }
            }
            const std::int64_t now = steady_ms();
            for (std::size_t k = 0; k < state->outcomes.size(); ++k) {
                const auto& o = state->outcomes[k];
                const std::uint32_t uid = report_uids[k];
                const char* what = "stored";
                switch (o.what) {
                    case submit_outcome::kind::stored: done.push_back(uid); break;
                    case submit_outcome::kind::duplicate:
                        done.push_back(uid);
                        what = "duplicate";
                        break;
                    case submit_outcome::kind::refused:
                    case submit_outcome::kind::failed:
                        deferred_[uid] = now + o.retry_after_ms;
                        what = "deferred";
                        break;
                }
                metrics_.counter_add("hotline_source_mails_total",
                                     {{"source", source_.name}, {"outcome", what}});
            }
            if (flag_delay_ms_ > 0 && !done.empty() && !pause(flag_delay_ms_)) {
                return core::make_error("interrupted", "stopping");
            }
            // Only now, with every report of `done` committed, does the mail change state.
            if (!done.empty()) {
                std::sort(done.begin(), done.end());
                auto flagged = m.move_to.empty() ? s.mark_seen(done) : s.move(done, m.move_to);
                if (!flagged) {
                    return flagged;
                }
                for (const auto u : done) {
                    deferred_.erase(u);
                }
                spdlog::debug("imap source={} flagged uids={}", source_.name, join_uids(done));
            }
            // The cursor passes every UID looked at: a deferred one is retried from memory,
            // and after a restart the first pass finds it unflagged (seen) or still there
            // (move).
            // Over the chunk, not just what was fetched: a mail gone meanwhile is passed too.
            std::uint32_t highest = cursor_.uid;
            for (const auto& ms : *sizes) {
                highest = std::max(highest, ms.uid);
            }
            if (i >= sizes->size() && !chunk.empty()) {
                highest = std::max(highest, chunk.back());
            }
            if (!rescan && cursor_.known && cursor_.uidvalidity == uidvalidity &&
                highest > cursor_.uid) {
                cursor_.uid = highest;
                db_.save_cursor(
                    source_.name,
                    nlohmann::json{{"uidvalidity", uidvalidity}, {"uid", highest}}.dump(),
                    [name = source_.name](core::status st) {
                        if (!st) {
                            spdlog::warn("imap source={} cursor not saved: {}", name,
                                         st.err().describe());
                        }
                    });
            }
        }
    }
    return core::ok();
}

}  // namespace hotline::ingest
