// How the tail thread learns that a file may have changed. One implementation per file:
// InotifyBackend.cc (Linux), PollBackend.cc (everywhere); a kqueue backend fits the same shape
// (its kqueue fd is pollable, EVFILT_VNODE on the file and its directory).
//
// A backend only says WHICH files to look at; FileTail decides what happened to them
// (appended, rotated, truncated, deleted), so every backend shares one set of rules.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "Delivery.hh"

namespace f2b::tailer {

class Backend {
 public:
  virtual ~Backend() = default;
  // "inotify" or "poll": what Tailer.backend reports.
  virtual const char* name() const = 0;
  // A descriptor that becomes readable when drain() has news, or -1 if there is none.
  virtual int fd() const = 0;
  // Every this many milliseconds the tail thread re-checks every file: the poll backend's only
  // signal, an event-driven backend's safety net (and how a missing directory gets re-watched).
  virtual int rescanMs() const = 0;
  // (Re)arms notifications for `path` (the file and its directory); cheap to call again, and
  // called whenever the file at `path` was (re)opened or is missing.
  virtual void watch(FileId id, const std::string& path) = 0;
  // Drops every notification for `id`.
  virtual void unwatch(FileId id) = 0;
  // Reads pending notifications and appends the ids of files that may have changed to `dirty`.
  virtual void drain(std::vector<FileId>& dirty) = 0;
};

// Stats every file every `intervalMs`; no descriptor of its own.
std::unique_ptr<Backend> makePollBackend(int intervalMs);

#if defined(__linux__)
// Throws std::system_error if inotify cannot be initialised (e.g. max_user_instances reached).
std::unique_ptr<Backend> makeInotifyBackend();
#endif

// Picks the backend for "auto" | "inotify" | "poll"; "auto" is the best one this host has and
// falls back to polling. Throws std::runtime_error / std::system_error when it cannot.
std::unique_ptr<Backend> makeBackend(const std::string& name, int pollIntervalMs);

}  // namespace f2b::tailer
