"""heapwork.py: the Python program of the heap benchmark (bench/heap.py, part k).

    heapwork.py [ROUNDS]

Each round builds a dict of 200,000 entries (a formatted string key to a list of three ints
and a short string), a list of 200,000 strings joined from pieces, a dict of dicts regrouping
the first by a key's prefix, then keeps a tenth of it for the next round and drops the rest:
millions of small objects (pymalloc's, or malloc's under PYTHONMALLOC=malloc), tables and
arrays that grow by reallocation, and large strings. Deterministic; prints a checksum. About
0.5 s a round with /usr/bin/python3 (3.11) on a small VM: the default, 6 rounds, about 3 s.
"""
import sys

N = 200_000


def one_round(r, kept):
    table = {}
    for i in range(N):
        k = "k%d-%d" % (r, i * 7919 % N)
        table[k] = [i, i * i % 1009, len(k), k[-3:]]
    lines = []
    for i in range(N):
        lines.append("-".join((str(i), str(r), "x" * (i % 40))))
    text = "\n".join(lines)
    groups = {}
    for k, v in table.items():
        groups.setdefault(k[:4], {})[k] = v[1]
    total = sum(len(g) for g in groups.values()) + len(text) + sum(v[1] for v in table.values())
    # A tenth lives on into the next round (so frees interleave with allocations), the rest
    # goes now.
    kept.update((k, v) for k, v in list(table.items())[:N // 10])
    if len(kept) > N:
        for k in list(kept)[:N // 2]:
            del kept[k]
    return total


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 6
    kept = {}
    total = 0
    for r in range(rounds):
        total += one_round(r, kept)
    print(total + len(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
