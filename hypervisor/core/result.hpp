// Result<T>: a value or an error code with a static message, for code that
// cannot throw. Errors carry a string literal so a console report says why.
#pragma once

#include <type_traits>
#include <utility>

namespace lamina {

// Static text explaining a failure; never owns memory.
struct Error final {
    const char* message{"unknown error"};
};

template <typename T>
class [[nodiscard]] Result final {
public:
    constexpr Result(T value) : value_{std::move(value)}, ok_{true} {}  // NOLINT: implicit by design
    constexpr Result(Error error) : error_{error}, ok_{false} {}        // NOLINT: implicit by design

    [[nodiscard]] constexpr bool ok() const { return ok_; }
    [[nodiscard]] constexpr explicit operator bool() const { return ok_; }
    [[nodiscard]] constexpr T& value() { return value_; }
    [[nodiscard]] constexpr const T& value() const { return value_; }
    [[nodiscard]] constexpr T* operator->() { return &value_; }
    [[nodiscard]] constexpr const T* operator->() const { return &value_; }
    [[nodiscard]] constexpr T& operator*() { return value_; }
    [[nodiscard]] constexpr const T& operator*() const { return value_; }
    [[nodiscard]] constexpr Error error() const { return error_; }

private:
    T value_{};
    Error error_{};
    bool ok_;
};

// Result of an operation that returns nothing on success.
class [[nodiscard]] Status final {
public:
    constexpr Status() = default;
    constexpr Status(Error error) : error_{error}, ok_{false} {}  // NOLINT: implicit by design

    [[nodiscard]] constexpr bool ok() const { return ok_; }
    [[nodiscard]] constexpr explicit operator bool() const { return ok_; }
    [[nodiscard]] constexpr Error error() const { return error_; }

private:
    Error error_{};
    bool ok_{true};
};

}  // namespace lamina
