/*
 * test_job: many logs as one job (lib/model/job.c) from the fixture jobs under
 * $MEMLINE_FIXTURES/jobs: three ranks whose clocks were exact, drifting, and stepped into sync
 * (clocks/: each rank's spike must land at the job time its clock records say, not where its
 * raw time would put it), and a broken job (broken/: logs of formats 2, 3 and 4, one cut off,
 * one rank missing, one file that is not a log). job_build from runs in memory must agree with
 * the streaming job_load. The JSON report is parsed back to check its contract.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/job.h"
#include "render/report.h"

#define MIB			 1024LL
#define assert_within(a, b, eps) assert_true((a) >= (b) - (eps) && (a) <= (b) + (eps))

static char **paths(const char *dir, const char *const *names, size_t n)
{
	const char *root = getenv("MEMLINE_FIXTURES");
	char **p = calloc(n, sizeof(*p));
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addf(&sb, "%s/jobs/%s/%s", root ? root : "tests/fixtures", dir, names[i]);
		p[i] = strbuf_detach(&sb, NULL);
	}
	return p;
}

static void free_paths(char **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

static const char *const clock_logs[] = {"rank0.jsonl", "rank1.jsonl", "rank2.jsonl"};

static void load(struct job *job, const char *dir, const char *const *names, size_t n)
{
	char **p = paths(dir, names, n);
	struct strbuf err = STRBUF_INIT;
	int ret = job_load(job, p, n, NULL, NULL, &err);
	if (ret)
		fail_msg("job_load(%s): %s", dir, err.buf);
	strbuf_release(&err);
	free_paths(p, n);
}

static void check_clocks(const struct job *job)
{
	assert_int_equal(job->n_logs, 3);
	assert_int_equal(job->n_ranks, 3);
	assert_int_equal(job->n_nodes, 2);
	assert_string_equal(job->job_id, "77");
	assert_string_equal(job->launcher, "slurm");
	/* rank 2's header said 995 s, unsynchronised; its synchronised readings say it began at
	 * 1000 s, with rank 0: job time 0 */
	assert_within(job->start_unix, 1000.0, job->bin + 1e-9);
	double eps = job->bin + 0.001;
	/* rank 0: exact, its spike at its t=6 */
	assert_int_equal(job->logs[0].peak, 500 * MIB);
	assert_within(job->logs[0].peak_t, 6.0, eps);
	/* rank 1: began 1 s later, its clock 0.5 s fast at t=5 and 1 s at t=10; its t=8 was wall
	 * 1001 + 8 + 0.8 */
	assert_within(job->logs[1].start, 1.0, eps);
	assert_within(job->logs[1].peak_t, 9.8, eps);
	/* rank 2: its t=4, by the synchronised readings */
	assert_within(job->logs[2].peak_t, 4.0, eps);
	assert_within(job->logs[2].start, 0.0, eps);
	/* the job peaked with rank 0's spike: 500 + 100 + 100 MiB */
	assert_int_equal(job->peak, 700 * MIB);
	assert_within(job->peak_t, 6.0, 1.0);
	/* the clocks' error: of the readings used (rank 2's unsynchronised 16 s is not) */
	assert_within(job->clock_error, 0.003, 1e-9);
	/* imbalance: 500 against the median 300 */
	assert_int_equal(job->n_by_peak, 3);
	assert_int_equal(job->by_peak[0], 0);
	assert_int_equal(job->median_peak, 300 * MIB);
	assert_int_equal(job->status, RUN_COMPLETED);
	/* nodes: n1 with rank 0, n2 with ranks 1 and 2 */
	assert_string_equal(job->nodes[job->logs[0].node].host, "n1");
	assert_int_equal(job->nodes[job->logs[1].node].n_ranks, 2);
	assert_int_equal(job->nodes[job->logs[0].node].peak, 500 * MIB);
	/* the band across ranks: at rank 0's spike, lowest 100, highest 500 */
	size_t b = job_bin(job, job->logs[0].peak_t);
	assert_int_equal(job->rank_max[b], 500 * MIB);
	assert_int_equal(job->rank_min[b], 100 * MIB);
	assert_int_equal(job->rank_median[b], 100 * MIB);
}

