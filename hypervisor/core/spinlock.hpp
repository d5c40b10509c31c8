// A ticket spin lock (CPUs get the lock in the order they asked, so a busy
// CPU cannot starve another) and its scope guard. Architecture neutral:
// std::atomic compiles to the right exclusive/acquire-release sequence.
#pragma once

#include <atomic>
#include <cstdint>

namespace lamina {

// Tells the CPU (and a simulator or an outer hypervisor running it) that
// this one is only waiting, so the lock holder gets to run.
inline void relax_while_spinning() {
#if defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#elif defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

class SpinLock final {
public:
    void lock() {
        const std::uint32_t ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
        while (now_serving_.load(std::memory_order_acquire) != ticket) relax_while_spinning();
    }
    void unlock() { now_serving_.store(now_serving_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

private:
    std::atomic<std::uint32_t> next_ticket_{0};
    std::atomic<std::uint32_t> now_serving_{0};
};

class [[nodiscard]] LockGuard final {
public:
    explicit LockGuard(SpinLock& lock) : lock_{lock} { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    SpinLock& lock_;
};

}  // namespace lamina
