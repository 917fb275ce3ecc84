#include "ingest/sms_intake.hpp"

#include "ingest/cases.hpp"
#include "ingest/checkins.hpp"
#include "rules/reply.hpp"

#include <array>
#include <utility>

#include "core/log.hpp"
#include "core/utf8.hpp"

namespace hotline::ingest {
namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::size_t receipt_counts_max = 100'000;

// Lower case for ASCII and Russian Cyrillic (А-Я, Ё): enough for the keyword list.
std::u32string fold(std::string_view text) {
    std::u32string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        char32_t c = core::decode_utf8(text, pos);
        if (c >= U'A' && c <= U'Z') {
            c += 0x20;
        } else if (c >= 0x0410 && c <= 0x042F) {
            c += 0x20;
        } else if (c == 0x0401) {
            c = 0x0451;
        }
        out.push_back(c);
    }
    return out;
}

bool is_space(char32_t c) {
    return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U'\v' ||
           c == 0x00A0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B);
}

// The SMS channel plugin types (plugins/twilio, vonage, kannel).
bool is_sms_type(const std::string& type) {
    return type == "twilio" || type == "vonage" || type == "kannel";
}

nlohmann::json part_meta(const sms_message& m) {
    return nlohmann::json{{"sender", m.sender},       {"sender_valid", m.sender_valid},
                          {"recipient", m.recipient}, {"country", m.country},
                          {"gateway", m.gateway},     {"details", m.details}};
}

core::error busy(const pipeline::refusal& r) {
    return core::make_error("unavailable",
                            "the joined report was refused (" + std::string(r.limiter) + ")");
}

}  // namespace

sms_keyword sms_keyword_of(std::string_view text) {
    if (text.size() > 64 || !core::is_valid_utf8(text)) {
        return sms_keyword::none;
    }
    auto folded = fold(text);
    std::size_t b = 0;
    std::size_t e = folded.size();
    while (b < e && is_space(folded[b])) {
        ++b;
    }
    while (e > b && is_space(folded[e - 1])) {
        --e;
    }
    const std::u32string word = folded.substr(b, e - b);
    static constexpr std::array<std::u32string_view, 9> stop{U"stop",    U"stopall", U"unsubscribe",
                                                             U"cancel",  U"end",     U"quit",
                                                             U"отписка", U"стоп",    U"отмена"};
    static constexpr std::array<std::u32string_view, 4> start{U"start", U"unstop", U"старт",
                                                              U"подписка"};
    for (auto w : stop) {
        if (word == w) {
            return sms_keyword::stop;
        }
    }
    for (auto w : start) {
        if (word == w) {
            return sms_keyword::start;
        }
    }
    return sms_keyword::none;
}

std::string join_sms_parts(const std::vector<store::sms_part>& parts, unsigned total,
                           std::vector<unsigned>& missing) {
    std::string text;
    std::size_t next = 0;
    for (unsigned n = 1; n <= total; ++n) {
        while (next < parts.size() && parts[next].part < n) {
            ++next;  // (a part above total cannot be stored; a repeat neither)
        }
        if (next < parts.size() && parts[next].part == n) {
            text += parts[next].text;
            ++next;
        } else {
            missing.push_back(n);
            text += gap_marker;
        }
    }
    return text;
}

sms_intake::sms_intake(asio::any_io_executor io, pipeline& p, store::store& db,
                       core::metrics& metrics)
    : io_(std::move(io)),
      pipeline_(p),
      db_(db),
      metrics_(metrics),
      alive_(std::make_shared<bool>(true)) {
    metrics_.describe_counter("hotline_sms_parts_total",
                              "Parts of concatenated SMS, by source and outcome (held, duplicate, "
                              "joined, timed_out)");
    metrics_.describe_counter("hotline_sms_keywords_total",
                              "STOP/START from responders' numbers, by keyword (stop, start)");
    metrics_.describe_counter("hotline_sms_receipts_total",
                              "Receipts to reporters, by outcome (planned, limited)");
}

