/*
 * fuzz_kernel_events: a libFuzzer target for the parsers of what the kernel's event sources
 * send (lib/record/events.h): taskstats exit records and proc connector messages. memline
 * reads only datagrams the kernel sent, but parses them as outside input all the same. The
 * input is one datagram after a kind byte ('T' taskstats, 'C' connector; any other: both) and
 * the taskstats family id (two bytes, little endian), as tests/fixtures/kernel holds them,
 * captured from a real kernel. For each record it checks what the sampler relies on, and
 * aborts when that does not hold: a record names a thread (pid > 0), its name is a string of
 * fewer than 32 bytes; a connector message is a fork, exec, exit or ack. Built by `make fuzz`
 * and, in `make check`, with tests/fuzz/replay.c on tests/fixtures/kernel.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/events.h"

#include <linux/cn_proc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_exit_record(const struct taskstats_exit *x, void *unused)
{
	(void)unused;
	if (x->pid <= 0 || memchr(x->comm, '\0', sizeof(x->comm)) == NULL)
		abort();
}

static void on_event(const struct proc_event_info *e, void *unused)
{
	(void)unused;
	if (e->what != PROC_EVENT_NONE && e->what != PROC_EVENT_FORK &&
	    e->what != PROC_EVENT_EXEC && e->what != PROC_EVENT_EXIT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	int family = data[1] | data[2] << 8;
	/* a copy of its own, aligned as a received datagram is, and no longer than the input */
	size_t len = size - 3;
	void *buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 3, len);
	if (data[0] != 'C')
		taskstats_parse(buf, len, family, on_exit_record, NULL);
	if (data[0] != 'T')
		proc_events_parse(buf, len, on_event, NULL);
	free(buf);
	return 0;
}
