// Small pieces of the dataset model that need no file system: counting, and reading kohya's
// `N_name` folder convention the way kohya's DreamBooth loader splits it.
#include "dataset/dataset.h"

namespace lathe {

std::size_t Dataset::image_count() const {
  std::size_t n = 0;
  for (const Concept& c : concepts)
    for (const Item& item : c.items)
      if (!item.image_path.empty()) ++n;
  return n;
}

std::pair<int, std::string> parse_concept_folder_name(const std::string& folder_name) {
  std::size_t digits = 0;
  while (digits < folder_name.size() && folder_name[digits] >= '0' && folder_name[digits] <= '9')
    ++digits;
  // Only "<digits>_<rest>" carries repeats; "2girls" or "1234567890_x" are plain names.
  if (digits == 0 || digits > 6 || digits >= folder_name.size() || folder_name[digits] != '_')
    return {1, folder_name};
  return {std::stoi(folder_name.substr(0, digits)), folder_name.substr(digits + 1)};
}

}  // namespace lathe
