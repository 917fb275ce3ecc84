#include "ingest/pipeline.hpp"

#include <chrono>
#include <string>
#include <utility>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "dispatch/planner.hpp"
#include "domain/severity.hpp"
#include "rules/route.hpp"

namespace hotline::ingest {
namespace {

// The token buckets' default time: monotonic, so a wall-clock step neither refills nor
// starves them.
class steady_clock final : public core::clock {
public:
    [[nodiscard]] std::int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
};

const steady_clock monotonic;

constexpr std::int64_t limiter_log_interval_ms = 60'000;

}  // namespace

struct pipeline::waiter {
    waiter(const asio::any_io_executor& io, completion d) : done(std::move(d)), deadline(io) {}
    completion done;
    asio::steady_timer deadline;
    bool answered{false};

    void answer(core::result<domain::report_ids> r) {
        answered = true;
        deadline.cancel();
        done(std::move(r));
    }
};

pipeline::pipeline(asio::any_io_executor io, core::metrics& metrics, commit_fn commit,
                   enqueue_fn enqueue)
    : io_(std::move(io)),
      metrics_(metrics),
      commit_(std::move(commit)),
      enqueue_(std::move(enqueue)),
      clock_(&monotonic) {
    metrics_.describe_counter("hotline_reports_received_total",
                              "Reports accepted and committed (202), by source");
    metrics_.describe_counter("hotline_reports_duplicate_total",
                              "Reports already known by (source, external_id), by source");
    metrics_.describe_counter("hotline_reports_rejected_total",
                              "Report requests refused with a 4xx, by source and reason");
    metrics_.describe_counter("hotline_reports_silenced_total",
                              "Reports a silence kept from paging anyone, by source");
    metrics_.describe_counter("hotline_reports_limited_total",
                              "Reports refused by a rate limit or a full queue (429/503), by "
                              "source and limiter (source, sender, queue)");
}

pipeline::commit_fn pipeline::commit_to(store::store& db) {
    return [&db](domain::report r, domain::case_info c,
                 std::vector<domain::planned_notification> planned,
                 std::function<void(core::result<store::ingest_result>)> done) {
        db.ingest(std::move(r), std::move(c), std::move(planned), std::move(done));
    };
}

pipeline::case_targets_fn pipeline::case_targets_of(store::store& db) {
    return [&db](std::int64_t case_id,
                 std::function<void(core::result<std::optional<std::vector<std::string>>>)> done) {
        db.case_targets(case_id, std::move(done));
    };
}

void pipeline::set_config(std::shared_ptr<const config::config> cfg) {
    cfg_ = std::move(cfg);
}

std::optional<pipeline::refusal> pipeline::submit(domain::report r, completion done,
                                                  std::vector<domain::planned_notification> extra) {
    if (cfg_ == nullptr) {  // wiring error: no config yet; answer rather than drop
        asio::post(io_, [done = std::move(done)] {
            done(core::make_error("config", "no configuration loaded"));
        });
        return std::nullopt;
    }
    // Held for this report only: a reload during the commit does not change its plan.
    const auto cfg = cfg_;
    const std::int64_t now = clock_->now_ms();
    if (const auto hit = limiter_.admit(r.source, r.sender, cfg->limits_for(r.source), now)) {
        return limited(r.source, refusal{429, hit->limiter, hit->retry_after_s}, now);
    }
    switch (queue_.check(r.source, cfg->server.ingest)) {
        case fair_queue<pending>::room::ok: break;
        case fair_queue<pending>::room::source_full:
            return limited(r.source, refusal{429, "queue", 1}, now);
        case fair_queue<pending>::room::all_full:
            return limited(r.source, refusal{503, "queue", 1}, now);
    }
    const std::string source = r.source;
    auto answer = std::make_shared<waiter>(io_, std::move(done));
    // A stuck store (a stalled fsync) must not hang the source's connection: answer 503
    // at the deadline. The commit may still land; committed() then only enqueues.
    answer->deadline.expires_after(cfg->server.submit_timeout);
    answer->deadline.async_wait(
        [answer, source, timeout = cfg->server.submit_timeout](const error_code& ec) {
            if (ec || answer->answered) {
                return;
            }
            spdlog::warn(
                "store did not commit a report from source={} within submit_timeout={}: answered "
                "unavailable",
                source, core::format_duration(timeout));
            answer->answer(core::make_error("timeout", "the store did not commit in time"));
        });
    if (r.case_id > 0 && case_targets_) {
        // A reply to a case: who was told of it decides who hears of this one. The lookup
        // runs on the store's writer; the rest continues on the io executor.
        const std::int64_t case_id = r.case_id;
        case_targets_(
            case_id, [this, cfg, r = std::move(r), answer, extra = std::move(extra)](
                         core::result<std::optional<std::vector<std::string>>> t) mutable {
                asio::post(io_, [this, cfg, r = std::move(r), answer, t = std::move(t),
                                 extra = std::move(extra)]() mutable {
                    if (!t) {
                        spdlog::error(
                            "store failed to look up case={} for a report from source={}: {}",
                            r.case_id, r.source, t.err().describe());
                        if (!answer->answered) {
                            answer->answer(t.err());
                        }
                        return;
                    }
                    if (!*t) {
                        r.case_id = 0;  // no such case: a new one, and nothing tells the sender
                    }
                    route_and_queue(std::move(r), *cfg, std::move(answer),
                                    t->has_value() ? &**t : nullptr, std::move(extra));
                });
            });
        return std::nullopt;
    }
    r.case_id = 0;
    route_and_queue(std::move(r), *cfg, std::move(answer), nullptr, std::move(extra));
    return std::nullopt;
}

void pipeline::route_and_queue(domain::report r, const config::config& cfg,
                               std::shared_ptr<waiter> answer,
                               const std::vector<std::string>* case_targets,
                               std::vector<domain::planned_notification> extra) {
    const auto decision = rules::evaluate(cfg.route, r);
    const auto silence = silenced_by(r);
    auto planned = silence ? std::vector<domain::planned_notification>{}
                   : case_targets != nullptr
                       ? dispatch::plan_update(cfg, r, decision, *case_targets)
                       : dispatch::plan_report(cfg, r, decision);
    for (auto& e : extra) {
        if (!e.payload.contains("severity")) {
            e.payload["severity"] = "low";  // behind every alert in its channel's queue
        }
        planned.push_back(std::move(e));
    }
    auto info = dispatch::case_for(decision);
    if (silence) {
        info.labels["silenced_by"] = std::to_string(*silence);
    }
    const std::string source = r.source;
    queue_.push(source, domain::severity_rank(decision.severity),
                pending{std::move(r), std::move(info), std::move(planned), decision.severity,
                        std::move(answer)});
    pump();
}

std::optional<std::int64_t> pipeline::silenced_by(const domain::report& r) const {
    const auto id = silences_.match(r);
    if (id) {
        metrics_.counter_add("hotline_reports_silenced_total", {{"source", r.source}});
        spdlog::info("report from source={} silenced by silence={}: nobody paged", r.source, *id);
    }
    return id;
}

std::optional<pipeline::refusal> pipeline::limited(const std::string& source, refusal r,
                                                   std::int64_t now_ms) {
    metrics_.counter_add("hotline_reports_limited_total",
                         {{"source", source}, {"limiter", std::string(r.limiter)}});
    // One line per limiter and minute, with how many it refused: a flood must not flood
    // the log too. Never the sender.
    auto& log = limiter_logs_[{source, r.limiter}];
    ++log.refused;
    if (!log.logged || now_ms - log.logged_ms >= limiter_log_interval_ms) {
        spdlog::warn("reports limited source={} limiter={} refused={} status={}", source, r.limiter,
                     log.refused, r.status);
        log = limiter_log{0, now_ms, true};
    }
    return r;
}

void pipeline::pump() {
    const config::ingest_limits limits = cfg_ ? cfg_->server.ingest : config::ingest_limits{};
    while (auto next = queue_.pop(limits)) {
        start_commit(next->first, std::move(next->second));
    }
}

void pipeline::start_commit(const std::string& source, pending p) {
    commit_(std::move(p.report), std::move(p.info), std::move(p.planned),
            [this, answer = std::move(p.answer), source,
             severity = std::move(p.severity)](core::result<store::ingest_result> res) mutable {
                // The store answers on its writer thread: back to the io executor.
                asio::post(io_,
                           [this, answer = std::move(answer), res = std::move(res),
                            source = std::move(source), severity = std::move(severity)]() mutable {
                               queue_.done(source);
                               committed(std::move(res), source, severity, *answer);
                               pump();
                           });
            });
}

void pipeline::committed(core::result<store::ingest_result> res, const std::string& source,
                         const std::string& severity, waiter& answer) {
    if (!res) {
        spdlog::error("store failed for a report from source={}: {}", source, res.err().describe());
        if (!answer.answered) {
            answer.answer(res.err());
        }
        return;
    }
    const domain::report_ids ids = res->ids;
    if (ids.duplicate) {
        metrics_.counter_add("hotline_reports_duplicate_total", {{"source", source}});
        spdlog::info("duplicate report={} source={}", ids.report_id, source);
        if (!answer.answered) {
            answer.answer(ids);
        }
        return;
    }
    metrics_.counter_add("hotline_reports_received_total", {{"source", source}});
    spdlog::info("stored report={} case={}{} source={} severity={} notifications={}", ids.report_id,
                 ids.case_id, ids.joined ? " (joined)" : "", source, severity,
                 res->notifications.size());
    // Committed first, so a crash from here on loses nothing: the dispatcher's scan of due
    // rows would find these notifications too.
    enqueue_(std::move(res->notifications));
    if (answer.answered) {
        spdlog::warn(
            "report={} source={} committed after its source was answered unavailable; "
            "its retry will be answered as a duplicate",
            ids.report_id, source);
        return;
    }
    answer.answer(ids);
}

void pipeline::rejected(std::string_view source, std::string_view reason) {
    metrics_.counter_add("hotline_reports_rejected_total",
                         {{"source", std::string(source)}, {"reason", std::string(reason)}});
}

}  // namespace hotline::ingest
