#include "ingest/timer_loop.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/log.hpp"

namespace hotline::ingest {

timer_loop::timer_loop(asio::any_io_executor io, store::store& db, const core::clock& clock,
                       std::string owner, settings s)
    : io_(std::move(io)),
      db_(db),
      clock_(clock),
      owner_(std::move(owner)),
      settings_(s),
      timer_(io_),
      alive_(std::make_shared<bool>(true)) {}

timer_loop::~timer_loop() {
    stopped_ = true;
    timer_.cancel();
}

void timer_loop::on(std::string kind, handler h) {
    handlers_[std::move(kind)] = std::move(h);
}

void timer_loop::start() {
    stopped_ = false;
    refresh();
}

void timer_loop::stop() {
    stopped_ = true;
    armed_at_ = 0;
    timer_.cancel();
}

void timer_loop::wake_at(std::int64_t at_ms) {
    if (stopped_) {
        return;
    }
    if (claiming_) {
        again_ = true;
        return;
    }
    if (armed_at_ == 0 || at_ms < armed_at_) {
        arm(at_ms);
    }
}

void timer_loop::refresh() {
    if (stopped_) {
        return;
    }
    db_.next_timer_due([this, alive = std::weak_ptr(alive_)](
                           core::result<std::optional<std::int64_t>> next) {
        asio::post(io_, [this, alive, next = std::move(next)] {
            if (alive.expired() || stopped_) {
                return;
            }
            const auto now = clock_.now_ms();
            if (!next) {
                spdlog::error("timers: cannot read the next due time: {}", next.err().describe());
                arm(now + 1'000);
                return;
            }
            arm(next->has_value() ? **next : now + settings_.idle_recheck_ms);
        });
    });
}

void timer_loop::arm(std::int64_t at_ms) {
    if (stopped_) {
        return;
    }
    armed_at_ = std::max<std::int64_t>(at_ms, 1);
    const auto wait = std::max<std::int64_t>(0, at_ms - clock_.now_ms());
    timer_.expires_after(std::chrono::milliseconds(wait));
    timer_.async_wait([this, alive = std::weak_ptr(alive_), at_ms](const error_code& ec) {
        if (ec || alive.expired() || stopped_ || armed_at_ != std::max<std::int64_t>(at_ms, 1)) {
            return;
        }
        armed_at_ = 0;
        fire();
    });
}

void timer_loop::fire() {
    claiming_ = true;
    again_ = false;
    db_.claim_due_timers(
        clock_.now_ms(), owner_, settings_.lease_ms, settings_.batch,
        [this, alive = std::weak_ptr(alive_)](core::result<std::vector<store::timer>> r) {
            asio::post(io_, [this, alive, r = std::move(r)]() mutable {
                if (!alive.expired()) {
                    claimed(std::move(r));
                }
            });
        });
}

void timer_loop::claimed(core::result<std::vector<store::timer>> r) {
    claiming_ = false;
    if (stopped_) {
        return;
    }
    if (!r) {
        spdlog::error("timers: claim failed: {}", r.err().describe());
        arm(clock_.now_ms() + 1'000);
        return;
    }
    for (const auto& t : *r) {
        const auto h = handlers_.find(t.kind);
        if (h == handlers_.end()) {
            spdlog::warn(
                "timers: no handler for timer={} kind={}; it stays claimed until its "
                "lease ends",
                t.id, t.kind);
            continue;
        }
        ++running_;
        spdlog::debug("timers: fire timer={} kind={} subject={}", t.id, t.kind, t.subject);
        auto once = std::make_shared<bool>(false);
        h->second(t, [this, t, once, alive = std::weak_ptr(alive_)](bool ok) {
            if (alive.expired() || *once) {
                return;
            }
            *once = true;
            settle(t, ok);
        });
    }
    if (r->size() >= settings_.batch || again_) {
        arm(clock_.now_ms());  // more may be due
        return;
    }
    refresh();
}

void timer_loop::settle(const store::timer& t, bool ok) {
    if (running_ > 0) {
        --running_;
    }
    if (!ok || stopped_) {
        if (!ok) {
            spdlog::warn("timers: timer={} kind={} not done; it comes back after its lease", t.id,
                         t.kind);
        }
        return;
    }
    db_.complete_timer(t.id, owner_,
                       [id = t.id, kind = t.kind](core::result<store::timer_completion> c) {
                           if (!c) {
                               spdlog::error("timers: cannot complete timer={} kind={}: {}", id,
                                             kind, c.err().describe());
                           } else if (*c == store::timer_completion::not_owner) {
                               spdlog::warn(
                                   "timers: timer={} kind={} was claimed by another "
                                   "owner before it completed",
                                   id, kind);
                           }
                       });
}

}  // namespace hotline::ingest