void sms_intake::set_config(std::shared_ptr<const config::config> cfg) {
    cfg_ = std::move(cfg);
}

void sms_intake::set_timers(timer_loop& loop, const core::clock& clock) {
    timers_ = &loop;
    clock_ = &clock;
    loop.on("sms_parts", [this, alive = std::weak_ptr(alive_)](const store::timer& t,
                                                               timer_loop::settled_fn settled) {
        if (alive.expired()) {
            settled(false);
            return;
        }
        const auto payload = nlohmann::json::parse(t.payload, nullptr, false);
        if (!payload.is_object() || !payload.value("source", nlohmann::json()).is_string() ||
            !payload.value("group_key", nlohmann::json()).is_string()) {
            spdlog::error("sms: timer={} has a malformed payload; dropped", t.id);
            settled(true);
            return;
        }
        parts_timed_out(
            payload["source"].get<std::string>(), payload["group_key"].get<std::string>(),
            [settled = std::move(settled)](core::result<sms_accepted> r) { settled(r.ok()); });
    });
}

std::int64_t sms_intake::now_ms() const {
    return clock_ != nullptr ? clock_->now_ms() : core::system_clock{}.now_ms();
}

std::optional<pipeline::refusal> sms_intake::accept(sms_message m, completion done) {
    const config::source_config* src = cfg_ ? cfg_->find_source(m.source) : nullptr;
    if (src == nullptr || src->kind != "sms") {
        asio::post(io_, [done = std::move(done)] {
            done(core::make_error("unknown_source", "no sms source of that name"));
        });
        return std::nullopt;
    }
    if (m.is_part()) {
        if (m.part.number == 0 || m.part.number > m.part.total) {
            asio::post(io_, [done = std::move(done)] {
                done(core::make_error("bad_request", "part number out of range"));
            });
            return std::nullopt;
        }
        accept_part(std::move(m), *src, std::move(done));
        return std::nullopt;
    }
    if (checkins_ != nullptr && m.sender_valid) {
        // A check-in of an enrolled defender: recorded, never a report. The gateway gets the
        // same answer whatever the PIN was (ingest/checkins).
        if (const auto cmd = rules::parse_reply(m.text)) {
            const bool taken = checkins_->take_sms(
                m.sender, m.message_id, *cmd,
                [alive = std::weak_ptr(alive_), done](core::status st) {
                    if (alive.expired()) {
                        return;
                    }
                    if (!st) {
                        done(core::make_error("storage", "the check-in could not be recorded"));
                        return;
                    }
                    sms_accepted a;
                    a.keyword = true;  // recorded, no report
                    done(a);
                });
            if (taken) {
                return std::nullopt;
            }
        }
    }
    if (cases_ != nullptr && m.sender_valid) {
        // A reply of someone who was paged: ACK / RESOLVE a case, never a report. From
        // anyone else the same text is an ordinary report.
        const auto cmd = rules::parse_reply(m.text);
        const bool case_command = cmd && (cmd->action == rules::reply_command::kind::ack ||
                                          cmd->action == rules::reply_command::kind::resolve);
        if (case_command) {
            if (auto who = person_of(m.sender)) {
                const auto what = cmd->action == rules::reply_command::kind::ack
                                      ? store::case_action::kind::acknowledge
                                      : store::case_action::kind::resolve;
                metrics_.counter_add("hotline_sms_replies_total", {{"source", m.source}});
                cases_->reply(
                    what, cmd->case_id, case_actor{who->target, "sms"}, who->contact, who->language,
                    [alive = std::weak_ptr(alive_), target = who->target,
                     done = std::move(done)](case_service::reply_outcome o) {
                        if (alive.expired()) {
                            return;
                        }
                        static constexpr const char* names[] = {
                            "acted", "unchanged", "no_case", "ambiguous", "not_notified", "failed"};
                        spdlog::info("sms: reply from {} for case={}: {}", target, o.case_id,
                                     names[static_cast<int>(o.result)]);
                        if (o.result == case_service::reply_outcome::kind::failed) {
                            done(core::make_error("storage", "the reply could not be recorded"));
                            return;
                        }
                        sms_accepted a;
                        a.keyword = true;  // recorded, no report
                        a.ids.case_id = o.case_id;
                        done(a);
                    });
                return std::nullopt;
            }
        }
    }
    if (const auto k = sms_keyword_of(m.text); k != sms_keyword::none && m.sender_valid) {
        if (auto who = responder_of(m.sender); !who.empty()) {
            keyword(std::move(m), k, who, std::move(done));
            return std::nullopt;
        }
    }
    auto r = sms_report(m, src->sms);
    std::string reserved;
    auto receipt = receipt_for(src->sms, m.sender, m.sender_valid, r.language, reserved);
    auto refused = pipeline_.submit(
        std::move(r),
        [this, alive = std::weak_ptr(alive_), reserved,
         done = std::move(done)](core::result<domain::report_ids> res) {
            if (alive.expired()) {
                return;
            }
            if (!res.ok() || res->duplicate) {
                release_receipt(reserved);
            }
            if (!res.ok()) {
                done(res.err());
                return;
            }
            sms_accepted a;
            a.duplicate = res->duplicate;
            a.ids = *res;
            done(a);
        },
        std::move(receipt));
    if (refused) {
        release_receipt(reserved);
    }
    return refused;
}

