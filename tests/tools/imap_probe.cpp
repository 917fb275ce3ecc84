// imap_probe: one IMAP session (net/imap) driven from the command line, one JSON line per
// step on stdout. For the system tests of the IMAP client; not installed.
//
//   imap_probe --host H --port P --tls none|tls|starttls --user U --password-file F
//              [--ca-file F] [--timeout MS] [--interrupt-after MS] COMMAND...
//
// Commands, run in order on the same session: select MAILBOX, uids-from N, unseen,
// sizes UIDS, fetch UIDS [--headers], seen UIDS, move UIDS FOLDER, create FOLDER, noop,
// idle MS, logout. UIDS is a comma-separated list ("1,2,5"; "-" for none). A failed step
// prints {"error": code, "message": ...} and exits 1; bad usage exits 64.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "net/imap.hpp"

namespace {

namespace imap = hotline::net::imap;
using json = nlohmann::json;

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "imap_probe: " << why << "\n";
    std::exit(64);
}

[[noreturn]] void failed(const std::string& step, const hotline::core::error& e) {
    std::cout << json{{"cmd", step}, {"error", e.code}, {"message", e.message}}.dump() << std::endl;
    std::cerr << "imap_probe: " << step << ": " << e.code << ": " << e.message << "\n";
    std::exit(1);
}

void print(json j) {
    std::cout << j.dump() << std::endl;  // flushed: the tests read lines as they come
}

std::vector<std::uint32_t> parse_uids(const std::string& text) {
    std::vector<std::uint32_t> uids;
    if (text == "-") {
        return uids;
    }
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ',');) {
        uids.push_back(static_cast<std::uint32_t>(std::stoul(part)));
    }
    return uids;
}

