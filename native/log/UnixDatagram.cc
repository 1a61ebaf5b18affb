#include "UnixDatagram.hh"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

namespace f2b::log {
namespace {

// One unconnected socket for the process, opened at the first send. Each send names its
// destination, so a syslog daemon that restarts (a new socket at the same path) is reached
// again without any reconnect logic, as sendto() resolves the path every time.
int sharedSocket(int* error) {
  static std::mutex mutex;
  static int fd = -1;
  std::lock_guard<std::mutex> lock(mutex);
  if (fd < 0) {
#ifdef SOCK_CLOEXEC
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
#else
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
#endif
    if (fd < 0) *error = errno;
  }
  return fd;
}

// sendUnixDatagram(path: string, data: Buffer): number
// Never blocks: a receiver whose queue is full gives EAGAIN, and the caller decides (the log
// target queues and retries), so a stuck syslog daemon cannot stall the daemon's main thread.
// Returns 0, or the errno of the failure (ENOENT, ECONNREFUSED, EAGAIN, EPROTOTYPE, EMSGSIZE...).
Napi::Value SendUnixDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBuffer()) {
    throw Napi::TypeError::New(env, "sendUnixDatagram(path: string, data: Buffer)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const auto data = info[1].As<Napi::Buffer<char>>();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path) || path.find('\0') != std::string::npos) {
    return Napi::Number::New(env, ENAMETOOLONG);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int error = 0;
  const int fd = sharedSocket(&error);
  if (fd < 0) return Napi::Number::New(env, error);
  int flags = MSG_DONTWAIT;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  ssize_t sent;
  do {
    sent = sendto(fd, data.Data(), data.Length(), flags, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (sent < 0 && errno == EINTR);
  return Napi::Number::New(env, sent < 0 ? errno : 0);
}

}  // namespace

void InitUnixDatagram(Napi::Env env, Napi::Object exports) {
  exports.Set("sendUnixDatagram", Napi::Function::New(env, SendUnixDatagram, "sendUnixDatagram"));
}

}  // namespace f2b::log
