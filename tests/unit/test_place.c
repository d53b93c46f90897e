/*
 * test_place: a recording's place from fake launcher environments (place_from_vars): Open MPI's
 * mpirun as it really sets them (4.1), srun with and without PMIx, MPICH's mpiexec, pbsdsh and
 * a PBS job script, mpirun inside a Slurm batch script (the outer launcher's variables are the
 * script's, not the rank's), damaged values; and the -o patterns (place_expand).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log/place.h"

/* A fake environment: "NAME=VALUE" strings, NULL-terminated; it also notes every name asked. */
struct env {
	const char *const *vars;
	const char *asked[64];
	size_t n_asked;
};

static const char *get(void *data, const char *name)
{
	struct env *e = data;
	if (e->n_asked < 64)
		e->asked[e->n_asked++] = name;
	size_t len = strlen(name);
	for (const char *const *v = e->vars; *v; v++)
		if (!strncmp(*v, name, len) && (*v)[len] == '=')
			return *v + len + 1;
	return NULL;
}

static void from(struct place_info *p, const char *const *vars)
{
	struct env e = {.vars = vars};
	assert_int_equal(place_from_vars(p, get, &e), 0);
	/* every name it read is one the recorder keeps in the header's "job" */
	for (size_t i = 0; i < e.n_asked; i++) {
		bool listed = false;
		for (const char *const *v = place_vars; *v && !listed; v++)
			listed = !strcmp(*v, e.asked[i]);
		if (!listed)
			fail_msg("place_from_vars read %s, which place_vars does not list",
				 e.asked[i]);
	}
}

static void assert_place(const struct place_info *p, const char *job, long rank, long local,
			 long size, long node, const char *launcher)
{
	if (job)
		assert_string_equal(p->job, job);
	else
		assert_null(p->job);
	assert_int_equal(p->rank, rank);
	assert_int_equal(p->local_rank, local);
	assert_int_equal(p->size, size);
	assert_int_equal(p->node_index, node);
	if (launcher)
		assert_string_equal(p->launcher, launcher);
	else
		assert_null(p->launcher);
	assert_false(p->node_wide);
}

static void test_nowhere(void **state)
{
	(void)state;
	const char *const vars[] = {"HOME=/root", "PATH=/bin", NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, NULL, -1, -1, -1, -1, NULL);
	place_release(&p);
}

/* What Open MPI 4.1's mpirun -n 4 gives rank 2 (a subset, as env shows it). */
static void test_openmpi(void **state)
{
	(void)state;
	const char *const vars[] = {"OMPI_COMM_WORLD_RANK=2",
				    "OMPI_COMM_WORLD_SIZE=4",
				    "OMPI_COMM_WORLD_LOCAL_RANK=2",
				    "OMPI_COMM_WORLD_LOCAL_SIZE=4",
				    "OMPI_COMM_WORLD_NODE_RANK=2",
				    "OMPI_MCA_ess_base_jobid=599130113",
				    "OMPI_MCA_orte_num_nodes=1",
				    "PMIX_NAMESPACE=599130113",
				    "PMIX_RANK=2",
				    "PMIX_ID=599130113.2",
				    NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, "599130113", 2, 2, 4, -1, "openmpi");
	place_release(&p);
}

/* mpirun in a Slurm batch script: the script's SLURM_PROCID 0 is not the rank's, nor its node. */
static void test_openmpi_in_slurm_batch(void **state)
{
	(void)state;
	const char *const vars[] = {"SLURM_JOB_ID=881",	       "SLURM_PROCID=0",
				    "SLURM_LOCALID=0",	       "SLURM_NODEID=0",
				    "SLURM_NTASKS=64",	       "OMPI_COMM_WORLD_RANK=17",
				    "OMPI_COMM_WORLD_SIZE=32", NULL};
	struct place_info p;
	from(&p, vars);
	/* the batch job is the job; Open MPI gives no local rank here, Slurm's is not taken */
	assert_place(&p, "881", 17, -1, 32, -1, "openmpi");
	place_release(&p);
}

/* srun -n 8 (no MPI plugin): task 5, on the second node. */
static void test_srun(void **state)
{
	(void)state;
	const char *const vars[] = {"SLURM_JOB_ID=9001",      "SLURM_JOBID=9001", "SLURM_PROCID=5",
				    "SLURM_LOCALID=1",	      "SLURM_NODEID=1",	  "SLURM_NTASKS=8",
				    "SLURM_STEP_NUM_TASKS=6", "SLURM_STEP_ID=0",  NULL};
	struct place_info p;
	from(&p, vars);
	/* the step's tasks, not the job's */
	assert_place(&p, "9001", 5, 1, 6, 1, "slurm");
	place_release(&p);

	const char *const older[] = {"SLURM_JOBID=12", "SLURM_PROCID=0", "SLURM_NTASKS=2", NULL};
	from(&p, older);
	assert_place(&p, "12", 0, -1, 2, -1, "slurm");
	place_release(&p);
}

