// A 128-bit content hash for cache keys (latent cache entries are named by the hash of the image
// bytes and of everything else that shapes the latent). Not cryptographic: it guards against
// accidental reuse, not against someone crafting collisions in their own cache folder.
#pragma once

#include <string>
#include <string_view>

namespace lathe {

// 32 lower-case hex digits; the same bytes give the same digest on every platform.
std::string content_hash(std::string_view bytes);

}  // namespace lathe
