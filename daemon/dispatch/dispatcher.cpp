#include "dispatch/dispatcher.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "dispatch/backoff.hpp"
#include "dispatch/classify.hpp"
#include "dispatch/planner.hpp"
#include "dispatch/templates.hpp"

namespace hotline::dispatch {
namespace {

// Safety net: a job whose in-memory path was lost (a failed record, a reload that dropped a
// channel) is found again by the periodic scan.
constexpr std::int64_t scan_interval_ms = 5000;
constexpr std::size_t scan_batch = 512;

}  // namespace

dispatcher::dispatcher(asio::io_context& io, store::store& db, net::sender& net,
                       core::metrics& metrics, const core::clock& clock)
    : io_(io),
      db_(db),
      net_(net),
      metrics_(metrics),
      clock_(clock),
      scan_timer_(io),
      stats_timer_(io),
      alive_(std::make_shared<bool>(true)) {
    metrics_.describe_counter("hotline_notifications_sent_total",
                              "Notifications delivered, by channel.");
    metrics_.describe_counter("hotline_notifications_retried_total",
                              "Delivery attempts that will be retried, by channel.");
    metrics_.describe_counter("hotline_notifications_failed_total",
                              "Notifications that failed for good on one contact, by channel.");
    metrics_.describe_counter(
        "hotline_notifications_dead_total",
        "Notifications whose every contact failed (dead letters), by channel.");
    metrics_.describe_gauge("hotline_outbox_depth", "Pending notifications in the outbox.");
    metrics_.describe_gauge("hotline_outbox_oldest_due_age_seconds",
                            "Age of the oldest pending notification that is due.");
    metrics_.gauge_set("hotline_outbox_depth", {}, 0);
    metrics_.gauge_set("hotline_outbox_oldest_due_age_seconds", {}, 0);
}

dispatcher::~dispatcher() {
    *alive_ = false;
}

void dispatcher::set_config(std::shared_ptr<const config::config> cfg, channel_map channels) {
    cfg_ = std::move(cfg);
    channels_ = std::move(channels);
    for (const auto& [name, q] : queues_) {
        if (!q.waiting.empty()) {
            post_alive([this, name = name] { pump(name); })();
        }
    }
}

void dispatcher::start() {
    refresh_stats();
    scan();
}

void dispatcher::enqueue(std::vector<domain::notification> jobs) {
    if (stopping_) {
        return;  // they stay pending in the store for the next start
    }
    std::set<std::string> touched;
    for (auto& job : jobs) {
        if (!known_.insert(job.id).second) {
            continue;
        }
        touched.insert(job.channel);
        queues_[job.channel].waiting.push_back(std::move(job));
    }
    for (const auto& channel : touched) {
        pump(channel);
    }
}

void dispatcher::pump(const std::string& channel) {
    auto& q = queues_[channel];
    const auto it = channels_.find(channel);
    if (it == channels_.end()) {
        // A reload removed this channel: fall through to the next contact.
        while (!q.waiting.empty() && !stopping_) {
            auto job = std::move(q.waiting.front());
            q.waiting.pop_front();
            fail(job, "channel \"" + channel + "\" is no longer configured");
        }
        return;
    }
    const auto limit = std::max<std::size_t>(1, it->second->config().concurrency);
    while (!stopping_ && q.active < limit && !q.waiting.empty()) {
        auto job = std::move(q.waiting.front());
        q.waiting.pop_front();
        ++q.active;
        attempt(std::move(job));
    }
}

void dispatcher::attempt(domain::notification job) {
    const auto instance = channels_.at(job.channel);
    if (job.payload.value("kind", std::string{}) == "alert") {
        // What a responder sends back to acknowledge (SMS/email reply, later issues).
        job.payload["ack_hint"] = "ACK " + std::to_string(job.case_id);
    }
    auto text = render(*cfg_, instance->type(), job.language, job.payload);
    const alert_fields fields{std::to_string(job.id),
                              job.idempotency_key,
                              job.address,
                              std::move(text.subject),
                              std::move(text.body),
                              job.payload.dump(),
                              job.payload.value("severity", std::string{"normal"}),
                              job.language,
                              clock_.now_ms() / 1000,
                              static_cast<std::uint32_t>(job.attempts + 1)};
    auto request = instance->build(fields.view());
    if (!request) {
        --queues_[job.channel].active;  // the caller's pump loop goes on
        hotline_outcome outcome{};
        outcome.struct_size = sizeof outcome;
        outcome.kind = HOTLINE_PERMANENT;
        finish(job, outcome, "could not build the message: " + request.err().message);
        return;
    }
    spdlog::debug("attempt notification={} channel={} attempt={}", job.id, job.channel,
                  job.attempts + 1);
    net_.perform(to_net_request((*request)->raw), instance->config().timeout,
                 [this, job = std::move(job), instance,
                  alive = std::weak_ptr(alive_)](net::reply reply) mutable {
                     if (alive.expired()) {
                         return;
                     }
                     // The slot is free as soon as the transfer is: recording the outcome
                     // (one more commit) must not hold back the next delivery.
                     auto& q = queues_[job.channel];
                     if (q.active > 0) {
                         --q.active;
                     }
                     if (!reply.error_detail.empty()) {
                         // Names the contact's host: never above debug, never stored.
                         spdlog::debug("transport detail notification={}: {}", job.id,
                                       reply.error_detail);
                     }
                     auto c = classify_reply(*instance, reply);
                     finish(job, c.outcome, std::move(c.detail));
                     pump(job.channel);
                 });
}

void dispatcher::finish(const domain::notification& job, hotline_outcome outcome,
                        std::string detail) {
    const auto now = clock_.now_ms();
    if (outcome.kind == HOTLINE_DELIVERED) {
        metrics_.counter_add("hotline_notifications_sent_total", {{"channel", job.channel}});
        store::attempt_result r;
        r.outcome = store::attempt_result::kind::delivered;
        r.provider_id.assign(outcome.provider_id,
                             strnlen(outcome.provider_id, sizeof outcome.provider_id));
        r.detail = "delivered";
        spdlog::info("delivered notification={} case={} channel={} attempt={}", job.id, job.case_id,
                     job.channel, job.attempts + 1);
        record(job, std::move(r));
        return;
    }
    if (outcome.kind == HOTLINE_RETRY) {
        const auto it = channels_.find(job.channel);
        const auto policy =
            it != channels_.end() ? it->second->config().retry : config::retry_policy{};
        const int attempts = job.attempts + 1;
        auto delay = backoff_delay(policy, attempts, random_unit).count();
        delay = std::max<std::int64_t>(delay, outcome.retry_after_ms);
        const auto next = now + delay;
        if (may_retry(policy, attempts, job.created_at, next)) {
            metrics_.counter_add("hotline_notifications_retried_total", {{"channel", job.channel}});
            spdlog::warn("retry notification={} channel={} attempt={} in_ms={} reason={}", job.id,
                         job.channel, attempts, delay, detail);
            store::attempt_result r;
            r.outcome = store::attempt_result::kind::retry;
            r.detail = detail;
            r.next_attempt_at = next;
            record(job, std::move(r));
            return;
        }
        detail += " (gave up after " + std::to_string(attempts) + " attempts)";
    }
    fail(job, detail);
}

void dispatcher::fail(const domain::notification& job, const std::string& detail) {
    const auto plan = plan_failure(*cfg_, job, detail);
    metrics_.counter_add("hotline_notifications_failed_total", {{"channel", job.channel}});
    if (plan.dead_letter) {
        metrics_.counter_add("hotline_notifications_dead_total", {{"channel", job.channel}});
        spdlog::error(
            "dead letter notification={} case={} target={} channel={} reason={} "
            "admin_alerts={}",
            job.id, job.case_id, job.target, job.channel, detail, plan.follow_ups.size());
    } else {
        spdlog::warn(
            "failed notification={} case={} target={} channel={} reason={}; trying the "
            "next contact",
            job.id, job.case_id, job.target, job.channel, detail);
    }
    store::attempt_result r;
    r.outcome = store::attempt_result::kind::failed;
    r.detail = detail;
    r.follow_ups = plan.follow_ups;
    r.dead_letter = plan.dead_letter;
    record(job, std::move(r));
}

void dispatcher::record(const domain::notification& job, store::attempt_result result) {
    const bool retry = result.outcome == store::attempt_result::kind::retry;
    const auto next = result.next_attempt_at;
    ++recording_;
    db_.record_attempt(job.id, std::move(result),
                       post_alive([this, job, retry, next](core::result<store::attempt_record> r) {
                           const bool ok = r.ok();
                           recorded(job, std::move(r));
                           if (retry && ok) {
                               schedule_scan(next);
                           }
                       }));
}

void dispatcher::recorded(const domain::notification& job, core::result<store::attempt_record> r) {
    known_.erase(job.id);
    --recording_;
    if (!r) {
        // The job stays pending in the store; the scan picks it up again.
        spdlog::error("could not record attempt notification={}: {}", job.id, r.err().describe());
        schedule_scan(clock_.now_ms() + 1000);
    } else if (!r->follow_ups.empty()) {
        enqueue(std::move(r->follow_ups));
    }
    maybe_finish_shutdown();
}

void dispatcher::schedule_scan(std::int64_t at_ms) {
    if (stopping_) {
        return;
    }
    const auto now = clock_.now_ms();
    at_ms = std::max(at_ms, now);
    if (scan_at_ms_ != 0 && scan_at_ms_ <= at_ms) {
        return;  // an earlier scan is already armed
    }
    scan_at_ms_ = at_ms;
    scan_timer_.expires_after(std::chrono::milliseconds(at_ms - now));
    scan_timer_.async_wait([this, alive = std::weak_ptr(alive_)](const error_code& ec) {
        if (ec || alive.expired()) {
            return;
        }
        scan_at_ms_ = 0;
        scan();
    });
}

void dispatcher::scan() {
    if (stopping_) {
        return;
    }
    if (scanning_) {
        rescan_ = true;
        return;
    }
    scanning_ = true;
    const auto now = clock_.now_ms();
    std::vector<std::int64_t> exclude(known_.begin(), known_.end());
    db_.due(now, scan_batch, std::move(exclude),
            post_alive([this](core::result<std::vector<domain::notification>> r) {
                scanning_ = false;
                const auto now = clock_.now_ms();
                if (!r) {
                    spdlog::error("outbox scan failed: {}", r.err().describe());
                    schedule_scan(now + 1000);
                    return;
                }
                const bool full = r->size() >= scan_batch;
                if (!r->empty()) {
                    spdlog::debug("outbox scan found {} due notifications", r->size());
                }
                enqueue(std::move(*r));
                if (full || rescan_) {
                    rescan_ = false;
                    schedule_scan(now);
                } else {
                    schedule_scan(now + scan_interval_ms);
                }
            }));
}

void dispatcher::refresh_stats() {
    db_.outbox_stats(
        clock_.now_ms(), post_alive([this](core::result<store::stats> r) {
            if (stopping_) {
                return;
            }
            if (r) {
                const auto now = clock_.now_ms();
                metrics_.gauge_set("hotline_outbox_depth", {}, static_cast<double>(r->pending));
                const double age = r->oldest_due_at > 0 && r->oldest_due_at < now
                                       ? static_cast<double>(now - r->oldest_due_at) / 1000.0
                                       : 0.0;
                metrics_.gauge_set("hotline_outbox_oldest_due_age_seconds", {}, age);
            }
            stats_timer_.expires_after(std::chrono::seconds(1));
            stats_timer_.async_wait([this, alive = std::weak_ptr(alive_)](const error_code& ec) {
                if (!ec && !alive.expired()) {
                    refresh_stats();
                }
            });
        }));
}

void dispatcher::shutdown(core::duration grace, std::function<void()> done) {
    stopping_ = true;
    on_stopped_ = std::move(done);
    scan_timer_.cancel();
    stats_timer_.cancel();
    for (auto& [name, q] : queues_) {
        for (const auto& job : q.waiting) {
            known_.erase(job.id);  // still pending in the store
        }
        q.waiting.clear();
    }
    scan_timer_.expires_after(grace);
    scan_timer_.async_wait([this, alive = std::weak_ptr(alive_)](const error_code& ec) {
        if (!ec && !alive.expired() && on_stopped_) {
            spdlog::warn("shutdown grace over: aborting {} transfers", net_.in_flight());
            net_.cancel_all();
        }
    });
    maybe_finish_shutdown();
}

void dispatcher::maybe_finish_shutdown() {
    if (!stopping_ || !on_stopped_) {
        return;
    }
    if (recording_ > 0) {
        return;
    }
    for (const auto& [name, q] : queues_) {
        if (q.active > 0) {
            return;
        }
    }
    scan_timer_.cancel();
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
}

}  // namespace hotline::dispatch
