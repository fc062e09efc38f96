// Which caption files an edit touches: one or more files, some concepts, or the whole
// dataset, narrowed to the captions that have (or lack) given tags, minus files left out by
// name. The CLI's --file, --concept, --exclude, --where-tag and --where-no-tag flags fill an
// EditScope; the TUI will too.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dataset/dataset.h"

namespace lathe {

struct EditScope {
  std::vector<std::filesystem::path> files;  // caption or image paths; empty: every caption
  std::vector<std::string> concepts;         // concept names or folder names; empty: all
  std::vector<std::filesystem::path> excluded;  // caption or image paths left out (relative
                                                // ones: to the current folder, else the dataset)
  std::vector<std::string> where_tags;       // the caption must hold every one of these
  std::vector<std::string> where_no_tags;    // ... and none of these

  std::string describe() const;  // "concept jinx, with \"solo\"" / "whole dataset"
};

struct CaptionRef {
  std::filesystem::path path;  // the caption file
  std::string concept_name;    // the concept it belongs to
};

// The existing caption files of the dataset in scope (items' captions and caption files with
// no image), in dataset order, before the tag filters. Throws lathe::Error for a concept that
// does not exist or a --file / --exclude that is not a caption (or image with a caption) of
// the dataset in scope.
std::vector<CaptionRef> captions_in_scope(const Dataset& dataset, const EditScope& scope);

// True when a caption with these tags passes the scope's --where-tag / --where-no-tag filters.
bool tags_in_scope(const std::vector<std::string>& tags, const EditScope& scope);

}  // namespace lathe
