// tiermem/config.cpp: the table of configuration keys, and loading, printing and checking.
//
// Every key is one row of kKeys: its name, its documentation and where its field lives. Files,
// --set overrides, get() and to_json() all go through that table, so a field added there is
// loadable, overridable and printable at once.
#include <fmt/format.h>
#include <numa.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <variant>

#include "policies/registry.hpp"
#include "support/align.hpp"
#include "support/json.hpp"
#include "support/log.hpp"
#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tiermem/fault_spec.hpp"

namespace tiermem {

namespace {

struct SizeField {
  uint64_t* value;
};
using FieldRef =
    std::variant<SizeField, uint32_t*, int*, bool*, std::string*, std::vector<std::string>*>;
constexpr std::string_view kKindNames[] = {"size", "int", "int", "bool", "string", "list"};

struct KeyDef {
  std::string_view name;
  std::string_view doc;
  FieldRef (*field)(Config&);
};

#define TIERMEM_FIELD(expr) [](Config& c) -> FieldRef { return expr; }

const KeyDef kKeys[] = {
    {"page_size", "bytes per page: a power of two from 64KiB (4KiB on a virtual clock) to 64MiB",
     TIERMEM_FIELD(SizeField{&c.page_size})},
    {"scrub_frames",
     "zero frames before a write pin shows them, so no tensor sees bytes another one left",
     TIERMEM_FIELD(&c.scrub_frames)},
    {"log_level", "trace, debug, info, warn, error, critical, off; empty: $TIERMEM_LOG, else warn",
     TIERMEM_FIELD(&c.log_level)},
    {"gpu.capacity", "bytes of GPU staging memory; 0: no gpu tier",
     TIERMEM_FIELD(SizeField{&c.gpu.capacity})},
    {"gpu.backend", "auto (CUDA when a device is present), cuda, emulated",
     TIERMEM_FIELD(&c.gpu.backend)},
    {"gpu.device", "CUDA device ordinal", TIERMEM_FIELD(&c.gpu.device)},
    {"gpu.direct_storage",
     "NVMe->GPU through GPUDirect Storage (cuFile): auto (when nvidia-fs is loaded), on (also "
     "in cuFile's compatibility mode), off",
     TIERMEM_FIELD(&c.gpu.direct_storage)},
    {"dram.capacity", "bytes of the DRAM tier, allocated at pool start",
     TIERMEM_FIELD(SizeField{&c.dram.capacity})},
    {"dram.pinned", "page-lock the DRAM region when RLIMIT_MEMLOCK allows",
     TIERMEM_FIELD(&c.dram.pinned)},
    {"dram.numa_node", "NUMA node to bind the DRAM region to; -1: none",
     TIERMEM_FIELD(&c.dram.numa_node)},
    {"dram.huge_pages", "auto, hugetlb, thp, off", TIERMEM_FIELD(&c.dram.huge_pages)},
    {"nvme.dirs", "directories, one per device, comma-separated; empty: $TMPDIR or /tmp",
     TIERMEM_FIELD(&c.nvme.dirs)},
    {"nvme.capacity", "bytes of NVMe space, reserved at pool start",
     TIERMEM_FIELD(SizeField{&c.nvme.capacity})},
    {"nvme.file_size", "largest backing file; capacity is split into files of this size",
     TIERMEM_FIELD(SizeField{&c.nvme.file_size})},
    {"nvme.stripe", "bytes per stripe across directories; 0: one page",
     TIERMEM_FIELD(SizeField{&c.nvme.stripe})},
    {"nvme.direct", "use O_DIRECT (buffered fallback with a warning where refused)",
     TIERMEM_FIELD(&c.nvme.direct)},
    {"nvme.keep_files", "keep backing files when the pool closes",
     TIERMEM_FIELD(&c.nvme.keep_files)},
    {"nvme.persistent",
     "the pool outlives its process in nvme.dirs: a manifest names its tensors, flush() makes "
     "them durable, the next pool on the dirs finds them",
     TIERMEM_FIELD(&c.nvme.persistent)},
    {"io.engine", "auto, uring, psync", TIERMEM_FIELD(&c.io.engine)},
    {"io.threads", "rings or worker threads serving I/O", TIERMEM_FIELD(&c.io.threads)},
    {"io.queue_depth", "requests in flight per ring", TIERMEM_FIELD(&c.io.queue_depth)},
    {"io.block_size", "largest piece a request is split into: a power of two, 4KiB to 64MiB",
     TIERMEM_FIELD(SizeField{&c.io.block_size})},
    {"io.sqpoll", "io_uring kernel-side submission polling", TIERMEM_FIELD(&c.io.sqpoll)},
    {"io.register_buffers", "register the DRAM region as io_uring fixed buffers",
     TIERMEM_FIELD(&c.io.register_buffers)},
    {"io.faults",
     "faults injected into every request, e.g. eio=0.01,enospc.write=0.01,short=0.05,"
     "latency=200us (eio|enospc[.read|.write]=P or @BEGIN-END, short=P, retry=P, latency=D, "
     "seed=N); empty: none",
     TIERMEM_FIELD(&c.io.faults)},
    {"policy.eviction", "eviction policy spec, e.g. lru, s3fifo:small=0.1",
     TIERMEM_FIELD(&c.policy.eviction)},
    {"policy.prefetch", "prefetch policy spec, e.g. none, sequential:depth=4",
     TIERMEM_FIELD(&c.policy.prefetch)},
    {"policy.prefetch_budget", "prefetch bytes in flight at most",
     TIERMEM_FIELD(SizeField{&c.policy.prefetch_budget})},
};

#undef TIERMEM_FIELD

const KeyDef& find_key(std::string_view name) {
  for (const KeyDef& key : kKeys) {
    if (key.name == name) return key;
  }
  std::string known;
  for (const KeyDef& key : kKeys) fmt::format_to(std::back_inserter(known), " {}", key.name);
  throw Error(Errc::config, fmt::format("unknown config key '{}' (known:{})", name, known));
}

template <class Int>
Int parse_int(std::string_view key, std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error(Errc::config,
                fmt::format("{}: '{}' is not an integer in [{}, {}]", key, text,
                            std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max()));
  }
  return value;
}

bool parse_bool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  throw Error(Errc::config, fmt::format("{}: '{}' is not a boolean (true or false)", key, text));
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > start) items.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

