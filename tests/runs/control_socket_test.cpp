// The control socket: requests reach the trainer in order, the socket is private (0600), deep
// run folders work, talking to a run that is not running is a clear error, and another user's
// run is refused as "permission denied: the run belongs to USER".
#include "runs/control_socket.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "temp_dir.h"

using namespace lathe;
using lathe::test::TempDir;

TEST(ControlSocket, RequestsArriveInOrder) {
  TempDir dir;
  ControlServer server(dir / "control.sock");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "control.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(send_control_request(dir / "control.sock", ControlRequest::Pause), "ok pause");
  EXPECT_EQ(send_control_request(dir / "control.sock", ControlRequest::SaveNow), "ok save");
  EXPECT_EQ(server.next_request(), ControlRequest::Pause);
  EXPECT_EQ(server.wait_request(100), ControlRequest::SaveNow);
  EXPECT_EQ(server.next_request(), std::nullopt);
}

TEST(ControlSocket, DeepFolderBeyondSunPathLimit) {
  TempDir dir;
  std::filesystem::path deep = dir.path();
  for (int i = 0; i < 6; ++i) deep /= std::string(30, 'a' + i);
  std::filesystem::create_directories(deep);
  ControlServer server(deep / "control.sock");
  EXPECT_EQ(send_control_request(deep / "control.sock", ControlRequest::Stop), "ok stop");
  EXPECT_EQ(server.next_request(), ControlRequest::Stop);
}

TEST(ControlSocket, NoTrainerIsAClearError) {
  TempDir dir;
  EXPECT_THROW(send_control_request(dir / "control.sock", ControlRequest::Pause), Error);
  { ControlServer server(dir / "control.sock"); }
  EXPECT_FALSE(std::filesystem::exists(dir / "control.sock"));  // removed on exit
}

namespace {

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw ? pw->pw_name : "uid " + std::to_string(uid);
}

}  // namespace

// The message builder: permission denied names the socket's owner; other errors keep asking
// whether the run is still running.
TEST(ControlSocket, PermissionDeniedNamesTheRunsOwner) {
  TempDir dir;
  const auto sock = dir / "control.sock";
  lathe::test::write_text(sock, "");
  // As root the file can be given away, as another user's socket would be; otherwise it is
  // this user's own, and the name must still be the owner's.
  const uid_t owner = ::geteuid() == 0 && ::getpwuid(1) ? 1 : ::geteuid();
  if (owner != ::geteuid()) {
    ASSERT_EQ(::chown(sock.c_str(), owner, static_cast<gid_t>(-1)), 0);
  }
  const std::string denied = control_connect_error(sock, EACCES);
  EXPECT_NE(denied.find("permission denied: the run belongs to " + user_name(owner)),
            std::string::npos)
      << denied;
  EXPECT_EQ(denied.find("still running"), std::string::npos) << denied;
  EXPECT_NE(control_connect_error(sock, EPERM).find("permission denied"), std::string::npos);
  // The socket's folder answers when the socket itself cannot be read.
  EXPECT_NE(control_connect_error(dir / "gone.sock", EACCES).find("the run belongs to " + user_name(::geteuid())),
            std::string::npos);
  const std::string refused = control_connect_error(sock, ECONNREFUSED);
  EXPECT_NE(refused.find("is the run still running?"), std::string::npos) << refused;
}

// The real case: a user who is not the run's owner connects to its 0600 socket. Needs root
// to become another user; skipped otherwise (the builder test above covers the message).
TEST(ControlSocket, AnotherUsersRunRefusesWithItsOwnersName) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);  // others may reach the socket, not use it
  ControlServer server(dir / "control.sock");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    std::string message = "connected";
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
      try {
        send_control_request(dir / "control.sock", ControlRequest::Pause, 1000);
      } catch (const Error& e) {
        message = e.what();
      }
    } else {
      message = "cannot become nobody";
    }
    (void)!::write(fds[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  EXPECT_NE(message.find("permission denied: the run belongs to " + user_name(0)), std::string::npos)
      << message;
  EXPECT_EQ(server.next_request(), std::nullopt);  // nothing got through
}
