// tiermem/config.hpp: every knob of a pool in one struct, with defaults that work on a laptop.
//
// A Config is plain data. It can be filled from a JSON file and every field can be overridden
// by its dotted key ("dram.capacity", "nvme.dirs", ...), which is how the command-line tool's
// --set KEY=VALUE works. Sizes accept a number of bytes or a number with a binary unit:
// "64KiB", "256MiB", "2GiB", "1TiB" (K, M, G, T and KB... mean the same binary units).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/export.h"

namespace tiermem {

struct GpuTierConfig {
  uint64_t capacity = 0;         // bytes of GPU staging memory; 0: the pool has no gpu tier
  std::string backend = "auto";  // auto (CUDA when a device is present), cuda, emulated
  int device = 0;                // CUDA device ordinal
  // NVMe->GPU through GPUDirect Storage (cuFile) instead of through DRAM: auto (when the
  // nvidia-fs driver is loaded), on (also in cuFile's slower compatibility mode), off.
  std::string direct_storage = "auto";
};

struct DramTierConfig {
  uint64_t capacity = 1ull << 30;   // bytes of the DRAM tier, allocated once at pool start
  bool pinned = true;               // page-lock the region (mlock) when RLIMIT_MEMLOCK allows
  int numa_node = -1;               // bind the region to this node; -1: no binding
  std::string huge_pages = "auto";  // auto, hugetlb, thp, off (see tiermem/host_arena.cpp)
};

struct NvmeTierConfig {
  std::vector<std::string> dirs;     // one directory per device; empty: $TMPDIR (or /tmp)
  uint64_t capacity = 4ull << 30;    // bytes, reserved at pool start (fallocate, else zeros)
  uint64_t file_size = 16ull << 30;  // the largest backing file; capacity is split into files
  uint64_t stripe = 0;               // bytes per stripe across dirs; 0: one page
  bool direct = true;                // O_DIRECT, falling back to buffered I/O with a warning
  bool keep_files = false;           // keep the backing files when the pool closes
  // The pool lives in dirs and outlives its process: its files keep their names, a manifest
  // says which tensors they hold, flush() makes data and manifest durable, and a pool opened
  // on the same dirs (same page_size and nvme geometry) finds the tensors again (Pool::find).
  // Takes two slots of NVMe space per page. See tiermem/pool.hpp.
  bool persistent = false;
};

struct IoConfig {
  std::string engine = "auto";       // auto (io_uring, else psync), uring, psync
  uint32_t threads = 2;              // rings (or worker threads) serving requests
  uint32_t queue_depth = 32;         // requests in flight per ring
  uint64_t block_size = 1ull << 20;  // requests are split into pieces of at most this size
  bool sqpoll = false;               // io_uring kernel-side submission polling
  bool register_buffers = true;      // register the DRAM region as io_uring fixed buffers
  // Faults injected into every request, for testing what a program does when the disk fails:
  // "eio=0.01,enospc.write=0.01,short=0.05,latency=200us" (see tiermem/fault_spec.hpp); empty:
  // none.
  std::string faults;
};

struct PolicyConfig {
  std::string eviction = "lru";             // a registry spec, e.g. "lru", "s3fifo:small=0.1"
  std::string prefetch = "none";            // a registry spec, e.g. "sequential:depth=4"
  uint64_t prefetch_budget = 256ull << 20;  // prefetch bytes in flight at most
};

// Name, type and one-line description of a configuration key.
struct ConfigKeyInfo {
  std::string_view name;
  std::string_view type;  // "size", "int", "bool", "string", "list"
  std::string_view doc;
};

struct TIERMEM_API Config {
  uint64_t page_size = 2ull << 20;  // power of two, 64 KiB (virtual clock: 4 KiB) to 64 MiB
  // Zero every frame before it holds a page whose old bytes are not brought in (a write pin
  // of whole pages), so that no pin ever shows bytes another tensor left in the frame. For
  // pools shared by several tenants; costs a memset of each such page.
  bool scrub_frames = false;
  std::string log_level;  // trace, debug, info, warn, error, critical, off; empty: $TIERMEM_LOG,
                          // else warn
  GpuTierConfig gpu;
  DramTierConfig dram;
  NvmeTierConfig nvme;
  IoConfig io;
  PolicyConfig policy;

  // Reads a JSON object whose members mirror the keys, nested ({"dram": {"capacity": "1GiB"}})
  // or dotted ({"dram.capacity": "1GiB"}). Throws Error(config) naming the file, the line and
  // column of a syntax error, or the key and value that were refused.
  static Config from_file(const std::string& path);
  static Config from_json(std::string_view json, std::string_view origin = "<json>");

  // Sets one field by its dotted key. Lists take comma-separated text. Throws Error(config)
  // naming an unknown key or a value that does not parse; the field is unchanged then.
  void set(std::string_view key, std::string_view value);
  // The value of one field as text, in the form set() accepts.
  std::string get(std::string_view key) const;

  // Checks ranges and relations between fields, and everything else a pool would refuse at
  // start: the policy specs (by the policy registry), the log level (or $TIERMEM_LOG when it
  // is empty), the NUMA node against this machine's nodes. Throws Error(invalid_argument)
  // naming the field, its value and the limit; Error(config) for a policy spec or log level
  // that is not understood, Error(unsupported) for a NUMA node where there is no NUMA. Pool's
  // constructor calls this.
  void validate() const;
  // As validate(), for a pool on a virtual clock (tiermem/virtual_clock.hpp), whose pages may be
  // as small as 4 KiB, as a cache simulator's traces' are (a live pool's start at 64 KiB).
  void validate_virtual() const;

  // All fields as one JSON object (dotted keys), in the form from_json() accepts: integers and
  // booleans as JSON numbers and booleans, lists as arrays, sizes as text with their unit
  // ("256MiB", as a config file writes them), the rest as strings.
  std::string to_json() const;

  // Every key, in a stable order.
  static std::span<const ConfigKeyInfo> keys() noexcept;

 private:
  void validate(uint64_t min_page_size) const;
};

// Parses a size into bytes: a number, optionally with a fraction, then optionally one space and
// a unit: b, or k, m, g, t alone or followed by b or ib, in any case ("4096", "4k", "4K",
// "256m", "1.5G", "2GiB", "64 KB"). Every unit is a power of 1024, as fio reads them by default
// and dd reads K, M, G (dd's kB and MB, powers of 1000, are read as 1024 here too). A fraction
// rounds to the nearest byte, half up ("1.5k" is 1536, "0.5" is 1). Throws Error(config) naming
// the text and what is accepted for an empty, negative or malformed text or an unknown unit,
// and one naming the limit (16EiB) for a size beyond 64 bits.
TIERMEM_API uint64_t parse_size(std::string_view text);
// Formats bytes with the largest binary unit that divides them exactly: "256MiB", "1536KiB".
TIERMEM_API std::string format_size(uint64_t bytes);

}  // namespace tiermem
