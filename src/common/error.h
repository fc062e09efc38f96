// lathe::Error: the one exception type the core throws for problems a user can fix.
// Its message is shown as-is by the CLI and the TUI, so it names the file, key or line
// and says what to do. Subclasses let callers pick an exit code or a dialog.
#pragma once

#include <stdexcept>
#include <string>

namespace lathe {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A command line the user typed wrong (unknown flag, missing value): exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Prefixes a stage to an error as it travels up ("loading UNet: tensor ...: ...").
[[noreturn]] void rethrow_with_context(const std::string& context);

}  // namespace lathe