std::string hex(const std::string& bytes) {
    return hotline::core::crypto::to_hex(
        std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
    imap::endpoint ep;
    ep.port = 0;
    long interrupt_after_ms = -1;
    std::vector<std::string> commands;
    std::string mode = "tls";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage("missing value after " + arg);
            }
            return argv[++i];
        };
        if (arg == "--host") {
            ep.host = value();
        } else if (arg == "--port") {
            ep.port = static_cast<std::uint16_t>(std::stoul(value()));
        } else if (arg == "--tls") {
            mode = value();
        } else if (arg == "--user") {
            ep.username = value();
        } else if (arg == "--password-file") {
            std::ifstream f(value(), std::ios::binary);
            if (!f) {
                usage("cannot read the password file");
            }
            ep.password.assign(std::istreambuf_iterator<char>(f), {});
            while (!ep.password.empty() &&
                   (ep.password.back() == '\n' || ep.password.back() == '\r')) {
                ep.password.pop_back();
            }
        } else if (arg == "--ca-file") {
            ep.ca_file = value();
        } else if (arg == "--timeout") {
            ep.timeout = std::chrono::milliseconds(std::stol(value()));
        } else if (arg == "--interrupt-after") {
            interrupt_after_ms = std::stol(value());
        } else {
            commands.push_back(arg);
        }
    }
    if (ep.host.empty() || ep.port == 0) {
        usage("--host and --port are required");
    }
    if (mode == "tls") {
        ep.tls = imap::tls_mode::tls;
    } else if (mode == "starttls") {
        ep.tls = imap::tls_mode::starttls;
    } else if (mode == "none") {
        ep.tls = imap::tls_mode::none;
    } else {
        usage("--tls must be none, tls or starttls");
    }

    imap::interrupter stop;
    // --interrupt-after: another thread calls interrupt(), as a source's stop() would. The
    // guard cancels it when the probe is done first (it must not outlive `stop`).
    struct interrupt_timer {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        std::thread t;
        ~interrupt_timer() {
            {
                std::lock_guard lock(m);
                done = true;
            }
            cv.notify_all();
            if (t.joinable()) {
                t.join();
            }
        }
    } timer;
    if (interrupt_after_ms >= 0) {
        timer.t = std::thread([&stop, &timer, interrupt_after_ms] {
            std::unique_lock lock(timer.m);
            if (!timer.cv.wait_for(lock, std::chrono::milliseconds(interrupt_after_ms),
                                   [&timer] { return timer.done; })) {
                stop.interrupt();
            }
        });
    }

    const auto started = std::chrono::steady_clock::now();
    const auto elapsed_ms = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
            .count();
    };
    auto connected = imap::session::connect(ep, stop);
    if (!connected) {
        std::cout << json{{"cmd", "connect"},
                          {"error", connected.err().code},
                          {"message", connected.err().message},
                          {"elapsed_ms", elapsed_ms()}}
                         .dump()
                  << std::endl;
        std::cerr << "imap_probe: connect: " << connected.err().code << ": "
                  << connected.err().message << "\n";
        return 1;
    }
    imap::session& s = **connected;
    print({{"cmd", "connect"}, {"idle", s.has_idle()}, {"move", s.has_move()}});

    for (std::size_t i = 0; i < commands.size(); ++i) {
        const std::string& cmd = commands[i];
        const auto arg = [&]() -> std::string {
            if (i + 1 >= commands.size()) {
                usage(cmd + " needs an argument");
            }
            return commands[++i];
        };
        const auto t0 = std::chrono::steady_clock::now();
        const auto took = [&] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t0)
                .count();
        };
        const auto check = [&](const hotline::core::status& st) {
            if (!st) {
                failed(cmd, st.err());
            }
            print({{"cmd", cmd}, {"ok", true}, {"elapsed_ms", took()}});
        };
        if (cmd == "select") {
            auto r = s.select(arg());
            if (!r) {
                failed(cmd, r.err());
            }
            print({{"cmd", cmd},
                   {"uidvalidity", r->uidvalidity},
                   {"uidnext", r->uidnext},
                   {"exists", r->exists}});
        } else if (cmd == "uids-from" || cmd == "unseen") {
            auto r = cmd == "unseen" ? s.unseen()
                                     : s.uids_from(static_cast<std::uint32_t>(std::stoul(arg())));
            if (!r) {
                failed(cmd, r.err());
            }
            print({{"cmd", cmd}, {"uids", *r}});
        } else if (cmd == "sizes") {
            auto r = s.sizes(parse_uids(arg()));
            if (!r) {
                failed(cmd, r.err());
            }
            json sizes = json::object();
            for (const auto& m : *r) {
                sizes[std::to_string(m.uid)] = m.size;
            }
            print({{"cmd", cmd}, {"sizes", sizes}});
        } else if (cmd == "fetch") {
            const auto uids = parse_uids(arg());
            bool headers = false;
            if (i + 1 < commands.size() && commands[i + 1] == "--headers") {
                headers = true;
                ++i;
            }
            auto r = s.fetch(uids, headers);
            if (!r) {
                failed(cmd, r.err());
            }
            json messages = json::array();
            for (const auto& m : *r) {
                messages.push_back({{"uid", m.uid}, {"raw_hex", hex(m.raw)}});
            }
            print({{"cmd", cmd}, {"messages", messages}});
        } else if (cmd == "seen") {
            check(s.mark_seen(parse_uids(arg())));
        } else if (cmd == "move") {
            const auto uids = parse_uids(arg());
            check(s.move(uids, arg()));
        } else if (cmd == "create") {
            check(s.create(arg()));
        } else if (cmd == "noop") {
            check(s.noop());
        } else if (cmd == "idle") {
            const std::chrono::milliseconds max(std::stol(arg()));
            print({{"cmd", "idle-start"}});
            auto r = s.idle(max);
            if (!r) {
                failed(cmd, r.err());
            }
            print({{"cmd", cmd},
                   {"outcome", *r == imap::session::idle_outcome::changed ? "changed" : "timeout"},
                   {"elapsed_ms", took()}});
        } else if (cmd == "logout") {
            s.logout();
            print({{"cmd", cmd}, {"ok", true}});
        } else {
            usage("unknown command " + cmd);
        }
    }
    return 0;
}
