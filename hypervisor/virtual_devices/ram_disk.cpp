#include "virtual_devices/ram_disk.hpp"

#include <algorithm>

namespace lamina {

Status RamDisk::configure(std::span<std::byte> storage, bool read_only) {
    storage_ = {};
    read_only_ = read_only;
    if (storage.size() % kSectorSize != 0) return Error{"RAM disk size is not a multiple of 512 bytes"};
    storage_ = storage;
    return {};
}

Status RamDisk::read(std::uint64_t sector, std::span<std::byte> bytes) {
    const auto source = sectors(sector, bytes.size());
    if (!source) return source.error();
    std::copy_n(source->data(), bytes.size(), bytes.data());
    return {};
}

Status RamDisk::write(std::uint64_t sector, std::span<const std::byte> bytes) {
    if (read_only_) return Error{"RAM disk is read-only"};
    const auto destination = sectors(sector, bytes.size());
    if (!destination) return destination.error();
    std::copy_n(bytes.data(), bytes.size(), destination->data());
    return {};
}

Result<std::span<std::byte>> RamDisk::sectors(std::uint64_t sector, std::size_t length) const {
    if (length % kSectorSize != 0) return Error{"disk access is not whole sectors"};
    // Compared in sectors, so a huge `sector` cannot wrap the byte offset.
    const std::uint64_t count = sector_count();
    if (sector > count || length / kSectorSize > count - sector) return Error{"disk access beyond the end of the disk"};
    return storage_.subspan(sector * kSectorSize, length);
}

}  // namespace lamina
