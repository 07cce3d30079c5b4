// tiermem/trace.hpp: access traces: what they hold, how they are read, written and recorded.
//
// A trace is the order in which an application accessed page ranges of its tensors, with the
// compute it did in between. It is the input of `tiermem sim`, and a live pool records one on
// request through TraceWriter. Two file forms hold the same content:
//
// Binary (compact, versioned): a 64-byte header then 24-byte little-endian records.
//   header: magic "TMTRACE1" | u32 version (1) | u32 header bytes (64) | u64 page size |
//           u64 record count (0: unknown, read to the end) | u32 record bytes (24) | zeros
//   record: u64 time_ns | u32 tensor | u32 first | u32 count | u8 kind | u8 tier | u16 zero
//   kinds:  0 read, 1 write, 2 read_write (accesses of pages first..first+count-1 of tensor),
//           3 prefetch (the application announced those pages: Tensor::prefetch, e.g. the
//           experts its router has just chosen; not an access),
//           8 tensor (declares tensor id with `count` pages; a later declaration of the same id
//           starts a new tensor; ids are any u32 labels, numbered densely in declaration
//           order when read), 9 compute begin, 10 compute end (a compute span).
// Text (CSV): a header naming the columns, then one row per access. `tensor,page,op` are
//   required (op: r, w, rw, or p for a prefetch); `count` (pages, default 1), `tier` (gpu or dram,
//   default dram), `time_ns` and `compute_ns` (compute after the access) are optional, in any
//   order. Tensor sizes are inferred from the highest page accessed. Tensor ids are dense indices:
//   a file may use ids below the larger of 65536 and its size in bytes (at most 2^24).
//
// libCacheSim's forms, read (and oracleGeneral written) so that its traces and policies meet
// tiermem's: oracleGeneral (24-byte little-endian records: u32 clock time in seconds, u64
// object id, u32 object size, i64 index of the next request for the object or -1), its CSV (a
// header line naming the columns: the object id as obj_id, object_id, obj, id or key; the size
// as obj_size, object_size or size; the time in seconds as time, timestamp, clock_time or ts;
// others ignored; comma- or tab-separated) and its txt (one object id per line). Ids that are
// not integers are hashed (64-bit FNV-1a). Each distinct object is a tensor of ceil(size / page
// size) pages (at least one; the size of its first request), and each request reads all of its
// pages in dram. Written, each page accessed is one request: the object id is the dense page
// id, the size the page size, the next access the 1-based index of the page's next request.
//
// Any of these may be zstd-compressed. Readers tell the form by content, never by name: the
// binary magic, the zstd magic (28 B5 2F FD), text whose first line is an integer (txt) or a
// header naming tiermem's columns or an object id, else records that parse as oracleGeneral.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/types.hpp"

namespace tiermem {

namespace sim {
class FileSink;
}

// What a trace record does to its pages. prefetch is the application's announcement that it
// will access them soon (Tensor::prefetch: a router's choice of experts, the next layer): a
// replay starts bringing them in, as a pool does, but it is not an access: it is no hit or
// miss, no request of libCacheSim's forms, and no use in Belady's next-use order.
enum class TraceOp : uint8_t { read = 0, write = 1, read_write = 2, prefetch = 3 };

// "r", "w", "rw", "p".
TIERMEM_API std::string_view to_string(TraceOp op) noexcept;

// One access: pages first..first+count-1 of one tensor, in one tier.
struct TraceAccess {
  uint64_t time_ns = 0;     // when the application made it, on its own clock
  uint64_t compute_ns = 0;  // compute between this access and the next
  uint32_t tensor = 0;      // index into Trace::tensor_pages
  uint32_t first = 0;       // first page index within the tensor
  uint32_t count = 1;       // pages, at least 1
  TraceOp op = TraceOp::read;
  Tier tier = Tier::dram;  // gpu or dram

  bool operator==(const TraceAccess&) const = default;
};

struct TIERMEM_API Trace {
  uint64_t page_size = 2ull << 20;     // bytes per page
  std::vector<uint32_t> tensor_pages;  // pages of each tensor; tensor ids are dense from 0
  std::vector<TraceAccess> accesses;   // in order

