#include "ctl/rekey.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>

namespace hotline::ctl {
namespace {

long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') {
        return fallback;
    }
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    return (end != nullptr && *end == '\0' && n >= 0) ? n : fallback;
}

}  // namespace

core::result<store::rekey_report> rekey(const app::loaded_config& loaded,
                                        const std::string& new_key_path) {
    auto new_key = core::crypto::load_key(new_key_path);
    if (!new_key) {
        return new_key.err();
    }
    auto old_key = core::crypto::load_key(loaded.cfg->storage.key_file);
    if (!old_key) {
        return old_key.err();
    }
    if (new_key->id() == old_key->id()) {
        return core::make_error("same_key",
                                "the new key is the configured key (key id " + new_key->id_hex() +
                                    "); generate a new one",
                                new_key_path);
    }
    auto ring = std::make_shared<core::crypto::keyring>(std::move(*new_key));
    ring->add_older(std::move(*old_key));
    store::rekey_options opts;
    opts.path = loaded.cfg->storage.path;
    opts.keys = ring;
    opts.batch_rows = static_cast<std::size_t>(env_number("HOTLINE_TEST_REKEY_BATCH", 500));
    const auto pause = std::chrono::milliseconds(env_number("HOTLINE_TEST_REKEY_PAUSE_MS", 0));
    if (pause.count() > 0) {
        opts.after_batch = [pause](std::int64_t) { std::this_thread::sleep_for(pause); };
    }
    return store::rekey(opts);
}

}  // namespace hotline::ctl
