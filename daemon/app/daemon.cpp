#include "app/daemon.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include <systemd/sd-daemon.h>

#include "app/restart_settings.hpp"
#include "app/validate.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/work_pool.hpp"
#include "dispatch/ack_link.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/endpoints/cases.hpp"
#include "http/endpoints/checkins.hpp"
#include "http/endpoints/endpoints.hpp"
#include "http/server.hpp"
#include "ingest/cases.hpp"
#include "ingest/checkins.hpp"
#include "ingest/imap_source.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/silences.hpp"
#include "ingest/sms_intake.hpp"
#include "ingest/timer_loop.hpp"
#include "net/transport.hpp"
#include "store/store.hpp"

namespace hotline::app {
namespace {

using namespace std::chrono_literals;

constexpr core::duration http_grace = 10s;
constexpr core::duration dispatch_grace = 5s;
// Retention sweeps: at start, then hourly; each batch examines this many reports, so a
// sweep never holds the writer for long (HOTLINE_TEST_RETENTION_SWEEP_MS overrides the
// interval for tests).
constexpr core::duration retention_interval = 1h;
constexpr std::size_t retention_batch = 500;

core::duration retention_sweep_interval() {
    const char* v = std::getenv("HOTLINE_TEST_RETENTION_SWEEP_MS");
    const long ms = v != nullptr ? std::strtol(v, nullptr, 10) : 0;
    return ms > 0 ? core::duration(ms) : retention_interval;
}

class daemon final : public http::application {
public:
    daemon(std::string path, loaded_config initial)
        : path_(std::move(path)),
          cfg_(std::move(initial.cfg)),
          initial_channels_(std::move(initial.channels)),
          keys_(std::move(initial.keys)),
          signals_(io_, SIGHUP, SIGTERM, SIGINT),
          watchdog_(io_),
          retention_timer_(io_) {}

