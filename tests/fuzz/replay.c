/*
 * replay: runs a fuzz target without libFuzzer, for `make check`: each file named on the
 * command line as it is, then a fixed number of deterministic mutations of it (bytes flipped,
 * cut short, lines repeated or dropped, numbers swapped for huge or negative ones). Under
 * AddressSanitizer and UBSan this catches what a crash-free parser must not do; `make fuzz`
 * does the open-ended search with libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS 300

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const tokens[] = {
	"null",	    "-1",	"1e308",      "18446744073709551616", "\"\\ud800\"",
	"[]",	    "{}",	"\"type\"",   "\"sample\"",	      "\"end\"",
	"\"proc\"", "\"exit\"", "\"header\"", "9999999999",	      "0",
	"\n",	    "\"\"",	"\"stack\"",  "\"frames\"",
};

static size_t mutate(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t len = n < cap ? n : cap;
	memcpy(out, in, len);
	int kind = (int)(next() % 5);
	size_t pos = len ? next() % len : 0;
	switch (kind) {
	case 0: /* flip bytes */
		for (int i = 0; i < 4 && len; i++)
			out[next() % len] ^= (uint8_t)(1u << (next() % 8));
		break;
	case 1: /* cut short */
		len = pos;
		break;
	case 2: { /* drop a span */
		size_t span = len ? next() % (len - pos + 1) : 0;
		memmove(out + pos, out + pos + span, len - pos - span);
		len -= span;
		break;
	}
	case 3: { /* repeat a span */
		size_t span = len ? next() % (len - pos + 1) % 512 : 0;
		if (len + span <= cap) {
			memmove(out + pos + span, out + pos, len - pos);
			len += span;
		}
		break;
	}
	default: { /* put a hostile token in */
		const char *t = tokens[next() % (sizeof(tokens) / sizeof(tokens[0]))];
		size_t tl = strlen(t);
		if (len + tl <= cap) {
			memmove(out + pos + tl, out + pos, len - pos);
			memcpy(out + pos, t, tl);
			len += tl;
		}
	}
	}
	return len;
}

int main(int argc, char **argv)
{
	int runs = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			fprintf(stderr, "replay: cannot open '%s'\n", argv[i]);
			return 1;
		}
		static uint8_t in[1 << 20], out[(1 << 20) + 4096];
		size_t n = fread(in, 1, sizeof(in), f);
		fclose(f);
		LLVMFuzzerTestOneInput(in, n);
		runs++;
		for (int m = 0; m < MUTATIONS; m++) {
			size_t len = mutate(in, n, out, sizeof(out));
			LLVMFuzzerTestOneInput(out, len);
			runs++;
		}
	}
	printf("replay: %d inputs, no crash\n", runs);
	return 0;
}
