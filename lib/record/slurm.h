/*
 * slurm: the processes of a Slurm job on this node, for `memline attach --slurm-job ID`
 * (docs/clusters.md). Where Slurm made the job a cgroup (proctrack/cgroup, task/cgroup), its
 * processes are those of that cgroup:
 *
 *   cgroup v1  MOUNT/slurm_NODE/uid_UID/job_ID in a controller's hierarchy (memory, freezer,
 *              cpuset, ...), as a Slurm built for several slurmd per host (Debian's) names it
 *              with the node's name; MOUNT/slurm/uid_UID/job_ID otherwise
 *   cgroup v2  BASE/system.slice/NODE_slurmstepd.scope/job_ID or BASE/system.slice/
 *              slurmstepd.scope/job_ID (Slurm 22.05 and later; BASE is the mount, or in a
 *              container the parent of init's cgroup), and the older BASE/slurm[_NODE]/uid_UID/
 *              job_ID
 *
 * Elsewhere (proctrack/linuxproc or pgid) they are the processes whose environment has
 * SLURM_JOB_ID=ID. With several slurmd on one host (NodeName=n1 Port=..., NodeName=n2 ...),
 * each node's processes are told apart by the node's name, in the cgroup's path or in the
 * processes' SLURMD_NODENAME. Every file is read through procfs, relative to its roots, so
 * fixture trees stand in for a node in the unit tests.
 */
#ifndef MEMLINE_SLURM_H
#define MEMLINE_SLURM_H

#include <stdbool.h>
#include <sys/types.h>

#include "record/procfs.h"
#include "util/strbuf.h"

/* Parses a Slurm job id, SLURM_JOB_ID's decimal number (1 to 4294967295); false otherwise. */
bool slurm_job_id_parse(const char *text, unsigned long *id);

/* What slurm_job_cgroup found. */
enum slurm_found {
	SLURM_NONE = 0,	 /* no cgroup of the job here */
	SLURM_FOUND = 1, /* its directory */
	SLURM_AMBIGUOUS =
		-1, /* the node is unknown, and this host has the job's cgroups of several */
};

/*
 * The cgroup of job id on node (its NodeName, SLURMD_NODENAME; NULL when unknown), into dir
 * (appended, absolute in the system's tree). With memory, only a memory cgroup (the v1 memory
 * hierarchy's, a v2 one with memory.current): the job's memory, every page once. Without, the
 * first of any controller's, in which its processes can be listed. For a named node, its own
 * (slurm_NODE, NODE_slurmstepd.scope) is taken before the unnamed layout (slurm,
 * slurmstepd.scope). SLURM_NONE: where it looked, in why; SLURM_AMBIGUOUS: which nodes', in why.
 */
enum slurm_found slurm_job_cgroup(const struct procfs *fs, unsigned long id, const char *node,
				  bool memory, struct strbuf *dir, struct strbuf *why);

/* What a scan of the processes' environments found. */
struct slurm_scan {
	long found;	 /* processes of the job (fn was called for each) */
	long denied;	 /* whose environment the kernel would not show (another user's) */
	char node[64];	 /* the SLURMD_NODENAME of the first found that has one; "" none */
	bool many_nodes; /* the ones found name more than one node (node was NULL) */
};

/*
 * Calls fn for every process whose environment (/proc/PID/environ) has SLURM_JOB_ID=id and,
 * node given, whose SLURMD_NODENAME is node or absent (a process that unset it is the job's on
 * every node of this host: it cannot be told apart). A process that ends during the scan is
 * no error. Fills scan; returns 0, or -1 when /proc cannot be listed.
 */
int slurm_job_environ_pids(const struct procfs *fs, unsigned long id, const char *node,
			   void (*fn)(pid_t pid, void *data), void *data, struct slurm_scan *scan);

#endif
