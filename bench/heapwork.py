"""heapwork.py: the Python program of the heap benchmark (bench/heap.py, part k).

    heapwork.py [ROUNDS]

Each round builds a dict of 100,000 entries (a formatted string key to a list of 0-129 ints),
a list of 100,000 strings of 1-1000 characters, the string of all of them joined, a list of
each one split in two, and a dict of dicts regrouping the first dict by a key's prefix; then
keeps a tenth of the first dict for the next round and drops the rest. Small objects are
pymalloc's (its arenas are anonymous mmaps); about half of the lists' arrays and of the strings
are larger than pymalloc's 512 bytes, so malloc's: some 200,000 mallocs a round, and the dicts'
tables and the growing lists' arrays by realloc. Deterministic; prints a checksum. About 0.7 s
a round with /usr/bin/python3 (3.11) on a small VM: the default, 4 rounds, about 3 s.
"""
import sys

N = 100_000


def one_round(r, kept):
    table = {}
    for i in range(N):
        table["k%d-%d" % (r, i * 7919 % N)] = [i] * (i % 130)
    lines = [str(i) + "x" * (i % 1000) for i in range(N)]
    text = "\n".join(lines)
    halves = [line.split("x", 1) for line in lines]
    groups = {}
    for k, v in table.items():
        groups.setdefault(k[:5], {})[k] = len(v)
    total = sum(len(g) for g in groups.values()) + len(text) + len(halves)
    # A tenth lives on into the next round (so frees interleave with allocations), the rest
    # goes now.
    kept.update((k, v) for k, v in list(table.items())[:N // 10])
    if len(kept) > N:
        for k in list(kept)[:N // 2]:
            del kept[k]
    return total


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 4
    kept = {}
    total = 0
    for r in range(rounds):
        total += one_round(r, kept)
    print(total + len(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
