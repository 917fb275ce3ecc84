#include "ingest/cases.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "core/text.hpp"
#include "dispatch/escalation.hpp"
#include "ingest/timer_loop.hpp"
#include "rules/reply.hpp"

namespace hotline::ingest {

namespace {

std::optional<std::int64_t> case_of(const std::string& subject) {
    constexpr std::string_view prefix = "case:";
    if (!subject.starts_with(prefix)) {
        return std::nullopt;
    }
    std::int64_t id = 0;
    const char* first = subject.data() + prefix.size();
    const char* last = subject.data() + subject.size();
    const auto [end, ec] = std::from_chars(first, last, id);
    if (ec != std::errc{} || end != last || id <= 0) {
        return std::nullopt;
    }
    return id;
}

const char* action_name(store::case_action::kind k) {
    switch (k) {
        case store::case_action::kind::acknowledge: return "ack";
        case store::case_action::kind::resolve: return "resolve";
        case store::case_action::kind::reopen: return "reopen";
        case store::case_action::kind::note: return "note";
    }
    return "note";
}

const char* event_of(store::case_action::kind k) {
    switch (k) {
        case store::case_action::kind::acknowledge: return "acknowledged";
        case store::case_action::kind::resolve: return "resolved";
        case store::case_action::kind::reopen: return "reopened";
        case store::case_action::kind::note: return "";
    }
    return "";
}

std::vector<std::string> target_list(const std::vector<domain::planned_notification>& jobs) {
    std::vector<std::string> out;
    for (const auto& j : jobs) {
        out.push_back(j.target);
    }
    return out;
}

}  // namespace

struct case_service::impl {
    asio::any_io_executor io;
    store::store& db;
    const core::clock& clock;
    core::metrics& metrics;
    enqueue_fn enqueue;
    std::shared_ptr<const config::config> cfg;
    timer_loop* timers{nullptr};
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    impl(asio::any_io_executor e, store::store& d, const core::clock& c, core::metrics& m,
         enqueue_fn q)
        : io(std::move(e)), db(d), clock(c), metrics(m), enqueue(std::move(q)) {}

    // Runs `fn` on the io executor while the service lives (store completions may come on
    // the writer's thread).
    template <class Fn>
    void on_io(Fn fn) {
        asio::post(io, [alive = std::weak_ptr<bool>(alive), fn = std::move(fn)]() mutable {
            if (alive.lock()) {
                fn();
            }
        });
    }

    void wake(const std::vector<store::new_timer>& added) {
        if (timers == nullptr) {
            return;
        }
        for (const auto& t : added) {
            timers->wake_at(t.due_at);
        }
    }

    // Where the actor's own answer goes (an SMS reply's confirmation) and in which language.
    struct confirmation {
        domain::contact to;
        std::string language;
    };

    // The actor's answer: "acknowledged, thank you" when the action changes the case, else
    // what it already was and who made it so ("already acknowledged by Erin").
    static void confirm_to(const confirmation& answer, store::case_action::kind what,
                           const store::case_view& v, const config::config& c,
                           store::case_action& a) {
        const bool ru = answer.language == "ru";
        const std::string n = "HOTLINE #" + std::to_string(v.record.id);
        const auto receipt = [&](const std::string& text) {
            return domain::planned_notification{answer.to.channel,
                                                answer.to.address,
                                                a.actor,
                                                0,
                                                answer.language,
                                                nlohmann::json{{"kind", "receipt"},
                                                               {"text", text},
                                                               {"severity", "high"},
                                                               {"language", answer.language}}};
        };
        const bool ack = what == store::case_action::kind::acknowledge;
        a.notices.push_back(
            receipt(ru ? (ack ? n + ": принято. Спасибо." : n + ": закрыто. Спасибо.")
                       : (ack ? n + " acknowledged. Thank you." : n + " resolved. Thank you.")));
        const bool resolved = v.record.state == store::case_state::resolved;
        const std::string& by = resolved ? v.record.resolved_by : v.record.acked_by;
        const std::string name = by.empty() ? std::string{} : dispatch::display_name(c, by);
        std::string text;
        if (ru) {
            text = n + (resolved ? ": уже закрыто" : ": уже принято") +
                   (name.empty() ? "" : " (" + name + ")") + ".";
        } else {
            text = n + (resolved ? " was resolved already" : " was acknowledged already") +
                   (name.empty() ? "" : " by " + name) + ".";
        }
        a.notices_unchanged.push_back(receipt(text));
    }