void sms_intake::accept_part(sms_message m, const config::source_config& src, completion done) {
    store::new_sms_part p;
    p.source = m.source;
    p.group_key =
        db_.sms_key("parts", m.sender + '\n' + m.part.ref + '\n' + std::to_string(m.part.total));
    p.part = m.part.number;
    p.total = m.part.total;
    p.text = std::move(m.text);
    p.message_id = m.message_id;
    p.received_at = m.received_at;
    p.meta = part_meta(m).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    p.timeout_at =
        now_ms() +
        std::chrono::duration_cast<std::chrono::milliseconds>(src.sms.parts_timeout).count();
    const auto source = p.source;
    const auto group = p.group_key;
    const auto timeout_at = p.timeout_at;
    db_.add_sms_part(
        std::move(p), [this, alive = std::weak_ptr(alive_), source, group, timeout_at,
                       done = std::move(done)](core::result<store::sms_part_added> added) mutable {
            asio::post(io_, [this, alive, source, group, timeout_at, done = std::move(done),
                             added = std::move(added)]() mutable {
                if (alive.expired()) {
                    return;
                }
                if (!added) {
                    spdlog::error("sms: store failed for a part from source={}: {}", source,
                                  added.err().describe());
                    done(added.err());
                    return;
                }
                metrics_.counter_add(
                    "hotline_sms_parts_total",
                    {{"source", source}, {"outcome", added->duplicate ? "duplicate" : "held"}});
                if (added->timer_id > 0 && timers_ != nullptr) {
                    timers_->wake_at(timeout_at);
                }
                if (!added->complete()) {
                    sms_accepted a;
                    a.part = true;
                    a.duplicate = added->duplicate;
                    done(a);
                    return;
                }
                // The last part (or a repeat of one once all are in): answered when the joined
                // report is committed.
                join(source, group, false, std::move(done));
            });
        });
}

void sms_intake::parts_timed_out(const std::string& source, const std::string& group_key,
                                 completion done) {
    join(source, group_key, true, std::move(done));
}

