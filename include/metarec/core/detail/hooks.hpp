#pragma once
/// @file hooks.hpp
/// @brief Optional callback hooks (ensmallen style), shared by `fit` and `Maml::train`.
///
/// A callback object may define any subset of the hooks; a hook may return `void` or something
/// convertible to `bool`, where `true` asks training to stop. `call_all` calls one hook on every
/// callback, in order (all of them, also after one has asked to stop), and says whether any asked
/// to stop. The caller names the hook with a lambda that states its return type as
/// `-> decltype(...)`, so that a callback without that hook is skipped, not a compile error:
/// @code
/// bool stop = metarec::detail::call_all(
///     [&](auto& c) -> decltype(c.on_epoch_end(info)) { return c.on_epoch_end(info); }, callbacks...);
/// @endcode

#include <type_traits>

namespace metarec::detail {

/// Calls `call(hook)` when that is well-formed; true only when it returned something true.
template <class H, class F>
bool call_optional(H& hook, F& call) {
  if constexpr (std::is_invocable_v<F&, H&>) {
    if constexpr (std::is_convertible_v<std::invoke_result_t<F&, H&>, bool>) {
      return static_cast<bool>(call(hook));
    } else {
      call(hook);
      return false;
    }
  } else {
    return false;
  }
}

/// Calls the hook named by `call` on every callback in order; true when any asked to stop.
template <class F, class... Hooks>
bool call_all([[maybe_unused]] F call, Hooks&... hooks) {
  bool stop = false;
  ((stop = call_optional(hooks, call) || stop), ...);
  return stop;
}

}  // namespace metarec::detail
