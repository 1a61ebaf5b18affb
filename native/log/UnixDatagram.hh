// JavaScript binding of the one thing Node cannot do for the log targets (src/log/syslog.ts):
//   sendUnixDatagram(path, buffer) -> 0 or an errno
// sends one datagram to a unix datagram socket (/dev/log, /run/systemd/journal/socket).
#pragma once

#include <napi.h>

namespace f2b::log {

void InitUnixDatagram(Napi::Env env, Napi::Object exports);

}  // namespace f2b::log