    int run() {
        core::init_logging(cfg_->logging.format, cfg_->logging.level);
        store::options opts;
        opts.path = cfg_->storage.path;
        opts.max_batch = cfg_->storage.max_batch;
        opts.metrics = &metrics_;
        opts.keys = keys_;
        opts.completions = io_.get_executor();
        auto db = store::store::open(opts);
        if (!db) {
            spdlog::critical("cannot open the store: {}", db.err().describe());
            return 1;
        }
        db_ = std::move(*db);
        net_ = std::make_unique<net::transport>(io_);
        describe_transport_metrics();
        disp_ = std::make_unique<dispatch::dispatcher>(io_, *db_, *net_, metrics_, clock_);
        // No set_delivery_key yet: the delivery-status endpoint (/v1/delivery/...) is not
        // served, so SMS plugins get no status_url and providers are not told to call a
        // path that would answer 404 (docs/channels/sms.md, "Delivery status").
        disp_->set_config(cfg_, std::move(initial_channels_));
        pipeline_ = std::make_unique<ingest::pipeline>(
            io_.get_executor(), metrics_, ingest::pipeline::commit_to(*db_),
            [this](std::vector<domain::notification> jobs) { disp_->enqueue(std::move(jobs)); });
        pipeline_->set_config(cfg_);
        pipeline_->set_case_targets(ingest::pipeline::case_targets_of(*db_));
        // The silences in force, before any report: the io context runs only once the
        // setup is done, and this completion is queued on it before any request is read.
        ingest::reload_silences(*db_, *pipeline_, io_.get_executor(), [](core::status s) {
            if (!s) {
                spdlog::error("silences not loaded: reports page as if none were set");
            }
        });
        // Durable timers (SMS part timeouts; escalation next) fire on this thread.
        timers_ = std::make_unique<ingest::timer_loop>(
            io_.get_executor(), *db_, clock_,
            "hotlined:" + std::to_string(::getpid()) + ":" + core::random_hex(4));
        // Cases and their escalation: acknowledgements from every channel, the policy
        // timers (escalation_step, ack_timeout).
        cases_ = std::make_unique<ingest::case_service>(
            io_.get_executor(), *db_, clock_, metrics_,
            [this](std::vector<domain::notification> jobs) { disp_->enqueue(std::move(jobs)); });
        cases_->set_config(cfg_);
        cases_->attach(*timers_);
        pipeline_->set_escalation([](const config::config& c, const domain::report& r,
                                     const rules::decision& d, std::int64_t now) {
            auto start = ingest::case_service::start_escalation(c, d.policy, r, d, now);
            return ingest::pipeline::escalation_plan{std::move(start.planned),
                                                     std::move(start.timers)};
        });
        pipeline_->set_timer_added([this](std::int64_t at) { timers_->wake_at(at); });
        pipeline_->set_reply_handler([this](domain::report& r, ingest::pipeline::completion& done) {
            return cases_->take_mail_reply(r, done);
        });
        pipeline_->set_grouping(ingest::pipeline::group_hash_of(*db_),
                                ingest::pipeline::group_case_of(*db_));
        sms_ = std::make_unique<ingest::sms_intake>(io_.get_executor(), *pipeline_, *db_, metrics_);
        sms_->set_config(cfg_);
        sms_->set_cases(*cases_);
        sms_->set_timers(*timers_, clock_);
        // Check-ins of enrolled defenders: SMS OK / CHECKIN START|STOP, the checkin_due
        // timers (a missed check-in or a duress PIN opens a case through the pipeline).
        checkins_ = std::make_unique<ingest::checkin_service>(io_.get_executor(), *pipeline_, *db_,
                                                              clock_, metrics_);
        checkins_->set_config(cfg_);
        checkins_->attach(*timers_);
        sms_->set_checkins(*checkins_);
        sms_->set_opt_out_listener(
            [this](const std::string& number, bool out) { disp_->opt_out(number, out); });
        // /metrics on its own (loopback by default) listener, or on the main one when
        // server.metrics_listen is off.
        const bool metrics_apart = !cfg_->server.metrics_address.empty();
        // The signed acknowledgement link in every alert (dispatch/ack_link) and its pages.
        const auto ack_key = dispatch::ack_key(keys_->current());
        disp_->set_ack_key(ack_key);
        auto routes = http::standard_routes(*this, *pipeline_, metrics_, !metrics_apart, sms_.get(),
                                            db_.get());
        http::endpoints::abort_on(http::endpoints::add_ack(
            routes, *this, http::endpoints::ack_backend_of(*db_, *cases_, ack_key)));
        // The cases API (GET /v1/cases..., POST .../ack|resolve|note) behind people's tokens.
        http::endpoints::abort_on(
            http::endpoints::add_cases(routes, http::endpoints::cases_backend_of(*db_, *cases_)));
        http::endpoints::abort_on(http::endpoints::add_checkins(routes, *checkins_));
        http_ = std::make_unique<http::server>(io_, *this, std::move(routes), metrics_);
        const auto port = http_->start(cfg_->server);
        if (!port) {
            spdlog::critical("cannot listen: {}", port.err().describe());
            db_->close();
            return 1;
        }
        if (metrics_apart) {
            metrics_http_ = std::make_unique<http::server>(
                io_, *this, http::metrics_routes(*this, metrics_), metrics_);
            config::server_config listener = cfg_->server;
            listener.listen_address = cfg_->server.metrics_address;
            listener.port = cfg_->server.metrics_port;
            if (const auto mport = metrics_http_->start(listener, "metrics"); !mport) {
                spdlog::critical("cannot listen for metrics: {}", mport.err().describe());
                db_->close();
                return 1;
            }
        }
        running_ = restart_settings(*cfg_, *keys_);
        record_running();
        load_opt_outs();
        timers_->start();
        sync_sources();
        sweep_retention();
        wait_for_signal();
        start_watchdog();
        spdlog::info("hotlined {} ready: {}", HOTLINE_VERSION, summary(*cfg_));
        sd_notify(0, "READY=1\nSTATUS=serving");

        io_.run();

        // Each source thread was asked to stop at shutdown; wait for them before the store
        // closes (what they handed to the pipeline has been answered or abandoned).
        for (auto& [name, src] : sources_) {
            src->stop();
        }
        sources_.clear();
        net_->cancel_all();
        db_->close();
        (void)::unlink(running_record_.c_str());
        spdlog::info("hotlined stopped");
        return 0;
    }