void sms_intake::join(const std::string& source, const std::string& group_key, bool timed_out,
                      completion done) {
    db_.take_sms_parts(
        source, group_key,
        [this, alive = std::weak_ptr(alive_), source, group_key, timed_out,
         done = std::move(done)](core::result<std::vector<store::sms_part>> parts) mutable {
            asio::post(io_, [this, alive, source, group_key, timed_out, done = std::move(done),
                             parts = std::move(parts)]() mutable {
                if (alive.expired()) {
                    return;
                }
                if (!parts) {
                    done(parts.err());
                    return;
                }
                if (parts->empty()) {
                    sms_accepted a;  // joined before (and cleaned up): nothing to do
                    a.duplicate = true;
                    done(a);
                    return;
                }
                const unsigned total = parts->front().total;
                if (!timed_out && parts->size() < total) {
                    sms_accepted a;
                    a.part = true;
                    done(a);
                    return;
                }
                const config::source_config* src = cfg_ ? cfg_->find_source(source) : nullptr;
                const config::sms_source sms_cfg = src != nullptr ? src->sms : config::sms_source{};
                const auto meta = nlohmann::json::parse(parts->front().meta, nullptr, false);
                sms_message m;
                m.source = source;
                if (meta.is_object()) {
                    m.sender = meta.value("sender", std::string{});
                    m.sender_valid = meta.value("sender_valid", false);
                    m.recipient = meta.value("recipient", std::string{});
                    m.country = meta.value("country", std::string{});
                    m.gateway = meta.value("gateway", std::string{});
                    if (meta.contains("details") && meta["details"].is_object()) {
                        m.details = meta["details"];
                    }
                }
                std::vector<unsigned> missing;
                m.text = join_sms_parts(*parts, total, missing);
                m.received_at = parts->front().received_at;
                nlohmann::json ids = nlohmann::json::array();
                for (const auto& p : *parts) {
                    m.received_at = std::min(m.received_at, p.received_at);
                    ids.push_back(p.message_id);
                }
                auto r = sms_report(m, sms_cfg);
                r.external_id = "sms-parts:" + group_key;
                r.details.erase("message_id");
                r.details["message_ids"] = std::move(ids);
                r.details["parts_total"] = total;
                if (!missing.empty()) {
                    r.details["missing_parts"] = missing;
                }
                metrics_.counter_add(
                    "hotline_sms_parts_total",
                    {{"source", source}, {"outcome", missing.empty() ? "joined" : "timed_out"}});
                std::string reserved;
                auto receipt = receipt_for(sms_cfg, m.sender, m.sender_valid, r.language, reserved);
                auto refused = pipeline_.submit(
                    std::move(r),
                    [this, alive, source, group_key, reserved,
                     done](core::result<domain::report_ids> res) {
                        if (alive.expired()) {
                            return;
                        }
                        if (!res.ok() || res->duplicate) {
                            release_receipt(reserved);
                        }
                        if (!res.ok()) {
                            done(res.err());
                            return;
                        }
                        // Committed: the parts have done their work. Should this delete
                        // not land, the timer joins again and gets a duplicate.
                        db_.delete_sms_parts(source, group_key,
                                             [source](core::result<std::int64_t> d) {
                                                 if (!d) {
                                                     spdlog::warn(
                                                         "sms: could not delete joined parts "
                                                         "source={}: {}",
                                                         source, d.err().describe());
                                                 }
                                             });
                        sms_accepted a;
                        a.duplicate = res->duplicate;
                        a.ids = *res;
                        done(a);
                    },
                    std::move(receipt));
                if (refused) {
                    release_receipt(reserved);
                    done(busy(*refused));
                }
            });
        });
}

std::string sms_intake::responder_of(const std::string& number) const {
    const auto owner = sms_owner(number);
    return owner && owner->target.rfind("responder:", 0) == 0 ? owner->who->id : std::string{};
}

std::optional<sms_intake::person_contact> sms_intake::person_of(const std::string& number) const {
    const auto owner = sms_owner(number);
    if (!owner) {
        return std::nullopt;
    }
    return person_contact{owner->target, *owner->contact, owner->who->language};
}

