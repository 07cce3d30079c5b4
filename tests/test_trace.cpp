// tests/test_trace.cpp: the binary and CSV trace forms agree, malformed files give errors with
// the offset or line, TraceWriter's records, the oracleGeneral export's layout, libCacheSim's
// forms and zstd-compressed files read back (the form told by content), and streamed replays
// equal to replays of the trace in memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "sim/file_io.hpp"
#include "sim/trace_format.hpp"
#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"

namespace tiermem {
namespace {

using ::testing::HasSubstr;

class TraceFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tiermem-trace-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_text(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
  }
  std::string error_of(const std::string& file) const {
    try {
      read_trace(path(file), 4096);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
      return e.what();
    }
    ADD_FAILURE() << file << " was accepted";
    return "";
  }

  std::filesystem::path dir_;
};

// Runs body in a child process whose address space may grow by at most budget bytes, and
// returns the message of the tiermem::Error it threw ("" when none). A crash, or an allocation
// beyond the budget, fails the test: trace fields must not decide how much memory is taken.
std::string error_within(uint64_t budget, const std::function<void()>& body) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    // Relative to what the process has mapped already (much, under a sanitizer).
    uint64_t mapped_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("VmSize:")) mapped_kib = std::stoull(line.substr(7));
    }
    rlimit limit{mapped_kib * 1024 + budget, mapped_kib * 1024 + budget};
    ::setrlimit(RLIMIT_AS, &limit);
    int code = 0;
    std::string message;
    try {
      body();
    } catch (const Error& e) {
      message = e.what();
    } catch (const std::bad_alloc&) {
      code = 3;
    }
    ssize_t wrote = ::write(pipe_fds[1], message.data(), message.size());
    ::_exit(wrote == static_cast<ssize_t>(message.size()) ? code : 4);
  }
  ::close(pipe_fds[1]);
  std::string message;
  char buffer[4096];
  for (ssize_t got; (got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    message.append(buffer, static_cast<size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (WIFSIGNALED(status)
              ? "killed by signal " + std::to_string(WTERMSIG(status))
              : "exit status " + std::to_string(WEXITSTATUS(status)) + " (3: out of memory)");
  return message;
}

// A binary trace file of raw records, as a hostile or broken writer could make it.
void write_records(const std::string& path, const std::vector<sim::format::Record>& records) {
  sim::format::Header header{};
  std::memcpy(header.magic, sim::format::kMagic, sizeof header.magic);
  header.version = sim::format::kVersion;
  header.header_bytes = sim::format::kHeaderBytes;
  header.page_size = 4096;
  header.record_count = records.size();
  header.record_bytes = sim::format::kRecordBytes;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  out.write(reinterpret_cast<const char*>(records.data()),
            static_cast<std::streamsize>(records.size() * sizeof(sim::format::Record)));
}

sim::format::Record tensor_record(uint32_t id, uint32_t pages) {
  return {0, id, 0, pages, sim::format::kTensor, 0, 0};
}
sim::format::Record read_record(uint32_t id, uint32_t first, uint32_t count) {
  return {0, id, first, count, sim::format::kRead, 1, 0};
}

constexpr uint64_t kSmallBudget = 64 << 20;

Trace sample() {
  Trace trace;
  trace.page_size = 4096;
  trace.tensor_pages = {4, 2, 8};
  trace.accesses = {
      {0, 50, 0, 0, 4, TraceOp::read, Tier::gpu},
      {50, 0, 1, 1, 1, TraceOp::write, Tier::dram},
      {60, 0, 2, 3, 2, TraceOp::read_write, Tier::dram},
      {61, 1000, 0, 2, 1, TraceOp::read, Tier::gpu},
  };
  return trace;
}

TEST_F(TraceFiles, BinaryRoundTrip) {
  Trace trace = sample();
  write_trace(trace, path("t.bin"), TraceFormat::binary);
  EXPECT_EQ(read_trace(path("t.bin")), trace);
  // 64-byte header, 3 tensor records, 4 accesses, 2 compute markers each for 2 accesses.
  EXPECT_EQ(std::filesystem::file_size(path("t.bin")), 64u + 24u * (3 + 4 + 4));
}

TEST_F(TraceFiles, PrefetchRecordsSurviveEveryFormAndAreNoRequests) {
  Trace trace = sample();
  trace.accesses.insert(trace.accesses.begin() + 1,
                        {40, 10, 2, 4, 3, TraceOp::prefetch, Tier::dram});
  EXPECT_EQ(trace.page_accesses(), sample().page_accesses());
  EXPECT_EQ(trace.footprint_bytes(), sample().footprint_bytes());
  write_trace(trace, path("p.bin"), TraceFormat::binary);
  EXPECT_EQ(read_trace(path("p.bin")), trace);
  write_trace(trace, path("p.csv"), TraceFormat::csv);
  EXPECT_THAT(sim::read_file(path("p.csv")), HasSubstr("2,4,p,3,dram"));
  EXPECT_EQ(read_trace(path("p.csv"), 4096).accesses, trace.accesses);
  // libCacheSim's form has one request per page accessed: the announcement is none.
  write_trace(trace, path("p.oracle"), TraceFormat::oracle_general);
  write_trace(sample(), path("s.oracle"), TraceFormat::oracle_general);
  EXPECT_EQ(sim::read_file(path("p.oracle")), sim::read_file(path("s.oracle")));
  // Streamed, the record comes through as it is.
  TraceReader reader(path("p.bin"));
  std::vector<TraceAccess> streamed;
  for (auto block = reader.next(); !block.empty(); block = reader.next()) {
    streamed.insert(streamed.end(), block.begin(), block.end());
  }
  EXPECT_EQ(streamed, trace.accesses);
}

TEST_F(TraceFiles, BinaryAndCsvAgree) {
  Trace trace = sample();
  write_trace(trace, path("t.bin"), TraceFormat::binary);
  write_trace(read_trace(path("t.bin")), path("t.csv"), TraceFormat::csv);
  Trace from_csv = read_trace(path("t.csv"), 4096);
  EXPECT_EQ(from_csv.accesses, trace.accesses);
  // CSV has no tensor sizes: they end at the highest page accessed (tensor 2: page 4).
  EXPECT_EQ(from_csv.tensor_pages, (std::vector<uint32_t>{4, 2, 5}));
  write_trace(from_csv, path("t2.bin"), TraceFormat::binary);
  write_trace(read_trace(path("t2.bin")), path("t2.csv"), TraceFormat::csv);
  EXPECT_EQ(sim::read_file(path("t2.csv")), sim::read_file(path("t.csv")));
  // Pages never accessed do not matter to a replay: both forms simulate alike.
  sim::Config config;
  config.dram_bytes = 6 * 4096;
  config.gpu_bytes = 4 * 4096;
  sim::Result a = sim::simulate(trace, config);
  sim::Result b = sim::simulate(from_csv, config);
  EXPECT_EQ(a.misses, b.misses);
  EXPECT_EQ(a.bytes_read, b.bytes_read);
  EXPECT_EQ(a.stall_ns, b.stall_ns);
}

TEST_F(TraceFiles, GeneratedTraceSurvivesBothForms) {
  workload::RandomAccesses options;
  options.pages = 300;
  options.tensors = 7;
  options.events = 30000;  // with compute spans, 90000 records: reads cross block bounds
  options.alpha = 0.9;
  options.write_fraction = 0.2;
  options.compute_ns = 10;
  options.page_size = 65536;
  Trace trace = workload::random_accesses(options);
  write_trace(trace, path("z.bin"), TraceFormat::binary);
  write_trace(trace, path("z.csv"), TraceFormat::csv);
  EXPECT_EQ(read_trace(path("z.bin")), trace);
  EXPECT_EQ(read_trace(path("z.csv"), 65536), trace);
}

TEST_F(TraceFiles, StreamedReplayEqualsInMemoryReplay) {
  workload::LayerStreaming options;
  options.model = "phi-3-mini";
  options.tokens = 2;
  options.prompt = 16;
  options.page_size = 32 << 20;
  Trace trace = workload::layer_streaming(options);
  write_trace(trace, path("l.bin"), TraceFormat::binary);
  sim::Config config;
  config.dram_bytes = trace.footprint_bytes() / 3;
  config.prefetch = "sequential";
  config.belady_baseline = false;
  sim::Result streamed = sim::simulate(path("l.bin"), config);
  sim::Result whole = sim::simulate(trace, config);
  EXPECT_EQ(streamed.accesses, trace.page_accesses());
  EXPECT_EQ(streamed.misses, whole.misses);
  EXPECT_EQ(streamed.stall_ns, whole.stall_ns);
  EXPECT_EQ(streamed.compute_ns, whole.compute_ns);
  EXPECT_EQ(streamed.prefetch_useful, whole.prefetch_useful);
  TraceReader reader(path("l.bin"));
  size_t accesses = 0;
  for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) accesses += batch.size();
  EXPECT_EQ(accesses, trace.accesses.size());
  EXPECT_EQ(reader.tensor_pages(), trace.tensor_pages);
}

TEST_F(TraceFiles, MinimalCsvDefaultsAndInferredSizes) {
  write_text("m.csv", "tensor,page,op\n0,3,r\n\n2,0,w\n1,1,rw\n");
  Trace trace = read_trace(path("m.csv"), 8192);
  EXPECT_EQ(trace.page_size, 8192u);
  EXPECT_EQ(trace.tensor_pages, (std::vector<uint32_t>{4, 2, 1}));
  ASSERT_EQ(trace.accesses.size(), 3u);
  EXPECT_EQ(trace.accesses[0].tier, Tier::dram);
  EXPECT_EQ(trace.accesses[1].op, TraceOp::write);
  EXPECT_EQ(trace.accesses[2].op, TraceOp::read_write);
  write_text("c.csv", "op,page,tensor,compute_ns,time_ns\r\nr,0,0,5,100\r\n");
  Trace columns = read_trace(path("c.csv"), 4096);
  EXPECT_EQ(columns.accesses[0].compute_ns, 5u);
  EXPECT_EQ(columns.accesses[0].time_ns, 100u);
}

TEST_F(TraceFiles, MalformedCsvNamesTheLine) {
  write_text("a.csv", "tensor,page,op\n0,0,r\n0,1,x\n");
  EXPECT_THAT(error_of("a.csv"), HasSubstr("line 3: unknown op 'x' (known: r, w, rw, p)"));
  write_text("b.csv", "tensor,page,op\n0,0\n");
  EXPECT_THAT(error_of("b.csv"), HasSubstr("line 2: 2 fields where the header has 3"));
  write_text("c.csv", "tensor,page,op\n0,-1,r\n");
  EXPECT_THAT(error_of("c.csv"), HasSubstr("line 2: page '-1' is not an integer"));
  write_text("d.csv", "tensor,page,mode\n");
  EXPECT_THAT(error_of("d.csv"), HasSubstr("line 1: unknown column 'mode'"));
  write_text("e.csv", "tensor,op\n");
  EXPECT_THAT(error_of("e.csv"), HasSubstr("lacks column 'page'"));
  write_text("f.csv", "tensor,page,op,count\n0,0,r,0\n");
  EXPECT_THAT(error_of("f.csv"), HasSubstr("line 2: count 0"));
  write_text("g.csv", "tensor,page,op,tier\n0,0,r,nvme\n");
  EXPECT_THAT(error_of("g.csv"), HasSubstr("line 2: unknown tier 'nvme'"));
  write_text("h.csv", "");
  EXPECT_THAT(error_of("h.csv"), HasSubstr("h.csv: empty; expected tiermem binary"));
}

TEST_F(TraceFiles, TruncatedBinaryNamesTheOffset) {
  write_trace(sample(), path("t.bin"), TraceFormat::binary);
  std::filesystem::resize_file(path("t.bin"), 64 + 24 * 5 + 7);
  EXPECT_THAT(error_of("t.bin"),
              HasSubstr("offset 184: truncated: 7 bytes of a partial record at the end"));
  std::filesystem::resize_file(path("t.bin"), 64 + 24 * 5);
  EXPECT_THAT(error_of("t.bin"), HasSubstr("the header promises 11 records, the file holds 5"));
  std::filesystem::resize_file(path("t.bin"), 40);
  EXPECT_THAT(error_of("t.bin"), HasSubstr("ends inside its 64-byte header"));
}

TEST_F(TraceFiles, WrongVersionAndUnknownKind) {
  write_trace(sample(), path("t.bin"), TraceFormat::binary);
  std::string bytes = sim::read_file(path("t.bin"));
  std::string version = bytes;
  version[8] = 2;
  write_text("v.bin", version);
  EXPECT_THAT(error_of("v.bin"),
              HasSubstr("offset 8: version 2 is not supported (this build reads version 1)"));
  std::string kind = bytes;
  kind[64 + 24 * 6 + 20] = 42;  // the second access's kind byte (after a compute span)
  write_text("k.bin", kind);
  EXPECT_THAT(error_of("k.bin"), HasSubstr("offset 208: unknown record kind 42"));
  std::string undeclared = bytes;
  undeclared[64 + 24 * 3 + 8] = 9;  // the first access names tensor 9
  write_text("u.bin", undeclared);
  EXPECT_THAT(error_of("u.bin"),
              HasSubstr("offset 136: access to tensor 9, which was not declared"));
}

TEST_F(TraceFiles, BinaryAccessOutsideItsTensorFailsReadAndStreamedReplay) {
  write_trace(sample(), path("t.bin"), TraceFormat::binary);
  std::string bytes = sim::read_file(path("t.bin"));
  std::string wide = bytes;
  wide[64 + 24 * 3 + 16] = 5;  // the first access (tensor 0 has 4 pages) takes 5
  write_text("w.bin", wide);
  const char* beyond = "offset 136: access to pages 0+5 of tensor 0, which has 4";
  EXPECT_THAT(error_of("w.bin"), HasSubstr(beyond));
  sim::Config config;
  config.dram_bytes = 16 * 4096;
  config.belady_baseline = false;  // so the file is streamed, not read whole
  try {
    sim::simulate(path("w.bin"), config);
    ADD_FAILURE() << "the streamed replay accepted w.bin";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(beyond));
  }
  std::string empty = bytes;
  empty[64 + 24 * 3 + 16] = 0;
  write_text("e.bin", empty);
  EXPECT_THAT(error_of("e.bin"), HasSubstr("offset 136: access to no pages of tensor 0"));
  std::string page = bytes;
  page[16] = 1;  // page size 4097
  write_text("p.bin", page);
  EXPECT_THAT(error_of("p.bin"),
              HasSubstr("offset 16: trace page size 4097 is not a power of two in [4096, 2^30]"));
}