    [[nodiscard]] std::shared_ptr<const config::config> current_config() const override {
        return cfg_;
    }

    [[nodiscard]] bool ready() const override {
        // Not while the dispatcher holds outcomes the store could not record (issue 7).
        return cfg_ != nullptr && db_ != nullptr && db_->writable() && !stopping_ &&
               (disp_ == nullptr || !disp_->paused());
    }

    // One line per pulling source: a mail server that is down does not make the daemon
    // unready (every other source still works), but it is shown here and in the metrics.
    [[nodiscard]] std::string readiness_detail() const override {
        std::string out;
        for (const auto& [name, src] : sources_) {
            const auto st = src->current();
            out += "source " + name + ": " + (st.up ? "up" : "down") + " (" + st.state;
            if (!st.last_error.empty()) {
                out += ", last error " + st.last_error;
            }
            out += ")\n";
        }
        return out;
    }

private:
    // New outbound connections against transfers: keep-alive reuse shows as a ratio far
    // below 1 (at most one new connection per 100 webhooks to one host in a steady run).
    void describe_transport_metrics() {
        metrics_.describe_counter("hotline_transport_transfers_total",
                                  "Outbound transfers completed (or failed), by protocol.");
        metrics_.describe_counter(
            "hotline_transport_connections_opened_total",
            "Outbound TCP connections opened, by protocol; a transfer that reused a "
            "keep-alive connection opens none.");
        metrics_.on_collect([net = net_.get()](core::metrics& m) {
            const auto c = net->counters();
            for (const auto& [proto, s] : {std::pair{"http", c.http}, std::pair{"smtp", c.smtp}}) {
                const core::labels l{{"protocol", proto}};
                m.counter_set("hotline_transport_transfers_total", l,
                              static_cast<double>(s.transfers));
                m.counter_set("hotline_transport_connections_opened_total", l,
                              static_cast<double>(s.connections_opened));
            }
        });
    }

    void wait_for_signal() {
        signals_.async_wait([this](const error_code& ec, int signo) {
            if (ec) {
                return;
            }
            if (signo == SIGHUP) {
                reload();
                wait_for_signal();
            } else {
                shutdown(signo);
            }
        });
    }

    void reload() {
        if (reloading_ || stopping_) {
            return;
        }
        reloading_ = true;
        sd_notify(0, "RELOADING=1\nSTATUS=reloading");
        spdlog::info("reloading config file={}", path_);
        // Parsing YAML and compiling regexes is CPU work: off the io thread.
        asio::post(pool_.executor(), [this] {
            auto loaded = std::make_shared<loaded_config>(load_and_validate(path_));
            asio::post(io_, [this, loaded] { apply(std::move(*loaded)); });
        });
    }

    void apply(loaded_config loaded) {
        reloading_ = false;
        sd_notify(0, "READY=1\nSTATUS=serving");
        if (!loaded.errors.empty()) {
            spdlog::error("reload failed, keeping the running config ({} errors):",
                          loaded.errors.size());
            for (const auto& e : loaded.errors) {
                spdlog::error("  {}", e.describe());
            }
            return;
        }
        // Compared with what the daemon started with, not the last reload: a change a
        // reload could not apply is named again by every later reload until the restart.
        const auto pending = restart_changes(running_, restart_settings(*loaded.cfg, *loaded.keys));
        if (loaded.keys->current().id() != keys_->current().id()) {
            spdlog::warn("the storage key changed (key id {}); it takes effect on restart",
                         loaded.keys->current().id_hex());
        }
        if (!core::init_logging(loaded.cfg->logging.format, loaded.cfg->logging.level)) {
            spdlog::warn("could not apply the new logging settings");
        }
        cfg_ = std::move(loaded.cfg);
        disp_->set_config(cfg_, std::move(loaded.channels));
        pipeline_->set_config(cfg_);
        cases_->set_config(cfg_);
        sms_->set_config(cfg_);
        checkins_->set_config(cfg_);
        sync_sources();
        if (pending.empty()) {
            spdlog::info("reloaded: {}", summary(*cfg_));
        } else {
            spdlog::warn("reloaded: {}; {}: take effect on restart", summary(*cfg_),
                         join_names(pending));
        }
        sweep_retention();  // storage.retention applies at once
    }

