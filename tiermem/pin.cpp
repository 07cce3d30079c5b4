// tiermem/pin.cpp: the public Pin: moving, ending, and the typed view's error.
#include "tiermem/pin.hpp"

#include <fmt/format.h>

#include <utility>

#include "tiermem/pool_core.hpp"

namespace tiermem {

Pin::Pin(Pin&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)),
      first_page_(other.first_page_),
      page_count_(other.page_count_),
      tier_(other.tier_),
      access_(other.access_),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      on_stream_(std::exchange(other.on_stream_, false)),
      stream_(std::exchange(other.stream_, nullptr)) {}

Pin& Pin::operator=(Pin&& other) noexcept {
  if (this != &other) {
    reset();
    core_ = std::exchange(other.core_, nullptr);
    first_page_ = other.first_page_;
    page_count_ = other.page_count_;
    tier_ = other.tier_;
    access_ = other.access_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    on_stream_ = std::exchange(other.on_stream_, false);
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

void Pin::reset() noexcept {
  if (core_ == nullptr) return;
  core_->unpin(*this);
  core_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  on_stream_ = false;
  stream_ = nullptr;
}

void Pin::throw_bad_view(size_t element_size, size_t element_align) const {
  throw Error(Errc::invalid_argument,
              fmt::format("a pin of {} bytes at {} cannot be viewed as elements of {} bytes "
                          "aligned to {}",
                          size_, data_, element_size, element_align));
}

}  // namespace tiermem
