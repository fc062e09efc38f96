// Drives the real lathe binary inside tmux for the TUI tests: a private tmux server per
// session (`tmux -L <unique>`), a fixed terminal size, keys sent as a user types them, and
// capture-pane polled with a timeout (never a fixed sleep) until the expected text shows.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "run_command.h"

namespace lathe::test {

class TmuxSession {
 public:
  // Runs `command` (a shell command line) in a new detached session of cols x rows in `cwd`.
  TmuxSession(const std::string& command, const std::filesystem::path& cwd, int cols = 100,
              int rows = 30) {
    static std::atomic<int> counter{0};
    socket_ = "lathe-tui-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    auto r = run_command(tmux() + " -f /dev/null new-session -d -x " + std::to_string(cols) +
                         " -y " + std::to_string(rows) + " -c " + shell_quote(cwd.string()) + " " +
                         shell_quote(command));
    started_ = r.exit_code == 0;
    start_error_ = r.output;
  }
  ~TmuxSession() { run_command(tmux() + " kill-server"); }
  TmuxSession(const TmuxSession&) = delete;
  TmuxSession& operator=(const TmuxSession&) = delete;

  bool started() const { return started_; }
  const std::string& start_error() const { return start_error_; }

  std::string capture() const { return run_command(tmux() + " capture-pane -p").output; }
  // The pane with its colours as SGR escape sequences.
  std::string capture_colours() const { return run_command(tmux() + " capture-pane -p -e").output; }

  // Polls the pane until it shows `text`; false (with the last screen in `last`) on timeout.
  bool wait_for(const std::string& text, int timeout_ms = 10000,
                std::string* last = nullptr) const {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string screen;
    do {
      screen = capture();
      if (screen.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < end);
    if (last) *last = screen;
    return false;
  }

  // Until the pane no longer shows `text`.
  bool wait_gone(const std::string& text, int timeout_ms = 10000) const {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
      if (capture().find(text) == std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < end);
    return false;
  }

  // tmux key names: "Enter", "Escape", "Tab", "C-r", "Down", "j".
  void keys(const std::vector<std::string>& names) const {
    std::string cmd = tmux() + " send-keys";
    for (const auto& k : names) cmd += " " + shell_quote(k);
    run_command(cmd);
  }
  // Literal text, as typed.
  void type(const std::string& text) const {
    run_command(tmux() + " send-keys -l " + shell_quote(text));
  }
  void resize(int cols, int rows) const {
    run_command(tmux() + " resize-window -x " + std::to_string(cols) + " -y " +
                std::to_string(rows));
  }
  // Kills the server: the pane's processes get SIGHUP, as on a dropped SSH connection.
  void hang_up() const { run_command(tmux() + " kill-server"); }

 private:
  std::string tmux() const { return "tmux -L " + socket_; }
  std::string socket_;
  bool started_ = false;
  std::string start_error_;
};

inline bool tmux_available() {
  return run_command("tmux -V").exit_code == 0;
}

}  // namespace lathe::test
