#pragma once
// The tool's argument parsing is the registry's (registry/command_line.hpp).
#include <metarec/registry/command_line.hpp>

namespace metarec::cli {
using registry::Args;
using registry::default_data_dir;
using registry::json_escape;
using registry::UsageError;
}  // namespace metarec::cli