    void act(store::case_action::kind what, std::int64_t case_id, case_actor who, std::string note,
             std::string once_key,
             std::function<void(core::result<store::case_action_result>)> done,
             std::optional<confirmation> answer = std::nullopt) {
        auto config = cfg;
        if (!config) {
            done(core::make_error("config", "no configuration loaded"));
            return;
        }
        db.get_case(case_id, [this, what, case_id, who = std::move(who), note = std::move(note),
                              once_key = std::move(once_key), config, done = std::move(done),
                              answer = std::move(answer)](
                                 core::result<std::optional<store::case_view>> v) mutable {
            on_io([this, what, case_id, who = std::move(who), note = std::move(note),
                   once_key = std::move(once_key), config, done = std::move(done),
                   answer = std::move(answer), v = std::move(v)]() mutable {
                if (!v) {
                    done(v.err());
                    return;
                }
                if (!*v) {
                    done(core::make_error("not_found", "no case " + std::to_string(case_id)));
                    return;
                }
                act_on(what, **v, std::move(who), std::move(note), std::move(once_key), *config,
                       config, std::move(done), std::move(answer));
            });
        });
    }

    void act_on(store::case_action::kind what, const store::case_view& v, case_actor who,
                std::string note, std::string once_key, const config::config& c,
                std::shared_ptr<const config::config> keep,
                std::function<void(core::result<store::case_action_result>)> done,
                std::optional<confirmation> answer = std::nullopt) {
        const auto now = clock.now_ms();
        store::case_action a;
        a.what = what;
        a.case_id = v.record.id;
        a.actor = who.target;
        a.channel = who.channel;
        a.note = std::move(note);
        a.once_key = std::move(once_key);
        const auto* policy = c.find_policy(v.record.policy);
        using kind = store::case_action::kind;
        if (policy != nullptr) {
            const bool tell = (what == kind::acknowledge && policy->notify_on_ack) ||
                              (what == kind::resolve && policy->notify_on_resolve) ||
                              what == kind::reopen;
            if (tell) {
                a.notices = dispatch::plan_case_notice(c, v.record, event_of(what), who.target,
                                                       who.channel, v.targets, now);
            }
            if (what == kind::acknowledge && policy->ack_timeout.count() > 0) {
                a.timers.push_back(store::new_timer{now + policy->ack_timeout.count(),
                                                    dispatch::ack_timeout_timer, "",
                                                    nlohmann::json{{"policy", policy->id}}.dump()});
            }
            if (what == kind::reopen && v.record.state != store::case_state::open) {
                // Escalation starts again from the first step.
                const dispatch::escalation_position first{policy->id, 0, 0};
                const auto report = v.first_report.value_or(domain::report{});
                auto alerts =
                    dispatch::plan_step(c, *policy, first, report, dispatch::decision_of(v.record),
                                        now, dispatch::on_call_of(c));
                a.notices.insert(a.notices.end(), alerts.begin(), alerts.end());
                a.timers.push_back(dispatch::step_timer(
                    *policy, first, dispatch::next_position(*policy, first), now));
            }
        }
        if (answer) {
            confirm_to(*answer, what, v, c, a);
        }
        auto added = a.timers;
        const std::int64_t case_id = a.case_id;
        const std::string channel = who.channel;
        db.act_on_case(std::move(a), [this, what, case_id, channel, added = std::move(added),
                                      keep = std::move(keep), done = std::move(done)](
                                         core::result<store::case_action_result> r) mutable {
            on_io([this, what, case_id, channel, added = std::move(added), done = std::move(done),
                   r = std::move(r)]() mutable {
                if (!r) {
                    if (r.err().code != "used" && r.err().code != "not_found") {
                        spdlog::error("case={}: {} failed: {}", case_id, action_name(what),
                                      r.err().describe());
                    }
                    done(std::move(r));
                    return;
                }
                metrics.counter_add("hotline_case_actions_total",
                                    {{"action", action_name(what)},
                                     {"channel", channel},
                                     {"changed", r->changed ? "true" : "false"}});
                if (r->changed) {
                    spdlog::info("case={} {} via {}: {} -> {}, timers cancelled={} notices={}",
                                 case_id, action_name(what), channel, domain::to_string(r->before),
                                 domain::to_string(r->after), r->cancelled_timers,
                                 r->notices.size());
                    wake(added);
                }
                if (!r->notices.empty()) {  // the notices, or the unchanged answer
                    enqueue(r->notices);
                }
                done(std::move(r));
            });
        });
    }

