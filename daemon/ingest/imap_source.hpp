// One `kind: imap` source: a thread of its own ("imap:<source>") that keeps a session to
// the mailbox (net/imap, blocking libetpan), takes each mail in exactly once and hands it to
// the ingest pipeline on the io executor. Nothing it does blocks the io thread, and a dead
// or slow server delays only this source.
//
// Exactly once:
//   - each mail's report has external_id "imap:<uidvalidity>:<uid>" and dedup_key (the
//     Message-ID's hash, or the raw mail's), both unique per source, so fetching a mail
//     again is a no-op;
//   - the mail is flagged \Seen (or moved) only after its report is committed; a crash in
//     between fetches it again after restart, which the keys make a duplicate;
//   - the store keeps a cursor per source ({"uidvalidity", "uid"}: every mail up to uid is
//     stored), saved after each batch. A pass looks at the UIDs above the cursor and, with
//     after_store: seen, the unseen ones (a crash before the flag); with move, at every mail
//     left in the mailbox;
//   - when UIDVALIDITY changes (the mailbox was recreated), every mail in it is looked at
//     again and the ones whose dedup_key is stored are only flagged.
// One of hotline's own alerts that comes back into the mailbox (ingest/threading's
// is_own_alert) is flagged and counted (outcome own_alert), never a report: it would page
// again and loop.
// A mail refused by a rate limit or a full queue stays where it is (unflagged, the cursor
// does not pass it) and is retried after Retry-After, while the mails after it go on.
//
// Waiting: IDLE when the server has it (a new mail is taken at once), re-issued every
// poll_interval, after a NOOP that proves the connection alive; without IDLE a search every
// poll_interval. Failures (connect, TLS, auth, timeout, a server restart) drop the session
// and reconnect after a backoff (1 s doubling to 5 min); each change of state is logged
// once (never the user name or password) and shown by status() and the metrics
// hotline_source_up{source} and hotline_source_errors_total{source,reason}.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/metrics.hpp"
#include "ingest/pipeline.hpp"
#include "net/imap.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class imap_source {
public:
    struct status {
        bool up{false};
        std::string state;        // "starting", "connecting", "idle", "polling", "fetching", "down"
        std::string last_error;   // error code of the last failure ("auth", "timeout", ...)
        std::int64_t since_ms{};  // unix ms of the last change of state
    };

    // `pipeline`, `db` and `metrics` must outlive this object; `cfg` is the config the
    // source was read from (held for routing-independent settings: the case tag prefix).
    imap_source(std::shared_ptr<const config::config> cfg, const config::source_config& source,
                asio::any_io_executor io, pipeline& pipeline, store::store& db,
                core::metrics& metrics);
    ~imap_source();  // stop()
    imap_source(const imap_source&) = delete;
    imap_source& operator=(const imap_source&) = delete;

    void start();
    // The config in force (a reload): the case tag prefix comes from it.
    void set_config(std::shared_ptr<const config::config> cfg);
    // Asks the thread to end (a blocked IMAP call returns at once) without waiting for it.
    void request_stop();
    // Wakes the thread (a blocked IMAP call returns at once) and joins it. Reports already
    // handed to the pipeline complete there; their mails are flagged on the next run.
    void stop();

    [[nodiscard]] const std::string& name() const noexcept { return source_.name; }
    [[nodiscard]] const config::source_config& config() const noexcept { return source_; }
    [[nodiscard]] status current() const;

private:
    struct cursor {
        std::uint32_t uidvalidity{};
        std::uint32_t uid{};  // every mail up to this UID is stored
        bool known{false};    // loaded from the store
    };
    struct pass;

    void run();
    // One connected session: select, catch up, then wait for changes until an error or stop.
    [[nodiscard]] core::status serve(net::imap::session& s);
    [[nodiscard]] core::status catch_up(net::imap::session& s, std::uint32_t uidvalidity,
                                        bool rescan);
    [[nodiscard]] core::status take(net::imap::session& s, std::uint32_t uidvalidity,
                                    std::vector<std::uint32_t> uids, bool rescan);
    void set_state(std::string state, bool up, const std::string& error = {});
    // Sleeps `ms` or until stop(); false when stopped.
    bool pause(std::int64_t ms);

    mutable std::mutex cfg_mu_;
    std::shared_ptr<const config::config> cfg_;  // under cfg_mu_
    config::source_config source_;
    asio::any_io_executor io_;
    pipeline& pipeline_;
    store::store& db_;
    core::metrics& metrics_;
    net::imap::interrupter stop_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    cursor cursor_;
    // UIDs refused for now (rate limit, full queue, store failure), with when to retry.
    std::map<std::uint32_t, std::int64_t> deferred_;
    std::int64_t flag_delay_ms_{0};  // test hook: HOTLINE_TEST_IMAP_FLAG_DELAY_MS

    mutable std::mutex status_mu_;
    status status_;
};

}  // namespace hotline::ingest
