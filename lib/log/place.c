/*
 * place (log/place.h): a recording's rank, job and node from the launcher's variables, and the
 * -o patterns that name a log after them.
 *
 * Each launcher is a row of the table below: the variable that gives its rank and those that
 * give, for the same process, its rank on its node, the job's size and its node's index. The
 * first row whose rank variable is set wins, and only its row is read: a process started by
 * one launcher inside another (mpirun in a Slurm batch script) also sees the outer one's
 * variables, which describe the process above it. The one exception: srun itself starts the
 * ranks of an MPI library it speaks PMIx or PMI-2 with, and then its SLURM_* variables are
 * this very process's, which a SLURM_PROCID equal to the rank shows.
 *
 * PBS: pbsdsh and the TM interface (mpiexec of a PBS-aware MPI) set, for each task, PBS_VNODENUM
 * (the 0-based number of the virtual node the task runs on, one per task pbsdsh starts: the
 * rank), PBS_NODENUM (the 0-based index of its host) and PBS_TASKNUM, a 1-based counter of the
 * tasks the host's MOM started, the job script being the first: not a rank of the job (and
 * printed in hexadecimal by some PBS versions). The rank is PBS_VNODENUM's; PBS_TASKNUM is
 * kept in the header's "job" only. PBS_NP, the job's slots, is Torque's: its size.
 */
#include "log/place.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VARS_MAX 3

struct launcher {
	const char *name;
	const char *rank;
	const char *local_rank[VARS_MAX]; /* the first set of these; NULL-terminated */
	const char *size[VARS_MAX];
	const char *node_index[VARS_MAX];
	bool from_srun; /* srun may have started it itself: Slurm's row may be its own */
};

