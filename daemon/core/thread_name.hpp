// Names the calling thread after its one role (docs/architecture.md, "Threads"), as top -H,
// ps -L, gdb and perf show it. Linux keeps 15 bytes of a name; the rest is cut here.
#pragma once
#include <pthread.h>

#include <string>
#include <string_view>

namespace hotline::core {

inline void name_this_thread(std::string_view name) {
    const std::string cut(name.substr(0, 15));
    (void)::pthread_setname_np(::pthread_self(), cut.c_str());
}

}  // namespace hotline::core
