// Context wrapping for lathe::Error, so messages read outermost stage first.
#include "common/error.h"

namespace lathe {

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const UsageError& e) {
    throw UsageError(context + ": " + e.what());
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace lathe