static const struct launcher launchers[] = {
	{"openmpi",
	 "OMPI_COMM_WORLD_RANK",
	 {"OMPI_COMM_WORLD_LOCAL_RANK"},
	 {"OMPI_COMM_WORLD_SIZE"},
	 {NULL},
	 false},
	{"pmix", "PMIX_RANK", {NULL}, {NULL}, {NULL}, true},
	{"pmi", "PMI_RANK", {"MPI_LOCALRANKID"}, {"PMI_SIZE"}, {NULL}, true},
	/* SLURM_STEP_NUM_TASKS: the tasks of this step (srun); SLURM_NTASKS: the job's */
	{"slurm",
	 "SLURM_PROCID",
	 {"SLURM_LOCALID"},
	 {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"},
	 {"SLURM_NODEID"},
	 false},
	{"pbs", "PBS_VNODENUM", {NULL}, {"PBS_NP"}, {"PBS_NODENUM"}, false},
};
#define N_LAUNCHERS (sizeof(launchers) / sizeof(launchers[0]))
#define SLURM_ROW   3

/* The job's id, the first set: the batch system's job, else the MPI job's. */
static const char *const job_vars[] = {
	"SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
};
#define N_JOB_VARS (sizeof(job_vars) / sizeof(job_vars[0]))

/* A Slurm array task's job is named as squeue names it: ARRAYJOB_TASK. */
#define ARRAY_JOB  "SLURM_ARRAY_JOB_ID"
#define ARRAY_TASK "SLURM_ARRAY_TASK_ID"

const char *const place_vars[] = {
	"OMPI_COMM_WORLD_RANK",
	"OMPI_COMM_WORLD_LOCAL_RANK",
	"OMPI_COMM_WORLD_SIZE",
	"PMIX_RANK",
	"PMI_RANK",
	"MPI_LOCALRANKID",
	"PMI_SIZE",
	"SLURM_PROCID",
	"SLURM_LOCALID",
	"SLURM_STEP_NUM_TASKS",
	"SLURM_NTASKS",
	"SLURM_NODEID",
	"PBS_VNODENUM",
	"PBS_NP",
	"PBS_NODENUM",
	ARRAY_JOB,
	ARRAY_TASK,
	"SLURM_JOB_ID",
	"SLURM_JOBID",
	"PBS_JOBID",
	"PMIX_NAMESPACE",
	"OMPI_MCA_ess_base_jobid",
	"SLURMD_NODENAME",
	NULL,
};

const char *place_getenv(void *data, const char *name)
{
	(void)data;
	return getenv(name);
}

void place_init(struct place_info *p)
{
	*p = (struct place_info){.rank = -1, .local_rank = -1, .size = -1, .node_index = -1};
}

void place_release(struct place_info *p)
{
	free(p->job);
	free(p->launcher);
	place_init(p);
}

static int dup_or_null(char **dst, const char *s)
{
	*dst = NULL;
	return s && !(*dst = strdup(s)) ? -1 : 0;
}

int place_copy(struct place_info *dst, const struct place_info *src)
{
	*dst = *src;
	/* none of src's strings may be left in dst for place_release to free */
	dst->job = dst->launcher = NULL;
	if (dup_or_null(&dst->job, src->job) < 0 ||
	    dup_or_null(&dst->launcher, src->launcher) < 0) {
		place_release(dst);
		return -1;
	}
	return 0;
}

/* A variable's value when it is set and not empty, else NULL. */
static const char *value(place_get_fn *get, void *data, const char *name)
{
	const char *v = name ? get(data, name) : NULL;
	return v && *v ? v : NULL;
}

/* A variable's value as a number from min up, or -1 when it is unset or not such a number. */
static long number(place_get_fn *get, void *data, const char *name, long min)
{
	const char *s = value(get, data, name);
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || *end || v < min ? -1 : v;
}

/* The first of names that is a number from min up; -1 none. */
static long first_number(place_get_fn *get, void *data, const char *const names[VARS_MAX], long min)
{
	long v = -1;
	for (int i = 0; i < VARS_MAX && names[i] && v < 0; i++)
		v = number(get, data, names[i], min);
	return v;
}

/* The launcher's local rank, size and node index, where p does not have them yet. */
static void take_row(struct place_info *p, const struct launcher *l, place_get_fn *get, void *data)
{
	if (p->local_rank < 0)
		p->local_rank = first_number(get, data, l->local_rank, 0);
	if (p->size < 0)
		p->size = first_number(get, data, l->size, 1);
	if (p->node_index < 0)
		p->node_index = first_number(get, data, l->node_index, 0);
}

/* The job's id: the caller owns it; NULL when none is set, or out of memory (*oom). */
static char *job_id(place_get_fn *get, void *data, bool *oom)
{
	const char *job = value(get, data, ARRAY_JOB), *task = value(get, data, ARRAY_TASK);
	struct strbuf sb = STRBUF_INIT;
	if (job && task) {
		strbuf_addf(&sb, "%s_%s", job, task);
	} else {
		const char *v = NULL;
		for (size_t i = 0; i < N_JOB_VARS && !v; i++)
			v = value(get, data, job_vars[i]);
		if (!v)
			return NULL;
		strbuf_addstr(&sb, v);
	}
	if (sb.oom) {
		strbuf_release(&sb);
		*oom = true;
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

int place_from_vars(struct place_info *p, place_get_fn *get, void *data)
{
	place_init(p);
	bool oom = false;
	p->job = job_id(get, data, &oom);
	for (size_t i = 0; i < N_LAUNCHERS && p->rank < 0; i++) {
		const struct launcher *l = &launchers[i];
		if ((p->rank = number(get, data, l->rank, 0)) < 0)
			continue;
		if (!(p->launcher = strdup(l->name)))
			oom = true;
		take_row(p, l, get, data);
		if (l->from_srun && number(get, data, launchers[SLURM_ROW].rank, 0) == p->rank)
			take_row(p, &launchers[SLURM_ROW], get, data);
	}
	if (oom) {
		place_release(p);
		return -1;
	}
	return 0;
}

/* ---- patterns ---- */

const char *place_host(place_get_fn *get, void *data, const char *nodename)
{
	const char *node = value(get, data, "SLURMD_NODENAME");
	return node ? node : nodename;
}

/* Names, for a message: "A, B or C" of the launchers' variables of one kind. */
static void add_names(struct strbuf *sb, bool rank, bool node)
{
	const char *names[N_LAUNCHERS * VARS_MAX + N_JOB_VARS];
	size_t n = 0;
	for (size_t i = 0; i < N_LAUNCHERS; i++) {
		if (rank)
			names[n++] = launchers[i].rank;
		for (int k = 0; node && k < VARS_MAX && launchers[i].node_index[k]; k++)
			names[n++] = launchers[i].node_index[k];
	}
	for (size_t i = 0; !rank && !node && i < N_JOB_VARS; i++)
		names[n++] = job_vars[i];
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ", names[i]);
}

/* A value into a path: a '/' in it would make a directory of part of it. */
static void add_component(struct strbuf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		strbuf_addch(out, s[i] == '/' ? '_' : s[i]);
}

/* What a pattern names that p does not have: the message. */
static void missing(char c, const struct place_info *p, struct strbuf *err)
{
	switch (c) {
	case 'r':
		strbuf_addstr(err, "%r is the rank, and no launcher set one (");
		add_names(err, true, false);
		strbuf_addstr(err, "): run memline under mpirun, srun, mpiexec or pbsdsh, or leave "
				   "%r out");
		break;
	case 'j':
		strbuf_addstr(err, "%j is the job's id, and none of ");
		add_names(err, false, false);
		strbuf_addstr(err, " is set: run memline in a batch job or under mpirun, or leave "
				   "%j out");
		break;
	case 'n':
		if (p->launcher)
			strbuf_addf(
				err,
				"%%n is the node's index, which the launcher (%s) does not give",
				p->launcher);
		else
			strbuf_addstr(err, "%n is the node's index, and no launcher set one");
		strbuf_addstr(err, " (");
		add_names(err, false, true);
		strbuf_addstr(err, "); use %h, the host, instead");
		break;
	default:
		strbuf_addstr(err, "%h is the host's name, which is unknown");
		break;
	}
}

int place_expand(const char *pattern, const struct place_info *p, const char *host, pid_t pid,
		 struct strbuf *out, unsigned *used, struct strbuf *err)
{
	unsigned names = 0;
	if (used)
		*used = 0;
	for (const char *s = pattern; *s; s++) {
		if (*s != '%') {
			strbuf_addch(out, *s);
			continue;
		}
		char c = *++s;
		switch (c) {
		case '%':
			strbuf_addch(out, '%');
			continue;
		case 'r':
			names |= PLACE_RANK;
			if (p->rank < 0)
				goto unknown;
			strbuf_addf(out, "%ld", p->rank);
			continue;
		case 'n':
			names |= PLACE_NODE;
			if (p->node_index < 0)
				goto unknown;
			strbuf_addf(out, "%ld", p->node_index);
			continue;
		case 'p':
			names |= PLACE_PID;
			strbuf_addf(out, "%ld", (long)pid);
			continue;
		case 'j':
			names |= PLACE_JOB;
			if (!p->job || !*p->job)
				goto unknown;
			add_component(out, p->job, strlen(p->job));
			continue;
		case 'h': {
			names |= PLACE_HOST;
			if (!host || !*host)
				goto unknown;
			size_t len = strcspn(host, ".");
			add_component(out, host, len ? len : strlen(host));
			continue;
		}
		case '\0':
			strbuf_addstr(err, "a '%' ends the pattern; write %% for a percent sign");
			return -1;
		default: {
			/* the whole character (the caller escapes messages) */
			uint32_t cp;
			size_t len = utf8_decode((const unsigned char *)s, strlen(s), &cp);
			strbuf_addf(err,
				    "'%%%.*s' is not a pattern: a log path takes %%r (rank), %%h "
				    "(host), %%j (job id), %%p (pid), %%n (node index) and %%%% (a "
				    "percent sign)",
				    (int)(len ? len : 1), s);
			return -1;
		}
		}
	unknown:
		missing(c, p, err);
		return -1;
	}
	if (used)
		*used = names;
	return 0;
}
