/*
 * tree-fixture: for unit tests of what reads /proc and the cgroup file systems through the
 * procfs layer: a fixture tree (tests/fixtures/trees/NAME, or under $MEMLINE_FIXTURES) copied
 * to a temporary directory, whose proc/ a struct procfs opens, and removed again. Include after
 * cmocka.h.
 */
#ifndef MEMLINE_TEST_TREE_FIXTURE_H
#define MEMLINE_TEST_TREE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "record/procfs.h"
#include "util/strbuf.h"

/* Copies tree name into a new directory /tmp/memline-test-TAG-XXXXXX (into dir, of size
 * bytes) and opens its proc/ with fs; fails the test when it cannot. */
static void tree_fixture_open(char *dir, size_t size, const char *tag, const char *name,
			      struct procfs *fs)
{
	snprintf(dir, size, "/tmp/memline-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	const char *fixtures = getenv("MEMLINE_FIXTURES");
	struct strbuf cmd = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&cmd, "cp -R '%s/trees/%s/.' '%s'", fixtures ? fixtures : "tests/fixtures",
		    name, dir);
	assert_int_equal(system(cmd.buf), 0);
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "%s/proc", dir);
	assert_int_equal(procfs_init(fs, cmd.buf, &err), 0);
	strbuf_release(&cmd);
	strbuf_release(&err);
}

/* Releases fs and removes the copy (made writable first: a test may have made files read-only). */
static void tree_fixture_close(const char *dir, struct procfs *fs)
{
	procfs_release(fs);
	struct strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
	assert_int_equal(system(cmd.buf), 0);
	strbuf_release(&cmd);
}

#endif
