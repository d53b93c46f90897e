/*
 * fuzz_http_spec: a libFuzzer target for the "[ADDR:]PORT" or "unix:PATH" spec of --serve
 * (http_parse_spec; requests are fuzzed by fuzz_http_request.c). The input holds specs one a
 * line (each cut at its first NUL), so that one seed file holds many. A spec that parses must
 * give an IPv4 or IPv6 address and a port below 65536, or a unix socket's path that fits; one
 * that does not must say why. Replayed by `make fuzz-replay` (tests/fuzz/replay.c) on
 * tests/fixtures/http/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *spec)
{
	struct http_spec out;
	struct strbuf err = STRBUF_INIT;
	if (http_parse_spec(spec, &out, &err) == 0) {
		if (out.ip == 0 ? !out.path[0] || strncmp(spec, "unix:", 5) ||
					  strlen(out.path) >= sizeof(out.path) || out.port
				: (out.ip != 4 && out.ip != 6) || out.port > 65535 || out.path[0])
			abort();
		if (err.len)
			abort();
	} else if (!err.len) {
		abort(); /* a failure always says why */
	}
	strbuf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = text, *nl;; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		one(line);
		if (!nl)
			break;
	}
	free(text);
	return 0;
}
