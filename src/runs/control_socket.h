// control.sock: the Unix socket (mode 0600) through which a running trainer takes pause,
// resume, stop and save-now requests from the CLI and the TUI. One request per connection, one
// line each way: the client sends "pause\n", the trainer answers "ok pause\n" or "error ...\n".
// The trainer drains requests between steps, so a request never interrupts a step midway.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace lathe {

enum class ControlRequest { Pause, Resume, Stop, SaveNow };

const char* control_request_name(ControlRequest r);  // "pause", "resume", "stop", "save"
std::optional<ControlRequest> parse_control_request(const std::string& word);

class ControlServer {
 public:
  // Binds `socket_path` (removing a stale socket file first) with mode 0600 and starts
  // accepting in a background thread. Throws lathe::Error when it cannot bind.
  explicit ControlServer(const std::filesystem::path& socket_path);
  ~ControlServer();  // stops the thread and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The oldest pending request, if any (called by the training loop between steps).
  std::optional<ControlRequest> next_request();
  // Blocks up to `timeout_ms` for a request (used while paused, so pausing costs no CPU).
  std::optional<ControlRequest> wait_request(int timeout_ms);

 private:
  void accept_loop();
  void serve(int client_fd);

  std::filesystem::path path_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<ControlRequest> pending_;
  std::atomic<bool> stopping_{false};
};

// Sends one request to the trainer listening on `socket_path`; returns its answer line.
// Throws lathe::Error when nothing listens there (the run is not running) or the socket is
// another user's (control_connect_error).

std::string send_control_request(const std::filesystem::path& socket_path, ControlRequest request,
                                 int timeout_ms = 3000);

// The message for a failed connect(2) to `socket_path` with errno `err`: EACCES or EPERM mean
// the run belongs to another user (the socket is mode 0600), named from the socket's owner or,
// when that cannot be read, its folder's; anything else means nothing listens there.
std::string control_connect_error(const std::filesystem::path& socket_path, int err);

}  // namespace lathe