    // Starts a thread for each imap source of the config in force, keeps the ones whose
    // settings did not change, and stops the others. A stopping source is joined on the
    // work pool, not here: its thread may take a moment to leave a blocking call.
    void sync_sources() {
        std::map<std::string, std::shared_ptr<ingest::imap_source>> next;
        for (const auto& s : cfg_->sources) {
            if (s.kind != "imap") {
                continue;
            }
            if (const auto it = sources_.find(s.name);
                it != sources_.end() && it->second->config().imap == s.imap) {
                next.emplace(s.name, it->second);
                sources_.erase(it);
                continue;
            }
            auto src = std::make_shared<ingest::imap_source>(cfg_, s, io_.get_executor(),
                                                             *pipeline_, *db_, metrics_);
            next.emplace(s.name, src);
        }
        for (auto& [name, old] : sources_) {
            spdlog::info("imap source={} stopping (removed or changed by the reload)", name);
            old->request_stop();
            asio::post(pool_.executor(), [old] { old->stop(); });
        }
        sources_ = std::move(next);
        for (auto& [name, src] : sources_) {
            src->set_config(cfg_);
            src->start();
        }
    }

    void record_running() {
        running_record r;
        r.pid = ::getpid();
        r.started_at = clock_.now_ms();
        r.config = path_;
        r.settings = running_;
        // Its path is fixed at start: a reload may name another storage.path.
        running_record_ = running_record_path(*cfg_);
        if (auto written = write_running_record(running_record_, r); !written) {
            // Only `hotlinectl check --diff` needs it: not a reason to stop.
            spdlog::warn("cannot record the running settings: {}", written.err().describe());
        }
    }

    // One sweep is a chain of store batches; the next sweep is armed when it ends. The
    // cursor (the last purged id) survives between sweeps, so a sweep examines only the
    // reports that arrived since, plus one batch.
    void sweep_retention() {
        if (sweeping_ || stopping_) {
            return;
        }
        retention_timer_.cancel();
        const auto period = cfg_->storage.retention;
        if (period.count() <= 0) {
            return;
        }
        sweeping_ = true;
        store::purge_batch b;
        b.received_before = clock_.now_ms() - period.count();
        b.after_id = retention_cursor_;
        b.limit = retention_batch;
        purge_next(b);
    }

    void purge_next(store::purge_batch b) {
        db_->purge_contents(b, [this, b](core::result<store::purge_progress> p) mutable {
            if (!p) {
                sweeping_ = false;
                spdlog::error("retention sweep failed: {}", p.err().describe());
                arm_retention();
                return;
            }
            retention_cursor_ = p->last_id;
            if (!p->done) {
                b.after_id = p->last_id;
                b.reports = p->reports;
                b.notifications = p->notifications;
                b.batches = p->batches;
                // Stopping: one last, empty batch writes the sweep's audit event; the store
                // runs it before it closes (its completion is never delivered).
                b.limit = stopping_ ? 0 : retention_batch;
                purge_next(b);
                return;
            }
            sweeping_ = false;
            if (p->done) {
                spdlog::info("retention sweep: purged reports={} notifications={} batches={}",
                             p->reports, p->notifications, p->batches);
            }
            arm_retention();
        });
    }

    void arm_retention() {
        if (stopping_) {
            return;
        }
        retention_timer_.expires_after(retention_sweep_interval());
        retention_timer_.async_wait([this](const error_code& ec) {
            if (!ec) {
                sweep_retention();
            }
        });
    }

    // The numbers that sent STOP, before the dispatcher's first attempt: none gets an SMS.
    void load_opt_outs() {
        db_->list_sms_opt_outs([this](core::result<std::vector<store::sms_opt_out>> r) {
            if (!r) {
                spdlog::error("cannot read the SMS opt-outs: {}", r.err().describe());
            } else {
                std::set<std::string> numbers;
                for (auto& o : *r) {
                    numbers.insert(std::move(o.number));
                }
                disp_->set_opted_out(std::move(numbers));
            }
            disp_->start();
        });
    }

