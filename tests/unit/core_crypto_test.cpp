// core/crypto and core/random: sealing round trips, every way a sealed value can be wrong,
// keyrings, and the key file's accepted forms and errors.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "core/random.hpp"

using namespace hotline::core;
using namespace hotline::core::crypto;

namespace {

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "hotline-crypto-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::string write(const std::string& name, const std::string& bytes, unsigned mode = 0600) {
        const auto p = (path / name).string();
        std::ofstream(p, std::ios::binary) << bytes;
        REQUIRE(::chmod(p.c_str(), mode) == 0);
        return p;
    }
};

keyring ring_of_new_key() {
    return keyring(key::generate());
}

const std::string cyrillic = "Задержали Петрову у метро, телефон +79161112233";

}  // namespace

TEST_CASE("seal and open round trip: Cyrillic, empty and 1 MiB") {
    const auto ring = ring_of_new_key();
    std::string big(1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>(i * 31 + 7);
    }
    for (const std::string& plain : {cyrillic, std::string(), big}) {
        const auto sealed = seal(ring, plain, "reports.text:1");
        CHECK(sealed.size() == plain.size() + sealed_overhead);
        CHECK(looks_sealed(sealed));
        CHECK(sealed_key_id(sealed) == ring.current().id());
        if (!plain.empty()) {
            CHECK(sealed.find(plain.substr(0, std::min<std::size_t>(plain.size(), 16))) ==
                  std::string::npos);
        }
        const auto opened = open(ring, sealed, "reports.text:1");
        REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.err().message));
        CHECK(*opened == plain);
    }
}

TEST_CASE("two seals of the same value differ (random nonce)") {
    const auto ring = ring_of_new_key();
    CHECK(seal(ring, cyrillic, "x") != seal(ring, cyrillic, "x"));
}

TEST_CASE("nonces never repeat: across pool refills, across threads, after a fork") {
    const auto ring = ring_of_new_key();
    // The nonce follows the version byte and the key id; 24 bytes.
    const auto nonce_of = [](const std::string& sealed) { return sealed.substr(1 + 8, 24); };
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {  // ~12 refills of the 4 KiB per-thread pool
        CHECK(seen.insert(nonce_of(seal(ring, "v", "x"))).second);
    }
    std::vector<std::string> other;
    std::thread t([&] {
        for (int i = 0; i < 500; ++i) {
            other.push_back(nonce_of(seal(ring, "v", "x")));
        }
    });
    t.join();
    for (const auto& n : other) {
        CHECK(seen.insert(n).second);
    }
    // A child must not hand out what is left of the parent's pool.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const auto n = nonce_of(seal(ring, "v", "x"));
        (void)!::write(fds[1], n.data(), n.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string child(24, '\0');
    CHECK(::read(fds[0], child.data(), child.size()) == 24);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const auto parent_next = nonce_of(seal(ring, "v", "x"));
    CHECK(child != parent_next);
    CHECK(seen.insert(child).second);
}

TEST_CASE("the associated data binds a value to its place") {
    const auto ring = ring_of_new_key();
    const auto sealed = seal(ring, cyrillic, "reports.text:1");
    for (const char* other : {"reports.text:2", "reports.sender:1", "", "reports.text:1 "}) {
        const auto opened = open(ring, sealed, other);
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.err().code == "corrupt");
        CHECK(opened.err().message.find("authentication") != std::string::npos);
    }
}

TEST_CASE("a flipped bit anywhere fails, in the header too") {
    const auto ring = ring_of_new_key();
    const auto sealed = seal(ring, "short", "ad");
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        auto bad = sealed;
        bad[i] = static_cast<char>(bad[i] ^ 0x01);
        const auto opened = open(ring, bad, "ad");
        REQUIRE_FALSE(opened.ok());
        CAPTURE(i);
        // Byte 0 is the version, 1..8 the key id: those fail before authentication.
        CHECK(opened.err().code ==
              (i == 0 ? "corrupt" : (i <= key_id_bytes ? "unknown_key" : "corrupt")));
    }
}

