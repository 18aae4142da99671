#include "socket_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"

namespace rxtls {

int DupNonBlockingSocket(Napi::Env env, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    ThrowError(env, kErrInvalidArgument, "Expected \"fd\" to be an open descriptor (" + std::string(strerror(errno)) + ")");
  if (!S_ISSOCK(st.st_mode)) ThrowExpected(env, "fd", "a socket descriptor");
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) ThrowError(env, kErrSocket, std::string("dup() failed: ") + strerror(errno));
  int flags = fcntl(dup_fd, F_GETFL);
  if (flags < 0 || fcntl(dup_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    close(dup_fd);
    ThrowError(env, kErrSocket, std::string("cannot make the socket non-blocking: ") + strerror(err));
  }
  return dup_fd;
}

}  // namespace rxtls
