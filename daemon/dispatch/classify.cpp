#include "dispatch/classify.hpp"

#include <cstring>
#include <vector>

namespace hotline::dispatch {

hotline_alert alert_fields::view() const {
    hotline_alert alert{};
    alert.struct_size = sizeof alert;
    alert.notification_id = notification_id.c_str();
    alert.idempotency_key = idempotency_key.c_str();
    alert.address = address.c_str();
    alert.subject = subject.c_str();
    alert.body = body.c_str();
    alert.payload_json = payload_json.c_str();
    alert.severity = severity.c_str();
    alert.language = language.c_str();
    alert.now_unix = now_unix;
    alert.attempt = attempt;
    return alert;
}

classified classify_reply(const channel_instance& channel, const net::transport_reply& reply) {
    std::vector<hotline_kv> headers;
    headers.reserve(reply.headers.size());
    for (const auto& [k, v] : reply.headers) {
        headers.push_back(hotline_kv{k.c_str(), v.c_str()});
    }
    hotline_reply raw{};
    raw.struct_size = sizeof raw;
    raw.transport = reply.transport;
    raw.transport_error = reply.curl_code;
    raw.error_text = reply.error_text.c_str();
    raw.status = reply.status;
    raw.body = reply.body.c_str();
    raw.body_len = reply.body.size();
    raw.headers = headers.data();
    raw.n_headers = headers.size();
    classified out;
    out.outcome = channel.classify(raw);
    out.detail.assign(out.outcome.detail, strnlen(out.outcome.detail, sizeof out.outcome.detail));
    if (out.detail.empty()) {
        out.detail =
            reply.curl_code != 0 ? reply.error_text : "status " + std::to_string(reply.status);
    }
    out.provider_id.assign(out.outcome.provider_id,
                           strnlen(out.outcome.provider_id, sizeof out.outcome.provider_id));
    return out;
}

}  // namespace hotline::dispatch