TEST_F(TraceFiles, AnyTensorIdIsALabelNotAnIndex) {
  // Issue 9: id 0xFFFFFFFF wrapped a resize to zero and wrote out of bounds.
  write_records(path("max.bin"), {tensor_record(0xFFFFFFFF, 2), tensor_record(3, 1),
                                  read_record(0xFFFFFFFF, 1, 1), read_record(3, 0, 1)});
  EXPECT_EQ(error_within(kSmallBudget,
                         [&] {
                           Trace trace = read_trace(path("max.bin"));
                           if (trace.tensor_pages != std::vector<uint32_t>{2, 1} ||
                               trace.accesses.size() != 2 || trace.accesses[0].tensor != 0 ||
                               trace.accesses[0].first != 1 || trace.accesses[1].tensor != 1) {
                             throw Error(Errc::invalid_argument, "read wrongly");
                           }
                           TraceReader reader(path("max.bin"));
                           if (reader.next().size() != 2) {
                             throw Error(Errc::invalid_argument, "streamed wrongly");
                           }
                         }),
            "");
}

TEST_F(TraceFiles, UndeclaredHighIdFailsWithoutGrowing) {
  // Issue 9: declaring id 0xFFFFFFFE grew a table of 16 GiB before "not declared".
  write_records(path("high.bin"), {tensor_record(0xFFFFFFFE, 1), read_record(0xFFFFFFFD, 0, 1)});
  const char* undeclared = "offset 88: access to tensor 4294967293, which was not declared";
  EXPECT_THAT(error_within(kSmallBudget, [&] { read_trace(path("high.bin")); }),
              HasSubstr(undeclared));
  EXPECT_THAT(error_within(kSmallBudget,
                           [&] {
                             TraceReader reader(path("high.bin"));
                             reader.next();
                           }),
              HasSubstr(undeclared));
}

