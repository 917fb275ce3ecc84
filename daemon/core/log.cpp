#include "core/log.hpp"

#include <chrono>
#include <ctime>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace hotline::core {
namespace {

void append_json_string(std::string_view in, spdlog::memory_buf_t& out) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char ch : in) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out.append(std::string_view("\\\"")); break;
            case '\\': out.append(std::string_view("\\\\")); break;
            case '\n': out.append(std::string_view("\\n")); break;
            case '\r': out.append(std::string_view("\\r")); break;
            case '\t': out.append(std::string_view("\\t")); break;
            default:
                if (c < 0x20) {
                    const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                    out.append(std::string_view(esc, sizeof esc));
                } else {
                    out.push_back(ch);
                }
        }
    }
    out.push_back('"');
}

// One JSON object per line: {"ts":"…","level":"info","msg":"…"}.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto t = std::chrono::system_clock::to_time_t(msg.time);
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()) %
            1000;
        std::tm tm{};
        gmtime_r(&t, &tm);
        char ts[40];
        const auto n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms.count()));
        dest.append(std::string_view(R"({"ts":")"));
        dest.append(std::string_view(ts));
        dest.append(std::string_view(R"(","level":")"));
        const auto level = spdlog::level::to_string_view(msg.level);
        dest.append(level.data(), level.data() + level.size());
        dest.append(std::string_view(R"(","msg":)"));
        append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), dest);
        dest.append(std::string_view("}\n"));
    }
    [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<json_formatter>();
    }
};

}  // namespace

bool init_logging(const std::string& format, const std::string& level) {
    const auto lvl = spdlog::level::from_str(level);
    if (lvl == spdlog::level::off && level != "off") {
        return false;
    }
    if (format != "text" && format != "json") {
        return false;
    }
    // Created once and never replaced (issue 7, item 5): spdlog::info() and friends use
    // the default logger through a raw pointer without holding a reference, so replacing
    // it on SIGHUP freed it under the writer thread's feet. A reload changes only the
    // format and level of this logger, and both are thread-safe: the sink swaps its
    // formatter under the mutex it logs under, and the level is an atomic.
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto created = std::make_shared<spdlog::logger>(
            "hotline", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        created->flush_on(spdlog::level::warn);
        spdlog::set_default_logger(created);
        return created;
    }();
    if (format == "json") {
        logger->set_formatter(std::make_unique<json_formatter>());
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
    logger->set_level(lvl);
    return true;
}

}  // namespace hotline::core
