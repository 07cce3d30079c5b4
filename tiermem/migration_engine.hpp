// tiermem/migration_engine.hpp: every change of where a page lives happens here.
//
// Callers hand the engine page requests (pin this page in dram, prefetch it into gpu, evict it
// from dram, flush it to nvme). A request that cannot be satisfied at once starts an operation
// on its page (a fetch into a tier, or a write-back out of one) or joins the one already under
// way, and is tried again when that operation ends. So a pin of an NVMe-only page in gpu
// first fetches it into dram, then, re-tried, copies it up: pages travel through the tiers
// between. Frames come from a tier's free list or from evicting the policy's victim; a dirty
// victim is written down one tier first and its frame freed when the copy below is confirmed.
//
// All decisions are made under one mutex; the work they start (I/O, copies, zero fills,
// telling callers) is carried out after the mutex is released. Pins of resident pages never
// come here: they are a CAS on the page's state word (page_state.hpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/engine.hpp"
#include "policies/prefetch_governor.hpp"
#include "tiermem/access_log.hpp"
#include "tiermem/access_observer.hpp"
#include "tiermem/clock.hpp"
#include "tiermem/frame_pool.hpp"
#include "tiermem/gpu_backend.hpp"
#include "tiermem/host_arena.hpp"
#include "tiermem/nvme_store.hpp"
#include "tiermem/page_state.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/policy.hpp"
#include "tiermem/stats.hpp"
#include "tiermem/tensor_table.hpp"
#include "tiermem/trace.hpp"

namespace tiermem::detail {

class Job;
class EventClock;

// Why a request failed. Every request it fails gets an Error of its own made from it, so no
// exception object is shared between the threads that wait.
struct Failure {
  Errc code;
  std::string message;
  int sys_errno = 0;
};

enum class Goal : uint8_t {
  pin,       // resident in tier and pinned for the job
  prefetch,  // resident in tier, not pinned; skipped when it would have to wait
  announce,  // a prefetch the application asked for (Tensor::prefetch): recorded in a trace,
             // and its page is spared by evictions until pinned
  evict,     // not resident in tier (pinned pages stay)
  flush,     // a valid copy in nvme
};

struct PageRequest {
  PageId page = 0;
  Goal goal = Goal::pin;
  Tier tier = Tier::dram;
  bool write = false;      // pin: a write or read_write pin
  bool skip_read = false;  // pin: every byte will be overwritten; old bytes need not come
  Job* job = nullptr;      // told when the request ends; null: nobody waits (prefetch)
  // Set by the engine:
  bool unread = false;  // pin: the page was fetched without its bytes (they stay valid in
                        // nvme until the job, on success, makes the pinned copy the only one)
  bool acted = false;   // evict, flush: an operation was started for this request
};

// One caller's batch of requests. The engine reports each request's end under its mutex and
// calls finished() once, after the last one, without the mutex; finished() deletes the job.
class Job {
 public:
  explicit Job(uint64_t requests) : remaining_(requests) {}
  virtual ~Job() = default;

  // A request ended. effect: it changed something (a page pinned, evicted, written).
  // Returns true when that was the last one.
  bool request_done(const PageRequest& request, std::exception_ptr error, bool effect) {
    if (error && !first_error_) first_error_ = error;
    on_request_done(request, error == nullptr, effect);
    return --remaining_ == 0;
  }
  void finish() noexcept { finished(std::move(first_error_)); }

 protected:
  virtual void on_request_done(const PageRequest&, bool ok, bool effect) = 0;
  // Called once, without the engine's mutex; must delete this.
  virtual void finished(std::exception_ptr first_error) noexcept = 0;

 private:
  uint64_t remaining_;
  std::exception_ptr first_error_;
};

class MigrationEngine {
 public:
  // What the engine moves pages among. The pool owns all of it and keeps it alive longer than
  // the engine. gpu is null in a pool without a gpu tier.
  struct Parts {
    PageTable& pages;
    TensorTable& tensors;
    FrameArena& dram;
    GpuBackend* gpu;
    io::Engine& io;
    NvmeStore& nvme;
    policy::EvictionPolicy* eviction[2];  // gpu (null without a gpu tier), dram
    policy::PrefetchPolicy& prefetch;
    AccessLog& log;
    uint64_t page_size;
    uint64_t prefetch_budget;
    bool scrub_frames;  // zero frames that would show a page without its bytes
    const Clock& clock;
    // A pool on a virtual clock: where the engine waits, it runs the clock's next event
    // instead (nothing completes by itself there). Null in a live pool.
    EventClock* events;
    // A persistent pool (pages.has_durable()): every page has two NVMe slots, and a write-back
    // never overwrites the one a manifest names; every page written gets a checksum, and every
    // page read from nvme is checked against its checksum.
    bool persistent = false;
  };

