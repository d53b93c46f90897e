/*
 * test_plot: the labels that tell overlaid logs apart in a legend (plot_labels, lib/render/plot.c):
 * the words two commands differ in (with the option they follow), the logs' names when the
 * commands are the same (with directories when the names are too), the start times, then the
 * log's name and its place; an input's own label always wins. Runs are made by hand: only their
 * command, path and start time matter here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render/plot.h"
#include "model/run.h"

#define MAX_IN 4

struct fixture {
	struct run runs[MAX_IN];
	struct plot_input in[MAX_IN];
	struct strbuf labels[MAX_IN];
	size_t n;
};

/* Input i: its command (NULL-terminated), log path, start time and own label (may be NULL). */
static void add(struct fixture *f, char **command, const char *path, const char *start,
		const char *label)
{
	size_t i = f->n++;
	run_init(&f->runs[i]);
	f->runs[i].header.command = command;
	f->runs[i].header.start_iso = (char *)start;
	f->in[i] = (struct plot_input){&f->runs[i], path, label};
	strbuf_init(&f->labels[i]);
}

/* Computes the labels and checks them against want[0 .. n). */
static void check(struct fixture *f, const char *const *want)
{
	plot_labels(f->in, f->n, f->labels);
	for (size_t i = 0; i < f->n; i++) {
		const char *got = f->labels[i].buf ? f->labels[i].buf : "";
		if (strcmp(got, want[i]))
			fail_msg("label %zu: got '%s', expected '%s'", i, got, want[i]);
		strbuf_release(&f->labels[i]);
		/* the header is borrowed: not the run's to free */
		f->runs[i].header.command = NULL;
		f->runs[i].header.start_iso = NULL;
		run_release(&f->runs[i]);
	}
	f->n = 0;
}

static void test_labels(void **state)
{
	(void)state;
	struct fixture f = {0};
	char *lr1[] = {"python3", "train.py", "--lr", "0.1", "--epochs", "3", NULL};
	char *lr2[] = {"python3", "train.py", "--lr", "0.01", "--epochs", "3", NULL};
	char *make[] = {"sh", "-c", "make -j8", NULL};
	char *one[] = {"sleep", NULL};
	char *two[] = {"sleep", "1", NULL};
	const char *t1 = "2026-01-01T00:00:00.000Z", *t2 = "2026-01-01T00:05:00.000Z";

	/* the words that differ, with the option they are the value of */
	add(&f, lr1, "/tmp/a.jsonl", t1, NULL);
	add(&f, lr2, "/tmp/b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"--lr 0.1", "--lr 0.01"});

	/* nothing in common: the whole commands, quoted as a shell would */
	add(&f, lr1, "a.jsonl", t1, NULL);
	add(&f, make, "b.jsonl", t1, NULL);
	check(&f,
	      (const char *const[]){"python3 train.py --lr 0.1 --epochs 3", "sh -c 'make -j8'"});

	/* one command a prefix of the other: a shared word kept so that neither is empty */
	add(&f, one, "a.jsonl", t1, NULL);
	add(&f, two, "b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"sleep", "sleep 1"});

	/* the same command twice: the logs' names, without their shared extension */
	add(&f, lr1, "/data/run-1.jsonl", t1, NULL);
	add(&f, lr1, "/data/run-2.jsonl", t2, NULL);
	check(&f, (const char *const[]){"run-1", "run-2"});

	/* the same names in two directories: with the directories */
	add(&f, lr1, "/data/x/run.jsonl", t1, NULL);
	add(&f, lr1, "/data/y/run.jsonl", t1, NULL);
	add(&f, lr2, "/data/z/run.jsonl", t1, NULL);
	check(&f, (const char *const[]){"x/run", "y/run", "z/run"});

	/* the same log twice: its start times differ only when the runs do; else its place */
	add(&f, lr1, "run.jsonl", t1, NULL);
	add(&f, lr1, "run.jsonl", t1, NULL);
	check(&f, (const char *const[]){"run.jsonl #1", "run.jsonl #2"});

	/* own labels win, also over defaults for the others */
	add(&f, lr1, "a.jsonl", t1, "baseline");
	add(&f, lr2, "b.jsonl", t1, NULL);
	check(&f, (const char *const[]){"baseline", "--lr 0.01"});

	/* one log: its own label, else its log's name */
	add(&f, lr1, "/tmp/a.jsonl", t1, NULL);
	check(&f, (const char *const[]){"a.jsonl"});
	add(&f, lr1, "/tmp/a.jsonl", t1, "mine");
	check(&f, (const char *const[]){"mine"});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
