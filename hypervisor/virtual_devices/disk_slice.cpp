#include "virtual_devices/disk_slice.hpp"

namespace lamina {

Status DiskSlice::configure(BlockBackend& disk, std::uint64_t first_sector, std::uint64_t sector_count,
                            bool read_only) {
    disk_ = nullptr;
    first_sector_ = 0;
    sector_count_ = 0;
    read_only_ = read_only;
    if (sector_count == 0) return Error{"disk slice is empty"};
    const std::uint64_t disk_sectors = disk.sector_count();
    if (first_sector > disk_sectors || sector_count > disk_sectors - first_sector)
        return Error{"disk slice does not fit in the disk"};
    disk_ = &disk;
    first_sector_ = first_sector;
    sector_count_ = sector_count;
    return {};
}

bool DiskSlice::is_read_only() const { return read_only_ || (disk_ != nullptr && disk_->is_read_only()); }

Status DiskSlice::read(std::uint64_t sector, std::span<std::byte> bytes) {
    const auto target = disk_sector(sector, bytes.size());
    if (!target) return target.error();
    return disk_->read(*target, bytes);
}

Status DiskSlice::write(std::uint64_t sector, std::span<const std::byte> bytes) {
    if (is_read_only()) return Error{"disk slice is read-only"};
    const auto target = disk_sector(sector, bytes.size());
    if (!target) return target.error();
    return disk_->write(*target, bytes);
}

Status DiskSlice::flush() {
    if (disk_ == nullptr) return Error{"disk slice is not configured"};
    return disk_->flush();
}

Result<std::uint64_t> DiskSlice::disk_sector(std::uint64_t sector, std::size_t length) const {
    if (disk_ == nullptr) return Error{"disk slice is not configured"};
    if (length % kSectorSize != 0) return Error{"disk access is not whole sectors"};
    // In sectors and against what is left after `sector`: nothing can wrap.
    if (sector > sector_count_ || length / kSectorSize > sector_count_ - sector)
        return Error{"disk access beyond the end of the slice"};
    return first_sector_ + sector;  // no wrap: configure() checked first + count against the disk
}

}  // namespace lamina
