// Unix-socket control channel of a running trainer (see control_socket.h).
#include "runs/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "common/error.h"

namespace lathe {
namespace {

constexpr const char* kRequestNames[] = {"pause", "resume", "stop", "save"};

// sun_path holds 108 bytes; deep run folders exceed it. Reaching the socket through an open
// descriptor of its folder (/proc/self/fd/N/control.sock) keeps the path short.
struct SocketAddress {
  sockaddr_un addr{};
  int dir_fd = -1;
  ~SocketAddress() {
    if (dir_fd >= 0) ::close(dir_fd);
  }
};

void make_address(const std::filesystem::path& path, SocketAddress& out) {
  out.addr.sun_family = AF_UNIX;
  std::string p = path.string();
  if (p.size() >= sizeof(out.addr.sun_path)) {
    out.dir_fd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out.dir_fd < 0)
      throw Error(fmt::format("cannot open {}: {}", path.parent_path().string(),
                              std::strerror(errno)));
    p = fmt::format("/proc/self/fd/{}/{}", out.dir_fd, path.filename().string());
  }
  std::memcpy(out.addr.sun_path, p.c_str(), p.size() + 1);
}

bool read_line(int fd, std::string& line, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char c;
  while (line.size() < 256) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return !line.empty();
    if (c == '\n') return true;
    line += c;
  }
  return true;
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// "alice", or "uid 1234" when the account has no name; empty when nothing can be read.
std::string owner_name(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(st.st_uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found)
    return found->pw_name;
  return fmt::format("uid {}", st.st_uid);
}

}  // namespace

std::string control_connect_error(const std::filesystem::path& socket_path, int err) {
  if (err == EACCES || err == EPERM) {
    std::string owner = owner_name(socket_path);
    if (owner.empty()) owner = owner_name(socket_path.parent_path());
    const std::string who = owner.empty() ? "its owner" : owner;
    return fmt::format(
        "permission denied: the run belongs to {} ({} is theirs, mode 0600); only {}{} can "
        "pause, resume, stop or save it",
        owner.empty() ? "another user" : owner, socket_path.string(), who,
        who == "root" ? "" : " (or root)");
  }
  return fmt::format("cannot reach the trainer at {} ({}); is the run still running? "
                     "'lathe runs show' tells its state",
                     socket_path.string(), std::strerror(err));
}

const char* control_request_name(ControlRequest r) { return kRequestNames[static_cast<int>(r)]; }

std::optional<ControlRequest> parse_control_request(const std::string& word) {
  for (int i = 0; i < 4; ++i)
    if (word == kRequestNames[i]) return static_cast<ControlRequest>(i);
  if (word == "save-now") return ControlRequest::SaveNow;
  return std::nullopt;
}

ControlServer::ControlServer(const std::filesystem::path& socket_path) : path_(socket_path) {
  SocketAddress address;
  make_address(path_, address);
  ::unlink(path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw Error(fmt::format("cannot create control socket: {}", std::strerror(errno)));
  // Created 0600 from the start: no window where another user could connect.
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address.addr), sizeof(address.addr));
  ::umask(old_mask);
  if (rc != 0 || ::listen(listen_fd_, 8) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    throw Error(fmt::format("cannot listen on {}: {}", path_.string(), err));
  }
  ::chmod(path_.c_str(), 0600);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    ::close(listen_fd_);
    throw Error(fmt::format("cannot create control pipe: {}", std::strerror(errno)));
  }
  thread_ = std::thread([this] { accept_loop(); });
}

ControlServer::~ControlServer() {
  stopping_ = true;
  if (wake_pipe_[1] >= 0) (void)!::write(wake_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_)
    if (fd >= 0) ::close(fd);
  ::unlink(path_.c_str());
}

void ControlServer::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client);
    ::close(client);
  }
}

void ControlServer::serve(int client_fd) {
  std::string line;
  if (!read_line(client_fd, line, 2000)) return;
  auto request = parse_control_request(line);
  if (!request) {
    write_all(client_fd, fmt::format("error unknown request '{}' (pause, resume, stop, save)\n",
                                     line));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(*request);
  }
  arrived_.notify_all();
  write_all(client_fd, fmt::format("ok {}\n", control_request_name(*request)));
}

std::optional<ControlRequest> ControlServer::next_request() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.empty()) return std::nullopt;
  ControlRequest r = pending_.front();
  pending_.pop_front();
  return r;
}

std::optional<ControlRequest> ControlServer::wait_request(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return !pending_.empty(); });
  if (pending_.empty()) return std::nullopt;
  ControlRequest r = pending_.front();
  pending_.pop_front();
  return r;
}

std::string send_control_request(const std::filesystem::path& socket_path, ControlRequest request,
                                 int timeout_ms) {
  SocketAddress address;
  make_address(socket_path, address);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(fmt::format("cannot create socket: {}", std::strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address.addr), sizeof(address.addr)) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(control_connect_error(socket_path, err));
  }
  write_all(fd, std::string(control_request_name(request)) + "\n");
  std::string reply;
  bool got = read_line(fd, reply, timeout_ms);
  ::close(fd);
  if (!got) throw Error(fmt::format("the trainer at {} did not answer", socket_path.string()));
  return reply;
}

}  // namespace lathe
