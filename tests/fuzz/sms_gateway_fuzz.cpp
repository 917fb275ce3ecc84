// libFuzzer target for the SMS gateway parsers (ingest/sms_gateway): the first byte picks
// the gateway (Twilio, Vonage signed, Vonage by token, Kannel, SMSSync), the method and,
// for a body, its media type (form or JSON, so the Vonage JSON body is fuzzed); the rest
// is "target\nheader lines...\n\nbody". Checks: no crash; a message has valid UTF-8 text of
// at most max_sms_text bytes without NULs, a sender, and part numbers within 1..total;
// a rejection has a 4xx status and a reason code.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.hpp"
#include "fuzz_support.hpp"
#include "ingest/sms_gateway.hpp"

namespace {

hotline::config::source_config source(unsigned which) {
    hotline::config::source_config s;
    s.kind = "sms";
    s.sms.default_region = "RU";
    switch (which % 5) {
        case 0:
            s.name = "twilio";
            s.sms.gateway = "twilio";
            s.sms.auth_token.value = "12345";
            break;
        case 1:
            s.name = "vonage";
            s.sms.gateway = "vonage";
            s.sms.signature_secret.value = "secret123";
            s.sms.signature_method = (which / 5) % 2 == 0 ? "md5hash" : "sha256";
            break;
        case 2:
            s.name = "vonage";
            s.sms.gateway = "vonage";
            s.sms.token.value = "0123456789abcdef";
            s.sms.allowed_addresses = {"127.0.0.0/8"};
            break;
        case 3:
            s.name = "kannel";
            s.sms.gateway = "kannel";
            s.sms.shared_secret.value = "s3cret";
            break;
        default:
            s.name = "smssync";
            s.sms.gateway = "smssync";
            s.sms.shared_secret.value = "phone-secret";
            break;
    }
    s.sms.path = "/v1/sms/" + s.name;
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hotline;
    using fuzz::require;
    if (size < 1) {
        return 0;
    }
    const unsigned pick = data[0];
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto src = source(pick & 0x0FU);
    ingest::gateway_request req;
    req.method = (pick & 0x10U) != 0 ? "POST" : "GET";
    req.peer = (pick & 0x40U) != 0 ? "10.0.0.1" : "127.0.0.1";
    req.now_ms = 1578052800LL * 1000;
    const auto nl = in.find('\n');
    req.target = "/v1/sms/" + src.name + std::string(in.substr(0, nl));
    if (nl != std::string_view::npos) {
        in.remove_prefix(nl + 1);
        const auto end = in.find("\n\n");
        auto head = in.substr(0, end);
        while (!head.empty()) {
            const auto line_end = head.find('\n');
            const auto line = head.substr(0, line_end);
            const auto colon = line.find(':');
            if (colon != std::string_view::npos) {
                req.headers.emplace_back(std::string(line.substr(0, colon)),
                                         std::string(line.substr(colon + 1)));
            }
            head =
                line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 1);
        }
        if (end != std::string_view::npos) {
            req.body = std::string(in.substr(end + 2));
        }
    }
    req.headers.emplace_back("Content-Type", (pick & 0x20U) != 0
                                                 ? "application/json"
                                                 : "application/x-www-form-urlencoded");
    req.headers.emplace_back("Host", "127.0.0.1:8080");
    const auto r = ingest::parse_gateway_request(src, req);
    switch (r.what) {
        case ingest::gateway_result::kind::message:
            require(core::is_valid_utf8(r.sms.text));
            require(r.sms.text.size() <= ingest::max_sms_text);
            require(r.sms.text.find('\0') == std::string::npos);
            require(!r.sms.sender.empty());
            require(core::is_valid_utf8(r.sms.sender) && core::is_valid_utf8(r.sms.recipient));
            require(r.sms.part.number >= 1 && r.sms.part.number <= r.sms.part.total);
            (void)r.sms.details.dump();  // throws on invalid UTF-8
            break;
        case ingest::gateway_result::kind::rejected:
            require(r.rejection.status >= 400 && r.rejection.status < 500);
            require(!r.rejection.reason.empty());
            (void)ingest::rejected_answer(src.sms, r.rejection);
            break;
        case ingest::gateway_result::kind::poll: require(src.sms.gateway == "smssync"); break;
    }
    return 0;
}
