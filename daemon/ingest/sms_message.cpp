#include "ingest/sms_message.hpp"

#include "core/crypto.hpp"
#include "ingest/language.hpp"

namespace hotline::ingest {

domain::report sms_report(const sms_message& m, const config::sms_source& cfg) {
    domain::report r;
    r.source = m.source;
    r.source_kind = "sms";
    r.external_id = !m.message_id.empty()
                        ? "sms:" + m.message_id
                        : "sms-hash:" + core::crypto::sha256_hex(m.sender + '\n' + m.text + '\n' +
                                                                 std::to_string(m.received_at));
    r.sender = m.sender;
    r.country = m.country;
    r.text = m.text;
    r.received_at = m.received_at;
    r.language = detect_language(m.text);
    if ((r.language.empty() || r.language == "und") && !cfg.default_language.empty()) {
        r.language = cfg.default_language;
    }
    nlohmann::json d = m.details.is_object() ? m.details : nlohmann::json::object();
    d["gateway"] = m.gateway;
    d["recipient"] = m.recipient;
    d["message_id"] = m.message_id;
    if (!m.country.empty()) {
        d["country"] = m.country;
    }
    r.details = std::move(d);
    return r;
}

}  // namespace hotline::ingest