    // "escalation_step" and "ack_timeout": read the case, plan, fire in one transaction.
    void fire(const store::timer& t, timer_loop::settled_fn settled) {
        auto config = cfg;
        const auto case_id = case_of(t.subject);
        if (!config || !case_id) {
            spdlog::warn("timers: timer={} kind={} names no case; settled without effect", t.id,
                         t.kind);
            settle_empty(t, std::move(settled));
            return;
        }
        db.get_case(*case_id, [this, t, config, settled = std::move(settled)](
                                  core::result<std::optional<store::case_view>> v) mutable {
            on_io([this, t = std::move(t), config = std::move(config), settled = std::move(settled),
                   v = std::move(v)]() mutable {
                if (!v) {
                    spdlog::error("timers: timer={} cannot read its case: {}", t.id,
                                  v.err().describe());
                    settled(false);
                    return;
                }
                if (!*v) {
                    settle_empty(t, std::move(settled));
                    return;
                }
                fire_for(t, **v, *config, std::move(settled));
            });
        });
    }

    void settle_empty(const store::timer& t, timer_loop::settled_fn settled) {
        store::timer_firing f;
        f.timer_id = t.id;
        f.owner = timers != nullptr ? timers->owner() : std::string{};
        commit(std::move(f), std::move(settled), t.kind);
    }

    void fire_for(const store::timer& t, const store::case_view& v, const config::config& c,
                  timer_loop::settled_fn settled) {
        const auto now = clock.now_ms();
        store::timer_firing f;
        f.timer_id = t.id;
        f.owner = timers != nullptr ? timers->owner() : std::string{};
        f.case_id = v.record.id;
        const auto report = v.first_report.value_or(domain::report{});
        const auto decision = dispatch::decision_of(v.record);
        if (t.kind == dispatch::ack_timeout_timer) {
            const auto* policy = c.find_policy(v.record.policy);
            f.only_if = store::case_state::acknowledged;
            f.set_state = store::case_state::open;
            f.audit_actor = "ack_timeout";
            f.audit_kind = "case_reopened";
            f.audit_detail = {{"channel", "timer"}, {"from", "acknowledged"}, {"to", "open"}};
            if (policy != nullptr) {
                const dispatch::escalation_position first{policy->id, 0, 0};
                f.planned = dispatch::plan_step(c, *policy, first, report, decision, now,
                                                dispatch::on_call_of(c));
                f.timers.push_back(dispatch::step_timer(
                    *policy, first, dispatch::next_position(*policy, first), now));
                f.audit_detail["policy"] = policy->id;
                f.audit_detail["targets"] = target_list(f.planned);
            }
            commit(std::move(f), std::move(settled), t.kind);
            return;
        }
        f.only_if = store::case_state::open;
        const auto pos = dispatch::position_from(t.payload);
        const auto* policy = pos ? c.find_policy(pos->policy) : nullptr;
        if (!pos || policy == nullptr) {
            spdlog::warn("case={}: escalation timer={} names no configured policy; it stops",
                         v.record.id, t.id);
            f.audit_kind = "escalation_stopped";
            f.audit_detail = {{"reason", pos ? "policy not configured" : "bad timer payload"}};
            commit(std::move(f), std::move(settled), t.kind);
            return;
        }
        if (pos->step >= policy->steps.size()) {
            f.planned = dispatch::plan_exhausted(c, v.record, *policy);
            f.audit_kind = "escalation_exhausted";
            f.audit_detail = {{"policy", policy->id}, {"rounds", policy->repeat + 1}};
            commit(std::move(f), std::move(settled), t.kind);
            return;
        }
        f.planned =
            dispatch::plan_step(c, *policy, *pos, report, decision, now, dispatch::on_call_of(c));
        const auto next = dispatch::next_position(*policy, *pos);
        f.timers.push_back(dispatch::step_timer(*policy, *pos, next, now));
        f.audit_kind = "escalation_step";
        f.audit_detail = {{"policy", policy->id},
                          {"step", pos->step + 1},
                          {"round", pos->round},
                          {"targets", target_list(f.planned)}};
        commit(std::move(f), std::move(settled), t.kind);
    }

