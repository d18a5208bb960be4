#pragma once
/// @file registry.hpp
/// @brief `Registry`: the models by name. `all_models()` (registry/all_models.hpp) gathers every
/// family's entries (registry/mf.hpp, registry/mlp.hpp, ...); a program that wants the families
/// compiled in separate translation units (the `metarec` tool does) builds a `Registry` from the
/// family lists itself, and includes only this header where it looks models up.
/// @code
/// const metarec::registry::Registry reg = metarec::registry::all_models();
/// const auto& entry = reg.find("mf-bias");
/// const auto settings = metarec::registry::resolve_settings(entry, "seed-mf", {});
/// const auto report = entry.train({entry.name, ds, split, "seed-mf", settings, 42});
/// @endcode

#include <metarec/registry/model_entry.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace metarec::registry {

/// Models by name, in the order they were added.
class Registry {
 public:
  Registry() = default;
  explicit Registry(std::vector<ModelEntry> models) { add(std::move(models)); }

  /// Appends entries. @throws std::logic_error on a name that is already registered.
  void add(std::vector<ModelEntry> models) {
    for (auto& m : models) {
      if (contains(m.name)) throw std::logic_error("registry: model '" + m.name + "' registered twice");
      models_.push_back(std::move(m));
    }
  }
  [[nodiscard]] const std::vector<ModelEntry>& models() const noexcept { return models_; }
  [[nodiscard]] bool contains(const std::string& name) const {
    for (const auto& m : models_)
      if (m.name == name) return true;
    return false;
  }
  /// The names, comma-separated, in registration order.
  [[nodiscard]] std::string names() const {
    std::string s;
    for (const auto& m : models_) s += (s.empty() ? "" : ", ") + m.name;
    return s;
  }
  /// The entry named `name`.
  /// @throws std::invalid_argument naming the known models when there is none.
  [[nodiscard]] const ModelEntry& find(const std::string& name) const {
    for (const auto& m : models_)
      if (m.name == name) return m;
    throw std::invalid_argument("unknown --model '" + name + "' (known: " + names() + ")");
  }

 private:
  std::vector<ModelEntry> models_;
};

}  // namespace metarec::registry