  // Pages of all tensors together: the dense page ids are 0..page_count()-1, tensor by tensor.
  uint64_t page_count() const noexcept;
  // Pages accessed, counting every page of every access (prefetch records are not accesses).
  uint64_t page_accesses() const noexcept;
  // The pages that are ever accessed, in bytes: the footprint a tier would need to hold all.
  uint64_t footprint_bytes() const;

  // Throws Error(invalid_argument) naming the first access that lies outside its tensor, has
  // zero pages or names the nvme tier, or a page size that is not a power of two in [4 KiB,
  // 1 GiB], or more than 2^32-2 pages in all.
  void validate() const;

  bool operator==(const Trace&) const = default;
};

enum class TraceFormat {
  binary,          // the compact versioned form above
  csv,             // the text form above
  oracle_general,  // libCacheSim's oracleGeneral
};

// Reads a trace file of any form above, found by its content; the pages of forms that do not
// give their size (all but binary) are page_size bytes. Throws Error(invalid_argument) naming
// the file and the offset (binary forms) or line (text forms) of a malformed part: a truncated
// file, an unsupported version, an unknown record kind or op, a bad CSV row, an access outside
// its tensor; or, for content of no known form, naming the forms expected. Error(system) when
// the file cannot be read.
TIERMEM_API Trace read_trace(const std::string& path, uint64_t page_size = 2ull << 20);

// The CSV form from text; origin names it in errors.
TIERMEM_API Trace parse_trace_csv(std::string_view text, uint64_t page_size,
                                  std::string_view origin = "<csv>");

// Writes the trace in format, replacing path. Throws Error(system) naming the path when it
// cannot be written, Error(invalid_argument) when the trace does not validate.
TIERMEM_API void write_trace(const Trace& trace, const std::string& path, TraceFormat format);

// Reads a trace file block by block, so that a replay needs memory for one block and the
// trace's tensors (for libCacheSim's forms: its distinct objects), not for its requests. The
// form is found by content as read_trace() finds it; tiermem's CSV, whose tensor sizes are
// known only at its end, is parsed whole first. Tensor declarations and compute spans are
// folded in as read_trace() does: tensor_pages() grows as declarations are met, and each access
// carries the compute that follows it. Throws the errors read_trace() names.
class TIERMEM_API TraceReader {
 public:
  explicit TraceReader(const std::string& path, uint64_t page_size = 2ull << 20);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  uint64_t page_size() const noexcept;
  // The form found: "binary", "csv", "oracleGeneral", "libCacheSim csv" or "libCacheSim txt",
  // with ", zstd-compressed" when it was.
  std::string format() const;
  // The next accesses, at most one block's worth; empty at the end of the file. The span and
  // the references stay valid until the next call.
  std::span<const TraceAccess> next();
  // Pages of every tensor declared so far, by trace tensor id.
  const std::vector<uint32_t>& tensor_pages() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Appends a live pool's events to a binary trace file through a buffer, so each call costs a
// few stores; the buffer goes to the file when full, on flush() and on close().
//
// Not thread-safe: the owner serialises calls. Errors: Error(system) naming the path and errno
// when the file cannot be created or written; after an error the writer stays closed.
class TIERMEM_API TraceWriter {
 public:
  // Creates (or truncates) path with mode 0600 and writes the header.
  TraceWriter(const std::string& path, uint64_t page_size);
  // Closes; an error is logged, not thrown.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Declares tensor id with pages pages; redeclaring an id starts a new tensor.
  void tensor(uint32_t id, uint32_t pages);
  // An access of pages first..first+count-1 of a declared tensor (op prefetch: the
  // application's announcement of one).
  void access(uint64_t time_ns, uint32_t tensor, uint32_t first, uint32_t count, TraceOp op,
              Tier tier);
  // Marks where the application's compute spans begin and end.
  void compute_begin(uint64_t time_ns);
  void compute_end(uint64_t time_ns);

  // Writes the buffered records to the file.
  void flush();
  // Flushes, records the record count in the header and closes the file. Idempotent.
  void close();

  uint64_t records() const noexcept { return records_; }

 private:
  TIERMEM_INTERNAL void record(uint64_t time_ns, uint32_t tensor, uint32_t first, uint32_t count,
                               uint8_t kind, uint8_t tier);

  std::unique_ptr<sim::FileSink> sink_;
  uint64_t records_ = 0;
};

}  // namespace tiermem
