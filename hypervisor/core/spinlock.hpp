// A test-and-test-and-set spin lock and its scope guard. Architecture neutral:
// std::atomic compiles to the right exclusive/acquire-release sequence.
#pragma once

#include <atomic>

namespace lamina {

class SpinLock final {
public:
    void lock() {
        for (;;) {
            if (!locked_.exchange(true, std::memory_order_acquire)) return;
            while (locked_.load(std::memory_order_relaxed)) {
            }
        }
    }
    [[nodiscard]] bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
    void unlock() { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
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
