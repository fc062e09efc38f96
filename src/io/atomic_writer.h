// AtomicFileWriter: the streaming form of write_file_atomic, for files too big to build in
// memory first (multi-GB safetensors). Bytes go to a temp file in the target's folder;
// commit() flushes, fsyncs, renames over the target and fsyncs the folder. A writer destroyed
// without commit() removes its temp file, so an error or a crash never leaves a half file
// under the real name.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace lathe {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::filesystem::path& path);  // throws lathe::Error
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(std::string_view bytes);  // buffered; throws lathe::Error naming the path
  void commit();                       // makes the new file visible under path()
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush_buffer();
  void write_through(std::string_view bytes);
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::string buffer_;
  int fd_ = -1;
  unsigned mode_ = 0644;
  bool committed_ = false;
};

}  // namespace lathe
