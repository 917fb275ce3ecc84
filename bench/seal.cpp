// Store ingest throughput with and without sealing at rest, in the same run.
//
// Drives store::store::ingest the way the daemon does (64 operations in flight, group
// commit, synchronous=FULL on a real file, a report of a few hundred bytes of Cyrillic plus
// three notifications with JSON payloads each), once with the report contents, addresses
// and payloads sealed (XChaCha20-Poly1305) and once in clear (`unsealed_for_tests`, which
// no config can set), alternating the order round by round. Prints reports/s for each and
// the ratio. Usage: bench_seal [--reports N] [--rounds R] [--dir DIR] (DIR must not be a
// tmpfs, where fsync is free).
#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/crypto.hpp"
#include "core/random.hpp"
#include "store/store.hpp"

namespace {

using namespace hotline;

domain::report make_report(int i) {
    domain::report r;
    r.source = "partner-webhook";
    r.source_kind = "webhook";
    r.external_id = "bench-" + std::to_string(i);
    r.sender = "+7900" + std::to_string(1000000 + i);
    r.subject = "Срочно: задержание у метро";
    r.text =
        "Меня задержали у метро Курская, везут в отдел полиции. Телефон забрали, адвоката "
        "не пускают. Со мной ещё двое активистов, их имена знает координатор. Пожалуйста, "
        "сообщите юристам и родственникам как можно скорее.";
    r.labels = {{"region", "moscow"}};
    r.language = "ru";
    r.received_at = 1764600000000 + i;
    return r;
}

std::vector<domain::planned_notification> make_plan(const domain::report& r) {
    std::vector<domain::planned_notification> out;
    for (int k = 0; k < 3; ++k) {
        domain::planned_notification p;
        p.channel = k == 0 ? "ops-webhook" : "email";
        p.address = k == 0 ? "http://127.0.0.1:9000/hook"
                           : "responder" + std::to_string(k) + "@example.org";
        p.target = "responder:r" + std::to_string(k);
        p.language = "ru";
        p.payload = {{"subject", r.subject},
                     {"text", r.text},
                     {"sender", r.sender},
                     {"severity", "critical"},
                     {"route", "root/detention"}};
        out.push_back(std::move(p));
    }
    return out;
}

double run(const std::filesystem::path& dir, bool sealed, int reports) {
    const auto path = dir / (std::string(sealed ? "sealed" : "clear") + ".db");
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) {
        std::filesystem::remove(path.string() + suffix);
    }
    store::options opts;
    opts.path = path.string();
    if (sealed) {
        std::array<unsigned char, core::crypto::key_bytes> bytes{};
        core::random_bytes(bytes);
        opts.keys =
            std::make_shared<const core::crypto::keyring>(core::crypto::key::from_bytes(bytes));
    } else {
        opts.unsealed_for_tests = true;
    }
    auto db = store::store::open(opts);
    if (!db) {
        std::fprintf(stderr, "bench_seal: %s\n", db.err().describe().c_str());
        std::exit(1);
    }
    constexpr int window = 64;  // like 64 HTTP connections waiting for their commit
    std::mutex m;
    std::condition_variable cv;
    int in_flight = 0;
    int failed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < reports; ++i) {
        {
            std::unique_lock lock(m);
            cv.wait(lock, [&] { return in_flight < window; });
            ++in_flight;
        }
        auto r = make_report(i);
        auto plan = make_plan(r);
        (*db)->ingest(std::move(r), domain::case_info{"critical", "root/detention", {}, "", "", 0},
                      std::move(plan), [&](core::result<store::ingest_result> res) {
                          std::lock_guard lock(m);
                          --in_flight;
                          failed += res ? 0 : 1;
                          cv.notify_one();
                      });
    }
    {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return in_flight == 0; });
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    (*db)->close();
    if (failed > 0) {
        std::fprintf(stderr, "bench_seal: %d ingests failed\n", failed);
        std::exit(1);
    }
    return reports / seconds;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int reports = 20000;
    int rounds = 5;
    std::filesystem::path dir = "/var/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--reports") {
            reports = std::atoi(argv[i + 1]);
        } else if (arg == "--rounds") {
            rounds = std::atoi(argv[i + 1]);
        } else if (arg == "--dir") {
            dir = argv[i + 1];
        } else {
            std::fprintf(stderr, "usage: bench_seal [--reports N] [--rounds R] [--dir DIR]\n");
            return 2;
        }
    }
    dir /= "hotline-bench-seal-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    std::vector<double> sealed;
    std::vector<double> clear;
    for (int round = 0; round < rounds; ++round) {
        const bool sealed_first = round % 2 == 0;
        for (int k = 0; k < 2; ++k) {
            const bool s = (k == 0) == sealed_first;
            const double rate = run(dir, s, reports);
            (s ? sealed : clear).push_back(rate);
            std::printf("round %d %-6s %9.0f reports/s\n", round + 1, s ? "sealed" : "clear", rate);
        }
    }
    std::filesystem::remove_all(dir);
    const double ms = median(sealed);
    const double mc = median(clear);
    std::printf(
        "median: sealed %.0f reports/s, clear %.0f reports/s, sealed/clear %.3f "
        "(cost %.1f %%)\n",
        ms, mc, ms / mc, 100.0 * (1.0 - ms / mc));
    return 0;
}
