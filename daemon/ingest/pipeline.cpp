#include "ingest/pipeline.hpp"

#include <algorithm>

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
                 std::vector<store::new_timer> timers,
                 std::function<void(core::result<store::ingest_result>)> done) {
        db.ingest(std::move(r), std::move(c), std::move(planned), std::move(timers),
                  std::move(done));
    };
}

pipeline::group_hash_fn pipeline::group_hash_of(store::store& db) {
    return [&db](std::string_view text) { return db.sms_key("group", text); };
}

pipeline::group_case_fn pipeline::group_case_of(store::store& db) {
    return [&db](std::string key, std::int64_t now_ms,
                 std::function<void(core::result<std::optional<std::int64_t>>)> done) {
        db.find_group_case(std::move(key), now_ms, std::move(done));
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
    if (r.case_id > 0 && reply_ && reply_(r, done)) {
        return std::nullopt;  // a responder's reply: acted on or noted, no report
    }
    auto answer = answer_for(*cfg, r.source, std::move(done));
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
    if (group_hash_ && group_case_) {
        group_then_route(std::move(r), cfg, std::move(answer), std::move(extra));
        return std::nullopt;
    }
    route_and_queue(std::move(r), *cfg, std::move(answer), nullptr, std::move(extra));
    return std::nullopt;
}

std::shared_ptr<pipeline::waiter> pipeline::answer_for(const config::config& cfg,
                                                       const std::string& source, completion done) {
    auto answer = std::make_shared<waiter>(io_, std::move(done));
    // A stuck store (a stalled fsync) must not hang the source's connection: answer 503
    // at the deadline. The commit may still land; committed() then only enqueues.
    answer->deadline.expires_after(cfg.server.submit_timeout);
    answer->deadline.async_wait(
        [answer, source, timeout = cfg.server.submit_timeout](const error_code& ec) {
            if (ec || answer->answered) {
                return;
            }
            spdlog::warn(
                "store did not commit a report from source={} within submit_timeout={}: answered "
                "unavailable",
                source, core::format_duration(timeout));
            answer->answer(core::make_error("timeout", "the store did not commit in time"));
        });
    return answer;
}

std::optional<pipeline::refusal> pipeline::submit_decided(domain::report r,
                                                          rules::decision decision,
                                                          completion done) {
    if (cfg_ == nullptr) {
        asio::post(io_, [done = std::move(done)] {
            done(core::make_error("config", "no configuration loaded"));
        });
        return std::nullopt;
    }
    const auto cfg = cfg_;
    const std::int64_t now = clock_->now_ms();
    // No token buckets: the daemon itself is the sender. The queue's room still holds.
    switch (queue_.check(r.source, cfg->server.ingest)) {
        case fair_queue<pending>::room::ok: break;
        case fair_queue<pending>::room::source_full:
            return limited(r.source, refusal{429, "queue", 1}, now);
        case fair_queue<pending>::room::all_full:
            return limited(r.source, refusal{503, "queue", 1}, now);
    }
    auto answer = answer_for(*cfg, r.source, std::move(done));
    r.case_id = 0;
    decision.group_by.clear();
    decision.group_window_ms = 0;
    route_and_queue(std::move(r), *cfg, std::move(answer), nullptr, {},
                    routed{std::move(decision), {}});
    return std::nullopt;
}

void pipeline::group_then_route(domain::report r, std::shared_ptr<const config::config> cfg,
                                std::shared_ptr<waiter> answer,
                                std::vector<domain::planned_notification> extra) {
    routed done{rules::evaluate(cfg->route, r), {}};
    if (done.decision.group_by.empty() || done.decision.group_window_ms <= 0) {
        route_and_queue(std::move(r), *cfg, std::move(answer), nullptr, std::move(extra),
                        std::move(done));
        return;
    }
    done.group_key = group_hash_(rules::group_key(done.decision, r));
    const auto at = r.received_at > 0 ? r.received_at : core::system_clock{}.now_ms();
    const std::string key = done.group_key;
    group_case_(
        key, at,
        [this, cfg, r = std::move(r), answer, extra = std::move(extra),
         done = std::move(done)](core::result<std::optional<std::int64_t>> found) mutable {
            asio::post(io_, [this, cfg, r = std::move(r), answer, extra = std::move(extra),
                             done = std::move(done), found = std::move(found)]() mutable {
                if (!found || !*found || !case_targets_) {
                    if (!found) {
                        spdlog::error(
                            "store failed to look up a group for a report from source={}: {}",
                            r.source, found.err().describe());
                    }
                    route_and_queue(std::move(r), *cfg, std::move(answer), nullptr,
                                    std::move(extra), std::move(done));
                    return;
                }
                // The group's case is open: the report joins it like a reply (those already
                // paged hear of it; its escalation goes on as it was). The route does not
                // depend on the case, so the one evaluation serves the join too.
                r.case_id = **found;
                const auto case_id = r.case_id;
                case_targets_(
                    case_id, [this, cfg, r = std::move(r), answer, extra = std::move(extra),
                              done = std::move(done)](
                                 core::result<std::optional<std::vector<std::string>>> t) mutable {
                        asio::post(io_,
                                   [this, cfg, r = std::move(r), answer, t = std::move(t),
                                    extra = std::move(extra), done = std::move(done)]() mutable {
                                       const bool joined = t && *t;
                                       if (!joined) {
                                           r.case_id = 0;
                                       }
                                       route_and_queue(std::move(r), *cfg, std::move(answer),
                                                       joined ? &**t : nullptr, std::move(extra),
                                                       std::move(done));
                                   });
                    });
            });
        });
}

void pipeline::route_and_queue(domain::report r, const config::config& cfg,
                               std::shared_ptr<waiter> answer,
                               const std::vector<std::string>* case_targets,
                               std::vector<domain::planned_notification> extra,
                               std::optional<routed> done) {
    if (!done) {
        done = routed{rules::evaluate(cfg.route, r), {}};
    }
    const auto& decision = done->decision;
    const auto silence = silenced_by(r);
    const bool muted = !decision.muted_by.empty();
    auto planned = muted || silence ? std::vector<domain::planned_notification>{}
                   : case_targets != nullptr
                       ? dispatch::plan_update(cfg, r, decision, *case_targets)
                       : dispatch::plan_report(cfg, r, decision);
    auto info = dispatch::case_for(decision);
    std::vector<store::new_timer> timers;
    // Wall-clock time (the timers table holds unix ms; clock_ may be monotonic).
    const std::int64_t now = core::system_clock{}.now_ms();
    if (silence) {
        // Stored and visible, paging nobody (an admin's silence matches it).
        info.labels["silenced_by"] = std::to_string(*silence);
    } else if (muted) {
        // Stored and visible, paging nobody (a mute interval in force).
        info.labels["muted_by"] = decision.muted_by;
        metrics_.counter_add("hotline_reports_muted_total", {{"source", r.source}});
    } else if (case_targets == nullptr && !decision.policy.empty() && escalation_) {
        // A new case with a policy: step 1 pages now, with the report; the next step is a
        // timer in the same transaction. A target the route's notify already has is paged once.
        auto esc = escalation_(cfg, r, decision, now);
        for (auto& job : esc.planned) {
            const bool already = std::any_of(planned.begin(), planned.end(),
                                             [&](const auto& p) { return p.target == job.target; });
            if (!already) {
                planned.push_back(std::move(job));
            }
        }
        timers = std::move(esc.timers);
        info.policy = decision.policy;
    }
    if (case_targets == nullptr && !decision.group_by.empty() && decision.group_window_ms > 0 &&
        group_hash_) {
        info.group_key = !done->group_key.empty() ? std::move(done->group_key)
                                                  : group_hash_(rules::group_key(decision, r));
        info.group_until = (r.received_at > 0 ? r.received_at : now) + decision.group_window_ms;
    }
    for (auto& e : extra) {
        if (!e.payload.contains("severity")) {
            e.payload["severity"] = "low";  // behind every alert in its channel's queue
        }
        planned.push_back(std::move(e));
    }
    const std::string source = r.source;
    queue_.push(source, domain::severity_rank(decision.severity),
                pending{std::move(r), std::move(info), std::move(planned), std::move(timers),
                        decision.severity, std::move(answer)});
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
    std::vector<std::int64_t> due;
    for (const auto& t : p.timers) {
        due.push_back(t.due_at);
    }
    commit_(std::move(p.report), std::move(p.info), std::move(p.planned), std::move(p.timers),
            [this, answer = std::move(p.answer), source, due = std::move(due),
             severity = std::move(p.severity)](core::result<store::ingest_result> res) mutable {
                // The store answers on its writer thread: back to the io executor.
                asio::post(io_, [this, answer = std::move(answer), res = std::move(res),
                                 source = std::move(source), severity = std::move(severity),
                                 due = std::move(due)]() mutable {
                    queue_.done(source);
                    if (res && !res->timer_ids.empty() && timer_added_) {
                        for (const auto at : due) {
                            timer_added_(at);
                        }
                    }
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