    void shutdown(int signo) {
        if (stopping_) {
            return;
        }
        stopping_ = true;
        sd_notify(0, "STOPPING=1\nSTATUS=draining");
        for (auto& [name, src] : sources_) {
            src->request_stop();
        }
        spdlog::info("signal={}: draining", signo);
        signals_.cancel();
        watchdog_.cancel();
        if (metrics_http_) {
            metrics_http_->shutdown(http_grace, [] {});
        }
        retention_timer_.cancel();
        timers_->stop();
        http_->shutdown(http_grace, [this] {
            disp_->shutdown(dispatch_grace, [this] {
                spdlog::info("drained");
                io_.stop();
            });
        });
    }

    void start_watchdog() {
        std::uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
            return;
        }
        watchdog_interval_ = std::chrono::microseconds(usec / 2);
        // A writer heartbeat older than one kick interval means a batch running that long:
        // stuck, as far as systemd should care. Never below a few idle heartbeats, so that
        // an idle writer's bounded waits cannot look like silence.
        writer_silence_limit_ = std::max<std::chrono::steady_clock::duration>(
            watchdog_interval_, std::chrono::seconds(1));
        kick_watchdog();
    }

    void kick_watchdog() {
        // Fired from the io thread, so a stuck loop stops the kicks and systemd restarts
        // us; and only while the store's writer heartbeats too, so does a stuck writer.
        const auto silent = std::chrono::steady_clock::now() - db_->writer_heartbeat();
        if (silent < writer_silence_limit_) {
            if (writer_silent_) {
                spdlog::info("store writer alive again: kicking the watchdog");
                writer_silent_ = false;
            }
            sd_notify(0, "WATCHDOG=1");
        } else if (!writer_silent_) {
            writer_silent_ = true;
            spdlog::error(
                "store writer silent for {} ms (a batch running longer than the watchdog "
                "interval): not kicking the watchdog",
                std::chrono::duration_cast<std::chrono::milliseconds>(silent).count());
        }
        watchdog_.expires_after(watchdog_interval_);
        watchdog_.async_wait([this](const error_code& ec) {
            if (!ec) {
                kick_watchdog();
            }
        });
    }

    std::string path_;
    asio::io_context io_{1};
    core::metrics metrics_;
    core::system_clock clock_;
    core::work_pool pool_{1};
    std::shared_ptr<const config::config> cfg_;
    dispatch::channel_map initial_channels_;
    std::shared_ptr<const core::crypto::keyring> keys_;  // the store's, fixed until restart
    std::unique_ptr<store::store> db_;
    std::unique_ptr<net::transport> net_;
    std::unique_ptr<dispatch::dispatcher> disp_;
    std::unique_ptr<ingest::pipeline> pipeline_;
    std::unique_ptr<ingest::timer_loop> timers_;
    std::unique_ptr<ingest::case_service> cases_;
    std::unique_ptr<ingest::checkin_service> checkins_;
    std::unique_ptr<ingest::sms_intake> sms_;  // kind: sms (the HTTP endpoint's)
    std::map<std::string, std::shared_ptr<ingest::imap_source>> sources_;  // kind: imap
    std::unique_ptr<http::server> http_;
    std::unique_ptr<http::server> metrics_http_;  // server.metrics_listen; null when off
    asio::signal_set signals_;
    asio::steady_timer watchdog_;
    std::chrono::microseconds watchdog_interval_{0};
    std::chrono::steady_clock::duration writer_silence_limit_{std::chrono::seconds(1)};
    bool writer_silent_{false};
    settings_map running_;        // the restart-only settings this process started with
    std::string running_record_;  // where they are recorded for `hotlinectl check --diff`
    asio::steady_timer retention_timer_;
    std::int64_t retention_cursor_{0};
    bool sweeping_{false};
    bool reloading_{false};
    bool stopping_{false};
};

}  // namespace

int run_daemon(const std::string& config_path) {
    auto loaded = load_and_validate(config_path);
    if (!loaded.errors.empty()) {
        std::fprintf(stderr, "hotlined: invalid configuration (%zu errors):\n%s",
                     loaded.errors.size(), format_errors(loaded.errors).c_str());
        return 1;
    }
    daemon d(config_path, std::move(loaded));
    return d.run();
}

}  // namespace hotline::app
