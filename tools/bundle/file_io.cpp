#include "file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <fmt/std.h>

namespace lamina::bundle_tool {

namespace {

[[nodiscard]] std::string errno_text() { return std::strerror(errno); }

// Closes the descriptor and removes the temporary file unless committed.
class TempFile final {
public:
    explicit TempFile(const std::filesystem::path& target) {
        const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
        std::string pattern = (directory / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
        fd_ = ::mkstemp(pattern.data());
        if (fd_ < 0) throw ToolError{fmt::format("cannot create a temporary file in {}: {}", directory, errno_text())};
        path_ = pattern;
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(path_.c_str());
    }

    void write_all(std::span<const std::byte> bytes) {
        while (!bytes.empty()) {
            const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
            if (written < 0 && errno == EINTR) continue;
            if (written < 0) throw ToolError{fmt::format("cannot write {}: {}", path_, errno_text())};
            bytes = bytes.subspan(static_cast<std::size_t>(written));
        }
    }

    void commit_as(const std::filesystem::path& target) {
        // mkstemp creates 0600; a build artefact is normally world-readable.
        if (::fchmod(fd_, 0644) != 0 || ::fsync(fd_) != 0)
            throw ToolError{fmt::format("cannot finish {}: {}", path_, errno_text())};
        const int result = ::close(fd_);
        fd_ = -1;
        if (result != 0) throw ToolError{fmt::format("cannot close {}: {}", path_, errno_text())};
        if (::rename(path_.c_str(), target.c_str()) != 0)
            throw ToolError{fmt::format("cannot rename the output into place as {}: {}", target, errno_text())};
        committed_ = true;
    }

private:
    std::filesystem::path path_;
    int fd_{-1};
    bool committed_{false};
};

}  // namespace

std::vector<std::byte> read_file(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        throw ToolError{fmt::format("{} is not a readable regular file", path)};
    std::ifstream in{path, std::ios::binary};
    if (!in) throw ToolError{fmt::format("cannot open {}", path)};
    std::vector<std::byte> bytes(std::filesystem::file_size(path, error));
    if (error) throw ToolError{fmt::format("cannot get the size of {}: {}", path, error.message())};
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (in.gcount() != static_cast<std::streamsize>(bytes.size()))
        throw ToolError{fmt::format("cannot read {} completely", path)};
    return bytes;
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
    TempFile temp{path};
    temp.write_all(bytes);
    temp.commit_as(path);
}

}  // namespace lamina::bundle_tool
