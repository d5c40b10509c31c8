#include "virtual_devices/virtual_gic.hpp"

#include <bit>

namespace lamina {
namespace {

// Distributor registers (offsets from GICD base).
constexpr std::uint64_t kGicdCtlr = 0x0000;
constexpr std::uint64_t kGicdTyper = 0x0004;
constexpr std::uint64_t kGicdIidr = 0x0008;
constexpr std::uint64_t kBankStart = 0x0080;       // IGROUPR .. ICACTIVER: 7 banks of 0x80
constexpr std::uint64_t kBankEnd = 0x0400;
constexpr std::uint64_t kPriorityStart = 0x0400;
constexpr std::uint64_t kPriorityEnd = 0x0800;
constexpr std::uint64_t kConfigStart = 0x0c00;
constexpr std::uint64_t kConfigEnd = 0x0d00;
constexpr std::uint64_t kRouterStart = 0x6000;
constexpr std::uint64_t kRouterEnd = 0x8000;
constexpr std::uint64_t kPeripheralId2 = 0xffe8;

// Redistributor registers (RD_base frame, then SGI_base frame).
constexpr std::uint64_t kGicrCtlr = 0x0000;
constexpr std::uint64_t kGicrIidr = 0x0004;
constexpr std::uint64_t kGicrTyper = 0x0008;
constexpr std::uint64_t kGicrWaker = 0x0014;

constexpr std::uint32_t kCtlrEnableGroup0 = 1u << 0;
constexpr std::uint32_t kCtlrEnableGroup1 = 1u << 1;
constexpr std::uint32_t kCtlrAffinityRouting = 1u << 4;
constexpr std::uint32_t kCtlrDisableSecurity = 1u << 6;
constexpr std::uint32_t kImplementerArm = 0x43b;
constexpr std::uint32_t kArchitectureRevision3 = 0x3b;  // PIDR2: ArchRev 3
constexpr std::uint64_t kRouteAnyVcpu = std::uint64_t{1} << 31;
constexpr std::uint32_t kWakerProcessorSleep = 1u << 1;
constexpr std::uint32_t kWakerChildrenAsleep = 1u << 2;

enum BankKind : std::uint32_t {
    group = 0,
    set_enable,
    clear_enable,
    set_pending,
    clear_pending,
    set_active,
    clear_active,
};

bool read_bit(const VirtualInterrupt& irq, std::uint32_t kind) {
    switch (kind) {
        case group: return irq.group1;
        case set_enable:
        case clear_enable: return irq.enabled;
        case set_pending:
        case clear_pending: return irq.is_pending() || (irq.in_list_register && irq.listed_pending);
        default: return irq.active || (irq.in_list_register && irq.listed_active);
    }
}

}  // namespace

void VirtualGic::reset(std::uint32_t vcpu_count, Notify notify, void* notify_context) {
    const LockGuard guard{lock_};
    vcpu_count_ = vcpu_count < kVirtualGicMaxVcpus ? vcpu_count : kVirtualGicMaxVcpus;
    notify_ = notify;
    notify_context_ = notify_context;
    group0_enabled_ = false;
    group1_enabled_ = false;
    for (auto& bank : private_) {
        bank = {};
        // SGIs are edge-triggered and always enabled for delivery configuration.
        for (std::uint32_t id = 0; id < kPrivateInterruptCount; ++id) bank[id].level_sensitive = id >= kSgiCount;
    }
    for (auto& irq : shared_) irq = {};
    redistributor_asleep_.fill(true);
    for (auto& words : candidates_) words.fill(0);
}

VirtualInterrupt* VirtualGic::interrupt(std::uint32_t interrupt_id, std::uint32_t vcpu) {
    if (interrupt_id < kPrivateInterruptCount) return vcpu < vcpu_count_ ? &private_[vcpu][interrupt_id] : nullptr;
    if (interrupt_id < kInterruptIdLimit) return &shared_[interrupt_id - kPrivateInterruptCount];
    return nullptr;
}

std::uint32_t VirtualGic::owner_of(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private) const {
    if (interrupt_id < kPrivateInterruptCount) return vcpu_for_private;
    return shared_[interrupt_id - kPrivateInterruptCount].target_vcpu;
}

bool VirtualGic::deliverable(const VirtualInterrupt& irq) const {
    const bool group_enabled = irq.group1 ? group1_enabled_ : group0_enabled_;
    return irq.enabled && group_enabled && (irq.is_pending() || irq.active);
}

void VirtualGic::mark_candidate(const VirtualInterrupt& irq, std::uint32_t vcpu) {
    if (vcpu >= vcpu_count_) return;
    const auto* first_private = private_[vcpu].data();
    const std::uint32_t id = (&irq >= first_private && &irq < first_private + kPrivateInterruptCount)
                                 ? static_cast<std::uint32_t>(&irq - first_private)
                                 : static_cast<std::uint32_t>(&irq - shared_.data()) + kPrivateInterruptCount;
    candidates_[vcpu][id / 64] |= std::uint64_t{1} << (id % 64);
}

void VirtualGic::mark_all_candidates() {
    for (auto& words : candidates_) words.fill(~std::uint64_t{0});
}

// Visits each candidate INTID of `vcpu`; the visitor returns false to drop
// the candidate (it cannot be delivered there until something changes).
template <typename Visitor>
void VirtualGic::for_each_candidate(std::uint32_t vcpu, Visitor visit) {
    for (std::uint32_t word = 0; word < candidates_[vcpu].size(); ++word) {
        std::uint64_t bits = candidates_[vcpu][word];
        while (bits != 0) {
            const auto bit = static_cast<std::uint32_t>(std::countr_zero(bits));
            bits &= bits - 1;
            const std::uint32_t id = word * 64 + bit;
            VirtualInterrupt* irq = interrupt(id, vcpu);
            const bool routed_here = irq != nullptr && (id < kPrivateInterruptCount || irq->target_vcpu == vcpu);
            if (!routed_here || !visit(*irq, id)) candidates_[vcpu][word] &= ~(std::uint64_t{1} << bit);
        }
    }
}

void VirtualGic::notify_if_deliverable(VirtualInterrupt& irq, std::uint32_t vcpu) {
    mark_candidate(irq, vcpu);
    if (notify_ != nullptr && irq.enabled && irq.is_pending()) notify_(notify_context_, vcpu);
}

// --- Interrupt sources -----------------------------------------------------

void VirtualGic::set_level(std::uint32_t interrupt_id, bool asserted, std::uint32_t vcpu_for_private) {
    const LockGuard guard{lock_};
    set_level_locked(interrupt_id, asserted, vcpu_for_private);
}

void VirtualGic::reassert_level(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private) {
    const LockGuard guard{lock_};
    VirtualInterrupt* irq = interrupt(interrupt_id, vcpu_for_private);
    if (irq == nullptr) return;
    irq->line_level = true;
    notify_if_deliverable(*irq, owner_of(interrupt_id, vcpu_for_private));
}

void VirtualGic::set_level_locked(std::uint32_t interrupt_id, bool asserted, std::uint32_t vcpu_for_private) {
    VirtualInterrupt* irq = interrupt(interrupt_id, vcpu_for_private);
    if (irq == nullptr || asserted == irq->line_level) return;
    irq->line_level = asserted;
    const std::uint32_t owner = owner_of(interrupt_id, vcpu_for_private);
    if (asserted) {
        if (!irq->level_sensitive) irq->pending_latch = true;
        notify_if_deliverable(*irq, owner);
    } else if (irq->level_sensitive && irq->in_list_register && notify_ != nullptr) {
        // The list register still says pending: the owner must take it back.
        notify_(notify_context_, owner);
    }
}

void VirtualGic::raise_edge(std::uint32_t interrupt_id, std::uint32_t vcpu_for_private) {
    const LockGuard guard{lock_};
    VirtualInterrupt* irq = interrupt(interrupt_id, vcpu_for_private);
    if (irq == nullptr) return;
    irq->pending_latch = true;
    notify_if_deliverable(*irq, owner_of(interrupt_id, vcpu_for_private));
}

void VirtualGic::send_sgi(std::uint32_t sender, std::uint64_t value) {
    const auto sgi = static_cast<std::uint32_t>((value >> 24) & 0xf);
    const bool to_all_others = ((value >> 40) & 1) != 0;
    const std::uint64_t higher_affinity = value & 0x00ff'00ff'00ff'0000ull;  // Aff3, Aff2, Aff1 must be 0
    const std::uint32_t range = static_cast<std::uint32_t>((value >> 44) & 0xf);
    const std::uint32_t target_list = static_cast<std::uint32_t>(value & 0xffff);
    const LockGuard guard{lock_};
    for (std::uint32_t vcpu = 0; vcpu < vcpu_count_; ++vcpu) {
        bool targeted = false;
        if (to_all_others) {
            targeted = vcpu != sender;
        } else if (higher_affinity == 0 && vcpu / 16 == range) {
            targeted = ((target_list >> (vcpu % 16)) & 1) != 0;
        }
        if (!targeted) continue;
        VirtualInterrupt& irq = private_[vcpu][sgi];
        irq.pending_latch = true;
        notify_if_deliverable(irq, vcpu);
    }
}

void VirtualGic::link_to_hardware(std::uint32_t interrupt_id, std::uint32_t hardware_id) {
    const LockGuard guard{lock_};
    for (std::uint32_t vcpu = 0; vcpu < vcpu_count_; ++vcpu) {
        if (VirtualInterrupt* irq = interrupt(interrupt_id, vcpu)) irq->hardware_id = hardware_id;
    }
}

// --- List registers ----------------------------------------------------------
// Callers hold lock().

std::optional<ListRegisterEntry> VirtualGic::next_for_list_register(std::uint32_t vcpu) {
    if (vcpu >= vcpu_count_) return std::nullopt;
    VirtualInterrupt* best = nullptr;
    std::uint32_t best_id = 0;
    for_each_candidate(vcpu, [&](VirtualInterrupt& irq, std::uint32_t id) {
        // In a list register: sync_list_register makes it a candidate again.
        if (irq.in_list_register || !deliverable(irq)) return false;
        if (best == nullptr || irq.priority < best->priority) {
            best = &irq;
            best_id = id;
        }
        return true;
    });
    if (best == nullptr) return std::nullopt;
    return ListRegisterEntry{best_id, best->hardware_id, best->priority, best->group1, best->is_pending(),
                             best->active};
}

void VirtualGic::placed_in_list_register(std::uint32_t vcpu, std::uint32_t interrupt_id, std::uint8_t list_register) {
    VirtualInterrupt* irq = interrupt(interrupt_id, vcpu);
    if (irq == nullptr) return;
    irq->in_list_register = true;
    irq->list_register = list_register;
    irq->listed_pending = irq->is_pending();
    irq->listed_active = irq->active;
    irq->listed_from_latch = irq->pending_latch;
    irq->withdraw_pending = false;
    // The list register now carries the pending and active state.
    irq->pending_latch = false;
    irq->active = false;
}

void VirtualGic::sync_list_register(std::uint32_t vcpu, std::uint32_t interrupt_id, bool pending, bool active) {
    VirtualInterrupt* irq = interrupt(interrupt_id, vcpu);
    if (irq == nullptr) return;
    irq->in_list_register = false;
    if (irq->withdraw_pending) pending = false;
    irq->withdraw_pending = false;
    if (irq->level_sensitive) {
        // Pending follows the line; only an unconsumed software latch survives.
        if (pending && irq->listed_from_latch) irq->pending_latch = true;
    } else {
        // A new edge may have arrived while the list register held the old one.
        irq->pending_latch = irq->pending_latch || pending;
    }
    irq->active = active;
    mark_candidate(*irq, vcpu);
}

bool VirtualGic::has_deliverable(std::uint32_t vcpu) {
    if (vcpu >= vcpu_count_) return false;
    bool found = false;
    for_each_candidate(vcpu, [&](VirtualInterrupt& irq, std::uint32_t) {
        if (irq.in_list_register) return false;
        const bool group_enabled = irq.group1 ? group1_enabled_ : group0_enabled_;
        found = found || (irq.enabled && irq.is_pending() && group_enabled);
        return deliverable(irq);
    });
    return found;
}

// --- Register banks shared by GICD and GICR_SGI -------------------------------

bool VirtualGic::bit_register_access(MmioAccess& access, std::uint32_t kind, std::uint32_t first_id,
                                     std::uint32_t vcpu) {
    if (access.size != 4) return false;
    if (!access.is_write) {
        std::uint64_t bits = 0;
        for (std::uint32_t bit = 0; bit < 32; ++bit) {
            const VirtualInterrupt* irq = interrupt(first_id + bit, vcpu);
            if (irq != nullptr && read_bit(*irq, kind)) bits |= std::uint64_t{1} << bit;
        }
        access.value = bits;
        return true;
    }
    for (std::uint32_t bit = 0; bit < 32; ++bit) {
        const bool set = ((access.value >> bit) & 1) != 0;
        VirtualInterrupt* irq = interrupt(first_id + bit, vcpu);
        if (irq == nullptr || (!set && kind != group)) continue;
        switch (kind) {
            case group: irq->group1 = set; break;
            case set_enable: irq->enabled = true; break;
            case clear_enable: irq->enabled = false; break;
            case set_pending: irq->pending_latch = true; break;
            case clear_pending:
                irq->pending_latch = false;
                if (irq->in_list_register) {
                    // Another vCPU's list register holds it: ask for it back.
                    irq->withdraw_pending = true;
                    irq->listed_pending = false;
                    if (notify_ != nullptr) notify_(notify_context_, owner_of(first_id + bit, vcpu));
                }
                break;
            case set_active: irq->active = true; break;
            case clear_active: irq->active = false; break;
            default: break;
        }
        notify_if_deliverable(*irq, owner_of(first_id + bit, vcpu));
    }
    return true;
}

bool VirtualGic::priority_access(MmioAccess& access, std::uint32_t first_id, std::uint32_t vcpu) {
    if (access.size != 1 && access.size != 4) return false;
    if (!access.is_write) access.value = 0;
    for (std::uint32_t byte = 0; byte < access.size; ++byte) {
        VirtualInterrupt* irq = interrupt(first_id + byte, vcpu);
        if (irq == nullptr) continue;
        if (access.is_write) {
            irq->priority = static_cast<std::uint8_t>((access.value >> (8 * byte)) & 0xf8);  // 5 priority bits
        } else {
            access.value |= static_cast<std::uint64_t>(irq->priority) << (8 * byte);
        }
    }
    return true;
}

bool VirtualGic::config_access(MmioAccess& access, std::uint32_t first_id, std::uint32_t vcpu) {
    if (access.size != 4) return false;
    if (!access.is_write) access.value = 0;
    for (std::uint32_t field = 0; field < 16; ++field) {
        const std::uint32_t id = first_id + field;
        VirtualInterrupt* irq = interrupt(id, vcpu);
        if (irq == nullptr) continue;
        if (access.is_write) {
            // SGIs are always edge-triggered; the field is read-only for them.
            if (id >= kSgiCount) irq->level_sensitive = ((access.value >> (2 * field + 1)) & 1) == 0;
            mark_candidate(*irq, owner_of(id, vcpu));  // a high line now counts as pending
        } else if (!irq->level_sensitive) {
            access.value |= std::uint64_t{2} << (2 * field);
        }
    }
    return true;
}

// Offsets below 0x0400 select a bit register bank, then priorities, then
// configuration; used for the distributor and for a redistributor's SGI frame.
bool VirtualGic::bank_access(MmioAccess& access, std::uint64_t offset, std::uint32_t first_id_base,
                             std::uint32_t vcpu) {
    if (offset >= kBankStart && offset < kBankEnd) {
        const auto kind = static_cast<std::uint32_t>((offset - kBankStart) / 0x80);
        const auto first_id = first_id_base + static_cast<std::uint32_t>((offset % 0x80) / 4) * 32;
        return bit_register_access(access, kind, first_id, vcpu);
    }
    if (offset >= kPriorityStart && offset < kPriorityEnd)
        return priority_access(access, first_id_base + static_cast<std::uint32_t>(offset - kPriorityStart), vcpu);
    if (offset >= kConfigStart && offset < kConfigEnd)
        return config_access(access, first_id_base + static_cast<std::uint32_t>((offset - kConfigStart) / 4) * 16,
                             vcpu);
    if (!access.is_write) access.value = 0;  // IGRPMODR, NSACR: RAZ/WI with one security state
    return true;
}

// --- Distributor ----------------------------------------------------------------

void VirtualGic::route_spi(VirtualInterrupt& irq, std::uint64_t route) {
    irq.route = (route & 0xff'00ff'ffffull) | (route & kRouteAnyVcpu);
    const std::uint64_t aff0 = route & 0xff;
    const bool other_affinity = (route & 0xff'00ff'ff00ull) != 0;
    // "Any vCPU" and impossible targets both go to vCPU 0, which always exists.
    irq.target_vcpu = ((route & kRouteAnyVcpu) != 0 || other_affinity || aff0 >= vcpu_count_)
                          ? 0
                          : static_cast<std::uint8_t>(aff0);
}

bool VirtualGic::router_access(MmioAccess& access, std::uint32_t spi_index) {
    // A 64-bit register, accessed whole or as either 32-bit half (a guest
    // may write it as two words: the upper one must not clobber the lower).
    const auto shift = static_cast<unsigned>(access.offset % 8) * 8;
    if (!(access.size == 8 && shift == 0) && !(access.size == 4 && (shift == 0 || shift == 32))) return false;
    const std::uint64_t mask = access.size == 8 ? ~std::uint64_t{0} : std::uint64_t{0xffff'ffff} << shift;
    VirtualInterrupt& irq = shared_[spi_index];
    if (!access.is_write) {
        access.value = (irq.route & mask) >> shift;
        return true;
    }
    route_spi(irq, (irq.route & ~mask) | ((access.value << shift) & mask));
    notify_if_deliverable(irq, irq.target_vcpu);
    return true;
}

// Identification registers never change: answered without the lock, as
// guests read them often (every GICD_TYPER probe).
bool VirtualGic::read_identification(MmioAccess& access) const {
    switch (access.offset) {
        case kGicdTyper:
            // ITLinesNumber, 10 INTID bits (IDbits = 9), no LPIs, one security state.
            access.value = (kInterruptIdLimit / 32 - 1) | (9u << 19);
            return true;
        case kGicdIidr: access.value = kImplementerArm; return true;
        case kPeripheralId2: access.value = kArchitectureRevision3; return true;
        default: return false;
    }
}

bool VirtualGic::distributor_access(MmioAccess& access) {
    if (!access.is_write && read_identification(access)) return true;
    const LockGuard guard{lock_};
    const std::uint64_t offset = access.offset;
    if (offset == kGicdCtlr) {
        if (access.is_write) {
            group0_enabled_ = (access.value & kCtlrEnableGroup0) != 0;
            group1_enabled_ = (access.value & kCtlrEnableGroup1) != 0;
            mark_all_candidates();
            for (std::uint32_t vcpu = 0; vcpu < vcpu_count_ && notify_ != nullptr; ++vcpu) notify_(notify_context_, vcpu);
        } else {
            access.value = kCtlrAffinityRouting | kCtlrDisableSecurity | (group0_enabled_ ? kCtlrEnableGroup0 : 0) |
                           (group1_enabled_ ? kCtlrEnableGroup1 : 0);
        }
        return true;
    }
    if (access.is_write && (offset == kGicdTyper || offset == kGicdIidr)) return true;
    if (offset == kGicdTyper) {
        // ITLinesNumber, 10 INTID bits (IDbits = 9), no LPIs, one security state.
        access.value = (kInterruptIdLimit / 32 - 1) | (9u << 19);
        return true;
    }
    if (offset == kGicdIidr) {
        access.value = kImplementerArm;
        return true;
    }
    if (offset == kPeripheralId2) {
        if (!access.is_write) access.value = kArchitectureRevision3;
        return true;
    }
    if (offset >= kRouterStart && offset < kRouterEnd) {
        const auto id = static_cast<std::uint32_t>((offset - kRouterStart) / 8);
        if (id < kPrivateInterruptCount || id >= kInterruptIdLimit) {
            if (!access.is_write) access.value = 0;
            return true;
        }
        return router_access(access, id - kPrivateInterruptCount);
    }
    if (offset >= kBankStart && offset < kConfigEnd) {
        // With affinity routing, the distributor's copies of SGI/PPI state are RAZ/WI.
        const bool private_word = (offset < kPriorityStart && offset % 0x80 < 4) ||
                                  (offset >= kPriorityStart && offset < kPriorityStart + kPrivateInterruptCount) ||
                                  (offset >= kConfigStart && offset < kConfigStart + 8);
        if (private_word) {
            if (!access.is_write) access.value = 0;
            return true;
        }
        return bank_access(access, offset, 0, 0);
    }
    if (!access.is_write) access.value = 0;  // reserved and unimplemented: RAZ/WI
    return true;
}

// --- Redistributors ----------------------------------------------------------------

bool VirtualGic::redistributor_frame_access(MmioAccess& access, std::uint32_t vcpu) {
    switch (access.offset) {
        case kGicrCtlr:
            if (!access.is_write) access.value = 0;  // no LPIs
            return true;
        case kGicrIidr:
            if (!access.is_write) access.value = kImplementerArm;
            return true;
        case kGicrTyper:
        case kGicrTyper + 4: {
            // Affinity = vCPU number (Aff0), processor number, Last on the final frame.
            const std::uint64_t typer = (static_cast<std::uint64_t>(vcpu) << 32) | (std::uint64_t{vcpu} << 8) |
                                        (vcpu + 1 == vcpu_count_ ? (1u << 4) : 0);
            if (!access.is_write) access.value = access.offset == kGicrTyper ? typer : typer >> 32;
            if (!access.is_write && access.size == 4 && access.offset == kGicrTyper) access.value &= 0xffff'ffff;
            return true;
        }
        case kGicrWaker:
            if (access.is_write) {
                redistributor_asleep_[vcpu] = (access.value & kWakerProcessorSleep) != 0;
            } else {
                access.value = redistributor_asleep_[vcpu] ? (kWakerProcessorSleep | kWakerChildrenAsleep) : 0;
            }
            return true;
        case kPeripheralId2:
            if (!access.is_write) access.value = kArchitectureRevision3;
            return true;
        default:
            if (!access.is_write) access.value = 0;
            return true;
    }
}

bool VirtualGic::redistributor_access(MmioAccess& access) {
    const LockGuard guard{lock_};
    const auto vcpu = static_cast<std::uint32_t>(access.offset / kRedistributorStride);
    if (vcpu >= vcpu_count_) return false;
    MmioAccess local = access;
    local.offset = access.offset % kRedistributorStride;
    bool handled = true;
    if (local.offset < kRedistributorSgiFrame) {
        handled = redistributor_frame_access(local, vcpu);
    } else {
        local.offset -= kRedistributorSgiFrame;
        // Only the first register of each bank and two ICFGRs exist here.
        const bool beyond_private = (local.offset >= kBankStart && local.offset < kBankEnd && local.offset % 0x80 >= 4) ||
                                    (local.offset >= kPriorityStart + kPrivateInterruptCount && local.offset < kPriorityEnd) ||
                                    (local.offset >= kConfigStart + 8 && local.offset < kConfigEnd);
        if (beyond_private) {
            if (!local.is_write) local.value = 0;
        } else {
            handled = bank_access(local, local.offset, 0, vcpu);
        }
    }
    access.value = local.value;
    return handled;
}

}  // namespace lamina
