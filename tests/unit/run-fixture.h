/*
 * run-fixture: for unit tests of what reads the run model (series, the dashboard's chart):
 * load_text() writes a log of a full format-1 header and the given records to a temporary
 * file and loads it with run_load, failing the test when that fails. Include after cmocka.h.
 */
#ifndef MEMLINE_TEST_RUN_FIXTURE_H
#define MEMLINE_TEST_RUN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/run.h"

static const char run_fixture_header[] =
	"{\"type\":\"header\",\"format\":1,\"memline\":\"0.1.0\",\"mode\":\"run\",\"host\":\"h\","
	"\"start\":\"2026-01-01T00:00:00.000Z\",\"start_unix\":1767225600,\"command\":[\"w\"],"
	"\"pid\":10,\"pids\":[10],\"cwd\":\"/\",\"job\":{},\"page_size\":4096,\"clk_tck\":100,"
	"\"mem_total\":1000000,\"kernel\":\"6.1\",\"interval\":{\"fixed\":null,\"min\":0.01,"
	"\"max\":5},\"peak_reset\":true,\"pss\":false,\"fields\":[\"pid\",\"rss\",\"anon\","
	"\"file\",\"shmem\",\"peak\",\"vms\",\"swap\",\"pss\",\"utime\",\"stime\",\"minflt\","
	"\"majflt\",\"threads\",\"rchar\",\"wchar\",\"read_bytes\",\"write_bytes\",\"state\"],"
	"\"tree_fields\":[\"nproc\",\"rss\",\"anon\",\"file\",\"shmem\",\"peak\",\"vms\",\"swap\","
	"\"pss\",\"utime\",\"stime\"]}\n";

/* Loads a log made of the header and body into run. */
static inline void load_text(struct run *run, const char *body)
{
	char path[] = "/tmp/memline-test-run-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(run_fixture_header, f);
	fputs(body, f);
	assert_int_equal(fclose(f), 0);
	struct strbuf err = STRBUF_INIT;
	int ret = run_load(run, path, NULL, NULL, &err);
	if (ret)
		fail_msg("run_load: %s", err.buf);
	strbuf_release(&err);
	unlink(path);
}

#endif
