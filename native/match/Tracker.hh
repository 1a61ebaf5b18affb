// fail2ban's multi-line session state (F-MLFID, F-NOFAIL, F-MLFFORGET, F-MLFGAINED) over the
// hits of one file in log order: src/filter/filter.ts's FailureTracker.failures and merge, step
// by step, for `regex` (fail2ban-regex's "check all" mode: a line's time does not change what is
// found). Which address a result names is left to JavaScript (src/cli/regex.ts, failureId),
// which normalises it; here a result only needs to know whether it has one.
//
// It runs for every line with a hit (a quarter of a busy auth.log), so it allocates nothing in
// the steady state: the hit's fields are views into the batch, and the 100 sessions are slots
// whose strings are reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "Filter.hh"

namespace f2b::match {

using FieldView = std::pair<uint16_t, std::string_view>;

// Fields in JavaScript object order: a new name goes last, an existing one keeps its place.
class Fields {
 public:
  const std::string* get(uint16_t name) const;
  void set(uint16_t name, std::string_view value);
  void erase(uint16_t name);
  void clear() { size_ = 0; }
  // JavaScript truthiness: present and not empty
  bool truthy(uint16_t name) const {
    const std::string* v = get(name);
    return v && !v->empty();
  }
  size_t size() const { return size_; }
  const std::pair<uint16_t, std::string>& at(size_t i) const { return items_[i]; }

 private:
  // items_[0, size_) are the fields; the rest keep their strings' storage for reuse
  std::vector<std::pair<uint16_t, std::string>> items_;
  size_t size_ = 0;
};

struct Found {
  uint16_t regex;
  bool nofail;
  // with keepFields only: the merged fields and the session's user names (set order)
  std::vector<std::pair<uint16_t, std::string>> fields;
  std::vector<std::string> users;
};

class Tracker {
 public:
  // values: keep the fields' values (for JSON records); without, only whether each field is
  // there and empty or not is kept (all the counters need), and the user names.
  Tracker(const Filter& filter, bool values);

  // The results of one line's hits (F-NOFAIL ones included; hits without an id yet are none),
  // with their fields and users when the tracker keeps values.
  void failures(const MatchBatch& batch, const Record& rec, std::vector<Found>& out);

 private:
  struct Session {
    Fields fields;
    // without values (and at most 64 field names): which fields are there, and not empty
    uint64_t present = 0, truthy = 0;
    std::vector<std::string> users;
    size_t userCount = 0;
    bool pending = false;
  };
  struct Slot {
    uint64_t hash = 0;
    std::string key;
    uint64_t order = 0;  // insertion order (a set() moves a session to the end)
    bool used = false;
    Session session;
  };

  // The session's fields after this line's (fail2ban's merge).
  const Fields& merge(std::string_view mlfid, uint64_t hash);
  // The same on field bits (the counters' case): cur's present / not-empty bits in, the
  // session's out.
  void mergeBits(std::string_view mlfid, uint64_t hash, uint64_t& present, uint64_t& truthy, const std::string_view* user);
  void failuresBits(const MatchBatch& batch, const Record& rec, std::vector<Found>& out);
  Slot* find(std::string_view key, uint64_t hash);
  Slot& insert(std::string_view key, uint64_t hash);
  void drop(Slot& slot);
  void reindex();
  Session& loosen(Slot& slot);
  static void addUser(Session& s, std::string_view user);
  static void copyFields(Session& to, const std::vector<FieldView>& from);

  int32_t mlfid_, nofail_, mlfforget_, mlfgained_, user_, fid_, ip4_, ip6_, dns_;
  bool values_;
  // field bits are usable (no values, at most 64 field names)
  bool bits_;
  std::vector<Slot> slots_;
  // open addressing over slots_ by hash: index + 1, 0 = empty (kIndexSize > 2 * kMaxSessions)
  static constexpr size_t kIndexSize = 256;
  uint16_t index_[kIndexSize] = {};
  uint64_t order_ = 0;
  // this hit's fields (views), and the session state of a line whose session is not kept
  std::vector<FieldView> cur_;
  Session loose_;
};

}  // namespace f2b::match
