#include "ctl/diff.hpp"

#include <signal.h>

#include <cerrno>

#include "app/restart_settings.hpp"

namespace hotline::ctl {

diff_outcome diff_running(const app::loaded_config& loaded) {
    diff_outcome out;
    const auto path = app::running_record_path(*loaded.cfg);
    const auto record = app::read_running_record(path);
    if (!record) {
        out.text = record.err().code == "not_found"
                       ? "no running hotlined recorded at " + path +
                             " (stopped, started with another storage.path, or not readable by "
                             "this user): every setting takes effect at the next start\n"
                       : "cannot read " + path + ": " + record.err().message + "\n";
        return out;
    }
    // EPERM: alive, owned by another user (hotlined runs as its own user).
    const bool alive =
        record->pid > 0 && (::kill(static_cast<pid_t>(record->pid), 0) == 0 || errno == EPERM);
    if (!alive) {
        out.text = "hotlined (pid " + std::to_string(record->pid) +
                   ") is not running; its record at " + path +
                   " is stale: every setting takes effect at the next start\n";
        return out;
    }
    out.running = true;
    const auto changes =
        app::restart_changes(record->settings, app::restart_settings(*loaded.cfg, *loaded.keys));
    if (changes.empty()) {
        out.text = "running hotlined (pid " + std::to_string(record->pid) +
                   ") has this file's server and storage settings; a reload (SIGHUP) applies "
                   "the rest\n";
        return out;
    }
    out.restart_needed = true;
    out.text = app::join_names(changes) + ": take effect on restart (running hotlined, pid " +
               std::to_string(record->pid) + ")\n";
    for (const auto& c : changes) {
        out.text += "  " + c.name + ": running " + (c.running.empty() ? "-" : c.running) +
                    ", file " + c.file + "\n";
    }
    return out;
}

}  // namespace hotline::ctl
