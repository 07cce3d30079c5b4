#!/usr/bin/python3
"""bench/frequency_bound.py TRACE.csv SHARE...: the misses of the best static frequency policy.

Keeps resident, from the start, the SHARE x (distinct pages) pages accessed most often over the
whole trace (an offline choice no online policy can beat by frequency alone) and counts the
misses: every access to another page, plus each kept page's first access. Compared with
Belady's misses from `tiermem sim`, it bounds what ranking pages by frequency can reach on a
trace; the rest of Belady's advantage comes from knowing when pages are used, not how often.
The trace is tiermem's CSV form (`tiermem trace convert TRACE.bin TRACE.csv`). See
bench/RESULTS.md.
"""
import collections
import csv
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    counts = collections.Counter()
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            tensor, first = int(row["tensor"]), int(row["page"])
            for page in range(first, first + int(row.get("count") or 1)):
                counts[(tensor, page)] += 1
    accesses = sum(counts.values())
    for share in sys.argv[2:]:
        kept = int(len(counts) * float(share))
        hits = sum(n - 1 for _, n in counts.most_common(kept))
        print(f"share {share}: {kept} of {len(counts)} pages kept, {accesses - hits} misses "
              f"of {accesses} page accesses")


if __name__ == "__main__":
    main()
