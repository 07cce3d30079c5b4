#!/usr/bin/python3
"""bench/phase_bound.py TRACE.csv SHARE... --rank-by LONG.csv [--footprint N] [--policies P,..]:
what eviction could reach on a mixture-of-experts trace knowing each page's routing
probability, and the token cycle, against what an online policy that learns them reaches.

A demand-paging model of the tier (every access to a page not resident is a miss; the page
comes in and the policy picks a victim; SHARE x the footprint fits: --footprint PAGES, as
`tiermem sim` prints it, else the pages the trace accesses), in which these policies run on the
same trace:
  belady     evicts the page used furthest ahead: the optimum, knowing the future draws;
  a0         evicts the page least probable per token (A0 of the independent reference model,
             Aho, Denning and Ullman, 1971), the probabilities taken from LONG;
  phase      evicts the page whose next use is expected furthest ahead, knowing the true
             probability p and the token cycle: a page whose layer is d tokens (a fraction
             when it comes later in this token, else one more) ahead expects its next use in
             d + (1 - p) / p tokens; the loop's pages have p = 1;
  lfu        evicts the page accessed least so far (every access counted, pages that left
             included; the most recent among equals), the online policy that ranks by what it
             has seen;
  phase-lfu  phase's rule with p estimated online from the counts so far.
Prints misses and their ratio to belady's. LONG is a trace of the same routing (model, seed,
skew, drift 0), much longer, that stands for the true probabilities. Tokens are told apart by
the accesses of tensor 0 (the embedding), once per step. Traces are tiermem's CSV form
(`tiermem trace convert T.bin T.csv --to csv`). See bench/RESULTS.md.
"""
import collections
import csv
import heapq
import sys


def rows(path):
    """(tensor, first page, pages, step) of each access, in order; steps are told apart by the
    accesses of tensor 0 (the embedding), once per step; prefetch records are not accesses."""
    step = -1
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["op"] == "p":
                continue
            tensor = int(row["tensor"])
            if tensor == 0:
                step += 1
            yield tensor, int(row["page"]), int(row.get("count") or 1), max(step, 0)


def read(path):
    """Page accesses as (page, step) in order; a page is (tensor, index)."""
    return [((tensor, page), step) for tensor, first, count, step in rows(path)
            for page in range(first, first + count)]


def probabilities_and_places(path):
    """From a long trace: each page's accesses per decode step (its probability per token; the
    loop's pages 1), and its place in the token cycle, in hundredths: where in a decode step it
    was first seen, as a share of that step's accesses (a layer's experts share their layer's
    place, the same every token)."""
    counts = collections.Counter()
    first_seen = {}
    step_sizes = collections.Counter()
    index = 0
    last_step = -1
    for tensor, first, count, step in rows(path):
        if step != last_step:
            index, last_step = 0, step
        if step == 0:
            continue  # the prefill
        for page in range(first, first + count):
            counts[(tensor, page)] += 1
            first_seen.setdefault((tensor, page), (step, index))
            index += 1
        step_sizes[step] = index
    steps = max(step_sizes)
    prob = {page: min(1.0, c / steps) for page, c in counts.items()}
    place = {page: int(100 * at / step_sizes[step]) / 100
             for page, (step, at) in first_seen.items()}
    return prob, place


def simulate(accesses, capacity, policy, prob=None, place=None):
    resident = set()
    counts = collections.Counter()
    misses = 0
    n = len(accesses)
    if policy == "belady":
        next_use = [n] * n
        last = {}
        for i in range(n - 1, -1, -1):
            page = accesses[i][0]
            next_use[i] = last.get(page, n)
            last[page] = i
        heap = []  # (-next use, page), lazily stale
        upcoming = {}
        for i, (page, _) in enumerate(accesses):
            upcoming[page] = next_use[i]
            if page not in resident:
                misses += 1
                if len(resident) >= capacity:
                    while True:
                        key, victim = heapq.heappop(heap)
                        if victim in resident and -key == upcoming[victim] and victim != page:
                            break
                    resident.discard(victim)
                resident.add(page)
            heapq.heappush(heap, (-next_use[i], page))
        return misses
    # The other policies pick, per place in the cycle, the page ranked lowest there, then the
    # place whose candidate expects its next use furthest ahead (a0 and lfu ignore the place).
    groups = collections.defaultdict(list)  # place -> heap of (rank, -last use, page)
    last_use = {}
    steps_seen = 1
    step_of_cursor = 0
    per_step = collections.Counter(step for _, step in accesses)
    index_in_step = 0

    def rank(page):
        if policy in ("a0", "phase"):
            return prob.get(page, 0.0)
        return counts[page]

    def group_of(page):
        if policy in ("a0", "lfu"):
            return 0.0
        return place.get(page, 0.0)

    for i, (page, step) in enumerate(accesses):
        if step != step_of_cursor:
            step_of_cursor, index_in_step = step, 0
            steps_seen = max(1, step)
        now = index_in_step / per_step[step]
        index_in_step += 1
        counts[page] += 1
        if page not in resident:
            misses += 1
            if len(resident) >= capacity:
                best = None
                for g, heap in groups.items():
                    # Entries of pages gone or accessed since are stale.
                    while heap and not (heap[0][2] in resident
                                        and last_use[heap[0][2]] == -heap[0][1]):
                        heapq.heappop(heap)
                    if not heap:
                        continue
                    cand = heap[0]
                    if policy in ("a0", "lfu"):
                        score = (-cand[0], -cand[1])
                    else:
                        p = cand[0] if policy == "phase" else min(1.0, cand[0] / steps_seen)
                        d = g - now if g > now else 1.0 + g - now
                        score = (d + (1.0 - p) / p if p > 0 else float("inf"), -cand[1])
                    if best is None or score > best[0]:
                        best = (score, g, cand[2])
                heapq.heappop(groups[best[1]])
                resident.discard(best[2])
            resident.add(page)
        last_use[page] = i
        heapq.heappush(groups[group_of(page)], (rank(page), -i, page))
    return misses


def main():
    args = sys.argv[1:]
    if "--rank-by" not in args:
        sys.exit(__doc__)
    at = args.index("--rank-by")
    long_path = args[at + 1]
    del args[at:at + 2]
    policies = ["a0", "phase", "lfu", "phase-lfu"]
    footprint = None
    if "--footprint" in args:
        at = args.index("--footprint")
        footprint = int(args[at + 1])
        del args[at:at + 2]
    if "--policies" in args:
        at = args.index("--policies")
        policies = args[at + 1].split(",")
        del args[at:at + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    accesses = read(args[0])
    prob, place = probabilities_and_places(long_path)
    distinct = len({page for page, _ in accesses})
    for share in args[1:]:
        capacity = int((footprint or distinct) * float(share))
        base = simulate(accesses, capacity, "belady")
        print(f"share {share}: {capacity} pages ({distinct} accessed, footprint "
              f"{footprint or distinct}); belady {base} misses")
        for policy in policies:
            m = simulate(accesses, capacity, policy, prob, place)
            print(f"  {policy:10s} {m:8d} misses  {m / base:.3f}x", flush=True)


if __name__ == "__main__":
    main()
