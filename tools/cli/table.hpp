// Plain-text tables with aligned columns, like `xl list`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lamina::cli {

enum class Align { kLeft, kRight };

struct Column {
    std::string heading;
    Align align{Align::kLeft};
    std::size_t min_width{0};  // for rows printed in batches that must line up
};

class Table {
public:
    explicit Table(std::vector<Column> columns);

    // Missing cells are blank; extra cells are an error (std::invalid_argument).
    void add_row(std::vector<std::string> cells);

    [[nodiscard]] bool empty() const { return rows_.empty(); }

    // The heading line and one line per row, each ending in '\n'; columns are
    // two spaces apart and lines carry no trailing blanks.
    [[nodiscard]] std::string render() const;

    // The rows alone, without the heading line (aligned as render() would).
    [[nodiscard]] std::string render_rows() const;

private:
    [[nodiscard]] std::vector<std::size_t> column_widths() const;
    [[nodiscard]] std::string render_line(const std::vector<std::string>& cells,
                                          const std::vector<std::size_t>& widths) const;

    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

// Text from Lamina made safe for a terminal: control characters are shown as
// \xNN so a VM name cannot move the cursor or change colours.
[[nodiscard]] std::string printable(std::string_view text);

// Columns a string takes on screen, counting UTF-8 code points.
[[nodiscard]] std::size_t display_width(std::string_view text);

}  // namespace lamina::cli
