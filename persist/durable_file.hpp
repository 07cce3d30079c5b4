// persist/durable_file.hpp: small files replaced atomically and durably.
//
// A crash at any instant leaves either the old content of the file or the new one, never a
// mix: the new bytes go to a temporary file in the same directory, which is synced, renamed
// over the old name, and then the directory is synced so that the rename itself is durable.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace tiermem::persist {

// Replaces dir/name with bytes, atomically and durably (see above). The temporary file is
// dir/name.tmp; one left by a crash is overwritten by the next call. Throws Error(system)
// naming the path and errno; dir/name is unchanged then.
void replace_file(const std::string& dir, const std::string& name, std::span<const char> bytes);

// fsync of a directory, so that names created, renamed or removed in it are durable. Throws
// Error(system) naming it.
void sync_directory(const std::string& dir);

// The whole content of a file. Throws Error(system) naming the path and errno.
std::vector<char> read_file(const std::string& path);

}  // namespace tiermem::persist