static void test_clocks(void **state)
{
	(void)state;
	struct job job;
	load(&job, "clocks", clock_logs, 3);
	check_clocks(&job);
	job_release(&job);
}

static void test_build_matches_load(void **state)
{
	(void)state;
	char **p = paths("clocks", clock_logs, 3);
	struct run runs[3];
	const struct run *rp[3];
	for (size_t i = 0; i < 3; i++) {
		struct strbuf err = STRBUF_INIT;
		assert_int_equal(run_load(&runs[i], p[i], NULL, NULL, &err), 0);
		strbuf_release(&err);
		rp[i] = &runs[i];
	}
	struct job job;
	assert_int_equal(job_build(&job, rp, p, 3), 0);
	check_clocks(&job);
	job_release(&job);
	for (size_t i = 0; i < 3; i++)
		run_release(&runs[i]);
	free_paths(p, 3);
}

static void test_broken(void **state)
{
	(void)state;
	static const char *const names[] = {"rank0.jsonl", "rank1.jsonl", "rank3.jsonl",
					    "garbage.jsonl"};
	struct job job;
	load(&job, "broken", names, 4);
	assert_int_equal(job.n_logs, 4);
	assert_int_equal(job.n_unreadable, 1);
	assert_true(job.logs[3].unreadable);
	assert_non_null(job.logs[3].error);
	/* formats 4, 3 and 2: the older ones' place from their header's job variables */
	assert_int_equal(job.logs[0].format, 4);
	assert_int_equal(job.logs[1].format, 3);
	assert_int_equal(job.logs[2].format, 2);
	assert_int_equal(job.logs[1].place.rank, 1);
	assert_int_equal(job.logs[2].place.rank, 3);
	assert_int_equal(job.size, 4);
	assert_int_equal(job.n_missing_ranks, 1);
	assert_int_equal(job.missing_ranks[0], 2);
	/* rank 1's log is cut off: the job's ending is not known, and rank 1 is named */
	assert_true(job.logs[1].truncated);
	assert_int_equal(job.status, RUN_INCOMPLETE);
	assert_int_equal(job.worst, 1);
	assert_int_equal(job.logs[0].peak, 300000);
	assert_int_equal(job.logs[1].peak, 400000);

	struct strbuf out = STRBUF_INIT;
	report_job_json(&job, &out);
	json_error_t jerr;
	json_t *root = json_loadb(out.buf, out.len, 0, &jerr);
	if (!root)
		fail_msg("report_job_json: %s: %s", jerr.text, out.buf);
	json_t *j = json_object_get(root, "job");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "incomplete");
	assert_int_equal(json_integer_value(json_object_get(j, "logs")), 4);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "missing_ranks"), 0)),
			 2);
	assert_int_equal(json_array_size(json_object_get(j, "unreadable")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "worst"), "rank")),
			 1);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "heaviest"), "peak")),
		400000 * 1024LL);
	assert_int_equal(json_array_size(json_object_get(root, "ranks")), 3);
	assert_int_equal(json_array_size(json_object_get(root, "nodes")), 2);
	json_decref(root);
	strbuf_reset(&out);
	report_job_text(&job, 0, &out);
	assert_non_null(strstr(out.buf, "missing:  1 rank with no log: 2"));
	assert_non_null(strstr(out.buf, "cut off:"));
	strbuf_release(&out);
	job_release(&job);
}

static void test_none_readable(void **state)
{
	(void)state;
	static const char *const names[] = {"garbage.jsonl", "no-such.jsonl"};
	char **p = paths("broken", names, 2);
	struct job job;
	struct strbuf err = STRBUF_INIT;
	assert_int_equal(job_load(&job, p, 2, NULL, NULL, &err), RUN_LOAD_DATAERR);
	assert_non_null(strstr(err.buf, "none of the 2 logs"));
	job_release(&job);
	strbuf_release(&err);
	free_paths(p, 2);
	static const char *const missing[] = {"no-such.jsonl"};
	p = paths("broken", missing, 1);
	assert_int_equal(job_load(&job, p, 1, NULL, NULL, &err), RUN_LOAD_NOINPUT);
	job_release(&job);
	strbuf_release(&err);
	free_paths(p, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_build_matches_load),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_none_readable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
