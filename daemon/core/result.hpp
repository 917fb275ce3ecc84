// Expected failures travel as values: a result<T> holds a T or an error.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace hotline::core {

struct error {
    std::string code;     // machine-readable, e.g. "bad_json", "config"
    std::string message;  // human-readable, no report contents
    std::string context;  // e.g. "conf/hotline.yaml:12:5" or a key path

    [[nodiscard]] std::string describe() const {
        return context.empty() ? message : context + ": " + message;
    }
};

template <class T>
class [[nodiscard]] result {
public:
    result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    result(error err) : v_(std::move(err)) {}  // NOLINT
    [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    [[nodiscard]] const error& err() const { return std::get<1>(v_); }

private:
    std::variant<T, error> v_;
};

struct ok_t {};
using status = result<ok_t>;
inline status ok() {
    return ok_t{};
}

inline error make_error(std::string code, std::string message, std::string context = {}) {
    return error{std::move(code), std::move(message), std::move(context)};
}

}  // namespace hotline::core
