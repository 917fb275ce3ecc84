// Sealing at rest: one libsodium init, keys in guarded memory, a keyring for rotation, and
// seal/open over XChaCha20-Poly1305-IETF AEAD.
//
// Sealed value layout (bytes):
//   [0]       format version (1)
//   [1..8]    key id: the first 8 bytes of BLAKE2b(key, "hotline key id v1")
//   [9..32]   random 24-byte nonce
//   [33..]    ciphertext + 16-byte tag
// The AEAD's associated data is the 33-byte header followed by the caller's associated data
// (e.g. "reports.text:42"), so a value cannot be moved to another row or column, nor its
// header edited, without failing authentication.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace hotline::core::crypto {

constexpr std::size_t key_bytes = 32;
constexpr std::size_t key_id_bytes = 8;
constexpr std::size_t nonce_bytes = 24;
constexpr std::size_t tag_bytes = 16;
constexpr std::uint8_t sealed_version = 1;
constexpr std::size_t header_bytes = 1 + key_id_bytes + nonce_bytes;
constexpr std::size_t sealed_overhead = header_bytes + tag_bytes;

using key_id = std::array<unsigned char, key_id_bytes>;

// Initialises libsodium once per process (thread-safe). Aborts with a message on stderr if
// it cannot: without a working RNG nothing the daemon writes would be safe.
void ensure_init();

[[nodiscard]] std::string to_hex(std::span<const unsigned char> bytes);

// SHA-256 of `prefix` followed by `data`, lower-case hex (unkeyed: for dedup keys and
// content hashes, not for secrets).
[[nodiscard]] std::string sha256_hex(std::string_view prefix, std::string_view data = {});

class key;

// A keyed hash (BLAKE2b-256 under `k`) of `data`, lower-case hex: names a phone number or an
// SMS group in an index without keeping it in clear.
[[nodiscard]] std::string keyed_hash_hex(const key& k, std::string_view data);

// 32 key bytes in sodium_malloc'ed memory (guard pages, no core dumps, wiped on free),
// read-only once built. Movable, not copyable; the bytes never leave this object except
// into libsodium calls.
class key {
public:
    // Copies `bytes` (exactly key_bytes) into guarded memory.
    [[nodiscard]] static key from_bytes(std::span<const unsigned char> bytes);
    // A fresh random key (tests, benchmarks).
    [[nodiscard]] static key generate();

    key(key&&) noexcept = default;
    key& operator=(key&&) noexcept = default;
    key(const key&) = delete;
    key& operator=(const key&) = delete;
    ~key() = default;

    [[nodiscard]] const key_id& id() const noexcept { return id_; }
    // The id as 16 hex digits: names the key in messages without revealing it.
    [[nodiscard]] std::string id_hex() const { return to_hex(id_); }
    [[nodiscard]] const unsigned char* bytes() const noexcept { return bytes_.get(); }

private:
    struct guarded_free {
        void operator()(unsigned char* p) const noexcept;
    };
    key() = default;

    std::unique_ptr<unsigned char, guarded_free> bytes_;
    key_id id_{};
};

// The current key (what seal uses) and older ones (what open may also need), found by id.
class keyring {
public:
    explicit keyring(key current);
    keyring(keyring&&) noexcept = default;
    keyring& operator=(keyring&&) noexcept = default;

    // Adds a key that open() accepts but seal() does not use. A duplicate id is ignored.
    void add_older(key k);

    [[nodiscard]] const key& current() const noexcept { return keys_.front(); }
    [[nodiscard]] const key* find(const key_id& id) const noexcept;

private:
    std::vector<key> keys_;  // [0] = current
};

// A subkey of `master` for one purpose (libsodium crypto_kdf: `context` is exactly 8
// characters, e.g. "hl-dlvry"), so a key used for one thing never keys another.
[[nodiscard]] key derive_key(const key& master, std::uint64_t subkey_id, std::string_view context);

// Keyed BLAKE2b (crypto_generichash) of `data`, `out_bytes` (16..64) long, lower-case hex.
[[nodiscard]] std::string keyed_hash_hex(const key& k, std::string_view data,
                                         std::size_t out_bytes);

// Seals `plaintext` under the ring's current key.
[[nodiscard]] std::string seal(const keyring& ring, std::string_view plaintext,
                               std::string_view associated_data);

// Opens a sealed value. Errors: "unknown_key" (its key id is not in the ring; the message
// names the id), "corrupt" (too short, unknown version, or authentication failed: wrong
// associated data, a flipped byte, a truncated value).
[[nodiscard]] core::result<std::string> open(const keyring& ring, std::string_view sealed,
                                             std::string_view associated_data);

// True when `value` has the shape of a sealed value (version byte and minimum length); says
// nothing about whether it opens.
[[nodiscard]] bool looks_sealed(std::string_view value) noexcept;

// The key id in a value that looks_sealed().
[[nodiscard]] key_id sealed_key_id(std::string_view value) noexcept;

// Reads a key file: exactly 32 raw bytes, or 64 hex digits with an optional trailing
// newline. Errors (code "key", context = the path, never the key): missing, unreadable, not
// a regular file, readable or writable by group or others (mode & 077), wrong size or not
// hex.
[[nodiscard]] core::result<key> load_key(const std::string& path);

}  // namespace hotline::core::crypto
