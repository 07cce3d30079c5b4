// sim/workload_optimizer.cpp: ZeRO-Infinity-style optimizer-state swapping: the optimizer
// step streams fp32 master weights, momentum and variance of each sub-group through DRAM.
#include <fmt/format.h>

#include <cmath>

#include "sim/model_tensors.hpp"
#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

Trace optimizer_swapping(const OptimizerSwapping& o) {
  const ModelShape shape = load_model(o.model);
  if (o.iterations == 0 || o.subgroup_params == 0 || !(o.forward_backward_ms >= 0) ||
      !(o.adam_ns_per_param >= 0)) {
    throw Error(
        Errc::invalid_argument,
        fmt::format("optimizer swapping: iterations {} and sub-group size {} must be "
                    "positive, compute times {} ms and {} ns/param not negative",
                    o.iterations, o.subgroup_params, o.forward_backward_ms, o.adam_ns_per_param));
  }
  sim::ModelTensors tensors(shape);
  uint64_t params = tensors.params();
  Trace trace;
  trace.page_size = o.page_size;
  struct Group {
    uint64_t params;
    uint32_t half, grad, master, momentum, variance;
  };
  std::vector<Group> groups;
  for (uint64_t left = params; left > 0;) {
    uint64_t n = std::min(left, o.subgroup_params);
    left -= n;
    groups.push_back({n, sim::add_tensor(trace, 2 * n), sim::add_tensor(trace, 2 * n),
                      sim::add_tensor(trace, 4 * n), sim::add_tensor(trace, 4 * n),
                      sim::add_tensor(trace, 4 * n)});
  }
  uint64_t time = 0;
  auto access = [&](uint32_t tensor, TraceOp op) {
    trace.accesses.push_back({time, 0, tensor, 0, trace.tensor_pages[tensor], op, o.tier});
  };
  auto compute = [&](double ns) {
    auto span = static_cast<uint64_t>(std::llround(ns));
    trace.accesses.back().compute_ns += span;
    time += span;
  };
  double pass_ns = o.forward_backward_ms * 1e6;
  for (uint32_t iteration = 0; iteration < o.iterations; ++iteration) {
    for (const Group& g : groups) {  // forward: a third of the compute
      access(g.half, TraceOp::read);
      compute(pass_ns / 3 * static_cast<double>(g.params) / static_cast<double>(params));
    }
    for (auto g = groups.rbegin(); g != groups.rend(); ++g) {  // backward
      access(g->grad, TraceOp::write);
      compute(pass_ns * 2 / 3 * static_cast<double>(g->params) / static_cast<double>(params));
    }
    for (const Group& g : groups) {  // optimizer step, sub-group by sub-group
      access(g.grad, TraceOp::read);
      access(g.master, TraceOp::read_write);
      access(g.momentum, TraceOp::read_write);
      access(g.variance, TraceOp::read_write);
      compute(o.adam_ns_per_param * static_cast<double>(g.params));
      access(g.half, TraceOp::write);
    }
  }
  trace.validate();
  return trace;
}

}  // namespace tiermem::workload
