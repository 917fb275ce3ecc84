#include "ctl/api_client.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

#include "config/loader.hpp"
#include "core/asio.hpp"
#include "net/transport.hpp"

namespace hotline::ctl {
namespace {

constexpr std::size_t max_token_file = 4096;

std::string env_or(const char* name, const std::string& given) {
    if (!given.empty()) {
        return given;
    }
    const char* v = std::getenv(name);
    return v != nullptr ? std::string{v} : std::string{};
}

}  // namespace

core::result<std::string> read_token_file(const std::string& path) {
    if (path.empty()) {
        return core::make_error("token",
                                "no API token: give --token-file FILE or set HOTLINE_TOKEN_FILE");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::make_error("token", "cannot read the token file " + path);
    }
    std::string text;
    text.resize(max_token_file + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_token_file) {
        return core::make_error("token", "the token file " + path + " is over 4 KiB");
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                             text.back() == '\t')) {
        text.pop_back();
    }
    if (text.empty()) {
        return core::make_error("token", "the token file " + path + " is empty");
    }
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return core::make_error("token", "the token file " + path +
                                                 " holds more than one line or a control "
                                                 "character");
        }
    }
    return text;
}

std::string api_url_of(const config::server_config& server) {
    if (server.port == 0) {
        return {};
    }
    std::string host = server.listen_address;
    if (host.empty() || host == "0.0.0.0") {
        host = "127.0.0.1";
    } else if (host == "::" || host == "[::]") {
        host = "[::1]";
    } else if (host.find(':') != std::string::npos && host.front() != '[') {
        host = "[" + host + "]";
    }
    return "http://" + host + ":" + std::to_string(server.port);
}

core::result<api_client> api_client::open(const api_options& options) {
    std::string url = env_or("HOTLINE_URL", options.url);
    if (url.empty() && !options.config.empty()) {
        // A config that does not load (or listens on port 0) leaves the default.
        const auto loaded = config::load_config(options.config);
        if (loaded.cfg != nullptr) {
            url = api_url_of(loaded.cfg->server);
        }
    }
    if (url.empty()) {
        url = default_api_url;
    }
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return core::make_error("usage",
                                "--url must be an http:// or https:// URL, got \"" + url + "\"");
    }
    while (url.back() == '/') {
        url.pop_back();
    }
    auto token = read_token_file(env_or("HOTLINE_TOKEN_FILE", options.token_file));
    if (!token) {
        return token.err();
    }
    return api_client{std::move(url), std::move(*token), options.timeout};
}

core::result<api_answer> api_client::call(const std::string& method, const std::string& path,
                                          const nlohmann::json& body) const {
    net::request req;
    req.url = url_ + path;
    req.method = method;
    req.headers.emplace_back("Authorization", "Bearer " + token_);
    req.headers.emplace_back("Accept", "application/json");
    if (!body.is_null()) {
        req.headers.emplace_back("Content-Type", "application/json");
        req.body = body.dump();
    }
    asio::io_context io;
    net::transport transport(io);
    std::optional<net::reply> got;
    transport.perform(std::move(req), timeout_, [&got](net::reply r) { got = std::move(r); });
    io.run();
    if (!got || got->curl_code != 0 || got->status == 0) {
        return core::make_error("unreachable",
                                "no answer from hotlined at " + url_ + ": " +
                                    (got ? got->error_text : std::string{"no reply"}) +
                                    " (is it running? --url or HOTLINE_URL)");
    }
    api_answer answer;
    answer.status = got->status;
    answer.body = nlohmann::json::parse(got->body, nullptr, false);
    if (answer.body.is_discarded()) {
        answer.body = nullptr;
    }
    if (answer.status >= 200 && answer.status < 300) {
        return answer;
    }
    if (answer.status == 401) {
        return core::make_error("unauthorized",
                                "the API token was refused (401): check "
                                "--token-file and the person's api_token_file");
    }
    std::string code = "http_" + std::to_string(answer.status);
    std::string message = "HTTP " + std::to_string(answer.status);
    if (answer.body.is_object()) {
        const auto e = answer.body.find("error");
        if (e != answer.body.end() && e->is_object()) {
            code = e->value("code", code);
            message = e->value("message", message) + " (" + std::to_string(answer.status) + ")";
        }
    }
    return core::make_error(code, message);
}

}  // namespace hotline::ctl