TEST_F(TraceFiles, HugeTensorsAreDescribedButNotReplayed) {
  // Issue 9: a tensor of 2^31 pages made a replay take 20 GB. Reading it costs nothing per
  // page; the simulator refuses its tables before allocating them.
  write_records(path("huge.bin"), {tensor_record(0, 1u << 31), read_record(0, 7, 1),
                                   read_record(0, (1u << 31) - 2, 2)});
  EXPECT_EQ(error_within(kSmallBudget,
                         [&] {
                           Trace trace = read_trace(path("huge.bin"));
                           if (trace.footprint_bytes() != 3 * 4096) {
                             throw Error(Errc::invalid_argument, "wrong footprint");
                           }
                         }),
            "");
  const char* refused = "replaying 2147483648 pages";
  sim::Config config;
  config.dram_bytes = 16 * 4096;
  EXPECT_THAT(error_within(kSmallBudget, [&] { sim::simulate(path("huge.bin"), config); }),
              HasSubstr(refused));
  config.belady_baseline = false;  // streamed
  EXPECT_THAT(error_within(kSmallBudget, [&] { sim::simulate(path("huge.bin"), config); }),
              HasSubstr(refused));
  config.belady_baseline = true;
  Trace small;
  small.page_size = 4096;
  small.tensor_pages = {1u << 20};
  small.accesses = {{0, 0, 0, 0, 1u << 20, TraceOp::read, Tier::dram},
                    {0, 0, 0, 0, 1u << 20, TraceOp::read, Tier::dram}};
  config.dram_bytes = 4ull << 30;  // room for the accesses' pins
  config.eviction = "belady";      // so the first replay needs next uses
  config.memory_limit = 79 << 20;  // the pages fit (64 MiB), their next uses (16 MiB) do not
  EXPECT_THAT(error_within(kSmallBudget * 4, [&] { sim::simulate(small, config); }),
              HasSubstr("and next uses of 2097152 page accesses"));
}

