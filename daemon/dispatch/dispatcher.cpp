#include "dispatch/dispatcher.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/log.hpp"
#include "dispatch/ack_link.hpp"
#include "dispatch/backoff.hpp"
#include "dispatch/classify.hpp"
#include "dispatch/delivery.hpp"
#include "dispatch/planner.hpp"
#include "dispatch/templates.hpp"

namespace hotline::dispatch {
namespace {

using namespace std::chrono_literals;

// Safety net: a job whose in-memory path was lost (a failed record, a reload that dropped a
// channel, a job a full channel did not keep) is found again by the periodic scan.
constexpr std::int64_t scan_interval_ms = 5000;
// The sweep for rows of channels no longer configured reads this many per query.
constexpr std::size_t sweep_batch = 512;
// Retrying a held outcome's record: from this delay, doubling, up to the cap.
constexpr core::duration hold_retry_first = 100ms;
constexpr core::duration hold_retry_cap = 5s;

// Store errors that say "cannot write now" (a full disk, an I/O error, another process's
// lock): the same write can succeed later, so the outcome is held and retried. Others
// ("not_found", "constraint", "closed", ...) cannot, and are logged instead.
bool cannot_write_now(const core::error& e) {
    return e.code == "disk_full" || e.code == "io_error" || e.code == "busy" ||
           e.code == "readonly" || e.code == "storage";
}

std::size_t rank_of(const domain::notification& job) {
    const auto it = job.payload.find("severity");
    if (it == job.payload.end() || !it->is_string()) {
        return domain::severity_rank(domain::default_severity);
    }
    return domain::severity_rank(it->get_ref<const std::string&>());
}

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
      hold_timer_(io),
      grace_timer_(io),
      hold_delay_(hold_retry_first),
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
    metrics_.describe_counter("hotline_sms_segments_total",
                              "SMS segments the provider accepted, per channel.");
    metrics_.describe_counter("hotline_sms_messages_total",
                              "SMS messages the provider accepted, per channel and encoding.");
    metrics_.describe_gauge("hotline_outbox_depth", "Pending notifications in the outbox.");
    metrics_.describe_gauge("hotline_outbox_oldest_due_age_seconds",
                            "Age of the oldest pending notification that is due.");
    metrics_.describe_gauge("hotline_dispatch_queued",
                            "Notifications the dispatcher holds in memory, by channel.");
    metrics_.describe_gauge(
        "hotline_dispatch_held_outcomes",
        "Delivery outcomes the store could not record yet (dispatch is paused while > 0).");
    metrics_.gauge_set("hotline_outbox_depth", {}, 0);
    metrics_.gauge_set("hotline_outbox_oldest_due_age_seconds", {}, 0);
    metrics_.gauge_set("hotline_dispatch_held_outcomes", {}, 0);
}

dispatcher::~dispatcher() {
    *alive_ = false;
}

std::size_t dispatcher::in_flight() const {
    std::size_t n = 0;
    for (const auto& [name, q] : queues_) {
        n += q.known.size();
    }
    return n;
}

std::size_t dispatcher::in_memory(const std::string& channel) const {
    const auto it = queues_.find(channel);
    return it == queues_.end() ? 0 : it->second.known.size();
}

std::size_t dispatcher::limit_of(const std::string& channel) const {
    const auto it = channels_.find(channel);
    if (it == channels_.end()) {
        return config::channel_config{}.max_queued;  // failed through by pump, not sent
    }
    const auto& c = it->second->config();
    return std::max<std::size_t>({1, c.max_queued, c.concurrency});
}

void dispatcher::set_config(std::shared_ptr<const config::config> cfg, channel_map channels) {
    cfg_ = std::move(cfg);
    channels_ = std::move(channels);
    sweep_ = true;  // a channel may have gone: the next scan falls its pending rows through
    post_alive([this] { pump_all(); })();
}

void dispatcher::start() {
    refresh_stats();
    scan();
}

bool dispatcher::admit(domain::notification job) {
    auto& q = queues_[job.channel];
    if (q.known.contains(job.id)) {
        return false;
    }
    const auto rank = std::min(rank_of(job), severity_levels - 1);
    if (q.known.size() >= limit_of(job.channel)) {
        // Full: the least severe waiting job (the newest of its severity) goes back to
        // the store, if it is less severe than this one; otherwise this one stays there.
        q.behind = true;
        auto worst = severity_levels;
        for (auto r = severity_levels; r-- > rank + 1;) {
            if (!q.waiting[r].empty()) {
                worst = r;
                break;
            }
        }
        if (worst == severity_levels) {
            return false;
        }
        q.known.erase(q.waiting[worst].back().id);
        q.waiting[worst].pop_back();
    }
    q.known.insert(job.id);
    q.waiting[rank].push_back(std::move(job));
    return true;
}

void dispatcher::enqueue(std::vector<domain::notification> jobs) {
    (void)take(std::move(jobs));
}

std::size_t dispatcher::take(std::vector<domain::notification> jobs) {
    if (stopping_) {
        return 0;  // they stay pending in the store for the next start
    }
    std::set<std::string> touched;
    std::size_t taken = 0;
    for (auto& job : jobs) {
        auto channel = job.channel;
        if (admit(std::move(job))) {
            ++taken;
            touched.insert(std::move(channel));
        }
    }
    for (const auto& channel : touched) {
        pump(channel);
    }
    return taken;
}

void dispatcher::pump_all() {
    for (const auto& [name, q] : queues_) {
        const bool waiting = std::any_of(q.waiting.begin(), q.waiting.end(),
                                         [](const auto& w) { return !w.empty(); });
        if (waiting) {
            pump(name);
        }
    }
}

void dispatcher::pump(const std::string& channel) {
    if (stopping_ || paused()) {
        return;  // paused: nothing starts until the store records again
    }
    auto& q = queues_[channel];
    const auto next = [&q]() -> std::optional<domain::notification> {
        for (auto& w : q.waiting) {
            if (!w.empty()) {
                auto job = std::move(w.front());
                w.pop_front();
                return job;
            }
        }
        return std::nullopt;
    };
    const auto it = channels_.find(channel);
    if (it == channels_.end()) {
        // A reload removed this channel: fall through to the next contact.
        while (!stopping_ && !paused()) {
            auto job = next();
            if (!job) {
                break;
            }
            fail(*job, "channel \"" + channel + "\" is no longer configured");
        }
        return;
    }
    const auto limit = std::max<std::size_t>(1, it->second->config().concurrency);
    while (!stopping_ && !paused() && q.active < limit) {
        auto job = next();
        if (!job) {
            break;
        }
        ++q.active;
        attempt(std::move(*job));
    }
}

void dispatcher::attempt(domain::notification job) {
    const auto instance = channels_.at(job.channel);
    if (instance->is_sms() && opted_out_.contains(job.address)) {
        --queues_[job.channel].active;  // the caller's pump loop goes on
        hotline_outcome outcome{};
        outcome.struct_size = sizeof outcome;
        outcome.kind = HOTLINE_PERMANENT;
        finish(job, outcome, "recipient opted out (STOP)");
        return;
    }
    if (job.payload.value("kind", std::string{}) == "alert") {
        // What a responder sends back to acknowledge (SMS/email reply, later issues).
        job.payload["ack_hint"] = "ACK " + std::to_string(job.case_id);
        if (ack_key_ && job.case_id > 0 && !job.target.empty() && !cfg_->public_url.empty()) {
            // Made at send time (not stored): a retry carries a fresh link with a fresh ttl.
            job.payload["ack_url"] = ack_url(cfg_->public_url, *ack_key_, job.case_id, job.target,
                                             clock_.now_ms() + cfg_->ack_links.ttl.count());
        }
    }
    if (job.case_id > 0) {
        // Rendered with the prefix of this attempt's config, so a reload applies to retries.
        job.payload["case_tag"] = case_tag(cfg_->case_tag_prefix, job.case_id);
    }
    rendered text;
    std::string sms_encoding;
    std::uint32_t sms_segments = 0;
    std::string status;
    if (instance->is_sms()) {
        auto sms = render_sms(*cfg_, instance->config(), job.language, job.payload);
        if (sms.kind == sms::fit_kind::cut) {
            spdlog::warn(
                "sms channel={} notification={}: the template's fixed text does not fit "
                "max_segments={}, message cut",
                job.channel, job.id, instance->config().max_segments);
        }
        text.body = std::move(sms.body);
        sms_encoding = sms.info.encoding;
        sms_segments = static_cast<std::uint32_t>(sms.info.segments);
        // Recorded with the attempt's outcome (finish) and counted when sent.
        job.payload["sms_encoding"] = sms_encoding;
        job.payload["sms_segments"] = sms_segments;
        if (delivery_key_ && instance->has_parse_status()) {
            status = status_url(cfg_->public_url, *delivery_key_, job.channel, job.id);
        }
    } else {
        text = render(*cfg_, instance->type(), job.language, job.payload);
    }
    const alert_fields fields{std::to_string(job.id),
                              job.idempotency_key,
                              job.address,
                              std::move(text.subject),
                              std::move(text.body),
                              job.payload.dump(),
                              job.payload.value("severity", std::string{"normal"}),
                              job.language,
                              clock_.now_ms() / 1000,
                              static_cast<std::uint32_t>(job.attempts + 1),
                              std::move(sms_encoding),
                              sms_segments,
                              std::move(status)};
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
                     if (aborting_ && reply.status == 0) {
                         // Aborted by the shutdown grace: not an attempt. The row stays
                         // pending with its attempts, no fall-through, no dead letter.
                         spdlog::info("shutdown: notification={} aborted, stays pending", job.id);
                         forget(job);
                         maybe_finish_shutdown();
                         return;
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
        // What of the report went out, for the audit trail (partners see only their `sees:`).
        for (const char* field : {"subject", "text", "sender", "report_labels"}) {
            if (job.payload.contains(field)) {
                r.disclosed.emplace_back(field);
            }
        }
        if (const auto enc = job.payload.find("sms_encoding");
            enc != job.payload.end() && enc->is_string()) {
            r.sms_encoding = enc->get<std::string>();
            r.sms_segments = job.payload.value("sms_segments", 0);
            metrics_.counter_add("hotline_sms_segments_total", {{"channel", job.channel}},
                                 static_cast<double>(r.sms_segments));
            metrics_.counter_add("hotline_sms_messages_total",
                                 {{"channel", job.channel}, {"encoding", r.sms_encoding}});
        }
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
    fail(job, detail, outcome.kind == HOTLINE_PERMANENT);
}

void dispatcher::fail(const domain::notification& job, const std::string& detail, bool permanent) {
    auto plan = plan_failure(*cfg_, job, detail);
    if (const auto it = channels_.find(job.channel);
        permanent && !plan.dead_letter && it != channels_.end() && it->second->is_sms()) {
        // A dead letter tells the admins already; otherwise the bad number would go unseen.
        auto notices = plan_bad_address(*cfg_, job, detail);
        spdlog::warn(
            "bad sms address notification={} target={} channel={} reason={} "
            "admin_notices={}",
            job.id, job.target, job.channel, detail, notices.size());
        plan.follow_ups.insert(plan.follow_ups.end(), std::make_move_iterator(notices.begin()),
                               std::make_move_iterator(notices.end()));
    }
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
    ++recording_;
    auto copy = result;  // kept to retry the record should the store not write it
    // What recorded(), hold() and a retried record() use of the job: its id and channel.
    // Not the payload: copying that JSON tree per delivery was 3% of the io thread.
    domain::notification key;
    key.id = job.id;
    key.channel = job.channel;
    db_.record_attempt(job.id, std::move(result),
                       post_alive([this, key = std::move(key), copy = std::move(copy)](
                                      core::result<store::attempt_record> r) mutable {
                           recorded(key, std::move(copy), std::move(r));
                       }));
}

void dispatcher::forget(const domain::notification& job) {
    auto& q = queues_[job.channel];
    q.known.erase(job.id);
    // Room again after a full page or a job not kept: page the backlog in, in halves so a
    // draining channel does not scan per finished job.
    if (q.behind && q.known.size() <= limit_of(job.channel) / 2) {
        schedule_scan(clock_.now_ms());
    }
}

void dispatcher::recorded(const domain::notification& job, store::attempt_result result,
                          core::result<store::attempt_record> r) {
    --recording_;
    if (!r && cannot_write_now(r.err()) && !aborting_) {
        hold(job, std::move(result), r.err());
        return;
    }
    const bool was_held = held_.erase(job.id) > 0;
    forget(job);
    if (!r) {
        // Not a write the store may take later: the job stays pending and the scan picks it
        // up again.
        spdlog::error("could not record attempt notification={}: {}", job.id, r.err().describe());
        schedule_scan(clock_.now_ms() + 1000);
    } else {
        if (result.outcome == store::attempt_result::kind::retry) {
            schedule_scan(result.next_attempt_at);
        }
        if (!r->follow_ups.empty()) {
            enqueue(std::move(r->follow_ups));
        }
    }
    if (was_held) {
        metrics_.gauge_set("hotline_dispatch_held_outcomes", {}, static_cast<double>(held_.size()));
        if (held_.empty()) {
            hold_timer_.cancel();
            hold_armed_ = false;
            hold_delay_ = hold_retry_first;
            if (!stopping_) {
                spdlog::info("store records outcomes again: dispatch resumed");
            }
            pump_all();
            schedule_scan(clock_.now_ms());
        }
    }
    maybe_finish_shutdown();
}

void dispatcher::hold(const domain::notification& job, store::attempt_result result,
                      const core::error& e) {
    const bool first = held_.empty();
    auto& h = held_[job.id];
    const bool fresh = h.job.id == 0;
    h.job = job;
    h.result = std::move(result);
    h.recording = false;
    if (first) {
        spdlog::error(
            "store cannot record delivery outcomes (code={}): dispatch paused, outcomes held "
            "in memory until it can",
            e.code);
    }
    if (fresh) {
        spdlog::warn("holding the outcome of notification={} (store code={})", job.id, e.code);
    }
    metrics_.gauge_set("hotline_dispatch_held_outcomes", {}, static_cast<double>(held_.size()));
    arm_hold_retry();
    maybe_finish_shutdown();
}

void dispatcher::arm_hold_retry() {
    if (hold_armed_ || held_.empty()) {
        return;
    }
    hold_armed_ = true;
    hold_timer_.expires_after(hold_delay_);
    hold_delay_ = std::min(hold_delay_ * 2, hold_retry_cap);
    hold_timer_.async_wait([this, alive = std::weak_ptr(alive_)](const error_code& ec) {
        if (ec || alive.expired()) {
            return;
        }
        hold_armed_ = false;
        retry_held();
    });
}

void dispatcher::retry_held() {
    for (auto& [id, h] : held_) {
        if (h.recording) {
            continue;
        }
        h.recording = true;
        record(h.job, h.result);
    }
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
    if (scans_out_ > 0) {
        rescan_ = true;
        return;
    }
    const auto now = clock_.now_ms();
    // One query per channel with room, for at most that room, skipping what is in memory:
    // what a scan reads is bounded by max_queued, not by the backlog.
    std::vector<std::pair<std::string, store::due_query>> queries;
    for (const auto& [name, instance] : channels_) {
        const auto& q = queues_[name];
        const auto limit = limit_of(name);
        if (q.known.size() >= limit) {
            continue;  // forget() scans again once it has drained to half
        }
        store::due_query d;
        d.channel = name;
        d.limit = limit - q.known.size();
        d.exclude.assign(q.known.begin(), q.known.end());
        queries.emplace_back(name, std::move(d));
    }
    if (sweep_) {
        // Rows of channels no longer configured (a reload or restart removed them): only
        // a config change makes them, so only then are they looked for.
        store::due_query d;
        d.limit = sweep_batch;
        for (const auto& [name, q] : queues_) {
            if (!channels_.contains(name)) {
                d.exclude.insert(d.exclude.end(), q.known.begin(), q.known.end());
            }
        }
        for (const auto& [name, instance] : channels_) {
            d.skip_channels.push_back(name);
        }
        queries.emplace_back(std::string{}, std::move(d));
    }
    if (queries.empty()) {
        schedule_scan(now + scan_interval_ms);
        return;
    }
    scans_out_ = queries.size();
    for (auto& [name, d] : queries) {
        const auto limit = d.limit;
        db_.due(now, std::move(d),
                post_alive(
                    [this, name = name, limit](core::result<std::vector<domain::notification>> r) {
                        scanned(name, limit, std::move(r));
                    }));
    }
}

void dispatcher::scanned(const std::string& channel, std::size_t limit,
                         core::result<std::vector<domain::notification>> r) {
    --scans_out_;
    const auto now = clock_.now_ms();
    bool again = false;
    if (!r) {
        spdlog::error("outbox scan failed: {}", r.err().describe());
        rescan_ = false;
        if (scans_out_ == 0) {
            schedule_scan(now + 1000);
        }
        return;
    }
    const bool full = r->size() >= limit;
    if (!r->empty()) {
        spdlog::debug("outbox scan found {} due notifications channel={}", r->size(),
                      channel.empty() ? "(unconfigured)" : channel);
    }
    const auto taken = take(std::move(*r));
    if (channel.empty()) {
        // Read on while pages are full and taken; a full queue of a removed channel
        // drains as its jobs fall through, and the periodic scan reads on then.
        sweep_ = full;
        again = full && taken > 0;
    } else {
        auto& q = queues_[channel];
        q.behind = full;
        // A full page with room left (jobs finished meanwhile): read on at once.
        again = full && taken > 0 && q.known.size() < limit_of(channel);
    }
    if (again) {
        rescan_ = true;
    }
    if (scans_out_ > 0) {
        return;
    }
    if (rescan_) {
        rescan_ = false;
        schedule_scan(now);
    } else {
        schedule_scan(now + scan_interval_ms);
    }
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
            for (const auto& [name, q] : queues_) {
                metrics_.gauge_set("hotline_dispatch_queued", {{"channel", name}},
                                   static_cast<double>(q.known.size()));
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
        for (auto& w : q.waiting) {
            for (const auto& job : w) {
                q.known.erase(job.id);  // still pending in the store
            }
            w.clear();
        }
    }
    grace_timer_.expires_after(grace);
    grace_timer_.async_wait([this, alive = std::weak_ptr(alive_)](const error_code& ec) {
        if (!ec && !alive.expired() && on_stopped_) {
            grace_over();
        }
    });
    maybe_finish_shutdown();
}

void dispatcher::grace_over() {
    aborting_ = true;
    if (net_.in_flight() > 0) {
        spdlog::warn("shutdown grace over: aborting {} transfers", net_.in_flight());
    }
    net_.cancel_all();
    if (!held_.empty()) {
        spdlog::warn(
            "shutdown: {} delivery outcomes could not be recorded; those notifications stay "
            "pending and will be sent again after the restart",
            held_.size());
        for (auto& [id, h] : held_) {
            if (!h.recording) {
                queues_[h.job.channel].known.erase(id);
            }
        }
        std::erase_if(held_, [](const auto& e) { return !e.second.recording; });
        hold_timer_.cancel();
    }
    maybe_finish_shutdown();
}

void dispatcher::maybe_finish_shutdown() {
    if (!stopping_ || !on_stopped_) {
        return;
    }
    if (recording_ > 0) {
        return;
    }
    if (!held_.empty() && !aborting_) {
        return;  // retried until the grace runs out
    }
    for (const auto& [name, q] : queues_) {
        if (q.active > 0) {
            return;
        }
    }
    grace_timer_.cancel();
    hold_timer_.cancel();
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
}

}  // namespace hotline::dispatch