  explicit MigrationEngine(const Parts& parts);
  // Waits until no operation is under way and every call into the engine (a completion's
  // included) has returned, so that no job is still being told of its end.
  ~MigrationEngine();
  MigrationEngine(const MigrationEngine&) = delete;
  MigrationEngine& operator=(const MigrationEngine&) = delete;

  // Waits until no operation is under way and no call is in the engine. For a pool closing:
  // the caller makes sure that no new request comes meanwhile.
  void wait_idle();

  // Starts every request. Requests that end at once are reported before this returns.
  void submit(std::span<const PageRequest> requests);

  // Drains the access log into the policies; without wait, only if the mutex is free right
  // now (never blocks).
  void drain(bool wait);

  // Hands the application's access order to the prefetch policy, and follows it to tell the
  // eviction policy of next uses where it wants them. Null withdraws it.
  void set_schedule(std::shared_ptr<const policy::Schedule> schedule);

  // Records every access from now on through writer, after declaring the live tensors
  // (slot, pages). Throws Error(busy) while recording already.
  void start_trace(std::unique_ptr<TraceWriter> writer,
                   const std::vector<std::pair<uint32_t, uint32_t>>& live);
  void stop_trace();
  bool tracing() const noexcept { return observer_.tracing(); }
  // A new tensor in slot (while recording), and the application's compute spans.
  void trace_tensor(uint32_t slot, uint32_t pages);
  void trace_compute(bool begin);

  // Gives a new tensor its page ids and NVMe slots (two per page in a persistent pool) and sets
  // its pages unbacked, or valid in nvme only (on_nvme: the pool's NVMe tier already holds
  // their bytes). Throws Error(out_of_space) with nothing taken when either runs out.
  // fill sets the record's description (name, shape, page_count, ...) under the mutex, before
  // the page ids are taken; add_tensor sets first_page.
  void add_tensor(uint32_t slot, TensorRecord& record, bool on_nvme,
                  const std::function<void(TensorRecord&)>& fill);
  // A persistent pool's tensor as its manifest left it: record is filled, pages[i] are its
  // pages' slots (both, and which holds the durable copy, with its checksum). Throws
  // Error(corrupt) naming the tensor and page when a slot is already taken (by another page of
  // the manifest), Error(out_of_space) when no run of page ids is left; nothing is taken then.
  void restore_tensor(uint32_t slot, TensorRecord& record, std::span<const DurablePage> pages);
  // Waits for the tensor's operations to end, makes its generation even (every handle goes
  // stale), then frees its frames, slots and ids. Throws Error(busy), with nothing changed,
  // while any of its pages is pinned.
  void remove_tensor(TensorRecord& record);

  // Gives up the copies in tier of pages that a failed write pin fetched without their bytes
  // (PageRequest::unread): their copy in nvme, which was never touched, is valid again, or,
  // never written before, they are unbacked again. pinned: the failed pin still holds them
  // (a pin of tier, for writing); it lets go of them here, under the mutex, so that no
  // eviction can take the copy between the unpin and the undo.
  void undo_unread_pages(std::span<const PageId> pages, Tier tier, bool pinned);

  // ---- publishing a persistent pool's manifest (tiermem/pool_persistence.hpp) ----
  // The count of write-backs to nvme completed so far. Those up to it are on disk once the
  // backing files are synced.
  uint64_t writebacks_completed();
  // Chooses what the next manifest names for every page of every live tensor: the page's NVMe
  // copy when write-back number `synced` or an earlier one wrote it (so it is on disk), else
  // what the manifest on disk names. only: one tensor's flush: only its pages change; the
  // other tensors the manifest on disk holds keep what it names, and the others stay out of it
  // (their pages may be half written: a tensor comes back as a flush of its own left it).
  // Those slots are not written until end_publish: a write-back that would need one waits.
  // Calls visit(record, pages) for each tensor the manifest holds, its pages' entries with
  // `pending` set. The caller keeps tensors from coming and going until end_publish.
  void begin_publish(uint64_t synced, const TensorRecord* only,
                     const std::function<void(const TensorRecord&, const DurablePage*)>& visit);
  // The manifest is on disk (published) or was not written: what it names becomes durable,
  // the slots of tensors released before it are freed, and the write-backs that waited start.
  void end_publish(bool published);

  // Sets stats to the engine's counters: misses, evictions, write-backs, moves, zero fills,
  // prefetch and I/O errors, and free frames and NVMe slots. The rest is the caller's.
  void fill_stats(Stats& stats);

 private:
  struct PageOp;
  struct Actions;
  class Entry;

  void advance(const PageRequest& request, Actions& actions);
  void advance_pin(const PageRequest& request, Actions& actions);
  // Starts a prefetch unless it is of no use (the page is there or on its way: true) or
  // refused (the budget is spent, another operation waits for a frame, or no free or clean
  // frame is left: false).
  bool advance_prefetch(const PageRequest& request, Actions& actions);
  void advance_evict(const PageRequest& request, Actions& actions);
  void advance_flush(const PageRequest& request, Actions& actions);