TEST_CASE("truncated values are corrupt") {
    const auto ring = ring_of_new_key();
    const auto sealed = seal(ring, cyrillic, "ad");
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, header_bytes, sealed_overhead - 1,
                          sealed_overhead, sealed.size() - 1}) {
        const auto opened = open(ring, sealed.substr(0, n), "ad");
        REQUIRE_FALSE(opened.ok());
        CAPTURE(n);
        CHECK(opened.err().code == "corrupt");
    }
    CHECK_FALSE(looks_sealed(sealed.substr(0, sealed_overhead - 1)));
    CHECK_FALSE(looks_sealed("plain text"));
}

TEST_CASE("an unknown key id is named in the error") {
    const auto a = ring_of_new_key();
    const auto b = ring_of_new_key();
    const auto sealed = seal(a, cyrillic, "ad");
    const auto opened = open(b, sealed, "ad");
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.err().code == "unknown_key");
    CHECK(opened.err().message.find(a.current().id_hex()) != std::string::npos);
}

TEST_CASE("a ring with two keys opens both and seals under the current one") {
    const auto unrelated = ring_of_new_key();
    const auto unrelated_sealed = seal(unrelated, "other", "ad");

    temp_dir dir;
    const std::string raw(32, '\x07');
    const auto old_path = dir.write("old.key", raw);
    const auto new_path = dir.write("new.key", std::string(32, '\x09'));
    auto old_key = load_key(old_path);
    auto new_key = load_key(new_path);
    REQUIRE(old_key.ok());
    REQUIRE(new_key.ok());
    const auto old_id = old_key->id();
    keyring only_old(std::move(*old_key));
    const auto sealed_old = seal(only_old, "under old", "ad");

    keyring both(std::move(*new_key));
    auto again = load_key(old_path);
    REQUIRE(again.ok());
    both.add_older(std::move(*again));
    auto dup = load_key(old_path);
    REQUIRE(dup.ok());
    both.add_older(std::move(*dup));  // ignored
    CHECK(both.find(old_id) != nullptr);
    CHECK(both.current().id() != old_id);

    const auto opened_old = open(both, sealed_old, "ad");
    REQUIRE(opened_old.ok());
    CHECK(*opened_old == "under old");
    const auto sealed_new = seal(both, "under new", "ad");
    CHECK(sealed_key_id(sealed_new) == both.current().id());
    CHECK(open(both, sealed_new, "ad").ok());
    const auto by_old_only = open(only_old, sealed_new, "ad");
    REQUIRE_FALSE(by_old_only.ok());
    CHECK(by_old_only.err().code == "unknown_key");
    CHECK(open(both, unrelated_sealed, "ad").err().code == "unknown_key");
}

TEST_CASE("key ids are stable for a key and differ between keys") {
    temp_dir dir;
    const auto p = dir.write("k", std::string(32, 'k'));
    auto a = load_key(p);
    auto b = load_key(p);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->id() == b->id());
    CHECK(a->id_hex().size() == key_id_bytes * 2);
    CHECK(key::generate().id() != key::generate().id());
    // The id is not the key's first bytes.
    CHECK(a->id_hex().find("6b6b6b6b") == std::string::npos);
}