TEST(Trace, FootprintIsTheSameByBitmapAndByRanges) {
  workload::RandomAccesses options;
  options.pages = 5000;
  options.tensors = 7;
  options.events = 20000;
  options.alpha = 0.8;
  options.page_size = 4096;
  Trace trace = workload::random_accesses(options);
  uint64_t by_bitmap = trace.footprint_bytes();
  EXPECT_GT(by_bitmap, 0u);
  EXPECT_LT(by_bitmap, 5000u * 4096);
  trace.tensor_pages.push_back(1u << 30);  // never accessed, too large for a bitmap
  EXPECT_EQ(trace.footprint_bytes(), by_bitmap);
}

TEST_F(TraceFiles, CsvTensorIdsAreBoundedByTheFile) {
  write_text("far.csv", "tensor,page,op\n16777215,0,r\n");
  EXPECT_THAT(error_within(kSmallBudget / 4, [&] { read_trace(path("far.csv"), 4096); }),
              HasSubstr("line 2: tensor 16777215 is beyond the 65536 tensors a CSV trace of 28 "
                        "bytes may have"));
  write_text("near.csv", "tensor,page,op\n65535,4294967292,r\n");
  EXPECT_EQ(
      error_within(kSmallBudget,
                   [&] {
                     Trace trace = read_trace(path("near.csv"), 4096);
                     if (trace.tensor_pages.size() != 65536 || trace.footprint_bytes() != 4096) {
                       throw Error(Errc::invalid_argument, "read wrongly");
                     }
                   }),
      "");
  sim::Config config;
  config.dram_bytes = 16 * 4096;
  EXPECT_THAT(error_within(kSmallBudget, [&] { sim::simulate(path("near.csv"), config, 4096); }),
              HasSubstr("replaying 4294967293 pages"));
}

