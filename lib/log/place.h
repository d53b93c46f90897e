/*
 * place: where a recording ran in a job of many processes or nodes (struct place_info, the
 * header's "place"), from what the launcher put in its environment: the rank, the job, the
 * node. The recorder reads it from memline's own environment; the reader derives it the same
 * way from an older log's "job" variables. Also the -o patterns (%r, %h, %j, %p, %n), which
 * name a log after its place. See docs/clusters.md.
 *
 * Nothing here prints, exits or reads anything but what the caller's getter gives it.
 */
#ifndef MEMLINE_PLACE_H
#define MEMLINE_PLACE_H

#include <stdbool.h>
#include <sys/types.h>

#include "log/record.h"
#include "util/strbuf.h"

/* A variable's value by name, or NULL when it is not set. */
typedef const char *place_get_fn(void *data, const char *name);

/* The process environment (getenv), as a place_get_fn; data is not used. */
const char *place_getenv(void *data, const char *name);

/*
 * Every variable place_from_vars and place_host may read, NULL-terminated: the recorder keeps
 * at least these in the header's "job" object, so that a reader can derive the place again.
 */
extern const char *const place_vars[];

/* Sets p to "nowhere in particular": no job, rank or launcher, every number -1. */
void place_init(struct place_info *p);
/* Frees p's strings and sets it up again as place_init does. */
void place_release(struct place_info *p);
/* A copy of src into dst (which is overwritten, not released). Returns 0, -1 out of memory. */
int place_copy(struct place_info *dst, const struct place_info *src);

/*
 * Fills p (overwritten, not released) from the variables get gives: the rank from the first
 * launcher whose rank variable is set and a number, in this order: OMPI_COMM_WORLD_RANK (Open
 * MPI's mpirun, launcher "openmpi"), PMIX_RANK ("pmix": a PMIx server, such as srun
 * --mpi=pmix), PMI_RANK ("pmi": MPICH's and Intel MPI's mpiexec, srun --mpi=pmi2),
 * SLURM_PROCID ("slurm": srun, or a batch script), PBS_VNODENUM ("pbs": pbsdsh; PBS_TASKNUM is
 * no rank, see place.c). The rank's local rank, the job's size and the node's index come from
 * the same launcher's variables only (another launcher's may be those of a process above this
 * one: an mpirun in a Slurm batch script sees the script's SLURM_PROCID 0), except that a pmix
 * or pmi rank that srun started itself (SLURM_PROCID is the same number) takes what Slurm
 * says of it too. The job's id is the batch system's (SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID,
 * SLURM_JOB_ID, PBS_JOBID), else the MPI job's (PMIX_NAMESPACE, OMPI_MCA_ess_base_jobid).
 * node_wide is left false. Returns 0, or -1 out of memory (p is then as place_init leaves it).
 */
int place_from_vars(struct place_info *p, place_get_fn *get, void *data);

/*
 * The name of the node memline runs on, for %h: Slurm's name of it (SLURMD_NODENAME: a host
 * may run several slurmd, each a node of its own), else nodename (uname's).
 */
const char *place_host(place_get_fn *get, void *data, const char *nodename);

/* What a log path pattern names (place_expand's *used). */
enum place_pattern {
	PLACE_RANK = 1u << 0, /* %r */
	PLACE_HOST = 1u << 1, /* %h */
	PLACE_JOB = 1u << 2,  /* %j */
	PLACE_PID = 1u << 3,  /* %p */
	PLACE_NODE = 1u << 4, /* %n */
};

/*
 * Expands a log path pattern into out: %r the rank, %h the host name up to its first dot (as
 * Slurm and PBS name nodes), %j the job's id, %p pid, %n the node's index, %% a percent sign;
 * everything else is copied as it is. A substituted value never adds a directory: a '/' in it
 * becomes '_'. Sets *used (may be NULL) to the enum place_pattern bits of what it names.
 * Returns 0, or -1 with a one-line message in err (out left partial): a '%' followed by
 * anything else or by nothing, or a value p does not have (naming the variables looked for).
 */
int place_expand(const char *pattern, const struct place_info *p, const char *host, pid_t pid,
		 struct strbuf *out, unsigned *used, struct strbuf *err);

#endif
