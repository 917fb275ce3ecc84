// Random bytes, hex ids and numbers from libsodium's CSPRNG (randombytes), for ids, tokens
// and nonces. Each call initialises libsodium once if needed (core/crypto.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hotline::core {

void random_bytes(std::span<unsigned char> out);

// `bytes` random bytes as 2*bytes lower-case hex digits.
[[nodiscard]] std::string random_hex(std::size_t bytes);

[[nodiscard]] std::uint64_t random_u64();

}  // namespace hotline::core
