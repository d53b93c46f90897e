/*
 * slurm: finding a Slurm job's processes on this node (see slurm.h).
 *
 * The job's cgroup. The hierarchies to look in come from memline's mount table: cgroup v1's
 * memory hierarchy (or, for listing processes only, any of freezer, memory, cpuset, cpuacct,
 * pids, devices, cpu) and cgroup v2's mount, with, where init's cgroup is not the mount's root
 * (a container), its parent too, which is where Slurm puts system.slice. In each, the layouts
 * Slurm makes are tried: PREFIX/uid_UID/job_ID (v1; v2 before 22.05) and system.slice/
 * SCOPE/job_ID (v2), PREFIX being slurm_NODE or slurm, SCOPE NODE_slurmstepd.scope or
 * slurmstepd.scope. A named node's own names go first, across all hierarchies, then the plain
 * ones: a Slurm built for one slurmd per host names no node. With no node name, every name of
 * either form is looked at, and a job with cgroups of two nodes of this host is ambiguous.
 * CgroupPrepend (cgroup.conf) set to anything but its default is not followed.
 *
 * Environments. /proc/PID/environ is what the process was started with; it can be read by
 * root and by the process's own user, and it is empty for a kernel thread or a zombie.
 */
#include "record/slurm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/cgroup.h"

#define SCOPE "slurmstepd.scope"

bool slurm_job_id_parse(const char *text, unsigned long *id)
{
	if (!text || !*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 10)
		return false;
	errno = 0;
	unsigned long long v = strtoull(text, NULL, 10);
	if (errno || v == 0 || v > 4294967295ULL)
		return false;
	*id = (unsigned long)v;
	return true;
}

/* ---- the job's cgroup ---- */

/* Which names of the layouts a pass takes. */
enum pass {
	PASS_OWN,   /* the node's own: slurm_NODE, NODE_slurmstepd.scope */
	PASS_PLAIN, /* no node's: slurm, slurmstepd.scope */
	PASS_ANY,   /* either, for any node (the node is unknown) */
};

/* The hierarchies to look in. */
#define BASES_MAX 10
struct bases {
	char *dir[BASES_MAX];
	bool v2[BASES_MAX];
	size_t n;
};

struct search {
	const struct procfs *fs;
	const char *node;
	bool memory;
	char job[32];	     /* "job_ID" */
	struct strbuf *dir;  /* the first found */
	struct strbuf first; /* the name (prefix or scope) it was found under */
	struct strbuf names; /* ANY: the names it was found under, "a, b" */
	size_t found;	     /* how many distinct names */
	struct strbuf path, list, sub;
};

static void add_base(struct bases *b, const char *dir, bool v2)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->dir[i], dir))
			return;
	if (b->n < BASES_MAX && (b->dir[b->n] = strdup(dir)))
		b->v2[b->n++] = v2;
}

