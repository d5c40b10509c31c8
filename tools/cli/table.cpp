#include "table.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace lamina::cli {

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
    if (cells.size() > columns_.size())
        throw std::invalid_argument(
            fmt::format("table row has {} cells for {} columns", cells.size(), columns_.size()));
    for (std::string& cell : cells) cell = printable(cell);
    cells.resize(columns_.size());
    rows_.push_back(std::move(cells));
}

std::string Table::render() const {
    const std::vector<std::size_t> widths = column_widths();
    std::vector<std::string> headings;
    for (const Column& column : columns_) headings.push_back(column.heading);
    std::string out = render_line(headings, widths);
    for (const auto& row : rows_) out += render_line(row, widths);
    return out;
}

std::string Table::render_rows() const {
    const std::vector<std::size_t> widths = column_widths();
    std::string out;
    for (const auto& row : rows_) out += render_line(row, widths);
    return out;
}

std::vector<std::size_t> Table::column_widths() const {
    std::vector<std::size_t> widths;
    for (const Column& column : columns_) widths.push_back(std::max(column.min_width, display_width(column.heading)));
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
    return widths;
}

std::string Table::render_line(const std::vector<std::string>& cells, const std::vector<std::size_t>& widths) const {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) line += "  ";
        const std::string padding(widths[i] - display_width(cells[i]), ' ');
        if (columns_[i].align == Align::kRight) line += padding;
        line += cells[i];
        if (columns_[i].align == Align::kLeft) line += padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    return line + '\n';
}

std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += fmt::format("\\x{:02x}", byte);
        } else {
            out += c;
        }
    }
    return out;
}

std::size_t display_width(std::string_view text) {
    // Continuation bytes (10xxxxxx) do not start a new code point.
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

}  // namespace lamina::cli
