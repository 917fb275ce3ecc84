// Modules built out of tree (tests/plugin_oot, against channel.h alone) load through the
// plugin host; modules that speak another ABI are refused with a clear error.
// ctest builds them first (fixture plugin_oot); by hand:
//   cmake -DOOT_SOURCE_DIR=tests/plugin_oot -DOOT_BINARY_DIR=<build>/plugin_oot
//         -DHOTLINE_INCLUDE_DIR=plugins/include -P tests/plugin_oot/build.cmake
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"

#ifndef HOTLINE_OOT_DIR
#define HOTLINE_OOT_DIR "plugin_oot"
#endif

using namespace hotline;

namespace {

std::string oot_dir() {
    const char* env = std::getenv("HOTLINE_OOT_DIR");
    return env != nullptr ? env : HOTLINE_OOT_DIR;
}

config::channel_config channel(const std::string& type,
                               std::vector<config::channel_option> options = {}) {
    config::channel_config cfg;
    cfg.name = "my-" + type;
    cfg.type = type;
    cfg.options = std::move(options);
    cfg.at = core::mark{"conf/oot.yaml", 2, 3};
    return cfg;
}

}  // namespace

TEST_CASE("the out-of-tree echo module loads, builds, frees and classifies") {
    REQUIRE_MESSAGE(std::filesystem::exists(oot_dir() + "/echo.so"),
                    "build tests/plugin_oot first (ctest does it: ctest -R plugin_oot)");
    dispatch::plugin_host host(oot_dir());
    auto inst = host.instantiate_channel(
        channel("echo", {{"prefix", "[echo] ", false, {"conf/oot.yaml", 4, 5}}}));
    if (!inst.ok()) {
        FAIL(inst.err().describe());
    }
    const auto& echo = *inst;
    CHECK(echo->type() == "echo");
    CHECK(echo->validate_address("http://127.0.0.1:9/in").ok());
    CHECK_FALSE(echo->validate_address("mailto:x@y").ok());
    // A 1.0 entry table (it ends before 1.1's flags): loaded, read as no flags and no
    // parse_status, whatever lies past its end.
    CHECK(echo->flags() == 0U);
    CHECK_FALSE(echo->is_sms());
    CHECK_FALSE(echo->has_parse_status());
    CHECK(echo->parse_status({{"MessageStatus", "delivered"}}).state == HOTLINE_STATUS_IGNORE);

    hotline_alert alert{};
    alert.struct_size = sizeof alert;
    alert.idempotency_key = "n1";
    alert.address = "http://127.0.0.1:9/in";
    alert.subject = "Subject";
    alert.body = "Body text";
    alert.payload_json = "{}";
    auto built = echo->build(alert);
    REQUIRE(built.ok());
    const hotline_request& req = (*built)->raw;
    CHECK(req.transport == HOTLINE_TRANSPORT_HTTP);
    CHECK(std::string(req.url) == "http://127.0.0.1:9/in");
    CHECK(std::string(req.body, req.body_len) == "[echo] Subject\n\nBody text");
    REQUIRE(req.n_headers == 2);
    CHECK(std::string(req.headers[1].value) == "n1");

    alert.address = "ftp://nope";
    CHECK_FALSE(echo->build(alert).ok());

    hotline_reply reply{};
    reply.struct_size = sizeof reply;
    reply.transport = HOTLINE_TRANSPORT_HTTP;
    reply.error_text = "";
    reply.body = "";
    reply.status = 204;
    CHECK(echo->classify(reply).kind == HOTLINE_DELIVERED);
    reply.status = 503;
    CHECK(echo->classify(reply).kind == HOTLINE_RETRY);
    reply.status = 404;
    CHECK(echo->classify(reply).kind == HOTLINE_PERMANENT);
}

TEST_CASE("an out-of-tree module's option error carries the option's mark") {
    dispatch::plugin_host host(oot_dir());
    auto inst = host.instantiate_channel(
        channel("echo", {{"colour", "red", false, {"conf/oot.yaml", 5, 7}}}), "channels[3]");
    REQUIRE_FALSE(inst.ok());
    CHECK(inst.err().describe() ==
          "conf/oot.yaml:5:7: channels[3].options.colour: unknown option (known: prefix)");
}

TEST_CASE("modules that speak another ABI are refused with a clear error") {
    dispatch::plugin_host host(oot_dir());
    for (const char* type : {"bad_v0", "bad_v2"}) {
        CAPTURE(type);
        auto module = host.load(type);
        REQUIRE_FALSE(module.ok());
        CHECK(module.err().message ==
              std::string("channel module ") + type +
                  ".so speaks ABI versions the host does not (host offers 1)");
        auto inst = host.instantiate_channel(channel(type), "channels[0]");
        REQUIRE_FALSE(inst.ok());
        CHECK(inst.err().context == "conf/oot.yaml:2:3");
        CHECK(inst.err().message.rfind("channels[0].type: channel module", 0) == 0);
    }
}

TEST_CASE("a module whose entry names another type is refused") {
    dispatch::plugin_host host(oot_dir());
    auto module = host.load("misnamed");
    REQUIRE_FALSE(module.ok());
    CHECK(module.err().message == "misnamed.so implements channel type 'echo', not 'misnamed'");
}
