#!/usr/bin/python3
"""bench/frequency_bound.py TRACE.csv SHARE... [--rank-by LONG.csv]: static frequency policies' misses.

Keeps resident, from the start, SHARE x (distinct pages) pages and counts the misses: every
access to another page, plus each kept page's first access. Compared with Belady's misses from
`tiermem sim`, it bounds what ranking pages by frequency can reach on a trace.

Without --rank-by, the pages kept are those accessed most over TRACE itself: an offline choice
no online policy can beat by frequency alone; the rest of Belady's advantage comes from knowing
when pages are used, not how often. With --rank-by, they are those accessed most in LONG, a much
longer trace of the same routing (same model, seed and skew, drift 0): the ranking by the
router's true probabilities, A0 of the independent reference model (Aho, Denning and Ullman,
1971), which is the best an online policy can do when each step's choices are independent
draws, knowing the probabilities and not the draws.

Traces are tiermem's CSV form (`tiermem trace convert TRACE.bin TRACE.csv`); prefetch records
(op p) are not accesses. See bench/RESULTS.md.
"""
import collections
import sys

from phase_bound import rows  # the CSV trace reader


def page_counts(path):
    counts = collections.Counter()
    for tensor, first, count, _ in rows(path):
        for page in range(first, first + count):
            counts[(tensor, page)] += 1
    return counts


def main():
    args = sys.argv[1:]
    rank_by = None
    if "--rank-by" in args:
        at = args.index("--rank-by")
        if at + 1 >= len(args):
            sys.exit("--rank-by needs a trace file")
        rank_by = args[at + 1]
        del args[at:at + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    counts = page_counts(args[0])
    ranking = page_counts(rank_by) if rank_by else counts
    # Pages of TRACE, most ranked first; ties (and pages LONG never accessed) in TRACE's order.
    order = sorted(counts, key=lambda page: -ranking.get(page, 0))
    accesses = sum(counts.values())
    for share in args[1:]:
        kept = int(len(counts) * float(share))
        hits = sum(counts[page] - 1 for page in order[:kept])
        print(f"share {share}: {kept} of {len(counts)} pages kept"
              f"{' (ranked by ' + rank_by + ')' if rank_by else ''}, {accesses - hits} misses "
              f"of {accesses} page accesses")


if __name__ == "__main__":
    main()
