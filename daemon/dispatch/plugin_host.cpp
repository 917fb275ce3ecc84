#include "dispatch/plugin_host.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/c_handle.hpp"

namespace hotline::dispatch {

namespace fs = std::filesystem;

class plugin_module {
public:
    plugin_module(core::c_handle<void, dlclose> handle, const hotline_channel_v1* entry,
                  std::string path)
        : handle_(std::move(handle)), entry_(entry), path_(std::move(path)) {}

    [[nodiscard]] const hotline_channel_v1* entry() const { return entry_; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    core::c_handle<void, dlclose> handle_;
    const hotline_channel_v1* entry_;
    std::string path_;
};

namespace {

std::string bounded(const char* text, std::size_t cap) {
    return {text, strnlen(text, cap)};
}

std::string error_message(const hotline_error& err, const char* fallback) {
    std::string m = bounded(err.message, sizeof err.message);
    return m.empty() ? fallback : m;
}

// Plugin types become file names: no path tricks.
bool is_type_name(const std::string& type) {
    return !type.empty() && type.size() <= 64 && std::all_of(type.begin(), type.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string dl_error() {
    const char* e = dlerror();
    return e != nullptr ? e : "unknown dlopen error";
}

// Symbols are looked up through a union-free cast: dlsym returns void*, and POSIX
// guarantees the conversion to a function pointer works.
template <class Fn>
Fn symbol(void* handle, const char* name) {
    void* p = dlsym(handle, name);
    Fn fn = nullptr;
    static_assert(sizeof fn == sizeof p);
    std::memcpy(&fn, &p, sizeof fn);
    return fn;
}

// The last field every v1 entry has; later minor revisions only append after it.
constexpr std::size_t entry_v1_min_size = offsetof(hotline_channel_v1, destroy) + sizeof(void*);

}  // namespace

// ---------------------------------------------------------------- channel_instance

channel_instance::channel_instance(std::shared_ptr<plugin_module> module, hotline_channel* handle,
                                   const hotline_channel_v1* vtable, config::channel_config cfg)
    : module_(std::move(module)), handle_(handle), vtable_(vtable), cfg_(std::move(cfg)) {}

channel_instance::~channel_instance() {
    if (handle_ != nullptr) {
        vtable_->destroy(handle_);
    }
}

channel_instance::request::~request() {
    owner_->vtable_->free_request(owner_->handle_, &raw);
}

core::status channel_instance::validate_address(const std::string& address) const {
    hotline_error err{};
    err.struct_size = sizeof err;
    if (vtable_->validate_address(handle_, address.c_str(), &err) != 0) {
        return core::make_error("bad_address", error_message(err, "invalid address"));
    }
    return core::ok();
}

core::result<std::unique_ptr<channel_instance::request>> channel_instance::build(
    const hotline_alert& alert) const {
    // Constructed before build() so free_request runs on failure too (the ABI says it
    // must accept a partly filled request).
    auto req = std::make_unique<request>(this);
    hotline_error err{};
    err.struct_size = sizeof err;
    if (vtable_->build(handle_, &alert, &req->raw, &err) != 0) {
        return core::make_error("build_failed",
                                error_message(err, "the channel could not build the message"));
    }
    if (req->raw.transport != HOTLINE_TRANSPORT_HTTP &&
        req->raw.transport != HOTLINE_TRANSPORT_SMTP) {
        return core::make_error("build_failed",
                                "the channel module built a request with no known transport");
    }
    if (req->raw.url == nullptr) {
        return core::make_error("build_failed", "the channel module built a request without a URL");
    }
    return req;
}

std::uint32_t channel_instance::flags() const noexcept {
    return vtable_->struct_size >= offsetof(hotline_channel_v1, flags) + sizeof vtable_->flags
               ? vtable_->flags
               : 0U;
}

bool channel_instance::has_parse_status() const noexcept {
    return vtable_->struct_size >=
               offsetof(hotline_channel_v1, parse_status) + sizeof vtable_->parse_status &&
           vtable_->parse_status != nullptr;
}

hotline_status channel_instance::parse_status(
    const std::vector<std::pair<std::string, std::string>>& params) const {
    hotline_status out{};
    out.struct_size = sizeof out;
    if (!has_parse_status()) {
        return out;
    }
    std::vector<hotline_kv> kv;
    kv.reserve(params.size());
    for (const auto& [k, v] : params) {
        kv.push_back(hotline_kv{k.c_str(), v.c_str()});
    }
    vtable_->parse_status(handle_, kv.data(), kv.size(), &out);
    out.provider_id[sizeof out.provider_id - 1] = '\0';
    out.detail[sizeof out.detail - 1] = '\0';
    if (out.state != HOTLINE_STATUS_DELIVERED && out.state != HOTLINE_STATUS_FAILED) {
        out.state = HOTLINE_STATUS_IGNORE;
    }
    return out;
}

hotline_outcome channel_instance::classify(const hotline_reply& reply) const {
    hotline_outcome out{};
    out.struct_size = sizeof out;
    vtable_->classify(handle_, &reply, &out);
    // Modules write fixed arrays; never trust them to be terminated.
    out.provider_id[sizeof out.provider_id - 1] = '\0';
    out.detail[sizeof out.detail - 1] = '\0';
    if (out.kind != HOTLINE_DELIVERED && out.kind != HOTLINE_RETRY &&
        out.kind != HOTLINE_PERMANENT) {
        out.kind = HOTLINE_RETRY;
        std::snprintf(out.detail, sizeof out.detail, "channel module returned no valid outcome");
    }
    if (out.retry_after_ms < 0) {
        out.retry_after_ms = 0;
    }
    return out;
}

// ---------------------------------------------------------------- plugin_host

plugin_host::plugin_host(std::string plugin_dir) : dir_(std::move(plugin_dir)) {}

core::result<std::shared_ptr<plugin_module>> plugin_host::load(const std::string& type) {
    if (const auto it = loaded_.find(type); it != loaded_.end()) {
        if (auto module = it->second.lock()) {
            return module;
        }
    }
    if (!is_type_name(type)) {
        return core::make_error(
            "plugin", "channel type '" + type + "' is not a valid module name (a-z, 0-9, _ and -)");
    }
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
        return core::make_error("plugin", "plugin directory " + dir_ + " does not exist");
    }
    fs::path path = fs::path(dir_) / (type + ".so");
    if (!fs::exists(path, ec)) {
        const fs::path alt = fs::path(dir_) / ("libhotline_" + type + ".so");
        if (!fs::exists(alt, ec)) {
            return core::make_error("plugin", "unknown channel type '" + type + "': no " +
                                                  path.string() + " in the plugin directory");
        }
        path = alt;
    }
    const std::string name = path.filename().string();

    // RTLD_LOCAL: two modules may bundle different copies of the same library.
    core::c_handle<void, dlclose> handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!handle) {
        return core::make_error("plugin", "cannot load channel module " + name + ": " + dl_error());
    }
    const auto abi = symbol<hotline_channel_abi_fn>(handle.get(), "hotline_channel_abi");
    if (abi == nullptr) {
        return core::make_error(
            "plugin", name + " is not a hotline channel module (no hotline_channel_abi symbol)");
    }
    const std::uint32_t chosen = abi(offered_abi, std::size(offered_abi));
    if (std::find(std::begin(offered_abi), std::end(offered_abi), chosen) ==
        std::end(offered_abi)) {
        return core::make_error(
            "plugin",
            "channel module " + name + " speaks ABI versions the host does not (host offers 1)");
    }
    const auto entry_fn =
        symbol<hotline_channel_entry_v1_fn>(handle.get(), "hotline_channel_entry_v1");
    if (entry_fn == nullptr) {
        return core::make_error("plugin",
                                name + " chose ABI 1 but has no hotline_channel_entry_v1 symbol");
    }
    const hotline_channel_v1* entry = entry_fn();
    if (entry == nullptr || entry->struct_size < entry_v1_min_size) {
        return core::make_error("plugin", name + " returned a missing or truncated v1 entry table");
    }
    if (entry->create == nullptr || entry->validate_address == nullptr || entry->build == nullptr ||
        entry->free_request == nullptr || entry->classify == nullptr || entry->destroy == nullptr) {
        return core::make_error("plugin", name + " leaves a required v1 function empty");
    }
    if (entry->type == nullptr || type != entry->type) {
        return core::make_error("plugin", name + " implements channel type '" +
                                              (entry->type != nullptr ? entry->type : "") +
                                              "', not '" + type + "'");
    }
    auto module = std::make_shared<plugin_module>(std::move(handle), entry, path.string());
    loaded_[type] = module;
    spdlog::debug("loaded channel module type={} path={}", type, path.string());
    return module;
}

core::result<std::shared_ptr<channel_instance>> plugin_host::instantiate_channel(
    const config::channel_config& channel, const std::string& path) {
    auto module = load(channel.type);
    if (!module) {
        return core::make_error("config", path + ".type: " + module.err().message,
                                channel.at.str());
    }
    const hotline_channel_v1* entry = (*module)->entry();

    std::vector<hotline_kv> options;
    options.reserve(channel.options.size());
    for (const auto& o : channel.options) {
        options.push_back(hotline_kv{o.key.c_str(), o.value.c_str()});
    }
    hotline_error err{};
    err.struct_size = sizeof err;
    hotline_channel* handle = entry->create(options.data(), options.size(), &err);
    if (handle == nullptr) {
        const std::string key = bounded(err.key, sizeof err.key);
        const std::string message = error_message(err, "the channel module rejected its options");
        const auto option =
            std::find_if(channel.options.begin(), channel.options.end(),
                         [&](const config::channel_option& o) { return o.key == key; });
        if (option != channel.options.end()) {
            const std::string shown = option->is_secret ? key + "_file" : key;
            return core::make_error("config", path + ".options." + shown + ": " + message,
                                    option->at.str());
        }
        const std::string where = key.empty() ? path + ".options" : path + ".options." + key;
        return core::make_error("config", where + ": " + message, channel.at.str());
    }
    auto instance = std::make_shared<channel_instance>(std::move(*module), handle, entry, channel);
    if (!channel.sms_key.empty() && !instance->is_sms()) {
        return core::make_error("config",
                                path + "." + channel.sms_key + ": only for SMS channels (type " +
                                    channel.type + " does not send SMS)",
                                channel.sms_key_at.str());
    }
    return instance;
}

core::result<std::map<std::string, std::shared_ptr<channel_instance>>> plugin_host::instantiate(
    const config::config& cfg, std::vector<core::error>* errors) {
    std::vector<core::error> found;
    std::map<std::string, std::shared_ptr<channel_instance>> instances;
    for (std::size_t i = 0; i < cfg.channels.size(); ++i) {
        const auto& channel = cfg.channels[i];
        auto instance = instantiate_channel(channel, "channels[" + std::to_string(i) + "]");
        if (!instance) {
            found.push_back(instance.err());
            continue;
        }
        instances[channel.name] = std::move(*instance);
    }
    const auto check_people = [&](const std::vector<domain::person>& people, const char* section) {
        for (std::size_t p = 0; p < people.size(); ++p) {
            for (std::size_t c = 0; c < people[p].contacts.size(); ++c) {
                const auto& contact = people[p].contacts[c];
                const auto it = instances.find(contact.channel);
                if (it == instances.end()) {
                    continue;  // unknown channels are the loader's error; failed ones are reported
                               // above
                }
                if (auto ok = it->second->validate_address(contact.address); !ok) {
                    found.push_back(core::make_error(
                        "config",
                        std::string(section) + "[" + std::to_string(p) + "].contacts[" +
                            std::to_string(c) + "].address: " + ok.err().message,
                        contact.at.str()));
                }
            }
        }
    };
    check_people(cfg.responders, "responders");
    check_people(cfg.partners, "partners");
    check_people(cfg.admins, "admins");

    if (!found.empty()) {
        core::error first = found.front();
        if (errors != nullptr) {
            errors->insert(errors->end(), found.begin(), found.end());
        }
        return first;
    }
    return instances;
}

}  // namespace hotline::dispatch