std::optional<config::config::contact_owner> sms_intake::sms_owner(
    const std::string& number) const {
    if (!cfg_) {
        return std::nullopt;
    }
    return cfg_->find_contact_owner(number, false, [this](const domain::contact& c) {
        const auto* ch = cfg_->find_channel(c.channel);
        return ch != nullptr && is_sms_type(ch->type);
    });
}

void sms_intake::keyword(sms_message m, sms_keyword k, const std::string& responder,
                         completion done) {
    const bool stop = k == sms_keyword::stop;
    metrics_.counter_add("hotline_sms_keywords_total", {{"keyword", stop ? "stop" : "start"}});
    auto answer = [this, alive = std::weak_ptr(alive_), number = m.sender, responder, stop,
                   done = std::move(done)](core::result<bool> changed) mutable {
        asio::post(io_, [this, alive, number, responder, stop, done = std::move(done),
                         changed = std::move(changed)] {
            if (alive.expired()) {
                return;
            }
            if (!changed) {
                spdlog::error("sms: could not record {} of responder={}: {}",
                              stop ? "STOP" : "START", responder, changed.err().describe());
                done(changed.err());
                return;
            }
            // Admins read this line (and the audit trail); never the number.
            if (stop) {
                spdlog::warn("sms: responder={} sent STOP: no SMS to that number until START{}",
                             responder, *changed ? "" : " (already opted out)");
            } else {
                spdlog::warn("sms: responder={} sent START: SMS to that number resume{}", responder,
                             *changed ? "" : " (was not opted out)");
            }
            if (opt_out_listener_) {
                opt_out_listener_(number, stop);
            }
            sms_accepted a;
            a.keyword = true;
            a.duplicate = !*changed;
            done(a);
        });
    };
    if (stop) {
        db_.set_sms_opt_out(m.sender, responder, std::move(answer));
    } else {
        db_.clear_sms_opt_out(m.sender, responder, std::move(answer));
    }
}

std::vector<domain::planned_notification> sms_intake::receipt_for(const config::sms_source& cfg,
                                                                  const std::string& sender,
                                                                  bool sender_valid,
                                                                  const std::string& language,
                                                                  std::string& reserved) {
    reserved.clear();
    const auto& rc = cfg.receipt;
    if (!rc.enabled || rc.channel.empty() || !sender_valid || sender.empty()) {
        return {};
    }
    const std::string lang = language == "ru" ? "ru" : "en";
    auto text = rc.text.find(lang);
    if (text == rc.text.end()) {
        text = rc.text.find("en");
    }
    if (text == rc.text.end() || text->second.empty()) {
        return {};
    }
    const auto day = now_ms() / day_ms;
    if (receipts_.size() > receipt_counts_max) {
        std::erase_if(receipts_, [day](const auto& kv) { return kv.second.day != day; });
    }
    const auto key = db_.sms_key("receipt", sender);
    auto& count = receipts_[key];
    if (count.day != day) {
        count = receipt_count{day, 0};
    }
    if (count.sent >= rc.max_per_day) {
        metrics_.counter_add("hotline_sms_receipts_total", {{"outcome", "limited"}});
        return {};
    }
    ++count.sent;
    reserved = key;
    metrics_.counter_add("hotline_sms_receipts_total", {{"outcome", "planned"}});
    domain::planned_notification n;
    n.channel = rc.channel;
    n.address = sender;
    n.target = "reporter";
    n.contact_index = 0;
    n.language = lang;
    // No report text: only the configured receipt text.
    n.payload = nlohmann::json{
        {"kind", "receipt"}, {"text", text->second}, {"language", lang}, {"severity", "low"}};
    return {std::move(n)};
}

void sms_intake::release_receipt(const std::string& reserved) {
    if (reserved.empty()) {
        return;
    }
    if (auto it = receipts_.find(reserved); it != receipts_.end() && it->second.sent > 0) {
        --it->second.sent;
    }
}

}  // namespace hotline::ingest
