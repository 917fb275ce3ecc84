#include "ctl/commands.hpp"

#include "core/random.hpp"
#include "ctl/ingest.hpp"

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/duration.hpp"
#include "dispatch/classify.hpp"
#include "dispatch/planner.hpp"
#include "ingest/json_report.hpp"
#include "net/transport.hpp"
#include "rules/route.hpp"

namespace hotline::ctl {
namespace {

nlohmann::json describe_target(const config::config& cfg, const dispatch::channel_map& channels,
                               const domain::target& t) {
    const bool partner = t.type == domain::target::kind::partner;
    const domain::person* who = partner ? cfg.find_partner(t.id) : cfg.find_responder(t.id);
    nlohmann::json out{{"target", t.str()}};
    if (who == nullptr) {
        out["error"] = "unknown";
        return out;
    }
    out["name"] = who->name;
    out["language"] = who->language;
    if (partner) {
        out["sees"] = who->sees;
    }
    auto contacts = nlohmann::json::array();
    for (const auto& c : who->contacts) {
        const auto ch = channels.find(c.channel);
        contacts.push_back({{"channel", c.channel},
                            {"type", ch != channels.end() ? ch->second->type() : ""},
                            {"address", c.address}});
    }
    out["contacts"] = std::move(contacts);
    return out;
}

}  // namespace

core::result<nlohmann::json> explain_route(const app::loaded_config& loaded,
                                           const std::string& report_json) {
    const auto& cfg = *loaded.cfg;
    // A mail (an .eml: headers first, never a JSON object) is routed as the IMAP source
    // would route it.
    const auto first = report_json.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && report_json[first] != '{') {
        auto out = ingest_dry_run(report_json, &loaded);
        return nlohmann::json(out["route"]);
    }
    auto doc = nlohmann::json::parse(report_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return core::make_error("bad_json", "the report must be a JSON object");
    }
    std::string source = cfg.sources.empty() ? "" : cfg.sources.front().name;
    std::string kind = cfg.sources.empty() ? "webhook" : cfg.sources.front().kind;
    for (const auto* key : {"source", "source_kind"}) {
        if (const auto it = doc.find(key); it != doc.end()) {
            if (!it->is_string()) {
                return core::make_error("bad_field", std::string(key) + " must be a string");
            }
            (std::string(key) == "source" ? source : kind) = it->get<std::string>();
            doc.erase(key);
        }
    }
    core::system_clock clock;
    auto r = ingest::parse_report_json(doc.dump(), source, "", clock.now_ms());
    if (!r) {
        return r.err();
    }
    r->source_kind = kind;
    return explain_report(loaded, *r);
}

nlohmann::json explain_report(const app::loaded_config& loaded, const domain::report& r) {
    const auto& cfg = *loaded.cfg;
    const auto d = rules::evaluate(cfg.route, r);
    auto targets = nlohmann::json::array();
    for (const auto& t : d.targets) {
        targets.push_back(describe_target(cfg, loaded.channels, t));
    }
    return nlohmann::json{
        {"source", r.source},
        {"source_kind", r.source_kind},
        {"language", r.language},
        {"matched", d.paths},
        {"severity", d.severity},
        {"labels", d.labels},
        {"targets", std::move(targets)},
        {"policy", d.policy},
        {"group_by", d.group_by},
        {"group_window", d.group_window_ms > 0
                             ? core::format_duration(core::duration(d.group_window_ms))
                             : std::string()},
        {"muted_by", d.muted_by},
        {"trace", d.trace}};
}

core::result<send_test_outcome> send_test(const app::loaded_config& loaded,
                                          const std::string& channel, const std::string& address,
                                          const std::string& language) {
    const auto it = loaded.channels.find(channel);
    if (it == loaded.channels.end()) {
        std::string known;
        for (const auto& [name, _] : loaded.channels) {
            known += (known.empty() ? "" : ", ") + name;
        }
        return core::make_error("usage",
                                "no channel named \"" + channel + "\" (configured: " + known + ")");
    }
    const auto& instance = *it->second;
    if (auto ok = instance.validate_address(address); !ok) {
        return ok.err();
    }
    const bool ru = language == "ru";
    const std::string subject = ru ? "[hotline] Проверка канала " + channel
                                   : "[hotline] Test message via channel " + channel;
    const std::string body =
        ru ? "Это проверочное сообщение hotline (hotlinectl send-test) через канал " + channel +
                 ". Отвечать не нужно.\n"
           : "This is a hotline test message (hotlinectl send-test) through channel " + channel +
                 ". No action is needed.\n";
    core::system_clock clock;
    const nlohmann::json payload{{"kind", "test"},
                                 {"report_id", 0},
                                 {"case_id", 0},
                                 {"notification_id", 0},
                                 {"severity", "low"},
                                 {"labels", nlohmann::json::object()},
                                 {"route", "send-test"},
                                 {"source", "hotlinectl"},
                                 {"received_at", dispatch::iso8601_utc(clock.now_ms())},
                                 {"subject", subject},
                                 {"text", body},
                                 {"language", ru ? "ru" : "en"}};
    const dispatch::alert_fields fields{"0",
                                        "test-" + core::random_hex(16),
                                        address,
                                        subject,
                                        body,
                                        payload.dump(),
                                        "low",
                                        ru ? "ru" : "en",
                                        clock.now_ms() / 1000,
                                        1,
                                        {},
                                        0,
                                        {}};
    auto request = instance.build(fields.view());
    if (!request) {
        return send_test_outcome{false, "permanent failure: " + request.err().message};
    }
    asio::io_context io;
    net::transport net(io);
    send_test_outcome out;
    net.perform(dispatch::to_net_request((*request)->raw), instance.config().timeout,
                [&](net::reply reply) {
                    const auto c = dispatch::classify_reply(instance, reply);
                    const auto& detail = c.detail;
                    switch (c.outcome.kind) {
                        case HOTLINE_DELIVERED:
                            out.delivered = true;
                            out.text = "delivered";
                            if (!c.provider_id.empty()) {
                                out.text += " (provider id " + c.provider_id + ")";
                            }
                            break;
                        case HOTLINE_RETRY: out.text = "retry later: " + detail; break;
                        default: out.text = "permanent failure: " + detail; break;
                    }
                });
    io.run();
    return out;
}

}  // namespace hotline::ctl
