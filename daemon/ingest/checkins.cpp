#include "ingest/checkins.hpp"

#include <algorithm>
#include <ctime>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "ingest/timer_loop.hpp"

namespace hotline::ingest {

namespace {

// Equal PINs, in time that depends only on the lengths (a PIN is at most 12 digits; the
// gateway's timing must not tell how many digits of a guess were right).
bool same_pin(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff = static_cast<unsigned char>(diff | (x ^ y));
    }
    return diff == 0;
}

constexpr std::int64_t max_sms_interval_ms = 30LL * 24 * 3'600'000;

std::int64_t ms(core::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

checkin_pin match_checkin_pin(const config::checkin_enrollment& e, std::string_view pin) {
    // Both comparisons always run, so a duress PIN costs what a good one does.
    const bool duress = !e.duress_pin.empty() && same_pin(pin, e.duress_pin);
    const bool good = !e.pin.empty() && same_pin(pin, e.pin);
    if (duress) {
        return checkin_pin::duress;
    }
    if (good || e.pin.empty()) {
        return checkin_pin::counted;
    }
    return checkin_pin::wrong;
}

std::string checkin_time(std::int64_t unix_ms) {
    if (unix_ms <= 0) {
        return "never";
    }
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

rules::decision checkin_decision(const config::checkin_enrollment& e, bool duress,
                                 std::int64_t last_at, std::int64_t due_at) {
    rules::decision d;
    d.paths = {{"checkin"}};
    d.severity = duress ? "critical" : "high";
    d.policy = duress ? e.duress_policy : e.policy;
    d.labels = {{"checkin", e.id}, {"last_checkin", checkin_time(last_at)}};
    if (!duress) {
        d.labels["checkin_due"] = checkin_time(due_at);
    }
    d.trace = nlohmann::json::object();
    return d;
}

domain::report checkin_report(const config::checkin_enrollment& e, bool duress,
                              std::int64_t last_at, std::int64_t due_at, std::int64_t now_ms,
                              const std::string& unique) {
    domain::report r;
    r.source = "checkin";
    r.source_kind = "checkin";
    r.sender = e.id;
    r.received_at = now_ms;
    r.language = e.language;
    const std::string who = e.name.empty() ? e.id : e.name + " (" + e.id + ")";
    if (duress) {
        r.external_id = "checkin-duress:" + e.id + ":" + unique;
        r.subject = "DURESS: " + who;
        r.text = "Duress PIN: " + who + " checked in with the duress PIN at " +
                 checkin_time(now_ms) + ". Do not contact them by phone or SMS.\n" +
                 "Код принуждения: " + who + " отметился кодом принуждения в " +
                 checkin_time(now_ms) + ". Не звоните и не пишите ему по телефону.";
    } else {
        r.external_id = "checkin-missed:" + e.id + ":" + std::to_string(due_at);
        r.subject = "Missed check-in: " + who;
        r.text = "Missed check-in: " + who + " was due to check in by " + checkin_time(due_at) +
                 "; last check-in: " + checkin_time(last_at) + ".\n" + "Пропущена отметка: " + who +
                 " должен был отметиться до " + checkin_time(due_at) +
                 "; последняя отметка: " + checkin_time(last_at) + ".";
    }
    r.labels = {{"checkin", e.id}, {"last_checkin", checkin_time(last_at)}};
    if (!duress) {
        r.labels["checkin_due"] = checkin_time(due_at);
    }
    return r;
}

struct checkin_service::impl : std::enable_shared_from_this<impl> {
    asio::any_io_executor io;
    pipeline& pipe;
    store::store& db;
    const core::clock& clock;
    core::metrics& metrics;
    std::shared_ptr<const config::config> cfg;
    timer_loop* timers{nullptr};

    impl(asio::any_io_executor e, pipeline& p, store::store& s, const core::clock& c,
         core::metrics& m)
        : io(std::move(e)), pipe(p), db(s), clock(c), metrics(m) {}

    template <class F>
    void on_io(F&& f) {
        asio::post(io, std::forward<F>(f));
    }

    void change(store::checkin_change c,
                std::function<void(core::result<store::checkin_result>)> done) {
        db.change_checkin(std::move(c), [self = weak_from_this(), done = std::move(done)](
                                            core::result<store::checkin_result> r) mutable {
            auto me = self.lock();
            if (!me) {
                return;
            }
            me->on_io([self, done = std::move(done), r = std::move(r)]() mutable {
                auto me = self.lock();
                if (!me) {
                    return;
                }
                if (r && r->timer_id > 0 && me->timers != nullptr) {
                    me->timers->wake_at(r->timer_due_at);
                }
                done(std::move(r));
            });
        });
    }

    void raise_duress(const config::checkin_enrollment& e, std::int64_t now,
                      const std::string& message_id) {
        // The deadline moves as for a good check-in (the caller's change); this adds the case.
        const std::string unique = message_id.empty() ? std::to_string(now) : message_id;
        auto refused = pipe.submit_decided(checkin_report(e, true, now, 0, now, unique),
                                           checkin_decision(e, true, now, 0),
                                           [id = e.id](core::result<domain::report_ids> r) {
                                               if (!r) {
                                                   spdlog::error(
                                                       "checkin: defender={}: a report could "
                                                       "not be stored: {}",
                                                       id, r.err().describe());
                                               }
                                           });
        if (refused) {
            spdlog::error("checkin: defender={}: a report was refused ({}): queue full", e.id,
                          refused->status);
        }
    }
};

checkin_service::checkin_service(asio::any_io_executor io, pipeline& p, store::store& db,
                                 const core::clock& clock, core::metrics& metrics)
    : impl_(std::make_shared<impl>(std::move(io), p, db, clock, metrics)) {
    metrics.describe_counter("hotline_checkins_total",
                             "Check-in messages from enrolled defenders, by outcome "
                             "(counted, refused, start, stop)");
    metrics.describe_counter("hotline_checkins_missed_total",
                             "Missed check-ins that opened a case");
}

checkin_service::~checkin_service() = default;

void checkin_service::set_config(std::shared_ptr<const config::config> cfg) {
    impl_->cfg = std::move(cfg);
}

void checkin_service::attach(timer_loop& timers) {
    impl_->timers = &timers;
    timers.on("checkin_due", [self = std::weak_ptr(impl_), this](const store::timer& t,
                                                                 timer_loop::settled_fn settled) {
        if (self.expired()) {
            settled(false);
            return;
        }
        deadline(t, std::move(settled));
    });
}

bool checkin_service::take_sms(const std::string& sender, const std::string& message_id,
                               const rules::reply_command& cmd,
                               std::function<void(core::status)> done) {
    using rk = rules::reply_command::kind;
    if (cmd.action != rk::checkin && cmd.action != rk::checkin_start &&
        cmd.action != rk::checkin_stop) {
        return false;
    }
    const auto cfg = impl_->cfg;
    const config::checkin_enrollment* e = cfg ? cfg->find_checkin_by_phone(sender) : nullptr;
    if (e == nullptr) {
        return false;
    }
    const std::int64_t now = impl_->clock.now_ms();
    store::checkin_change c;
    c.id = e->id;
    c.actor = "checkin:" + e->id;
    c.channel = "sms";
    c.interval_ms = ms(e->interval);
    c.grace_ms = ms(e->grace);
    std::string outcome;
    bool duress = false;
    if (cmd.action == rk::checkin) {
        switch (match_checkin_pin(*e, cmd.pin)) {
            case checkin_pin::duress:
                duress = true;
                c.what = store::checkin_change::kind::checkin;
                break;
            case checkin_pin::counted: c.what = store::checkin_change::kind::checkin; break;
            case checkin_pin::wrong:
                c.what = store::checkin_change::kind::refused;
                c.reason = "wrong_pin";
                break;
        }
        outcome = c.what == store::checkin_change::kind::refused ? "refused" : "counted";
    } else if (cmd.action == rk::checkin_start) {
        c.what = store::checkin_change::kind::start;
        if (!cmd.duration.empty()) {
            // 1m to 30d, as through the API; anything else keeps the enrollment's interval.
            if (auto d = core::parse_duration(cmd.duration);
                d && ms(*d) >= 60'000 && ms(*d) <= max_sms_interval_ms) {
                c.interval_ms = ms(*d);
            }
        }
        outcome = "start";
    } else {
        if (e->pin.empty()) {
            c.what = store::checkin_change::kind::stop;
            outcome = "stop";
        } else {
            c.what = store::checkin_change::kind::refused;
            c.reason = "stop_needs_api";
            outcome = "refused";
        }
    }
    // Counted as "counted" for a duress PIN too: the metric must not tell them apart.
    impl_->metrics.counter_add("hotline_checkins_total", {{"outcome", outcome}});
    const auto enrollment = *e;  // the case needs it after a reload too
    impl_->change(
        std::move(c), [done = std::move(done), id = e->id](core::result<store::checkin_result> r) {
            if (!r) {
                spdlog::error("checkin: defender={}: not recorded: {}", id, r.err().describe());
                done(r.err());
                return;
            }
            spdlog::info("checkin: defender={} message recorded", id);
            done(core::ok());
        });
    if (duress) {
        impl_->raise_duress(enrollment, now, message_id);
    }
    return true;
}

void checkin_service::start(const std::string& id, std::int64_t interval_ms, std::string actor,
                            std::string channel,
                            std::function<void(core::result<checkin_view>)> done) {
    change_by_hand(store::checkin_change::kind::start, id, interval_ms, std::move(actor),
                   std::move(channel), std::move(done));
}

void checkin_service::stop(const std::string& id, std::string actor, std::string channel,
                           std::function<void(core::result<checkin_view>)> done) {
    change_by_hand(store::checkin_change::kind::stop, id, 0, std::move(actor), std::move(channel),
                   std::move(done));
}

void checkin_service::change_by_hand(store::checkin_change::kind what, const std::string& id,
                                     std::int64_t interval_ms, std::string actor,
                                     std::string channel,
                                     std::function<void(core::result<checkin_view>)> done) {
    const auto cfg = impl_->cfg;
    const config::checkin_enrollment* e = cfg ? cfg->find_checkin(id) : nullptr;
    if (e == nullptr) {
        impl_->on_io([done = std::move(done)] {
            done(core::make_error("not_found", "no enrolled defender of that id"));
        });
        return;
    }
    const bool start = what == store::checkin_change::kind::start;
    store::checkin_change c;
    c.what = what;
    c.id = id;
    if (start) {
        c.interval_ms = interval_ms > 0 ? interval_ms : ms(e->interval);
        c.grace_ms = ms(e->grace);
    }
    c.actor = std::move(actor);
    c.channel = std::move(channel);
    impl_->metrics.counter_add("hotline_checkins_total", {{"outcome", start ? "start" : "stop"}});
    impl_->change(std::move(c),
                  [cfg, e, done = std::move(done)](core::result<store::checkin_result> r) {
                      if (!r) {
                          done(r.err());
                          return;
                      }
                      done(checkin_view{e, std::move(r->state)});
                  });
}

void checkin_service::list(std::function<void(core::result<std::vector<checkin_view>>)> done) {
    const auto cfg = impl_->cfg;
    impl_->db.list_checkins([self = std::weak_ptr(impl_), cfg, done = std::move(done)](
                                core::result<std::vector<store::checkin_state>> r) mutable {
        auto me = self.lock();
        if (!me) {
            return;
        }
        me->on_io([cfg, done = std::move(done), r = std::move(r)]() mutable {
            if (!r) {
                done(r.err());
                return;
            }
            std::vector<checkin_view> out;
            if (cfg) {
                for (const auto& e : cfg->checkins) {
                    checkin_view v{&e, {}};
                    v.state.id = e.id;
                    for (auto& s : *r) {
                        if (s.id == e.id) {
                            v.state = s;
                        }
                    }
                    out.push_back(std::move(v));
                }
            }
            done(std::move(out));
        });
    });
}

void checkin_service::deadline(const store::timer& t, std::function<void(bool)> settled) {
    const auto payload = nlohmann::json::parse(t.payload, nullptr, false);
    if (!payload.is_object() || !payload.value("id", nlohmann::json()).is_string() ||
        !payload.value("due_at", nlohmann::json()).is_number_integer()) {
        spdlog::error("checkin: timer={} has a malformed payload; dropped", t.id);
        settled(true);
        return;
    }
    const auto id = payload["id"].get<std::string>();
    const auto due_at = payload["due_at"].get<std::int64_t>();
    impl_->db.list_checkins(
        [self = std::weak_ptr(impl_), id, due_at, timer_id = t.id,
         settled = std::move(settled)](core::result<std::vector<store::checkin_state>> r) mutable {
            auto me = self.lock();
            if (!me) {
                return;
            }
            me->on_io([self, id, due_at, timer_id, settled = std::move(settled),
                       r = std::move(r)]() mutable {
                auto me = self.lock();
                if (!me) {
                    return;
                }
                if (!r) {
                    spdlog::error("checkin: timer={}: cannot read the state: {}", timer_id,
                                  r.err().describe());
                    settled(false);
                    return;
                }
                const store::checkin_state* s = nullptr;
                for (const auto& x : *r) {
                    if (x.id == id) {
                        s = &x;
                    }
                }
                if (s == nullptr || !s->active || s->due_at != due_at) {
                    // A check-in or a stop moved the deadline after this timer was claimed.
                    spdlog::debug("checkin: timer={} stale for defender={}", timer_id, id);
                    settled(true);
                    return;
                }
                const auto cfg = me->cfg;
                const config::checkin_enrollment* e = cfg ? cfg->find_checkin(id) : nullptr;
                if (e == nullptr) {
                    spdlog::warn(
                        "checkin: defender={} missed a check-in but is no longer enrolled; no case",
                        id);
                    settled(true);
                    return;
                }
                const auto now = me->clock.now_ms();
                auto refused = me->pipe.submit_decided(
                    checkin_report(*e, false, s->last_at, due_at, now, ""),
                    checkin_decision(*e, false, s->last_at, due_at),
                    [self, id, settled](core::result<domain::report_ids> done) {
                        auto me = self.lock();
                        if (!done) {
                            spdlog::error(
                                "checkin: defender={}: the missed check-in could not be "
                                "stored: {}",
                                id, done.err().describe());
                            settled(false);
                            return;
                        }
                        if (me && !done->duplicate) {
                            me->metrics.counter_add("hotline_checkins_missed_total", {});
                        }
                        spdlog::warn("checkin: defender={} missed a check-in: case={}", id,
                                     done->case_id);
                        settled(true);
                    });
                if (refused) {
                    spdlog::error(
                        "checkin: defender={}: the missed check-in was refused ({}); "
                        "it comes back after the timer's lease",
                        id, refused->status);
                    settled(false);
                }
            });
        });
}

}  // namespace hotline::ingest
