#include "Tracker.hh"

#include <algorithm>
#include <functional>

namespace f2b::match {

namespace {

// fail2ban's session cache holds 100 sessions; the oldest insertion goes first. (Its 5-minute
// expiry never applies within one `regex` run, whose `now` is fixed.)
constexpr size_t kMaxSessions = 100;

const std::string_view* viewOf(const std::vector<FieldView>& f, int32_t name) {
  if (name < 0) return nullptr;
  for (const auto& kv : f) {
    if (kv.first == name) return &kv.second;
  }
  return nullptr;
}

bool truthy(const std::vector<FieldView>& f, int32_t name) {
  const std::string_view* v = viewOf(f, name);
  return v && !v->empty();
}

}  // namespace

const std::string* Fields::get(uint16_t name) const {
  for (size_t i = 0; i < size_; i++) {
    if (items_[i].first == name) return &items_[i].second;
  }
  return nullptr;
}

void Fields::set(uint16_t name, std::string_view value) {
  for (size_t i = 0; i < size_; i++) {
    if (items_[i].first == name) {
      items_[i].second.assign(value);
      return;
    }
  }
  if (size_ == items_.size()) items_.emplace_back();
  items_[size_].first = name;
  items_[size_].second.assign(value);
  size_++;
}

void Fields::erase(uint16_t name) {
  for (size_t i = 0; i < size_; i++) {
    if (items_[i].first != name) continue;
    // the others keep their order; the erased one's storage moves past the end for reuse
    std::rotate(items_.begin() + static_cast<std::ptrdiff_t>(i), items_.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                items_.begin() + static_cast<std::ptrdiff_t>(size_));
    size_--;
    return;
  }
}

Tracker::Tracker(const Filter& filter, bool values)
    : mlfid_(filter.field("mlfid")),
      nofail_(filter.field("nofail")),
      mlfforget_(filter.field("mlfforget")),
      mlfgained_(filter.field("mlfgained")),
      user_(filter.field("user")),
      fid_(filter.field("fid")),
      ip4_(filter.field("ip4")),
      ip6_(filter.field("ip6")),
      dns_(filter.field("dns")),
      values_(values),
      bits_(!values && filter.fieldNames().size() <= 64) {}

Tracker::Slot* Tracker::find(std::string_view key, uint64_t hash) {
  for (size_t i = hash % kIndexSize;; i = (i + 1) % kIndexSize) {
    if (!index_[i]) return nullptr;
    Slot& s = slots_[index_[i] - 1u];
    if (s.hash == hash && s.key == key) return &s;
  }
}

// The index holds the slots in use; rebuilt whenever one leaves it (at most once per session).
void Tracker::reindex() {
  std::fill(std::begin(index_), std::end(index_), uint16_t{0});
  for (size_t k = 0; k < slots_.size(); k++) {
    if (!slots_[k].used) continue;
    size_t i = slots_[k].hash % kIndexSize;
    while (index_[i]) i = (i + 1) % kIndexSize;
    index_[i] = static_cast<uint16_t>(k + 1);
  }
}

void Tracker::drop(Slot& slot) {
  slot.used = false;
  reindex();
}

Tracker::Slot& Tracker::insert(std::string_view key, uint64_t hash) {
  Slot* slot = nullptr;
  size_t used = 0;
  for (auto& s : slots_) {
    if (s.used) used++;
    else if (!slot) slot = &s;
  }
  bool evicted = false;
  if (used >= kMaxSessions) {
    slot = &*std::min_element(slots_.begin(), slots_.end(), [](const Slot& a, const Slot& b) { return a.order < b.order; });
    evicted = true;
  } else if (!slot) {
    slot = &slots_.emplace_back();
  }
  slot->used = true;
  slot->hash = hash;
  slot->key.assign(key);
  slot->order = ++order_;
  if (evicted) {
    reindex();
  } else {
    size_t i = hash % kIndexSize;
    while (index_[i]) i = (i + 1) % kIndexSize;
    index_[i] = static_cast<uint16_t>(slot - slots_.data() + 1);
  }
  return *slot;
}

void Tracker::addUser(Session& s, std::string_view user) {
  for (size_t i = 0; i < s.userCount; i++) {
    if (s.users[i] == user) return;
  }
  if (s.userCount == s.users.size()) s.users.emplace_back();
  s.users[s.userCount++].assign(user);
}

// A session out of the cache (F-MLFFORGET) that the current line still sees: a copy in loose_.
Tracker::Session& Tracker::loosen(Slot& slot) {
  const Session& s = slot.session;
  loose_.fields.clear();
  for (size_t i = 0; i < s.fields.size(); i++) loose_.fields.set(s.fields.at(i).first, s.fields.at(i).second);
  loose_.present = s.present;
  loose_.truthy = s.truthy;
  loose_.userCount = 0;
  for (size_t i = 0; i < s.userCount; i++) addUser(loose_, s.users[i]);
  loose_.pending = s.pending;
  drop(slot);
  return loose_;
}

void Tracker::copyFields(Session& to, const std::vector<FieldView>& from) {
  to.fields.clear();
  for (const auto& [k, v] : from) to.fields.set(k, v);
}

// FailureTracker.merge: the fields of earlier lines of the same session fill in this one's
// (cur_, the hit's fields).
const Fields& Tracker::merge(std::string_view mlfid, uint64_t hash) {
  const auto dropNofail = [&](Fields& f) {
    f.erase(static_cast<uint16_t>(nofail_));
    f.erase(static_cast<uint16_t>(mlfgained_));
  };
  // fail2ban tests these groups for truth: an empty capture counts as absent
  const bool gained = truthy(cur_, mlfgained_);
  const bool forget = truthy(cur_, mlfforget_);
  cur_.erase(std::remove_if(cur_.begin(), cur_.end(), [&](const FieldView& kv) { return kv.first == mlfforget_; }),
             cur_.end());
  if (gained && !viewOf(cur_, nofail_)) cur_.emplace_back(static_cast<uint16_t>(nofail_), *viewOf(cur_, mlfgained_));
  const std::string_view* user = viewOf(cur_, user_);

  Session* session;
  if (Slot* slot = find(mlfid, hash)) {
    session = &slot->session;
    if (user) addUser(*session, *user);
    dropNofail(session->fields);
    if (gained) session->pending = false;
    for (const auto& [k, v] : cur_) session->fields.set(k, v);
    if (forget) session = &loosen(*slot);
  } else {
    session = forget ? &loose_ : &insert(mlfid, hash).session;
    copyFields(*session, cur_);
    session->userCount = 0;
    session->pending = false;
    if (user) addUser(*session, *user);
  }
  if (session->pending || session->userCount > 1) {
    // earlier failures, or several user names tried in one session: neither a nofail line nor a
    // successful login excuses the session
    session->pending = false;
    dropNofail(session->fields);
  }
  return session->fields;
}

// merge() on bits: the same steps, each field reduced to "there" and "not empty".
void Tracker::mergeBits(std::string_view mlfid, uint64_t hash, uint64_t& present, uint64_t& truthy,
                        const std::string_view* user) {
  const auto bit = [](int32_t name) { return uint64_t{1} << name; };
  const uint64_t nofailBits = bit(nofail_) | bit(mlfgained_);
  const bool gained = truthy & bit(mlfgained_);
  const bool forget = truthy & bit(mlfforget_);
  present &= ~bit(mlfforget_);
  truthy &= ~bit(mlfforget_);
  if (gained && !(present & bit(nofail_))) {
    present |= bit(nofail_);
    truthy |= bit(nofail_);
  }
  Session* session;
  if (Slot* slot = find(mlfid, hash)) {
    session = &slot->session;
    if (user) addUser(*session, *user);
    session->present &= ~nofailBits;
    session->truthy &= ~nofailBits;
    if (gained) session->pending = false;
    session->present |= present;
    session->truthy = (session->truthy & ~present) | truthy;
    if (forget) session = &loosen(*slot);
  } else {
    session = forget ? &loose_ : &insert(mlfid, hash).session;
    session->present = present;
    session->truthy = truthy;
    session->userCount = 0;
    session->pending = false;
    if (user) addUser(*session, *user);
  }
  if (session->pending || session->userCount > 1) {
    session->pending = false;
    session->present &= ~nofailBits;
    session->truthy &= ~nofailBits;
  }
  present = session->present;
  truthy = session->truthy;
}

void Tracker::failuresBits(const MatchBatch& batch, const Record& rec, std::vector<Found>& out) {
  const auto bit = [](int32_t name) { return uint64_t{1} << name; };
  const uint64_t ids = bit(ip4_) | bit(ip6_) | bit(dns_) | bit(fid_);
  for (uint32_t h = rec.hitsBegin; h < rec.hitsEnd; h++) {
    const Hit& hit = batch.hits[h];
    uint64_t present = 0, truthy = 0;
    std::string_view mlfid, user;
    bool session = false, hasUser = false;
    for (uint32_t k = hit.fieldsBegin; k < hit.fieldsEnd; k++) {
      const Field& f = batch.fields[k];
      present |= bit(f.name);
      if (f.len) truthy |= bit(f.name);
      if (f.name == mlfid_) {
        session = true;
        mlfid = std::string_view(batch.arena.data() + f.off, f.len);
      } else if (f.name == user_) {
        hasUser = true;
        user = std::string_view(batch.arena.data() + f.off, f.len);
      }
    }
    uint64_t hash = 0;
    if (session) {
      hash = std::hash<std::string_view>{}(mlfid);
      mergeBits(mlfid, hash, present, truthy, hasUser ? &user : nullptr);
    }
    if (!(present & ids)) {
      // F-MLFID without an id yet: the session is pending until a line brings the address
      if (session) {
        if (Slot* s = find(mlfid, hash)) s->session.pending = true;
      }
      continue;
    }
    out.push_back(Found{hit.regex, (truthy & bit(nofail_)) != 0, {}, {}});
  }
}

void Tracker::failures(const MatchBatch& batch, const Record& rec, std::vector<Found>& out) {
  static constexpr std::string_view kSome = "x";
  out.clear();
  if (bits_) {
    failuresBits(batch, rec, out);
    return;
  }
  for (uint32_t h = rec.hitsBegin; h < rec.hitsEnd; h++) {
    const Hit& hit = batch.hits[h];
    cur_.clear();
    for (uint32_t k = hit.fieldsBegin; k < hit.fieldsEnd; k++) {
      const Field& f = batch.fields[k];
      std::string_view v(batch.arena.data() + f.off, f.len);
      // (without values, a field is "" or "x": what a session's logic asks of it)
      if (!values_ && f.name != mlfid_ && f.name != user_ && !v.empty()) v = kSome;
      cur_.emplace_back(f.name, v);
    }
    const std::string_view* mlfid = viewOf(cur_, mlfid_);
    const bool session = mlfid != nullptr;
    bool hasId, nofail;
    const Fields* merged = nullptr;
    std::string_view key;
    uint64_t hash = 0;
    if (session) {
      key = *mlfid;  // (a view into the arena: merge changes cur_)
      hash = std::hash<std::string_view>{}(key);
      merged = &merge(key, hash);
      const auto has = [&](int32_t name) { return merged->get(static_cast<uint16_t>(name)) != nullptr; };
      hasId = has(ip4_) || has(ip6_) || has(dns_) || has(fid_);
      nofail = merged->truthy(static_cast<uint16_t>(nofail_));
    } else {
      hasId = viewOf(cur_, ip4_) || viewOf(cur_, ip6_) || viewOf(cur_, dns_) || viewOf(cur_, fid_);
      nofail = truthy(cur_, nofail_);
    }
    if (!hasId) {
      // F-MLFID without an id yet: the session is pending until a line brings the address
      if (session) {
        if (Slot* s = find(key, hash)) s->session.pending = true;
      }
      continue;
    }
    Found found{hit.regex, nofail, {}, {}};
    if (values_) {
      if (merged) {
        for (size_t i = 0; i < merged->size(); i++) found.fields.push_back(merged->at(i));
        const Session& s = merged == &loose_.fields ? loose_ : find(key, hash)->session;
        found.users.assign(s.users.begin(), s.users.begin() + static_cast<std::ptrdiff_t>(s.userCount));
      } else {
        for (const auto& [k, v] : cur_) found.fields.emplace_back(k, std::string(v));
      }
    }
    out.push_back(std::move(found));
  }
}

}  // namespace f2b::match