    void commit(store::timer_firing f, timer_loop::settled_fn settled, std::string kind) {
        auto added = f.timers;
        const auto case_id = f.case_id;
        const auto timer_id = f.timer_id;
        const auto audit = f.audit_kind;
        db.fire_timer(std::move(f), [this, added = std::move(added), case_id, timer_id, audit,
                                     kind = std::move(kind), settled = std::move(settled)](
                                        core::result<store::firing_result> r) mutable {
            on_io([this, added = std::move(added), case_id, timer_id, audit, kind = std::move(kind),
                   settled = std::move(settled), r = std::move(r)]() mutable {
                if (!r) {
                    spdlog::error("case={}: timer={} kind={} failed: {}", case_id, timer_id, kind,
                                  r.err().describe());
                    settled(false);
                    return;
                }
                if (r->applied) {
                    if (!audit.empty()) {
                        metrics.counter_add("hotline_escalation_steps_total", {{"event", audit}});
                        spdlog::info("case={} {} timer={} notifications={}", case_id, audit,
                                     timer_id, r->notifications.size());
                    }
                    wake(added);
                    if (!r->notifications.empty()) {
                        enqueue(std::move(r->notifications));
                    }
                }
                settled(true);
            });
        });
    }

    // ---- replies ----

    std::map<std::string, std::pair<std::int64_t, unsigned>> confirmations;  // by keyed hash

    bool may_confirm(const domain::contact& to, std::int64_t now) {
        if (to.channel.empty() || to.address.empty()) {
            return false;
        }
        auto& [window, sent] = confirmations[db.sms_key("reply", to.address)];
        if (now - window >= 3'600'000) {
            window = now;
            sent = 0;
        }
        if (sent >= 10) {
            return false;
        }
        ++sent;
        return true;
    }

    void reply(store::case_action::kind what, std::optional<std::int64_t> case_id, case_actor who,
               domain::contact confirm, std::string language,
               std::function<void(reply_outcome)> done, std::string note = {}) {
        if (case_id) {
            reply_to_case(what, *case_id, std::move(who), std::move(confirm), std::move(language),
                          std::move(done), std::move(note));
            return;
        }
        store::case_query q;
        q.target = who.target;
        q.limit = 100;
        if (what == store::case_action::kind::acknowledge) {
            q.state = store::case_state::open;
        }
        db.list_cases(q, [this, what, who = std::move(who), confirm = std::move(confirm),
                          language = std::move(language), done = std::move(done)](
                             core::result<std::vector<store::case_record>> r) mutable {
            on_io([this, what, who = std::move(who), confirm = std::move(confirm),
                   language = std::move(language), done = std::move(done),
                   r = std::move(r)]() mutable {
                if (!r) {
                    done({reply_outcome::kind::failed, 0});
                    return;
                }
                std::vector<std::int64_t> open;
                for (const auto& c : *r) {
                    if (c.state != store::case_state::resolved) {
                        open.push_back(c.id);
                    }
                }
                if (open.empty()) {
                    done({reply_outcome::kind::no_case, 0});
                } else if (open.size() > 1) {
                    done({reply_outcome::kind::ambiguous, 0});
                } else {
                    reply_to_case(what, open.front(), std::move(who), std::move(confirm),
                                  std::move(language), std::move(done));
                }
            });
        });
    }