TEST_F(TraceFiles, OracleExportOfHugeTensorsNeedsNoTablePerPage) {
  write_records(path("huge.bin"), {tensor_record(0, 0xFFFFFFFE), read_record(0, 5, 1),
                                   read_record(0, 0xFFFFFFFD, 1), read_record(0, 5, 1)});
  EXPECT_EQ(error_within(kSmallBudget,
                         [&] {
                           write_trace(read_trace(path("huge.bin")), path("o.bin"),
                                       TraceFormat::oracle_general);
                         }),
            "");
  std::string bytes = sim::read_file(path("o.bin"));
  ASSERT_EQ(bytes.size(), 3u * 24);
  int64_t next = 0;
  std::memcpy(&next, bytes.data() + 16, 8);
  EXPECT_EQ(next, 3);  // the first request's page comes back as the third (1-based)
}

TEST_F(TraceFiles, WriterRedeclaredIdsAndComputeSpans) {
  {
    TraceWriter writer(path("live.bin"), 4096);
    writer.tensor(5, 2);
    writer.access(10, 5, 1, 1, TraceOp::read, Tier::dram);
    writer.compute_begin(20);
    writer.compute_end(70);
    writer.tensor(5, 3);  // the slot was reused by a new tensor
    writer.access(80, 5, 2, 1, TraceOp::write, Tier::gpu);
    EXPECT_EQ(writer.records(), 6u);
  }  // the destructor closes and records the count
  Trace trace = read_trace(path("live.bin"));
  EXPECT_EQ(trace.tensor_pages, (std::vector<uint32_t>{2, 3}));
  ASSERT_EQ(trace.accesses.size(), 2u);
  EXPECT_EQ(trace.accesses[0].compute_ns, 50u);
  EXPECT_EQ(trace.accesses[1].tensor, 1u);
  EXPECT_EQ(trace.accesses[1].tier, Tier::gpu);
}