TEST_CASE("key files: raw, hex, hex with a newline") {
    temp_dir dir;
    std::string raw;
    std::string hex;
    for (int i = 0; i < 32; ++i) {
        raw.push_back(static_cast<char>(i * 7 + 1));
        char h[3];
        std::snprintf(h, sizeof h, "%02x", static_cast<unsigned>(i * 7 + 1));
        hex += h;
    }
    auto from_raw = load_key(dir.write("raw.key", raw));
    auto from_hex = load_key(dir.write("hex.key", hex));
    auto from_hex_nl = load_key(dir.write("hexnl.key", hex + "\n"));
    auto from_hex_crlf = load_key(dir.write("hexcrlf.key", hex + "\r\n"));
    auto from_upper = load_key(dir.write("upper.key", "A" + hex.substr(1)));
    REQUIRE(from_raw.ok());
    REQUIRE(from_hex.ok());
    REQUIRE(from_hex_nl.ok());
    REQUIRE(from_hex_crlf.ok());
    REQUIRE(from_upper.ok());
    CHECK(from_raw->id() == from_hex->id());
    CHECK(from_raw->id() == from_hex_nl->id());
    CHECK(from_raw->id() == from_hex_crlf->id());
    CHECK(from_raw->id() != from_upper->id());
    // A value sealed with the raw form opens with the hex form: same key.
    const keyring a(std::move(*from_raw));
    const keyring b(std::move(*from_hex_nl));
    CHECK(open(b, seal(a, cyrillic, "ad"), "ad").ok());
}

TEST_CASE("key file errors name the file and the problem, never the key") {
    temp_dir dir;
    const std::string hex(64, 'a');
    const auto check_error = [](const result<key>& r, const std::string& path,
                                const std::string& needle) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.err().code == "key");
        CHECK(r.err().context == path);
        CHECK_MESSAGE(r.err().message.find(needle) != std::string::npos, r.err().message);
        CHECK(r.err().describe().find(std::string(16, 'a')) == std::string::npos);
        CHECK(r.err().describe().find(path) != std::string::npos);
    };
    const auto missing = (dir.path / "nope.key").string();
    check_error(load_key(missing), missing, "missing");
    const auto group = dir.write("group.key", hex, 0640);
    check_error(load_key(group), group, "group-readable");
    check_error(load_key(group), group, "0640");
    const auto world = dir.write("world.key", hex, 0604);
    check_error(load_key(world), world, "world-readable");
    const auto world_w = dir.write("worldw.key", hex, 0602);
    check_error(load_key(world_w), world_w, "world-writable");
    const auto both = dir.write("both.key", hex, 0666);
    check_error(load_key(both), both, "group-readable and writable, world-readable and writable");
    const auto short_file = dir.write("short.key", std::string(31, 'x'));
    check_error(load_key(short_file), short_file, "wrong size (31 bytes)");
    const auto long_file = dir.write("long.key", std::string(33, 'x'));
    check_error(load_key(long_file), long_file, "wrong size (33 bytes)");
    const auto huge = dir.write("huge.key", std::string(4096, 'a'));
    check_error(load_key(huge), huge, "more than 66");
    const auto empty = dir.write("empty.key", "");
    check_error(load_key(empty), empty, "wrong size (0 bytes)");
    const auto not_hex = dir.write("nothex.key", std::string(63, 'a') + "g");
    check_error(load_key(not_hex), not_hex, "not all hex digits");
    const auto a_dir = (dir.path / "adir").string();
    std::filesystem::create_directory(a_dir);
    ::chmod(a_dir.c_str(), 0700);
    check_error(load_key(a_dir), a_dir, "not a regular file");
    if (::geteuid() != 0) {
        const auto unreadable = dir.write("unreadable.key", hex, 0000);
        check_error(load_key(unreadable), unreadable, "cannot be opened");
    }
    const auto none = load_key("");
    REQUIRE_FALSE(none.ok());
    CHECK(none.err().code == "key");
}

TEST_CASE("random: sizes, hex shape, no repeats") {
    CHECK(random_hex(16).size() == 32);
    CHECK(random_hex(0).empty());
    CHECK(random_hex(16).find_first_not_of("0123456789abcdef") == std::string::npos);
    std::set<std::string> seen;
    std::set<std::uint64_t> numbers;
    for (int i = 0; i < 100; ++i) {
        seen.insert(random_hex(16));
        numbers.insert(random_u64());
    }
    CHECK(seen.size() == 100);
    CHECK(numbers.size() == 100);
    unsigned char buf[64] = {};
    random_bytes(buf);
    int zeros = 0;
    for (unsigned char b : buf) {
        zeros += b == 0 ? 1 : 0;
    }
    CHECK(zeros < 16);
}
