// The control socket: requests reach the trainer in order, the socket is private (0600), deep
// run folders work, and talking to a run that is not running is a clear error.
#include "runs/control_socket.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
