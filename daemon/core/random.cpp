#include "core/random.hpp"

#include <sodium.h>

#include <vector>

#include "core/crypto.hpp"

namespace hotline::core {

void random_bytes(std::span<unsigned char> out) {
    if (out.empty()) {
        return;  // randombytes_buf's buffer is declared non-null, even for 0 bytes
    }
    crypto::ensure_init();
    randombytes_buf(out.data(), out.size());
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    random_bytes(raw);
    return crypto::to_hex(raw);
}

std::uint64_t random_u64() {
    std::uint64_t v = 0;
    random_bytes(std::span(reinterpret_cast<unsigned char*>(&v), sizeof v));
    return v;
}

}  // namespace hotline::core
