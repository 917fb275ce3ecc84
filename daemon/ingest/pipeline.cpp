#include "ingest/pipeline.hpp"

#include <string>
#include <utility>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "dispatch/planner.hpp"
#include "rules/route.hpp"

namespace hotline::ingest {

// One submit waiting for its commit: answered once, by the commit or by the deadline,
// whichever comes first (both run on the io executor).
struct pipeline::pending {
    pending(const asio::any_io_executor& io, completion d) : done(std::move(d)), deadline(io) {}
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
      enqueue_(std::move(enqueue)) {
    metrics_.describe_counter("hotline_reports_received_total",
                              "Reports accepted and committed (202), by source");
    metrics_.describe_counter("hotline_reports_duplicate_total",
                              "Reports already known by (source, external_id), by source");
    metrics_.describe_counter("hotline_reports_rejected_total",
                              "Report requests refused with a 4xx, by source and reason");
}

pipeline::commit_fn pipeline::commit_to(store::store& db) {
    return [&db](domain::report r, domain::case_info c,
                 std::vector<domain::planned_notification> planned,
                 std::function<void(core::result<store::ingest_result>)> done) {
        db.ingest(std::move(r), std::move(c), std::move(planned), std::move(done));
    };
}

void pipeline::set_config(std::shared_ptr<const config::config> cfg) {
    cfg_ = std::move(cfg);
}

void pipeline::submit(domain::report r, completion done) {
    if (cfg_ == nullptr) {  // wiring error: no config yet; answer rather than drop
        asio::post(io_, [done = std::move(done)] {
            done(core::make_error("config", "no configuration loaded"));
        });
        return;
    }
    // Held for this report only: a reload during the commit does not change its plan.
    const auto cfg = cfg_;
    const auto decision = rules::evaluate(cfg->route, r);
    auto planned = dispatch::plan_report(*cfg, r, decision);
    auto info = dispatch::case_for(decision);
    std::string source = r.source;
    auto waiting = std::make_shared<pending>(io_, std::move(done));
    // A stuck store (a stalled fsync) must not hang the source's connection: answer 503
    // at the deadline. The commit may still land; committed() then only enqueues.
    waiting->deadline.expires_after(cfg->server.submit_timeout);
    waiting->deadline.async_wait(
        [waiting, source, timeout = cfg->server.submit_timeout](const error_code& ec) {
            if (ec || waiting->answered) {
                return;
            }
            spdlog::warn(
                "store did not commit a report from source={} within submit_timeout={}: answered "
                "unavailable",
                source, core::format_duration(timeout));
            waiting->answer(core::make_error("timeout", "the store did not commit in time"));
        });
    commit_(std::move(r), std::move(info), std::move(planned),
            [this, waiting, source = std::move(source),
             severity = decision.severity](core::result<store::ingest_result> res) mutable {
                // The store answers on its writer thread: back to the io executor.
                asio::post(io_,
                           [this, waiting = std::move(waiting), res = std::move(res),
                            source = std::move(source), severity = std::move(severity)]() mutable {
                               committed(std::move(res), source, severity, *waiting);
                           });
            });
}

void pipeline::committed(core::result<store::ingest_result> res, const std::string& source,
                         const std::string& severity, pending& waiting) {
    if (!res) {
        spdlog::error("store failed for a report from source={}: {}", source, res.err().describe());
        if (!waiting.answered) {
            waiting.answer(res.err());
        }
        return;
    }
    const domain::report_ids ids = res->ids;
    if (ids.duplicate) {
        metrics_.counter_add("hotline_reports_duplicate_total", {{"source", source}});
        spdlog::info("duplicate report={} source={}", ids.report_id, source);
        if (!waiting.answered) {
            waiting.answer(ids);
        }
        return;
    }
    metrics_.counter_add("hotline_reports_received_total", {{"source", source}});
    spdlog::info("stored report={} case={} source={} severity={} notifications={}", ids.report_id,
                 ids.case_id, source, severity, res->notifications.size());
    // Committed first, so a crash from here on loses nothing: the dispatcher's scan of due
    // rows would find these notifications too.
    enqueue_(std::move(res->notifications));
    if (waiting.answered) {
        spdlog::warn(
            "report={} source={} committed after its source was answered unavailable; "
            "its retry will be answered as a duplicate",
            ids.report_id, source);
        return;
    }
    waiting.answer(ids);
}

void pipeline::rejected(std::string_view source, std::string_view reason) {
    metrics_.counter_add("hotline_reports_rejected_total",
                         {{"source", std::string(source)}, {"reason", std::string(reason)}});
}

}  // namespace hotline::ingest
