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
    alert.sms_encoding = sms_encoding.empty() ? nullptr : sms_encoding.c_str();
    alert.sms_segments = sms_segments;
    alert.status_url = status_url.c_str();
    return alert;
}

namespace {

std::string text_or_empty(const char* s) {
    return s != nullptr ? std::string(s) : std::string{};
}

}  // namespace

net::request to_net_request(const hotline_request& raw) {
    net::request req;
    req.kind = raw.transport == HOTLINE_TRANSPORT_SMTP ? net::protocol::smtp : net::protocol::http;
    req.url = text_or_empty(raw.url);
    req.method = text_or_empty(raw.method);
    if (raw.headers != nullptr) {
        for (std::size_t i = 0; i < raw.n_headers; ++i) {
            const hotline_kv& h = raw.headers[i];
            if (h.key != nullptr && h.value != nullptr) {
                req.headers.emplace_back(h.key, h.value);
            }
        }
    }
    req.mail_from = text_or_empty(raw.mail_from);
    if (raw.rcpt != nullptr) {
        for (std::size_t i = 0; i < raw.n_rcpt; ++i) {
            if (raw.rcpt[i] != nullptr) {
                req.rcpt.emplace_back(raw.rcpt[i]);
            }
        }
    }
    if (raw.body != nullptr) {
        req.body.assign(raw.body, raw.body_len);
    }
    req.username = text_or_empty(raw.username);
    req.password = text_or_empty(raw.password);
    req.use_tls = raw.use_tls;
    req.insecure_skip_verify = raw.insecure_skip_verify != 0;
    return req;
}

classified classify_reply(const channel_instance& channel, const net::reply& reply) {
    std::vector<hotline_kv> headers;
    headers.reserve(reply.headers.size());
    for (const auto& [k, v] : reply.headers) {
        headers.push_back(hotline_kv{k.c_str(), v.c_str()});
    }
    hotline_reply raw{};
    raw.struct_size = sizeof raw;
    raw.transport =
        reply.kind == net::protocol::smtp ? HOTLINE_TRANSPORT_SMTP : HOTLINE_TRANSPORT_HTTP;
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
