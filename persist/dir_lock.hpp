// persist/dir_lock.hpp: one pool per directory at a time, across processes.
//
// An exclusive flock on DIR/tiermem.lock, held for the lock's life. The kernel drops it when
// the process ends however it ends, so a crash never leaves a directory locked. The file holds
// the owner's pid, for the message that refuses a second pool.
#pragma once

#include <string>

namespace tiermem::persist {

class DirLock {
 public:
  // Takes the lock without waiting. Throws Error(busy) naming the directory and the pid of the
  // process that holds it (another pool in this process also holds it), Error(system) when the
  // lock file cannot be created.
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_;
};

}  // namespace tiermem::persist