    void reply_to_case(store::case_action::kind what, std::int64_t case_id, case_actor who,
                       domain::contact confirm, std::string language,
                       std::function<void(reply_outcome)> done, std::string note = {}) {
        db.case_targets(
            case_id,
            [this, what, case_id, who = std::move(who), confirm = std::move(confirm),
             language = std::move(language), done = std::move(done), note = std::move(note)](
                core::result<std::optional<std::vector<std::string>>> t) mutable {
                on_io([this, what, case_id, who = std::move(who), confirm = std::move(confirm),
                       language = std::move(language), done = std::move(done),
                       note = std::move(note), t = std::move(t)]() mutable {
                    if (!t) {
                        done({reply_outcome::kind::failed, case_id});
                        return;
                    }
                    if (!*t) {
                        done({reply_outcome::kind::no_case, case_id});
                        return;
                    }
                    const auto& targets = **t;
                    if (std::find(targets.begin(), targets.end(), who.target) == targets.end()) {
                        done({reply_outcome::kind::not_notified, case_id});
                        return;
                    }
                    std::optional<confirmation> answer;
                    if (what != store::case_action::kind::note &&
                        may_confirm(confirm, clock.now_ms())) {
                        answer = confirmation{confirm, language};
                    }
                    act(
                        what, case_id, who, std::move(note), "",
                        [case_id,
                         done = std::move(done)](core::result<store::case_action_result> r) {
                            if (!r) {
                                done({r.err().code == "not_found" ? reply_outcome::kind::no_case
                                                                  : reply_outcome::kind::failed,
                                      case_id});
                                return;
                            }
                            done({r->changed ? reply_outcome::kind::acted
                                             : reply_outcome::kind::unchanged,
                                  case_id});
                        },
                        std::move(answer));
                });
            });
    }
};

case_service::case_service(asio::any_io_executor io, store::store& db, const core::clock& clock,
                           core::metrics& metrics, enqueue_fn enqueue)
    : impl_(std::make_unique<impl>(std::move(io), db, clock, metrics, std::move(enqueue))) {
    metrics.describe_counter("hotline_case_actions_total",
                             "Acknowledgements, resolutions, re-opens and notes by channel");
    metrics.describe_counter("hotline_escalation_steps_total",
                             "Escalation timers that fired, by what they did");
}

case_service::~case_service() = default;

void case_service::set_config(std::shared_ptr<const config::config> cfg) {
    impl_->cfg = std::move(cfg);
}

void case_service::attach(timer_loop& timers) {
    impl_->timers = &timers;
    for (const char* kind : {dispatch::escalation_timer, dispatch::ack_timeout_timer}) {
        timers.on(kind, [this](const store::timer& t, timer_loop::settled_fn settled) {
            impl_->fire(t, std::move(settled));
        });
    }
}

case_service::escalation_start case_service::start_escalation(const config::config& cfg,
                                                              const std::string& policy_id,
                                                              const domain::report& r,
                                                              const rules::decision& d,
                                                              std::int64_t now_ms) {
    escalation_start out;
    const auto* policy = cfg.find_policy(policy_id);
    if (policy == nullptr) {
        return out;
    }
    const dispatch::escalation_position first{policy->id, 0, 0};
    out.planned = dispatch::plan_step(cfg, *policy, first, r, d, now_ms, dispatch::on_call_of(cfg));
    out.timers.push_back(
        dispatch::step_timer(*policy, first, dispatch::next_position(*policy, first), now_ms));
    return out;
}

void case_service::reply(store::case_action::kind what, std::optional<std::int64_t> case_id,
                         case_actor who, domain::contact confirm, std::string language,
                         std::function<void(reply_outcome)> done) {
    impl_->reply(what, case_id, std::move(who), std::move(confirm), std::move(language),
                 std::move(done));
}

bool case_service::take_mail_reply(const domain::report& r,
                                   std::function<void(core::result<domain::report_ids>)>& done) {
    const auto cfg = impl_->cfg;
    if (!cfg || r.case_id <= 0 || r.source_kind != "email" || r.sender.empty()) {
        return false;
    }
    const auto owner = cfg->find_contact_owner(r.sender, true);
    if (!owner) {
        return false;
    }
    const std::string target = owner->target;
    const std::string language = owner->who->language;
    const auto cmd = rules::parse_reply(rules::first_unquoted_line(r.text));
    const auto case_id = r.case_id;
    auto answer = [case_id, done = std::move(done)](reply_outcome o) {
        if (o.result == reply_outcome::kind::failed) {
            done(core::make_error("storage", "the reply could not be recorded"));
            return;
        }
        domain::report_ids ids;
        ids.case_id = o.case_id > 0 ? o.case_id : case_id;
        ids.joined = true;
        done(ids);
    };
    const case_actor who{target, "email"};
    if (cmd && (cmd->action == rules::reply_command::kind::ack ||
                cmd->action == rules::reply_command::kind::resolve)) {
        const auto what = cmd->action == rules::reply_command::kind::ack
                              ? store::case_action::kind::acknowledge
                              : store::case_action::kind::resolve;
        impl_->reply(what, cmd->case_id.value_or(case_id), who, domain::contact{}, language,
                     std::move(answer));
        return true;
    }
    impl_->reply(store::case_action::kind::note, case_id, who, domain::contact{}, language,
                 std::move(answer), r.text);
    return true;
}

void case_service::act(store::case_action::kind what, std::int64_t case_id, case_actor who,
                       std::string note, std::string once_key,
                       std::function<void(core::result<store::case_action_result>)> done) {
    impl_->act(what, case_id, std::move(who), std::move(note), std::move(once_key),
               std::move(done));
}

}  // namespace hotline::ingest
