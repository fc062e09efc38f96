// Names of the top-level screens, as the tab bar and the key list show them.
#include "tui/screen.h"

namespace lathe::tui {

const char* tab_name(Tab t) {
  switch (t) {
    case Tab::Dataset:
      return "Dataset";
    case Tab::Tags:
      return "Tags";
    case Tab::Audit:
      return "Audit";
    case Tab::Buckets:
      return "Buckets";
    case Tab::Runs:
      return "Runs";
    case Tab::Launch:
      return "Launch";
  }
  return "?";
}

}  // namespace lathe::tui