/* An array task: the job as squeue names it. */
static void test_slurm_array(void **state)
{
	(void)state;
	const char *const vars[] = {"SLURM_JOB_ID=1236", "SLURM_ARRAY_JOB_ID=1234",
				    "SLURM_ARRAY_TASK_ID=2", "SLURM_PROCID=0", NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, "1234_2", 0, -1, -1, -1, "slurm");
	place_release(&p);
}

/* srun --mpi=pmix: PMIx's rank first, and Slurm's variables are this task's. */
static void test_srun_pmix(void **state)
{
	(void)state;
	const char *const vars[] = {"PMIX_RANK=3",
				    "PMIX_NAMESPACE=slurm.pmix.77.0",
				    "SLURM_JOB_ID=77",
				    "SLURM_PROCID=3",
				    "SLURM_LOCALID=1",
				    "SLURM_NODEID=1",
				    "SLURM_STEP_NUM_TASKS=4",
				    NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, "77", 3, 1, 4, 1, "pmix");
	place_release(&p);

	/* a PMIx rank that is not Slurm's task (a launcher inside a batch script) */
	const char *const inside[] = {"PMIX_RANK=3", "PMIX_NAMESPACE=prterun-n1-4242@1",
				      "SLURM_PROCID=0", "SLURM_NODEID=0", NULL};
	from(&p, inside);
	assert_place(&p, "prterun-n1-4242@1", 3, -1, -1, -1, "pmix");
	place_release(&p);
}

/* MPICH's (and Intel MPI's) Hydra mpiexec -n 6. */
static void test_hydra(void **state)
{
	(void)state;
	const char *const vars[] = {"PMI_RANK=4",	 "PMI_SIZE=6", "MPI_LOCALRANKID=0",
				    "MPI_LOCALNRANKS=2", "PMI_FD=5",   NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, NULL, 4, 0, 6, -1, "pmi");
	place_release(&p);
}

/* pbsdsh in a Torque job of 8 slots on 2 hosts: task 6 on the second host. */
static void test_pbsdsh(void **state)
{
	(void)state;
	const char *const vars[] = {"PBS_JOBID=4711.pbs01",
				    "PBS_VNODENUM=6",
				    "PBS_NODENUM=1",
				    "PBS_TASKNUM=3",
				    "PBS_NP=8",
				    "PBS_NUM_NODES=2",
				    NULL};
	struct place_info p;
	from(&p, vars);
	/* PBS_TASKNUM (a per-host counter from 1) is not the rank */
	assert_place(&p, "4711.pbs01", 6, -1, 8, 1, "pbs");
	place_release(&p);

	/* PBS_TASKNUM alone is no rank; a PBS array job's id comes whole */
	const char *const script[] = {"PBS_JOBID=4712[3].pbs01", "PBS_TASKNUM=00000001",
				      "PBS_ARRAY_INDEX=3", NULL};
	from(&p, script);
	assert_place(&p, "4712[3].pbs01", -1, -1, -1, -1, NULL);
	place_release(&p);
}

/* A value that is no number is as good as unset: the next launcher's is taken. */
static void test_damaged(void **state)
{
	(void)state;
	const char *const vars[] = {"OMPI_COMM_WORLD_RANK=two",
				    "OMPI_COMM_WORLD_SIZE=4",
				    "PMI_RANK=-1",
				    "PMI_SIZE=0",
				    "SLURM_PROCID= 7",
				    "PBS_VNODENUM=99999999999999999999",
				    "SLURM_JOB_ID=",
				    "PBS_JOBID=x",
				    NULL};
	struct place_info p;
	from(&p, vars);
	assert_place(&p, "x", -1, -1, -1, -1, NULL);
	place_release(&p);

	const char *const sized[] = {"PMI_RANK=0", "PMI_SIZE=0", "MPI_LOCALRANKID=1x", NULL};
	from(&p, sized);
	assert_place(&p, NULL, 0, -1, -1, -1, "pmi"); /* a size of 0 is no size */
	place_release(&p);
}

