// Owning wrappers for C handles: every C resource lives in a unique_ptr with one of these deleters.
#pragma once
#include <memory>

namespace hotline::core {

template <auto Release>
struct c_deleter {
    template <class T>
    void operator()(T* p) const noexcept {
        if (p != nullptr) {
            Release(p);
        }
    }
};

template <class T, auto Release>
using c_handle = std::unique_ptr<T, c_deleter<Release>>;

}  // namespace hotline::core
