#include "core/crypto.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>

namespace hotline::core::crypto {
namespace {

constexpr std::string_view key_id_label = "hotline key id v1";
// Longest key file we accept: 64 hex digits + "\r\n". Anything longer is the wrong file.
constexpr std::size_t max_key_file = 66;

static_assert(key_bytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(nonce_bytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(tag_bytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

const unsigned char* as_bytes(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// The header followed by the caller's associated data.
std::string full_ad(std::string_view header, std::string_view associated_data) {
    std::string ad;
    ad.reserve(header.size() + associated_data.size());
    ad.append(header);
    ad.append(associated_data);
    return ad;
}

// A scratch buffer in guarded memory for key material read from a file.
struct guarded_buffer {
    explicit guarded_buffer(std::size_t n) : size(n), data(static_cast<char*>(sodium_malloc(n))) {
        if (data == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~guarded_buffer() { sodium_free(data); }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;
    std::size_t size;
    char* data;
};

core::error key_error(const std::string& path, std::string message) {
    return core::make_error("key", "storage key file " + std::move(message), path);
}

// "group-readable", "world-readable and -writable", ...: what mode & 077 allows, in words.
std::string loose_mode(mode_t mode) {
    std::string out;
    const auto add = [&](mode_t read_bit, mode_t write_bit, const char* who) {
        const bool r = (mode & read_bit) != 0;
        const bool w = (mode & write_bit) != 0;
        if (!r && !w) {
            return;
        }
        if (!out.empty()) {
            out += ", ";
        }
        out += std::string(who) + (r && w ? "readable and writable" : r ? "readable" : "writable");
    };
    add(S_IRGRP, S_IWGRP, "group-");
    add(S_IROTH, S_IWOTH, "world-");
    if (out.empty()) {
        out = "executable by group or others";
    }
    return out;
}

}  // namespace

void ensure_init() {
    static const bool ready = [] {
        if (sodium_init() < 0) {
            std::fputs("hotline: libsodium failed to initialise; refusing to run\n", stderr);
            std::abort();
        }
        return true;
    }();
    (void)ready;
}

std::string sha256_hex(std::string_view prefix, std::string_view data) {
    ensure_init();
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(prefix.data()),
                              prefix.size());
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                              data.size());
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256_final(&st, digest.data());
    return to_hex(digest);
}

std::string to_hex(std::span<const unsigned char> bytes) {
    std::string out(bytes.size() * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
    out.pop_back();
    return out;
}

void key::guarded_free::operator()(unsigned char* p) const noexcept {
    sodium_free(p);  // wipes, and lifts the read-only protection first
}

key key::from_bytes(std::span<const unsigned char> bytes) {
    ensure_init();
    if (bytes.size() != key_bytes) {
        throw std::invalid_argument("a storage key is 32 bytes");
    }
    key k;
    k.bytes_.reset(static_cast<unsigned char*>(sodium_malloc(key_bytes)));
    if (!k.bytes_) {
        throw std::bad_alloc();
    }
    std::memcpy(k.bytes_.get(), bytes.data(), key_bytes);
    // A keyed hash of a fixed label: the same key always has the same id, and the id tells
    // nothing about the key.
    crypto_generichash(k.id_.data(), k.id_.size(), as_bytes(key_id_label), key_id_label.size(),
                       k.bytes_.get(), key_bytes);
    sodium_mprotect_readonly(k.bytes_.get());
    return k;
}

std::string keyed_hash_hex(const key& k, std::string_view data) {
    ensure_init();
    std::array<unsigned char, 32> out{};
    crypto_generichash(out.data(), out.size(), as_bytes(data), data.size(), k.bytes(), key_bytes);
    return to_hex(out);
}

key key::generate() {
    ensure_init();
    unsigned char raw[key_bytes];
    crypto_aead_xchacha20poly1305_ietf_keygen(raw);
    auto k = from_bytes(raw);
    sodium_memzero(raw, sizeof raw);
    return k;
}

key derive_key(const key& master, std::uint64_t subkey_id, std::string_view context) {
    ensure_init();
    if (context.size() != crypto_kdf_CONTEXTBYTES) {
        throw std::invalid_argument("a key derivation context is 8 characters");
    }
    char ctx[crypto_kdf_CONTEXTBYTES];
    std::memcpy(ctx, context.data(), sizeof ctx);
    unsigned char raw[key_bytes];
    crypto_kdf_derive_from_key(raw, sizeof raw, subkey_id, ctx, master.bytes());
    auto k = key::from_bytes(raw);
    sodium_memzero(raw, sizeof raw);
    return k;
}

std::string keyed_hash_hex(const key& k, std::string_view data, std::size_t out_bytes) {
    ensure_init();
    if (out_bytes < crypto_generichash_BYTES_MIN || out_bytes > crypto_generichash_BYTES_MAX) {
        throw std::invalid_argument("a keyed hash is 16 to 64 bytes");
    }
    std::array<unsigned char, crypto_generichash_BYTES_MAX> digest{};
    crypto_generichash(digest.data(), out_bytes, as_bytes(data), data.size(), k.bytes(), key_bytes);
    return to_hex(std::span(digest.data(), out_bytes));
}

keyring::keyring(key current) {
    keys_.push_back(std::move(current));
}

void keyring::add_older(key k) {
    if (find(k.id()) == nullptr) {
        keys_.push_back(std::move(k));
    }
}

const key* keyring::find(const key_id& id) const noexcept {
    for (const auto& k : keys_) {
        if (k.id() == id) {
            return &k;
        }
    }
    return nullptr;
}

namespace {

// XChaCha20 nonces are 192 random bits from libsodium's CSPRNG, drawn 4 KiB at a time per
// thread: randombytes_buf is one getrandom() syscall per call, and a report seals several
// fields (issue 11's profile: 3% of the store writer). The pool is wiped when it goes and
// refilled after a fork, so no two processes hand out the same bytes.
void nonce_fill(unsigned char* out, std::size_t n) {
    struct pool {
        std::array<unsigned char, 4096> bytes{};
        std::size_t used = 4096;
        unsigned generation = 0;
        pool() = default;
        pool(const pool&) = delete;
        pool& operator=(const pool&) = delete;
        ~pool() { sodium_memzero(bytes.data(), bytes.size()); }
    };
    static std::atomic<unsigned> forks{1};
    static std::once_flag watch;
    std::call_once(watch, [] { (void)::pthread_atfork(nullptr, nullptr, [] { ++forks; }); });
    thread_local pool p;
    if (n > p.bytes.size()) {
        randombytes_buf(out, n);
        return;
    }
    if (const unsigned now = forks.load(std::memory_order_relaxed);
        p.used + n > p.bytes.size() || p.generation != now) {
        randombytes_buf(p.bytes.data(), p.bytes.size());
        p.used = 0;
        p.generation = now;
    }
    std::memcpy(out, p.bytes.data() + p.used, n);
    sodium_memzero(p.bytes.data() + p.used, n);  // handed out once
    p.used += n;
}

}  // namespace

std::string seal(const keyring& ring, std::string_view plaintext,
                 std::string_view associated_data) {
    const key& k = ring.current();
    std::string out(sealed_overhead + plaintext.size(), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    p[0] = sealed_version;
    std::memcpy(p + 1, k.id().data(), key_id_bytes);
    nonce_fill(p + 1 + key_id_bytes, nonce_bytes);
    const auto ad = full_ad(std::string_view(out.data(), header_bytes), associated_data);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + header_bytes, &written, as_bytes(plaintext),
                                               plaintext.size(), as_bytes(ad), ad.size(), nullptr,
                                               p + 1 + key_id_bytes, k.bytes());
    out.resize(header_bytes + static_cast<std::size_t>(written));
    return out;
}

bool looks_sealed(std::string_view value) noexcept {
    return value.size() >= sealed_overhead &&
           static_cast<unsigned char>(value[0]) == sealed_version;
}

key_id sealed_key_id(std::string_view value) noexcept {
    key_id id{};
    if (value.size() >= 1 + key_id_bytes) {
        std::memcpy(id.data(), value.data() + 1, key_id_bytes);
    }
    return id;
}

core::result<std::string> open(const keyring& ring, std::string_view sealed,
                               std::string_view associated_data) {
    if (sealed.size() < sealed_overhead) {
        return core::make_error(
            "corrupt", "sealed value too short (" + std::to_string(sealed.size()) + " bytes)");
    }
    if (static_cast<unsigned char>(sealed[0]) != sealed_version) {
        return core::make_error("corrupt",
                                "sealed value has unknown format version " +
                                    std::to_string(static_cast<unsigned char>(sealed[0])));
    }
    const auto id = sealed_key_id(sealed);
    const key* k = ring.find(id);
    if (k == nullptr) {
        return core::make_error("unknown_key",
                                "sealed under key id " + to_hex(id) + ", which is not loaded");
    }
    const auto* p = as_bytes(sealed);
    const auto ad = full_ad(sealed.substr(0, header_bytes), associated_data);
    std::string out(sealed.size() - sealed_overhead, '\0');
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(out.data()), &written, nullptr, p + header_bytes,
            sealed.size() - header_bytes, as_bytes(ad), ad.size(), p + 1 + key_id_bytes,
            k->bytes()) != 0) {
        return core::make_error("corrupt", "sealed value failed authentication");
    }
    out.resize(static_cast<std::size_t>(written));
    return out;
}

core::result<key> load_key(const std::string& path) {
    ensure_init();
    if (path.empty()) {
        return core::make_error("key", "storage.key_file is empty");
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int e = errno;
        return key_error(path, e == ENOENT ? "is missing (create one: see docs/operations.md)"
                                           : "cannot be opened: " + std::string(std::strerror(e)));
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_fd{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return key_error(path, "cannot be read: " + std::string(std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode)) {
        return key_error(path, "is not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return key_error(path, "is " + loose_mode(st.st_mode) + " (mode " + mode +
                                   "); it must be private to the service user: chmod 600");
    }
    guarded_buffer buf(max_key_file + 1);
    std::size_t size = 0;
    while (size < buf.size) {
        const auto n = ::read(fd, buf.data + size, buf.size - size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return key_error(path, "cannot be read: " + std::string(std::strerror(errno)));
        }
        if (n == 0) {
            break;
        }
        size += static_cast<std::size_t>(n);
    }
    const auto* raw = reinterpret_cast<const unsigned char*>(buf.data);
    if (size == key_bytes) {
        return key::from_bytes(std::span(raw, key_bytes));
    }
    std::size_t digits = size;
    if (digits > 0 && buf.data[digits - 1] == '\n') {
        --digits;
        if (digits > 0 && buf.data[digits - 1] == '\r') {
            --digits;
        }
    }
    if (digits != key_bytes * 2) {
        return key_error(path,
                         "has the wrong size (" +
                             (size > max_key_file ? "more than " + std::to_string(max_key_file)
                                                  : std::to_string(size)) +
                             " bytes): it must hold 32 raw bytes or 64 hex digits");
    }
    guarded_buffer bin(key_bytes);
    std::size_t bin_len = 0;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(bin.data), key_bytes, buf.data, digits,
                       nullptr, &bin_len, nullptr) != 0 ||
        bin_len != key_bytes) {
        return key_error(path, "holds 64 characters that are not all hex digits");
    }
    return key::from_bytes(std::span(reinterpret_cast<const unsigned char*>(bin.data), key_bytes));
}

}  // namespace hotline::core::crypto
