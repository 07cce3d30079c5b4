// sim/trace_io.hpp: the readers and writers behind read_trace() and write_trace(), one per form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tiermem/trace.hpp"

namespace tiermem::sim {

bool is_binary_trace(std::span<const std::byte> prefix);
void write_binary_trace(const Trace& trace, const std::string& path);

void write_csv_trace(const Trace& trace, const std::string& path);
void write_oracle_general(const Trace& trace, const std::string& path);

// Why page_size cannot be a trace's page size; empty when it can.
std::string page_size_fault(uint64_t page_size);
// Why a trace cannot have pages pages; empty when it can.
std::string page_count_fault(uint64_t pages);

// "gpu" or "dram" (the sim room does not link the core, which has to_string(Tier)).
std::string_view tier_name(Tier tier) noexcept;

}  // namespace tiermem::sim
