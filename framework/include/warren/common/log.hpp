#pragma once
// One-line-per-event logging to stderr, with a process-wide level.

#include <string_view>

namespace warren {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3, none = 4 };

void set_log_level(log_level level) noexcept;
log_level current_log_level() noexcept;
/// Parses "debug", "info", "warning", "error", "none".
bool parse_log_level(std::string_view s, log_level& out) noexcept;
/// Writes "<UTC time> [level] <text>\n" to stderr if `level` is enabled.
void log(log_level level, std::string_view text);

}  // namespace warren