/* The v2 path of init's cgroup (the "0::" line of /proc/1/cgroup) into out; false if none. */
static bool init_cgroup(const struct procfs *fs, struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = false;
	if (procfs_read_file(fs, "1/cgroup", &sb)) {
		for (char *line = sb.buf; line && *line && !ok;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (!strncmp(line, "0::", 3) && line[3] == '/') {
				strbuf_addstr(out, line + 3);
				ok = !out->oom;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	strbuf_release(&sb);
	return ok;
}

static void find_bases(const struct procfs *fs, bool memory, struct bases *b)
{
	static const char *const controllers[] = {"freezer", "memory",	"cpuset", "cpuacct",
						  "pids",    "devices", "cpu"};
	memset(b, 0, sizeof(*b));
	struct strbuf mi = STRBUF_INIT, dir = STRBUF_INIT;
	if (procfs_mountinfo(fs, &mi)) {
		for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
			if (memory && strcmp(controllers[i], "memory"))
				continue;
			strbuf_reset(&dir);
			if (cgroup_mounts_find_v1(mi.buf, mi.len, controllers[i], &dir))
				add_base(b, dir.buf, false);
		}
	}
	struct cgroup_mounts m;
	cgroup_mounts_read(&m, fs);
	if (m.v2) {
		/* Slurm puts system.slice beside init's cgroup: the parent of "/init.scope" */
		struct strbuf init = STRBUF_INIT;
		if (init_cgroup(fs, &init)) {
			char *slash = strrchr(init.buf, '/');
			*slash = '\0';
			strbuf_reset(&dir);
			if (init.buf[0] && cgroup_mounts_dir(&m, 2, init.buf, &dir))
				add_base(b, dir.buf, true);
		}
		strbuf_release(&init);
		add_base(b, m.v2, true);
	}
	cgroup_mounts_release(&m);
	strbuf_release(&mi);
	strbuf_release(&dir);
}

static void release_bases(struct bases *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->dir[i]);
	b->n = 0;
}

/* The names in the directory path, each followed by a NUL, into out (emptied first). */
static void list_dir(const struct procfs *fs, const char *path, struct strbuf *out)
{
	strbuf_reset(out);
	int fd = procfs_sys_open(fs, path, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
			strbuf_add(out, e->d_name, strlen(e->d_name) + 1);
	closedir(d);
}

/* Whether path is a directory (and, file given, has file). */
static bool is_dir(const struct procfs *fs, const char *path, const char *file)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, path);
	if (file)
		strbuf_addf(&sb, "/%s", file);
	int fd = sb.oom ? -1 : procfs_sys_open(fs, sb.buf, O_PATH | (file ? 0 : O_DIRECTORY));
	strbuf_release(&sb);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether name is a layout's name (a PREFIX, or a SCOPE when scope) that pass takes. */
static bool name_ok(const char *name, bool scope, const char *node, enum pass pass)
{
	size_t n = strlen(name), k = strlen(SCOPE);
	if (pass == PASS_PLAIN)
		return !strcmp(name, scope ? SCOPE : "slurm");
	if (!scope) {
		if (strncmp(name, "slurm_", 6) || !name[6])
			return pass == PASS_ANY && !strcmp(name, "slurm");
		return pass == PASS_ANY || !strcmp(name + 6, node);
	}
	if (pass == PASS_ANY && !strcmp(name, SCOPE))
		return true;
	if (n < k + 2 || strcmp(name + n - k, SCOPE) || name[n - k - 1] != '_')
		return false;
	return pass == PASS_ANY || (strlen(node) == n - k - 1 && !strncmp(name, node, n - k - 1));
}

/* The job's directory path, under the layout's name: taken if it is one (of memory). */
static void try_dir(struct search *s, const char *path, const char *name, bool v2)
{
	if (!is_dir(s->fs, path, NULL) ||
	    (s->memory && !is_dir(s->fs, path, v2 ? "memory.current" : "memory.usage_in_bytes")))
		return;
	if (!s->found) {
		strbuf_addstr(s->dir, path);
		strbuf_addstr(&s->first, name);
	} else if (!strcmp(s->first.buf, name)) {
		return;
	}
	strbuf_addf(&s->names, "%s%s", s->found ? ", " : "", name);
	s->found++;
}

/* Looks for the job in the hierarchy base, under the names pass takes. */
static void search_base(struct search *s, const char *base, bool v2, enum pass pass)
{
	struct strbuf prefixes = STRBUF_INIT;
	list_dir(s->fs, base, &prefixes);
	for (size_t i = 0; i < prefixes.len && (pass == PASS_ANY || !s->found);) {
		const char *name = prefixes.buf + i;
		i += strlen(name) + 1;
		if (!name_ok(name, false, s->node, pass))
			continue;
		/* PREFIX/uid_UID/job_ID */
		strbuf_reset(&s->path);
		strbuf_addf(&s->path, "%s/%s", base, name);
		list_dir(s->fs, s->path.buf, &s->list);
		for (size_t j = 0; j < s->list.len;) {
			const char *uid = s->list.buf + j;
			j += strlen(uid) + 1;
			if (strncmp(uid, "uid_", 4))
				continue;
			strbuf_reset(&s->sub);
			strbuf_addf(&s->sub, "%s/%s/%s/%s", base, name, uid, s->job);
			try_dir(s, s->sub.buf, name, v2);
		}
	}
	if (v2 && (pass == PASS_ANY || !s->found)) {
		/* system.slice/SCOPE/job_ID */
		strbuf_reset(&s->path);
		strbuf_addf(&s->path, "%s/system.slice", base);
		list_dir(s->fs, s->path.buf, &prefixes);
		for (size_t i = 0; i < prefixes.len && (pass == PASS_ANY || !s->found);) {
			const char *name = prefixes.buf + i;
			i += strlen(name) + 1;
			if (!name_ok(name, true, s->node, pass))
				continue;
			strbuf_reset(&s->sub);
			strbuf_addf(&s->sub, "%s/system.slice/%s/%s", base, name, s->job);
			try_dir(s, s->sub.buf, name, v2);
		}
	}
	strbuf_release(&prefixes);
}

enum slurm_found slurm_job_cgroup(const struct procfs *fs, unsigned long id, const char *node,
				  bool memory, struct strbuf *dir, struct strbuf *why)
{
	/* a node name is one directory's name, or part of one */
	if (node && (!*node || strchr(node, '/')))
		node = NULL;
	struct search s = {.fs = fs, .node = node, .memory = memory, .dir = dir};
	snprintf(s.job, sizeof(s.job), "job_%lu", id);
	strbuf_init(&s.first);
	strbuf_init(&s.names);
	strbuf_init(&s.path);
	strbuf_init(&s.list);
	strbuf_init(&s.sub);
	struct bases b;
	find_bases(fs, memory, &b);
	enum slurm_found ret = SLURM_NONE;
	static const enum pass named[] = {PASS_OWN, PASS_PLAIN};
	if (node) {
		for (size_t p = 0; p < 2 && !s.found; p++)
			for (size_t i = 0; i < b.n && !s.found; i++)
				search_base(&s, b.dir[i], b.v2[i], named[p]);
	} else {
		/* the first hierarchy that has the job says whose it is */
		for (size_t i = 0; i < b.n && !s.found; i++)
			search_base(&s, b.dir[i], b.v2[i], PASS_ANY);
	}
	if (s.found == 1) {
		ret = SLURM_FOUND;
	} else if (s.found > 1) {
		ret = SLURM_AMBIGUOUS;
		strbuf_reset(dir);
		strbuf_addf(why,
			    "this host has cgroups of job %lu for several nodes (%s): set "
			    "SLURMD_NODENAME to the node to record",
			    id, s.names.buf);
	} else {
		/* "slurm[_n1]" and "[n1_]slurmstepd.scope": the brackets hold what may be absent */
		const char *n = node ? node : "NODE";
		strbuf_addf(why, "no %scgroup %s in slurm[_%s]/uid_* or system.slice/[%s_]" SCOPE,
			    memory ? "memory " : "", s.job, n, n);
		for (size_t i = 0; i < b.n; i++)
			strbuf_addf(why, "%s%s", i ? ", " : " of ", b.dir[i]);
		if (!b.n)
			strbuf_addstr(why, " (no cgroup hierarchy is mounted)");
	}
	release_bases(&b);
	strbuf_release(&s.first);
	strbuf_release(&s.names);
	strbuf_release(&s.path);
	strbuf_release(&s.list);
	strbuf_release(&s.sub);
	return ret;
}

/* ---- environments ---- */

struct environ_scan {
	const struct procfs *fs;
	char id[24];
	const char *node;
	void (*fn)(pid_t pid, void *data);
	void *data;
	struct slurm_scan *scan;
	struct strbuf buf;
};

/* The value of key ("NAME=") in an environment (NUL-separated); NULL when it is absent. */
static const char *env_value(const char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = buf, *end = buf + len; p < end;) {
		size_t n = strnlen(p, (size_t)(end - p));
		if (n >= kl && !memcmp(p, key, kl))
			return p + kl; /* the strbuf ends in a NUL past len */
		p += n + 1;
	}
	return NULL;
}