TEST_F(TraceFiles, UnwritablePathIsASystemError) {
  try {
    TraceWriter writer(path("missing/dir/t.bin"), 4096);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::system);
    EXPECT_THAT(e.what(), HasSubstr("missing/dir/t.bin"));
  }
}

TEST_F(TraceFiles, OracleGeneralLayout) {
  Trace trace;
  trace.page_size = 4096;
  trace.tensor_pages = {2, 1};
  // Pages 0, 2, 0, 1 (tensor 0 page 1 is id 1, tensor 1 page 0 is id 2).
  trace.accesses = {{3'000'000'000, 0, 0, 0, 1, TraceOp::read, Tier::dram},
                    {0, 0, 1, 0, 1, TraceOp::read, Tier::dram},
                    {0, 0, 0, 0, 2, TraceOp::write, Tier::dram}};
  write_trace(trace, path("o.bin"), TraceFormat::oracle_general);
  std::string bytes = sim::read_file(path("o.bin"));
  ASSERT_EQ(bytes.size(), 4u * 24);
  struct Expect {
    uint32_t time;
    uint64_t id;
    int64_t next;
  };
  Expect expected[] = {{3, 0, 3}, {0, 2, -1}, {0, 0, -1}, {0, 1, -1}};
  for (int i = 0; i < 4; ++i) {
    uint32_t time = 0, size = 0;
    uint64_t id = 0;
    int64_t next = 0;
    std::memcpy(&time, bytes.data() + 24 * i, 4);
    std::memcpy(&id, bytes.data() + 24 * i + 4, 8);
    std::memcpy(&size, bytes.data() + 24 * i + 12, 4);
    std::memcpy(&next, bytes.data() + 24 * i + 16, 8);
    EXPECT_EQ(time, expected[i].time) << i;
    EXPECT_EQ(id, expected[i].id) << i;
    EXPECT_EQ(size, 4096u);
    EXPECT_EQ(next, expected[i].next) << i;
  }
}

// path's content, zstd-compressed, into zst_path.
void compress(const std::string& path, const std::string& zst_path) {
  std::string bytes = sim::read_file(path);
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  size_t size = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  ASSERT_FALSE(ZSTD_isError(size));
  std::ofstream(zst_path, std::ios::binary).write(out.data(), static_cast<std::streamsize>(size));
}

Trace zipf_trace(uint64_t events) {
  workload::RandomAccesses options;
  options.pages = 700;
  options.tensors = 5;
  options.events = events;
  options.alpha = 0.9;
  options.page_size = 65536;
  return workload::random_accesses(options);
}

sim::Config small_dram(const Trace& trace, std::string eviction) {
  sim::Config config;
  config.dram_bytes = trace.footprint_bytes() / 4;
  config.eviction = std::move(eviction);
  return config;
}

TEST_F(TraceFiles, OracleGeneralRoundTripReplaysToTheSameMisses) {
  Trace trace = zipf_trace(100000);  // 4 MiB of requests: reads cross blocks
  write_trace(trace, path("z.oracle"), TraceFormat::oracle_general);
  TraceReader reader(path("z.oracle"), 65536);
  EXPECT_EQ(reader.format(), "oracleGeneral");
  // Each page became an object of one page: a tensor of its own, in order of first request.
  Trace back = read_trace(path("z.oracle"), 65536);
  EXPECT_EQ(back.page_accesses(), trace.page_accesses());
  EXPECT_EQ(back.footprint_bytes(), trace.footprint_bytes());
  for (const char* eviction : {"lru", "s3fifo", "belady"}) {
    sim::Config config = small_dram(trace, eviction);
    sim::Result original = sim::simulate(trace, config);
    sim::Result whole = sim::simulate(back, config);
    sim::Result streamed = sim::simulate(path("z.oracle"), config, 65536);
    EXPECT_EQ(whole.misses, original.misses) << eviction;
    EXPECT_EQ(streamed.misses, original.misses) << eviction;
    EXPECT_EQ(streamed.belady_misses, original.belady_misses) << eviction;
    EXPECT_EQ(streamed.bytes_fetched, original.bytes_fetched) << eviction;
  }
}

TEST_F(TraceFiles, ZstdFilesAreReadByContentWhateverTheirName) {
  Trace trace = zipf_trace(30000);
  write_trace(trace, path("z.bin"), TraceFormat::binary);
  write_trace(trace, path("z.csv"), TraceFormat::csv);
  write_trace(trace, path("z.oracle"), TraceFormat::oracle_general);
  compress(path("z.bin"), path("z.bin.zst"));
  compress(path("z.csv"), path("plain-name.csv"));
  compress(path("z.oracle"), path("z.oracle.zst"));
  EXPECT_EQ(read_trace(path("z.bin.zst")), trace);
  EXPECT_EQ(read_trace(path("plain-name.csv"), 65536), trace);
  EXPECT_EQ(read_trace(path("z.oracle.zst"), 65536), read_trace(path("z.oracle"), 65536));
  EXPECT_EQ(TraceReader(path("z.bin.zst")).format(), "binary, zstd-compressed");
  sim::Config config = small_dram(trace, "lru");
  sim::Result plain = sim::simulate(path("z.bin"), config);
  sim::Result packed = sim::simulate(path("z.bin.zst"), config);
  EXPECT_EQ(packed.to_json(), plain.to_json());
  // A stream cut inside a frame, and a corrupt one.
  std::string packed_bytes = sim::read_file(path("z.bin.zst"));
  write_text("cut.zst", packed_bytes.substr(0, packed_bytes.size() / 2));
  EXPECT_THAT(error_of("cut.zst"), HasSubstr("truncated: the zstd stream ends inside a frame"));
  std::string corrupt = packed_bytes;
  for (size_t i = 20; i < corrupt.size(); i += 7) corrupt[i] = static_cast<char>(~corrupt[i]);
  write_text("corrupt.zst", corrupt);
  EXPECT_THAT(error_of("corrupt.zst"), HasSubstr("corrupt zstd stream"));
}

TEST_F(TraceFiles, LibCacheSimCsvAndTxt) {
  // Objects become tensors of ceil(size / page) pages, in order of first request; a request
  // reads all of its object's pages; ids that are not integers are hashed.
  write_text("r.csv",
             "time,obj_id,obj_size,next_access_vtime\n"
             "1,42,100,3\n"
             "2,7,9000,-1\n"
             "3,42,100,-1\n"
             "4,web/page.html,4096,-1\n");
  Trace csv = read_trace(path("r.csv"), 4096);
  EXPECT_EQ(csv.tensor_pages, (std::vector<uint32_t>{1, 3, 1}));
  ASSERT_EQ(csv.accesses.size(), 4u);
  EXPECT_EQ(csv.accesses[1].count, 3u);
  EXPECT_EQ(csv.accesses[2].tensor, 0u);
  EXPECT_EQ(csv.accesses[3].time_ns, 4'000'000'000u);
  EXPECT_EQ(TraceReader(path("r.csv")).format(), "libCacheSim csv");
  // Tab-separated, other names, columns in another order.
  write_text("t.csv", "key\tsize\n9\t1\n9\t1\n");
  EXPECT_EQ(read_trace(path("t.csv"), 4096).tensor_pages, (std::vector<uint32_t>{1}));
  write_text("r.txt", "5\n6\n\n5\nname\n");
  Trace txt = read_trace(path("r.txt"), 4096);
  EXPECT_EQ(txt.tensor_pages, (std::vector<uint32_t>{1, 1, 1}));
  EXPECT_EQ(txt.accesses.size(), 4u);
  EXPECT_EQ(TraceReader(path("r.txt")).format(), "libCacheSim txt");
  write_text("bad-size.csv", "obj_id,obj_size\n1,10\n2,big\n");
  EXPECT_THAT(error_of("bad-size.csv"), HasSubstr("line 3: obj_size 'big' is not an integer"));
  write_text("fields.csv", "obj_id,obj_size\n1,10,4\n");
  EXPECT_THAT(error_of("fields.csv"), HasSubstr("line 2: 3 fields where the header has 2"));
  write_text("empty-id.csv", "obj_id,obj_size\n,10\n");
  EXPECT_THAT(error_of("empty-id.csv"), HasSubstr("line 2: empty object id"));
  // An object too large for any replay.
  write_text("huge.csv", "obj_id,obj_size\n1,18446744073709551615\n");
  EXPECT_THAT(error_of("huge.csv"), HasSubstr("line 2: object 1 of 18446744073709551615 bytes"));
}

TEST_F(TraceFiles, UnknownFormsNameTheFormsExpected) {
  const char* expected = "expected tiermem binary (starts with TMTRACE1), zstd-compressed";
  write_text("empty", "");
  EXPECT_THAT(error_of("empty"), HasSubstr("empty; " + std::string(expected)));
  write_text("blank", "\n \n");
  EXPECT_THAT(error_of("blank"), HasSubstr("only blank lines"));
  write_text("nohdr.csv", "1,2,3\n");
  EXPECT_THAT(error_of("nohdr.csv"), HasSubstr("a CSV without a header ('1,2,3')"));
  write_text("other.csv", "a,b\n1,2\n");
  EXPECT_THAT(error_of("other.csv"),
              HasSubstr("the first line 'a,b' names none of tiermem's columns"));
  // Binary, not TMTRACE1, whose records break oracleGeneral's next accesses.
  std::string random(240, '\0');
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>(i * 37 + 11);
  write_text("random.bin", random);
  EXPECT_THAT(error_of("random.bin"),
              HasSubstr("not a form tiermem reads; " + std::string(expected)));
  // oracleGeneral with a partial record at the end.
  write_trace(zipf_trace(10), path("o.bin"), TraceFormat::oracle_general);
  std::filesystem::resize_file(path("o.bin"), 24 * 3 + 5);
  EXPECT_THAT(error_of("o.bin"),
              HasSubstr("offset 72: truncated: 5 bytes of a partial oracleGeneral record"));
  write_text("p.txt", "1\n");
  try {
    TraceReader reader(path("p.txt"), 1000);
    ADD_FAILURE() << "page size 1000 was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("trace page size 1000 is not a power of two"));
  }
}

TEST_F(TraceFiles, ScanFindsTheFootprintAndSharedNextUsesReplayAlike) {
  Trace trace = zipf_trace(50000);
  write_trace(trace, path("z.bin"), TraceFormat::binary);
  for (bool next_uses : {false, true}) {
    sim::TraceScan scan = sim::scan_trace(path("z.bin"), 4096, next_uses, 1ull << 30);
    EXPECT_EQ(scan.footprint_bytes, trace.footprint_bytes());
    EXPECT_EQ(scan.page_accesses, trace.page_accesses());
    EXPECT_EQ(scan.accesses, trace.accesses.size());
    EXPECT_EQ(scan.pages, trace.page_count());
    EXPECT_EQ(scan.next_uses != nullptr, next_uses);
  }
  sim::Config config = small_dram(trace, "belady");
  sim::Result own = sim::simulate(path("z.bin"), config);
  config.next_uses = sim::scan_trace(path("z.bin"), 4096, true, 1ull << 30).next_uses;
  EXPECT_EQ(sim::simulate(path("z.bin"), config).to_json(), own.to_json());
  EXPECT_EQ(sim::simulate(trace, config).to_json(), own.to_json());
  // Next uses of another trace are refused, not read past their end.
  Trace longer = zipf_trace(60000);
  EXPECT_THAT(
      [&] {
        try {
          sim::simulate(longer, config);
        } catch (const Error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr("next_uses are of another trace"));
  // The next uses are 8 bytes per page access, within the memory limit as before.
  EXPECT_THAT(
      error_within(
          kSmallBudget,
          [&] { sim::scan_trace(path("z.bin"), 4096, true, trace.page_count() * 64 + 49999 * 8); }),
      HasSubstr("and next uses of at least 50000 page accesses"));
  EXPECT_EQ(
      error_within(
          kSmallBudget,
          [&] { sim::scan_trace(path("z.bin"), 4096, true, trace.page_count() * 64 + 50000 * 8); }),
      "");
}

TEST(Trace, ValidateNamesTheAccess) {
  Trace trace = sample();
  trace.accesses[2].count = 9;
  try {
    trace.validate();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("trace access 2 (tensor 2, pages 3+9): beyond the tensor's 8"));
  }
}

}  // namespace
}  // namespace tiermem
