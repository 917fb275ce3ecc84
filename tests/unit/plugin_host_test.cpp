// The plugin host: loading by type, instance creation, address checks, and errors that
// point at file:line:column.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/model.hpp"
#include "dispatch/plugin_host.hpp"

using namespace hotline;
namespace fs = std::filesystem;

namespace {

core::mark at(int line, int column = 5) {
    return core::mark{"conf/hotline.yaml", line, column};
}

config::config sample_config() {
    config::config cfg;
    config::channel_config hook;
    hook.name = "ops-webhook";
    hook.type = "webhook";
    hook.options = {{"secret", "k", true, at(12, 7)}};
    hook.at = at(10, 5);
    config::channel_config mail;
    mail.name = "email";
    mail.type = "smtp";
    mail.options = {{"url", "smtp://127.0.0.1:2525", false, at(16, 7)},
                    {"from", "Hotline <hotline@example.org>", false, at(17, 7)}};
    mail.at = at(14, 5);
    cfg.channels = {hook, mail};

    domain::person alice;
    alice.id = "alice";
    alice.contacts = {{"ops-webhook", "http://127.0.0.1:9000/hook", at(30, 9)},
                      {"email", "alice@example.org", at(31, 9)}};
    domain::person ngo;
    ngo.id = "ngo";
    ngo.contacts = {{"email", "desk@ngo.example", at(40, 9)}};
    domain::person ops;
    ops.id = "ops";
    ops.contacts = {{"email", "ops@example.org", at(50, 9)}};
    cfg.responders = {alice};
    cfg.partners = {ngo};
    cfg.admins = {ops};
    return cfg;
}

}  // namespace

TEST_CASE("a valid config gets one instance per channel") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    std::vector<core::error> errors;
    auto channels = host.instantiate(sample_config(), &errors);
    REQUIRE(channels.ok());
    CHECK(errors.empty());
    REQUIRE(channels->size() == 2);
    CHECK(channels->at("ops-webhook")->type() == "webhook");
    CHECK(channels->at("email")->type() == "smtp");
    CHECK(channels->at("email")->config().name == "email");
}

TEST_CASE(
    "max_segments / transliterate on a channel whose plugin is not SMS: an error at the key") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto cfg = sample_config();
    cfg.channels[0].sms_key = "transliterate";
    cfg.channels[0].sms_key_at = at(13, 7);
    cfg.channels[0].transliterate = true;
    std::vector<core::error> errors;
    auto channels = host.instantiate(cfg, &errors);
    REQUIRE_FALSE(channels.ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].context == "conf/hotline.yaml:13:7");
    CHECK(errors[0].message ==
          "channels[0].transliterate: only for SMS channels (type webhook does not send SMS)");
}

TEST_CASE("a module is loaded once and shared") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto a = host.load("webhook");
    auto b = host.load("webhook");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->get() == b->get());
}

TEST_CASE("instances outlive the host that made them") {
    std::shared_ptr<dispatch::channel_instance> kept;
    {
        dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
        auto channels = host.instantiate(sample_config(), nullptr);
        REQUIRE(channels.ok());
        kept = channels->at("ops-webhook");
    }
    CHECK(kept->validate_address("https://example.org/x").ok());  // the module is still mapped
}

TEST_CASE("unknown type, bad type name and missing directory") {
    SUBCASE("unknown type names the channel's mark") {
        auto cfg = sample_config();
        cfg.channels[1].type = "carrier-pigeon";
        dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
        std::vector<core::error> errors;
        auto channels = host.instantiate(cfg, &errors);
        REQUIRE_FALSE(channels.ok());
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].context == "conf/hotline.yaml:14:5");
        CHECK(errors[0].message.rfind("channels[1].type: unknown channel type 'carrier-pigeon'",
                                      0) == 0);
        CHECK(channels.err().describe() == errors[0].describe());
    }
    SUBCASE("a type cannot walk out of the plugin directory") {
        dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
        for (const char* type : {"../plugins/webhook", "/etc/passwd", "", "Webhook", "a/b"}) {
            CAPTURE(type);
            auto m = host.load(type);
            REQUIRE_FALSE(m.ok());
            CHECK(m.err().message.find("not a valid module name") != std::string::npos);
        }
    }
    SUBCASE("missing plugin directory") {
        dispatch::plugin_host host("/nonexistent/hotline/plugins");
        auto m = host.load("webhook");
        REQUIRE_FALSE(m.ok());
        CHECK(m.err().message == "plugin directory /nonexistent/hotline/plugins does not exist");
    }
    SUBCASE("a file that is not a shared object") {
        const fs::path dir =
            fs::temp_directory_path() / ("hotline-plugin-host-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        std::ofstream(dir / "junk.so") << "this is not ELF";
        dispatch::plugin_host host(dir.string());
        auto m = host.load("junk");
        REQUIRE_FALSE(m.ok());
        CHECK(m.err().message.rfind("cannot load channel module junk.so: ", 0) == 0);
        fs::remove_all(dir);
    }
}

TEST_CASE("bad options and bad addresses: every error, each with its mark") {
    auto cfg = sample_config();
    cfg.channels[0].options.push_back({"methd", "POST", false, at(13, 7)});
    cfg.responders[0].contacts[1].address = "alice at example.org";
    cfg.partners[0].contacts[0].address = "desk@ngo.example\r\nBcc: x@y";
    cfg.admins[0].contacts.push_back({"email", "", at(51, 9)});
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    std::vector<core::error> errors;
    auto channels = host.instantiate(cfg, &errors);
    REQUIRE_FALSE(channels.ok());
    REQUIRE(errors.size() == 4);
    CHECK(errors[0].describe().rfind(
              "conf/hotline.yaml:13:7: channels[0].options.methd: unknown option", 0) == 0);
    // The webhook channel failed, so its contacts are not checked a second time.
    CHECK(errors[1].describe().rfind(
              "conf/hotline.yaml:31:9: responders[0].contacts[1].address: email address", 0) == 0);
    CHECK(errors[2].describe().rfind(
              "conf/hotline.yaml:40:9: partners[0].contacts[0].address: email address", 0) == 0);
    CHECK(errors[3].describe().rfind(
              "conf/hotline.yaml:51:9: admins[0].contacts[1].address: email address is empty", 0) ==
          0);
    for (const auto& e : errors) {
        CHECK(e.message.find("alice at") == std::string::npos);  // addresses never echoed back
        CHECK(e.code == "config");
    }
}

TEST_CASE("build failures still free the request, and outcomes are sanitised") {
    dispatch::plugin_host host(HOTLINE_PLUGIN_DIR);
    auto channels = host.instantiate(sample_config(), nullptr);
    REQUIRE(channels.ok());
    const auto& hook = channels->at("ops-webhook");
    hotline_alert alert{};
    alert.struct_size = sizeof alert;
    alert.address = "http://127.0.0.1:9/x";
    alert.payload_json = "not json";
    auto built = hook->build(alert);
    REQUIRE_FALSE(built.ok());
    CHECK(built.err().code == "build_failed");
    CHECK(built.err().message == "payload is not a JSON object");
}