static void test_copy(void **state)
{
	(void)state;
	const char *const vars[] = {"SLURM_JOB_ID=5", "SLURM_PROCID=1", NULL};
	struct place_info p, q;
	from(&p, vars);
	assert_int_equal(place_copy(&q, &p), 0);
	place_release(&p);
	assert_place(&q, "5", 1, -1, -1, -1, "slurm");
	place_release(&q);
	assert_place(&q, NULL, -1, -1, -1, -1, NULL);
}

/* place_expand into a string; NULL with the message in msg when it fails. */
static char *expand(const char *pattern, const struct place_info *p, const char *host,
		    unsigned *used, char *msg, size_t size)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int ret = place_expand(pattern, p, host, 4242, &out, used, &err);
	snprintf(msg, size, "%s", err.buf ? err.buf : "");
	strbuf_release(&err);
	if (ret < 0) {
		assert_true(msg[0] != '\0');
		strbuf_release(&out);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

static void test_patterns(void **state)
{
	(void)state;
	const char *const vars[] = {"SLURM_JOB_ID=881", "SLURM_PROCID=12", "SLURM_NODEID=3", NULL};
	struct place_info p;
	from(&p, vars);
	char msg[512];
	unsigned used;
	char *s = expand("logs/solver.%r.jsonl", &p, "n17.cluster.example", &used, msg, 512);
	assert_string_equal(s, "logs/solver.12.jsonl");
	assert_int_equal(used, PLACE_RANK);
	free(s);
	s = expand("%j/%h-%n-%p-100%%.jsonl", &p, "n17.cluster.example", &used, msg, 512);
	assert_string_equal(s, "881/n17-3-4242-100%.jsonl");
	assert_int_equal(used, PLACE_JOB | PLACE_HOST | PLACE_NODE | PLACE_PID);
	free(s);
	s = expand("plain.jsonl", &p, NULL, &used, msg, 512);
	assert_string_equal(s, "plain.jsonl");
	assert_int_equal(used, 0);
	free(s);
	/* a value never makes a directory */
	struct place_info q = p;
	q.job = "a/../b";
	s = expand("%j.jsonl", &q, "/x.y", &used, msg, 512);
	assert_string_equal(s, "a_.._b.jsonl");
	free(s);
	s = expand("%h.jsonl", &q, "/etc/x", &used, msg, 512);
	assert_string_equal(s, "_etc_x.jsonl");
	free(s);
	place_release(&p);
}

/* %h: Slurm's name of the node where it has one (several slurmd on one host), else the host. */
static void test_host(void **state)
{
	(void)state;
	const char *const slurm[] = {"SLURMD_NODENAME=n2", NULL};
	const char *const none[] = {"SLURMD_NODENAME=", NULL};
	struct env e = {.vars = slurm};
	assert_string_equal(place_host(get, &e, "vm.example"), "n2");
	e.vars = none;
	assert_string_equal(place_host(get, &e, "vm.example"), "vm.example");
	assert_null(place_host(get, &e, NULL));
}

static void test_bad_patterns(void **state)
{
	(void)state;
	struct place_info p;
	place_init(&p);
	char msg[512];
	assert_null(expand("log.%x.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "'%x' is not a pattern"));
	assert_null(expand("log.%\xc3\xa9.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "'%\xc3\xa9' is not a pattern"));
	assert_null(expand("log%", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "%%"));
	/* a value the environment does not give: the variables looked for are named */
	assert_null(expand("solver.%r.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "%r is the rank"));
	assert_non_null(strstr(msg, "OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, SLURM_PROCID or "
				    "PBS_VNODENUM"));
	assert_null(expand("%j.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "SLURM_JOB_ID"));
	assert_non_null(strstr(msg, "OMPI_MCA_ess_base_jobid"));
	assert_null(expand("%n.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "SLURM_NODEID or PBS_NODENUM"));
	assert_null(expand("%h.jsonl", &p, "", NULL, msg, 512));
	/* under mpirun: a rank, but no node index */
	const char *const vars[] = {"OMPI_COMM_WORLD_RANK=1", NULL};
	from(&p, vars);
	assert_null(expand("%n.jsonl", &p, "h", NULL, msg, 512));
	assert_non_null(strstr(msg, "the launcher (openmpi) does not give"));
	place_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nowhere),
		cmocka_unit_test(test_openmpi),
		cmocka_unit_test(test_openmpi_in_slurm_batch),
		cmocka_unit_test(test_srun),
		cmocka_unit_test(test_slurm_array),
		cmocka_unit_test(test_srun_pmix),
		cmocka_unit_test(test_hydra),
		cmocka_unit_test(test_pbsdsh),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_bad_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