  bool stops_in_dram(PageId page, PageState s, Tier tier) const;
  // A run of the tensor's page_count ids (positive); throws Error(out_of_space) naming it.
  PageId take_page_ids(const TensorRecord& record);
  // Where a page's NVMe copy is read from or written to: its slot, or its streamed file.
  FileSource::Read nvme_copy(PageId page) const noexcept;
  bool resident(PageId page, Tier tier) const;
  // logged_useful: prefetched pages the access log counted as pinned after they arrived.
  policies::PrefetchRecord prefetch_record(uint64_t logged_useful) const;
  void join(const PageRequest& request);
  // Why a page is fetched: a pin, a prefetch policy's guess, the application's announcement.
  enum class Fetch : uint8_t { demand, prefetch, announced };
  void start_fetch(PageId page, Tier tier, Fetch why, bool skip_read, const PageRequest* waiter,
                   Actions& actions);
  void start_writeback(PageId page, Tier from, bool evicting, const PageRequest* waiter,
                       Actions& actions);
  void give_frame(PageOp& op, uint32_t frame, Actions& actions);
  uint32_t wanted_frame(PageId page, Tier tier) const;
  bool service_waiting(Tier tier, Actions& actions);
  bool may_free_later(Tier tier) const;
  void settle(Actions& actions);
  bool evict_one(Tier tier, bool clean_only, PageId incoming, Actions& actions);
  bool evict_page(PageId page, Tier tier, const PageRequest* waiter, Actions& actions);
  void drop_copy(PageId page, Tier tier, bool unread = false);
  void release_copy(PageId page, Tier tier);
  void step_done(PageOp& op, const io::Result& result) noexcept;
  bool install_frame(PageOp& op, bool prefetched, Actions& actions);
  void finish_fetch(PageOp& op, Actions& actions);
  void finish_writeback(PageOp& op, Actions& actions);
  void end_op(PageOp& op, const Failure* failure, Actions& actions);
  void fail_op(PageOp& op, const io::Result& result, Actions& actions);
  void done(const PageRequest& request, const Failure* failure, bool effect, Actions& actions);
  void drain_log(Actions& actions);
  void run(Actions& actions) noexcept;
  // Waits on idle_ until pred holds (on a virtual clock: runs events until it does).
  template <class Pred>
  void wait_until(std::unique_lock<std::mutex>& lock, Pred pred);
  void launch(PageOp& op, std::vector<io::Request>& io_batch) noexcept;
  // Persistent pools: points a write-back to nvme at a slot of its page that no manifest
  // names; false when both are named (one on disk, one being published): it waits then.
  bool choose_slot(PageOp& op);
  // Persistent pools: whether a page read from nvme holds the bytes its checksum says.
  bool read_intact(const PageOp& op) const noexcept;

  // State-word updates made under the mutex; they CAS because pins change counts lock-free.
  PageState update(PageId page, auto&& change);
  bool set_busy_if_unpinned(PageId page, Tier tier);
  std::string describe(PageId page) const;
  std::string io_failure(const PageOp& op, const io::Result& result) const;
  FrameArena& arena(Tier tier) noexcept;
  std::byte* view_place(PageId page, Tier tier) noexcept;
  // The address of a dram frame that the gpu backend copies to or from.
  std::byte* host_for_gpu(uint32_t dram_frame) noexcept;

  Parts parts_;
  std::mutex mutex_;
  std::condition_variable idle_;      // signalled whenever an operation ends
  std::atomic<uint32_t> entered_{0};  // calls under way (see Entry); the destructor waits
  std::unordered_map<PageId, PageOp*> ops_;
  FramePool free_frames_[2];
  std::deque<PageOp*> waiting_[2];  // operations waiting for a frame, oldest first
  uint32_t in_flight_[2] = {};      // operations given a frame of a tier, filling it
  uint32_t freeing_[2] = {};        // evicting write-backs that will free a frame of a tier
  uint32_t flushing_[2] = {};       // flushes out of a tier: each leaves a page evictable (clean)
  uint64_t prefetch_bytes_ = 0;     // prefetch fetches under way
  Stats counters_;                  // the engine's share of the pool's statistics
  std::vector<AccessRecord> drained_;  // reused by drain_log
  // Persistent pools:
  uint64_t writebacks_ = 0;              // write-backs to nvme completed (DurablePage::written)
  std::vector<PageOp*> parked_;          // write-backs waiting for a publish to end
  std::vector<uint64_t> retired_slots_;  // of released tensors, named by the manifest on disk
  const TensorRecord* publishing_only_ = nullptr;  // begin_publish's `only`, until end_publish

  AccessObserver observer_;  // after parts_, whose policies it refers to
};

}  // namespace tiermem::detail
