// Injected time: production uses the system clock, tests set the time by hand.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace hotline::core {

using sys_ms = std::chrono::milliseconds;

class clock {
public:
    virtual ~clock() = default;
    // Milliseconds since the Unix epoch.
    [[nodiscard]] virtual std::int64_t now_ms() const = 0;
};

class system_clock final : public clock {
public:
    [[nodiscard]] std::int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

class manual_clock final : public clock {
public:
    explicit manual_clock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
    [[nodiscard]] std::int64_t now_ms() const override { return now_.load(); }
    void set(std::int64_t ms) { now_.store(ms); }
    void advance(std::int64_t ms) { now_.fetch_add(ms); }

private:
    std::atomic<std::int64_t> now_;
};

}  // namespace hotline::core
