#include <warren/common/log.hpp>
#include <warren/common/spawn.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

namespace warren {

namespace {
std::atomic<log_level> g_level{log_level::info};
}

void set_log_level(log_level level) noexcept { g_level.store(level, std::memory_order_relaxed); }
log_level current_log_level() noexcept { return g_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view s, log_level& out) noexcept {
    if (s == "debug")
        out = log_level::debug;
    else if (s == "info")
        out = log_level::info;
    else if (s == "warning" || s == "warn")
        out = log_level::warning;
    else if (s == "error")
        out = log_level::error;
    else if (s == "none")
        out = log_level::none;
    else
        return false;
    return true;
}

void log(log_level level, std::string_view text) {
    if (level < current_log_level()) return;
    static constexpr const char* names[] = {"debug", "info", "warning", "error", "none"};
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    std::string line;
    line.reserve(text.size() + 48);
    line.append(stamp);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
    line.append(frac).append(" [").append(names[static_cast<int>(level)]).append("] ");
    line.append(text).push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace warren

namespace warren::detail {

void log_background_failure(const char* what, std::exception_ptr error) noexcept {
    if (!error) return;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        log(log_level::error, std::string(what) + " failed: " + e.what());
    } catch (...) {
        log(log_level::error,
            std::string(what) + " failed with an exception that is not a std::exception");
    }
}

}  // namespace warren::detail
