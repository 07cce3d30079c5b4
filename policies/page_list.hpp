// policies/page_list.hpp: intrusive doubly-linked lists of dense page ids.
//
// PageLinks holds one node per page id; a page sits in at most one PageList of a PageLinks at a
// time, and the node remembers which (a small tag), so policies with several queues (2Q, ARC,
// S3-FIFO) keep one table. Every operation is O(1) and allocates only when the id space grows.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <vector>

#include "policies/huge_pages.hpp"
#include "policies/registry.hpp"

namespace tiermem::policies {

class PageLinks {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr uint8_t kNoList = 0;

  struct Node {
    uint32_t prev = kNil;
    uint32_t next = kNil;
    uint8_t list = kNoList;  // tag of the list holding the page; kNoList: none
    uint8_t bits = 0;        // free for the policy (reference bit, frequency, ...)
  };

  Node& operator[](PageId page) {
    assert(page < kNil && "page ids must be dense and below 2^32-1");
    if (page >= nodes_.size()) nodes_.resize(page + 1 + nodes_.size() / 2);
    return nodes_[page];
  }
  // Starts loading page's node into the cache (a hint; nothing changes).
  void prefetch(PageId page) const noexcept {
    if (page < nodes_.size()) __builtin_prefetch(&nodes_[page]);
  }
  // The tag of the list holding page, kNoList when none (or never seen).
  uint8_t list_of(PageId page) const noexcept {
    return page < nodes_.size() ? nodes_[page].list : kNoList;
  }

 private:
  PageTable<Node> nodes_;
};

// A list tagged `tag` (nonzero) over a shared PageLinks. Front is the newest end.
class PageList {
 public:
  explicit PageList(uint8_t tag) : tag_(tag) { assert(tag != PageLinks::kNoList); }

  bool empty() const noexcept { return size_ == 0; }
  uint64_t size() const noexcept { return size_; }
  PageId back() const noexcept { return tail_; }
  PageId front() const noexcept { return head_; }

  void push_front(PageLinks& links, PageId page) {
    PageLinks::Node& node = links[page];
    assert(node.list == PageLinks::kNoList);
    node = {PageLinks::kNil, static_cast<uint32_t>(head_), tag_, node.bits};
    if (head_ != PageLinks::kNil) links[head_].prev = static_cast<uint32_t>(page);
    head_ = page;
    if (tail_ == PageLinks::kNil) tail_ = page;
    ++size_;
  }

  void remove(PageLinks& links, PageId page) {
    PageLinks::Node& node = links[page];
    assert(node.list == tag_);
    if (node.prev != PageLinks::kNil)
      links[node.prev].next = node.next;
    else
      head_ = node.next;
    if (node.next != PageLinks::kNil)
      links[node.next].prev = node.prev;
    else
      tail_ = node.prev;
    // Evictions take pages from the back: the next one will unlink the new back's neighbour.
    if (node.next == PageLinks::kNil && tail_ != PageLinks::kNil) links.prefetch(links[tail_].prev);
    node.prev = node.next = PageLinks::kNil;
    node.list = PageLinks::kNoList;
    --size_;
  }

  // Removes pages from the back until at most limit remain.
  void trim(PageLinks& links, uint64_t limit) {
    while (size_ > limit) remove(links, tail_);
  }
  // Trims to limit, then pushes page: a bounded (ghost) list may hold limit + 1 pages until the
  // next trim.
  void push_bounded(PageLinks& links, PageId page, uint64_t limit) {
    trim(links, limit);
    push_front(links, page);
  }

  void move_to_front(PageLinks& links, PageId page) {
    remove(links, page);
    push_front(links, page);
  }

  // The neighbour towards the front, kNil at the front; towards the back, kNil at the back.
  static PageId newer(PageLinks& links, PageId page) { return links[page].prev; }
  static PageId older(PageLinks& links, PageId page) { return links[page].next; }

  // The page nearest the back that filter accepts, if any.
  std::optional<PageId> oldest(PageLinks& links, const VictimFilter& filter) const {
    for (PageId page = tail_; page != PageLinks::kNil; page = newer(links, page)) {
      if (filter.evictable(page)) return page;
    }
    return std::nullopt;
  }

 private:
  uint8_t tag_;
  PageId head_ = PageLinks::kNil;
  PageId tail_ = PageLinks::kNil;
  uint64_t size_ = 0;
};

}  // namespace tiermem::policies