// What a JSON value is, for messages.
std::string_view json_type(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      return "an integer";
    case boost::json::kind::double_:
      return "a number with a fraction or an exponent";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "a list";
    case boost::json::kind::object:
      return "an object";
  }
  return "an unknown JSON value";
}

// What a key of each FieldRef kind takes in JSON, for messages. (Every key also takes the text
// form set() parses, which to_json() writes.)
constexpr std::string_view kWanted[] = {
    "a size (a number or a string like \"256MiB\")",
    "an integer",
    "an integer",
    "a boolean (true or false)",
    "a string",
    "a list of strings (or one comma-separated string)",
};

// Applies one JSON member to its key; objects nest keys ({"dram": {"capacity": ...}}). Errors
// name the key, and for a value of the wrong JSON type, what it is and what the key takes.
void apply_json(Config& config, const std::string& key, const boost::json::value& value) {
  bool known = std::ranges::any_of(kKeys, [&](const KeyDef& def) { return def.name == key; });
  if (value.is_object() && !known) {
    bool prefix = std::ranges::any_of(
        kKeys, [&](const KeyDef& def) { return def.name.starts_with(key + "."); });
    if (!prefix) find_key(key);  // throws: no key is, or starts with, this one
    for (const auto& member : value.get_object()) {
      apply_json(config, key + "." + std::string(member.key()), member.value());
    }
    return;
  }
  Config probe;
  FieldRef field = find_key(key).field(probe);
  auto wrong_type = [&] {
    return Error(Errc::config, fmt::format("{}: expected {}, found {}", key, kWanted[field.index()],
                                           json_type(value)));
  };
  switch (value.kind()) {
    case boost::json::kind::string:
      config.set(key, value.get_string());
      return;
    case boost::json::kind::bool_:
      if (!std::holds_alternative<bool*>(field)) throw wrong_type();
      config.set(key, value.get_bool() ? "true" : "false");
      return;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
      if (!std::holds_alternative<SizeField>(field) && !std::holds_alternative<uint32_t*>(field) &&
          !std::holds_alternative<int*>(field)) {
        throw wrong_type();
      }
      config.set(key, value.is_int64() ? std::to_string(value.get_int64())
                                       : std::to_string(value.get_uint64()));
      return;
    case boost::json::kind::array: {
      if (!std::holds_alternative<std::vector<std::string>*>(field)) throw wrong_type();
      std::vector<std::string> items;
      for (const boost::json::value& item : value.get_array()) {
        if (!item.is_string()) {
          throw Error(Errc::config, fmt::format("{}: item {}: expected a string, found {}", key,
                                                items.size(), json_type(item)));
        }
        items.emplace_back(item.get_string());
      }
      config.set(key, join_list(items));
      return;
    }
    default:
      throw wrong_type();
  }
}

