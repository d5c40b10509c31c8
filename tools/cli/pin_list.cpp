#include "pin_list.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace lamina::cli {

namespace {

[[nodiscard]] unsigned parse_cpu_number(std::string_view text, std::string_view whole_list) {
    unsigned cpu = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, cpu);
    if (text.empty() || error != std::errc{} || stop != end)
        throw std::invalid_argument(
            fmt::format("\"{}\" is not a CPU list such as 0,1 or 0-3 or any (bad element \"{}\")", whole_list, text));
    if (cpu > kMaxCpuNumber)
        throw std::invalid_argument(fmt::format("CPU {} in \"{}\" is above {}", cpu, whole_list, kMaxCpuNumber));
    return cpu;
}

void append_element(std::string_view element, std::string_view whole_list, std::vector<unsigned>& cpus) {
    const std::size_t dash = element.find('-');
    if (dash == std::string_view::npos) {
        cpus.push_back(parse_cpu_number(element, whole_list));
        return;
    }
    const unsigned first = parse_cpu_number(element.substr(0, dash), whole_list);
    const unsigned last = parse_cpu_number(element.substr(dash + 1), whole_list);
    if (last < first)
        throw std::invalid_argument(fmt::format("range \"{}\" in \"{}\" runs backwards", element, whole_list));
    for (unsigned cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
}

}  // namespace

std::vector<unsigned> parse_pin_list(std::string_view text) {
    if (text == "any") return {};
    std::vector<unsigned> cpus;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        append_element(text.substr(start, comma - start), text, cpus);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

std::string format_pin_list(const std::vector<unsigned>& cpus) {
    return cpus.empty() ? std::string("any") : fmt::format("{}", fmt::join(cpus, ","));
}

}  // namespace lamina::cli
