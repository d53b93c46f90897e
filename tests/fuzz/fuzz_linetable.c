/*
 * fuzz_linetable: a libFuzzer target for the decoder of CPython 3.11's location tables
 * (py_linetable_line() in lib/stacks/pyframes.c), which memline reads out of another process's
 * memory and so parses as outside input. The input is the code object's first line (two bytes,
 * little endian) then the table, as tests/fixtures/linetable holds them (written from
 * threading.py's code objects). Every code unit the table could cover is looked up, and one
 * past; a line is 0 (unknown) or positive, and abort() says otherwise. Built by `make fuzz`
 * and, in `make check`, with tests/fuzz/replay.c on tests/fixtures/linetable.
 */
#include <stdint.h>
#include <stdlib.h>

#include "stacks/pyframes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int first = data[0] | data[1] << 8;
	const unsigned char *tab = data + 2;
	size_t n = size - 2;
	/* an entry covers at most 8 code units and takes at least a byte */
	for (long lasti = -1; lasti <= (long)(8 * n + 1); lasti++)
		if (py_linetable_line(tab, n, first, lasti) < 0)
			abort();
	return 0;
}
