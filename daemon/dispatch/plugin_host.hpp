// Loads channel modules (dlopen) and creates one plugin instance per configured channel.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/result.hpp"
#include "hotline/channel.h"

namespace hotline::dispatch {

// One loaded module (a .so exporting the ABI). Unloaded (dlclose) when the last user goes.
class plugin_module;

// A live plugin instance for one `channels:` entry.
class channel_instance {
public:
    channel_instance(std::shared_ptr<plugin_module> module, hotline_channel* handle,
                     const hotline_channel_v1* vtable, config::channel_config cfg);
    ~channel_instance();
    channel_instance(const channel_instance&) = delete;
    channel_instance& operator=(const channel_instance&) = delete;

    [[nodiscard]] const config::channel_config& config() const { return cfg_; }
    [[nodiscard]] const std::string& type() const { return cfg_.type; }

    [[nodiscard]] core::status validate_address(const std::string& address) const;

    // RAII for a built request: free_request is called when this goes.
    class request {
    public:
        explicit request(const channel_instance* owner) : owner_(owner) {
            raw.struct_size = sizeof raw;
        }
        ~request();
        request(const request&) = delete;
        request& operator=(const request&) = delete;
        hotline_request raw{};

    private:
        const channel_instance* owner_;
    };
    // A failed build is a permanent failure for this notification (err names why).
    [[nodiscard]] core::result<std::unique_ptr<request>> build(const hotline_alert& alert) const;
    // Always a valid kind: a module answering nonsense is read as HOTLINE_RETRY.
    [[nodiscard]] hotline_outcome classify(const hotline_reply& reply) const;

    // HOTLINE_CHANNEL_* of the module (ABI 1.1); 0 for a 1.0 module.
    [[nodiscard]] std::uint32_t flags() const noexcept;
    [[nodiscard]] bool is_sms() const noexcept { return (flags() & HOTLINE_CHANNEL_SMS) != 0; }
    // Whether the module reads delivery-status callbacks (ABI 1.1 parse_status).
    [[nodiscard]] bool has_parse_status() const noexcept;
    // Reads a delivery-status callback's parameters (query first, then form). Always a
    // valid state; without parse_status, HOTLINE_STATUS_IGNORE.
    [[nodiscard]] hotline_status parse_status(
        const std::vector<std::pair<std::string, std::string>>& params) const;

private:
    std::shared_ptr<plugin_module> module_;
    hotline_channel* handle_;
    const hotline_channel_v1* vtable_;
    config::channel_config cfg_;
};

class plugin_host {
public:
    // plugin_dir: where `<type>.so` (or `libhotline_<type>.so`) modules live.
    explicit plugin_host(std::string plugin_dir);

    // Creates instances for every channel in the config and validates every contact
    // address against its channel. Errors name file:line:column of the offending entry
    // (an unknown type, a module with the wrong ABI, a bad option, a bad address).
    [[nodiscard]] core::result<std::map<std::string, std::shared_ptr<channel_instance>>>
    instantiate(const config::config& cfg, std::vector<core::error>* errors);

    // Creates one instance; errors carry the mark of the channel or of the bad option.
    // `path` is the channel's key path for messages, e.g. "channels[2]".
    [[nodiscard]] core::result<std::shared_ptr<channel_instance>> instantiate_channel(
        const config::channel_config& channel, const std::string& path = "channel");

    // Loads (or reuses) `<dir>/<type>.so` and negotiates the ABI. Errors: unknown type,
    // missing directory, not a module, ABI mismatch, a malformed entry table.
    [[nodiscard]] core::result<std::shared_ptr<plugin_module>> load(const std::string& type);

    // The ABI versions this host speaks, in order of preference.
    static constexpr std::uint32_t offered_abi[] = {HOTLINE_CHANNEL_ABI_V1};

private:
    std::string dir_;
    std::map<std::string, std::weak_ptr<plugin_module>> loaded_;
};

}  // namespace hotline::dispatch