void check_one_of(std::string_view key, std::string_view value,
                  std::initializer_list<std::string_view> allowed) {
  if (std::ranges::find(allowed, value) != allowed.end()) return;
  throw Error(Errc::invalid_argument,
              fmt::format("{} '{}' is not one of {}", key, value, fmt::join(allowed, ", ")));
}

}  // namespace

uint64_t parse_size(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Error(Errc::config,
                 fmt::format("invalid size '{}': {}; expected a number of bytes with an optional "
                             "unit (KiB, MiB, GiB, TiB; or k, m, g, t, KB, ... in any case, all "
                             "powers of 1024), e.g. 4096, 4k, 1.5G, 256MiB",
                             text, why));
  };
  auto overflow = [&] {
    return Error(Errc::config, fmt::format("size '{}' overflows 64 bits (at most 16EiB)", text));
  };
  const char* const last = text.data() + text.size();
  uint64_t whole = 0;
  auto [end, ec] = std::from_chars(text.data(), last, whole);
  if (ec == std::errc::result_out_of_range) throw overflow();
  if (ec != std::errc()) {
    throw invalid(text.empty()          ? "it is empty"
                  : text.front() == '-' ? "it is negative"
                                        : "it does not start with a digit");
  }
  // The first 18 digits of a fraction are kept, exact in 128 bits after the shift; later ones
  // weigh less than a millionth of a byte.
  uint64_t fraction = 0, scale = 1;
  if (end != last && *end == '.') {
    for (++end; end != last && *end >= '0' && *end <= '9'; ++end) {
      if (scale <= 1'000'000'000'000'000'000ull / 10) {
        fraction = fraction * 10 + static_cast<uint64_t>(*end - '0');
        scale *= 10;
      }
    }
  }
  std::string unit(end, last);
  if (unit.size() > 1 && unit.front() == ' ') unit.erase(0, 1);  // "64 KiB"
  std::ranges::transform(unit, unit.begin(),
                         [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  // fio's convention (kb_base=1024, its default): every spelling of a prefix is binary, KB and
  // kB too. dd reads kB and MB as powers of 1000; tiermem does not, so a config never means
  // two sizes.
  static constexpr std::string_view kPrefixes = "kmgt";
  int shift = -1;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (size_t p = kPrefixes.find(unit.front());
             p != std::string_view::npos &&
             (unit.size() == 1 || unit.substr(1) == "b" || unit.substr(1) == "ib")) {
    shift = 10 * static_cast<int>(p + 1);
  }
  if (shift < 0) throw invalid(fmt::format("'{}' is not a unit", std::string_view(end, last)));
  __extension__ using u128 = unsigned __int128;
  u128 bytes = (static_cast<u128>(whole) << shift) +
               ((static_cast<u128>(fraction) << shift) + scale / 2) / scale;  // rounds half up
  if (bytes > std::numeric_limits<uint64_t>::max()) throw overflow();
  return static_cast<uint64_t>(bytes);
}

std::string format_size(uint64_t bytes) {
  static constexpr std::string_view kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (unit < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{}{}", bytes, kNames[unit]);
}

void Config::set(std::string_view key, std::string_view value) {
  const KeyDef& def = find_key(key);
  std::visit(
      [&](auto field) {
        using F = decltype(field);
        if constexpr (std::is_same_v<F, SizeField>) {
          try {
            *field.value = parse_size(value);
          } catch (const Error& e) {
            throw Error(Errc::config, fmt::format("{}: {}", key, e.what()));
          }
        } else if constexpr (std::is_same_v<F, uint32_t*>) {
          *field = parse_int<uint32_t>(key, value);
        } else if constexpr (std::is_same_v<F, int*>) {
          *field = parse_int<int>(key, value);
        } else if constexpr (std::is_same_v<F, bool*>) {
          *field = parse_bool(key, value);
        } else if constexpr (std::is_same_v<F, std::string*>) {
          *field = std::string(value);
        } else {
          *field = split_list(value);
        }
      },
      def.field(*this));
}

std::string Config::get(std::string_view key) const {
  const KeyDef& def = find_key(key);
  // The accessor needs a mutable Config only to hand out a pointer; nothing is written.
  return std::visit(
      [](auto field) -> std::string {
        using F = decltype(field);
        if constexpr (std::is_same_v<F, SizeField>) {
          return format_size(*field.value);
        } else if constexpr (std::is_same_v<F, bool*>) {
          return *field ? "true" : "false";
        } else if constexpr (std::is_same_v<F, std::string*>) {
          return *field;
        } else if constexpr (std::is_same_v<F, std::vector<std::string>*>) {
          return join_list(*field);
        } else {
          return std::to_string(*field);
        }
      },
      def.field(const_cast<Config&>(*this)));
}

std::span<const ConfigKeyInfo> Config::keys() noexcept {
  static const std::vector<ConfigKeyInfo> infos = [] {
    std::vector<ConfigKeyInfo> out;
    Config probe;
    for (const KeyDef& key : kKeys) {
      out.push_back({key.name, kKindNames[key.field(probe).index()], key.doc});
    }
    return out;
  }();
  return infos;
}

Config Config::from_json(std::string_view json, std::string_view origin) {
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  size_t consumed = parser.write_some(json.data(), json.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < consumed && i < json.size(); ++i) {
      column = json[i] == '\n' ? 1 : column + 1;
      line += json[i] == '\n';
    }
    throw Error(Errc::config,
                fmt::format("{}:{}:{}: malformed JSON: {}", origin, line, column, ec.message()));
  }
  boost::json::value root = parser.release();
  if (!root.is_object()) {
    throw Error(Errc::config, fmt::format("{}: the config must be a JSON object", origin));
  }
  Config config;
  try {
    for (const auto& member : root.get_object()) {
      apply_json(config, std::string(member.key()), member.value());
    }
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", origin, e.what()));
  }
  return config;
}

Config Config::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error(Errc::config, fmt::format("cannot read config file '{}'", path), errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  return from_json(text.str(), path);
}

std::string Config::to_json() const {
  boost::json::object object;
  for (const KeyDef& key : kKeys) {
    // Sizes keep their unit ("256MiB"), as a config file would write them.
    object[key.name] = std::visit(
        [&](auto field) -> boost::json::value {
          using F = decltype(field);
          if constexpr (std::is_same_v<F, SizeField>) {
            return boost::json::string(format_size(*field.value));
          } else if constexpr (std::is_same_v<F, std::vector<std::string>*>) {
            return boost::json::value_from(*field);
          } else {
            return boost::json::value(*field);
          }
        },
        key.field(const_cast<Config&>(*this)));
  }
  return json_text(object);
}

void Config::validate() const {
  validate(64ull << 10);
}

void Config::validate_virtual() const {
  validate(4ull << 10);
  if (nvme.persistent) {
    throw Error(Errc::invalid_argument,
                "nvme.persistent is true, but a pool on a virtual clock keeps no files");
  }
}

void Config::validate(uint64_t min_page_size) const {
  auto fail = [](std::string message) { throw Error(Errc::invalid_argument, message); };
  constexpr uint64_t kMaxPage = 64ull << 20;
  if (!support::is_pow2(page_size) || page_size < min_page_size || page_size > kMaxPage) {
    fail(fmt::format("page_size {} is not a power of two from {} to 64MiB", format_size(page_size),
                     format_size(min_page_size)));
  }
  if (dram.capacity < page_size) {
    fail(fmt::format("dram.capacity {} is smaller than one page ({})", format_size(dram.capacity),
                     format_size(page_size)));
  }
  if (dram.capacity / page_size > std::numeric_limits<uint32_t>::max()) {
    fail(fmt::format("dram.capacity {} holds more than 2^32-1 pages of {}",
                     format_size(dram.capacity), format_size(page_size)));
  }
  if (gpu.capacity != 0 && gpu.capacity < page_size) {
    fail(fmt::format("gpu.capacity {} is smaller than one page ({}); use 0 for no gpu tier",
                     format_size(gpu.capacity), format_size(page_size)));
  }
  if (gpu.capacity / page_size > std::numeric_limits<uint32_t>::max()) {
    fail(fmt::format("gpu.capacity {} holds more than 2^32-1 pages", format_size(gpu.capacity)));
  }
  check_one_of("gpu.backend", gpu.backend, {"auto", "cuda", "emulated"});
  check_one_of("gpu.direct_storage", gpu.direct_storage, {"auto", "on", "off"});
  check_one_of("dram.huge_pages", dram.huge_pages, {"auto", "hugetlb", "thp", "off"});
  uint64_t dir_count = nvme.dirs.empty() ? 1 : nvme.dirs.size();
  if (nvme.capacity / dir_count < page_size) {
    fail(fmt::format("nvme.capacity {} gives each of {} directories less than one page ({})",
                     format_size(nvme.capacity), dir_count, format_size(page_size)));
  }
  if (nvme.file_size < page_size) {
    fail(fmt::format("nvme.file_size {} is smaller than one page ({})", format_size(nvme.file_size),
                     format_size(page_size)));
  }
  if (nvme.persistent && nvme.dirs.empty()) {
    fail("nvme.persistent needs nvme.dirs: the directories the pool is to live in");
  }
  if (nvme.stripe % page_size != 0) {
    fail(fmt::format("nvme.stripe {} is not a multiple of page_size {}", format_size(nvme.stripe),
                     format_size(page_size)));
  }
  check_one_of("io.engine", io.engine, {"auto", "uring", "psync"});
  try {
    (void)detail::parse_fault_spec(io.faults);
  } catch (const Error& e) {
    fail(e.what());
  }
  if (io.threads < 1 || io.threads > 256) {
    fail(fmt::format("io.threads {} is outside 1 to 256", io.threads));
  }
  if (io.queue_depth < 1 || io.queue_depth > 4096) {
    fail(fmt::format("io.queue_depth {} is outside 1 to 4096", io.queue_depth));
  }
  if (!support::is_pow2(io.block_size) || io.block_size < 4096 || io.block_size > kMaxPage) {
    fail(fmt::format("io.block_size {} is not a power of two from 4KiB to 64MiB",
                     format_size(io.block_size)));
  }
  // What a pool would refuse only at start: a value the table's parsers take, but this
  // machine, the policy registry or the logger do not.
  // Names nobody understands are Errc::config, as the logger and the registry say at start.
  if (!log_level.empty() && !support::is_log_level(log_level)) {
    throw Error(Errc::config,
                fmt::format("log_level '{}' is not one of {}", log_level, support::kLogLevels));
  }
  if (const char* env = std::getenv("TIERMEM_LOG");
      log_level.empty() && env != nullptr && *env != '\0' && !support::is_log_level(env)) {
    throw Error(Errc::config,
                fmt::format("log_level is empty, so $TIERMEM_LOG sets it, and its '{}' is not one "
                            "of {}",
                            env, support::kLogLevels));
  }
  if (gpu.device < 0) {
    fail(fmt::format("gpu.device {} is not a device ordinal (0 or more)", gpu.device));
  }
  if (dram.huge_pages == "hugetlb" && page_size % (2ull << 20) != 0) {
    fail(fmt::format("dram.huge_pages hugetlb needs page_size a multiple of 2MiB, not {}",
                     format_size(page_size)));
  }
  if (dram.numa_node < -1) {
    fail(fmt::format("dram.numa_node {} is neither -1 (no binding) nor a node (0 or more)",
                     dram.numa_node));
  }
  if (dram.numa_node >= 0 && numa_available() < 0) {
    throw Error(Errc::unsupported,
                fmt::format("dram.numa_node {} asks for a binding, but this machine has no NUMA "
                            "support; use -1",
                            dram.numa_node));
  }
  if (dram.numa_node >= 0 && dram.numa_node > numa_max_node()) {
    fail(fmt::format("dram.numa_node {} exceeds this machine's highest node, {}", dram.numa_node,
                     numa_max_node()));
  }
  policy::Context context{dram.capacity / page_size, page_size};
  auto check_policy = [&](std::string_view key, const std::string& spec, auto validate_spec) {
    try {
      validate_spec(spec, context);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{} '{}': {}", key, spec, e.what()));
    }
  };
  check_policy("policy.eviction", policy.eviction, policies::validate_eviction_spec);
  check_policy("policy.prefetch", policy.prefetch, policies::validate_prefetch_spec);
}

}  // namespace tiermem