static void check_pid(pid_t pid, void *data)
{
	struct environ_scan *e = data;
	char rel[32];
	snprintf(rel, sizeof(rel), "%d/environ", (int)pid);
	errno = 0;
	if (!procfs_read_file(e->fs, rel, &e->buf)) {
		/* gone, a kernel thread or a zombie (empty): nothing to say */
		if (errno == EACCES || errno == EPERM)
			e->scan->denied++;
		return;
	}
	const char *job = env_value(e->buf.buf, e->buf.len, "SLURM_JOB_ID=");
	if (!job || strcmp(job, e->id))
		return;
	const char *node = env_value(e->buf.buf, e->buf.len, "SLURMD_NODENAME=");
	if (node && !*node)
		node = NULL;
	if (e->node && node && strcmp(node, e->node))
		return;
	if (node && !e->scan->node[0])
		snprintf(e->scan->node, sizeof(e->scan->node), "%s", node);
	else if (node && strncmp(node, e->scan->node, sizeof(e->scan->node) - 1))
		e->scan->many_nodes = true;
	e->scan->found++;
	e->fn(pid, e->data);
}

int slurm_job_environ_pids(const struct procfs *fs, unsigned long id, const char *node,
			   void (*fn)(pid_t pid, void *data), void *data, struct slurm_scan *scan)
{
	memset(scan, 0, sizeof(*scan));
	struct environ_scan e = {.fs = fs,
				 .node = node && *node ? node : NULL,
				 .fn = fn,
				 .data = data,
				 .scan = scan};
	snprintf(e.id, sizeof(e.id), "%lu", id);
	strbuf_init(&e.buf);
	int ret = procfs_for_each_pid(fs, check_pid, &e);
	strbuf_release(&e.buf);
	return ret < 0 ? -1 : 0;
}
