#include "app/restart_settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace hotline::app {

settings_map restart_settings(const config::config& cfg, const core::crypto::keyring& keys) {
    const auto& s = cfg.server;
    const auto& st = cfg.storage;
    // A setting added to server_config or storage_config that a reload cannot apply gets
    // one line here, so that a reload and `check --diff` name it.
    return {
        {"server.address", s.listen_address},
        {"server.port", std::to_string(s.port)},
        {"server.body_limit", std::to_string(s.body_limit)},
        {"server.read_timeout", core::format_duration(s.read_timeout)},
        {"server.idle_timeout", core::format_duration(s.idle_timeout)},
        {"server.max_connections", std::to_string(s.max_connections)},
        {"server.max_connections_per_ip", std::to_string(s.max_connections_per_ip)},
        {"server.reserved_connections", std::to_string(s.reserved())},
        {"server.preauth_timeout", core::format_duration(s.preauth_timeout)},
        {"server.metrics_listen", s.metrics_address.empty()
                                      ? std::string("off")
                                      : s.metrics_address + ":" + std::to_string(s.metrics_port)},
        {"storage.path", st.path},
        {"storage.max_batch", std::to_string(st.max_batch)},
        // The key's id, not the key, nor key_file's path: under systemd that path is in
        // $CREDENTIALS_DIRECTORY, which an admin's hotlinectl does not see. Another
        // key_file, or a new key in the same one, changes the id.
        {"storage.key_id", keys.current().id_hex()},
    };
}

std::vector<changed_setting> restart_changes(const settings_map& running,
                                             const settings_map& file) {
    std::vector<changed_setting> out;
    for (const auto& [name, value] : file) {
        const auto it = running.find(name);
        if (it == running.end() || it->second != value) {
            out.push_back({name, it == running.end() ? std::string() : it->second, value});
        }
    }
    return out;
}

std::string join_names(const std::vector<changed_setting>& changes) {
    std::string out;
    for (const auto& c : changes) {
        out += (out.empty() ? "" : ", ") + c.name;
    }
    return out;
}

std::string running_record_path(const config::config& cfg) {
    return cfg.storage.path + ".running.json";
}

core::status write_running_record(const std::string& path, const running_record& r) {
    nlohmann::json j = {{"version", 1},
                        {"pid", r.pid},
                        {"started_at", r.started_at},
                        {"config", r.config},
                        {"settings", r.settings}};
    const std::string text = j.dump(2) + "\n";
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return core::make_error("storage", std::string("cannot write: ") + std::strerror(errno),
                                tmp);
    }
    const bool ok = ::fchmod(fd, 0600) == 0 &&
                    ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        return core::make_error("storage", "cannot write: " + why, path);
    }
    return core::ok();
}

core::result<running_record> read_running_record(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::make_error("not_found", "no record of a running hotlined", path);
    }
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("version", 0) != 1 ||
        !j.contains("settings") || !j["settings"].is_object()) {
        return core::make_error("config", "not a running-settings record of this hotline", path);
    }
    running_record r;
    r.pid = j.value("pid", std::int64_t{0});
    r.started_at = j.value("started_at", std::int64_t{0});
    r.config = j.value("config", std::string());
    for (const auto& [name, value] : j["settings"].items()) {
        if (value.is_string()) {
            r.settings[name] = value.get<std::string>();
        }
    }
    return r;
}

}  // namespace hotline::app
