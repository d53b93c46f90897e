/*
 * cgroup: finding, making, reading and removing the job's memory cgroup (see cgroup.h).
 *
 * Where memline makes it. memline's memory cgroup (home) comes from /proc/self/cgroup, its
 * directory from the mount table. cgroup v1 (the memory controller on a v1 hierarchy): a child
 * of home, which root may make. cgroup v2, in this order (cgroup_sites):
 *   1. a child of home, when home's children have the memory controller (memory in home's
 *      cgroup.subtree_control), or home is the hierarchy's root (no cgroup.type file), where
 *      memline enables it (+memory) if it is not: the root may hold processes beside children;
 *   2. a pair of leaves in home, when memline is home's only process (a scope started for it,
 *      systemd-run --scope -p Delegate=yes): memline moves itself into memline-PID-START.self,
 *      enables +memory in home's cgroup.subtree_control (allowed once home holds no process),
 *      and makes the job's leaf beside it; all undone at the end;
 *   3. a sibling of home, in home's parent, when home has no limit the job would escape there
 *      (memory.max, memory.high, memory.swap.max, pids.max, cpu.max all "max"): home holds
 *      other processes (a shell) and "no internal processes" forbids it children with memory.
 * Each is tried in turn; a step the kernel refuses (not memline's to write: EACCES) moves on to
 * the next, undoing what it did. The cgroup is named memline-PID-START (memline's pid and start
 * time, as channel directories are) and locked (flock) while memline runs, so a stale one of a
 * killed memline is known and removed, once empty, when the next one is made there.
 *
 * Reading. The counters are opened once and read with pread: memory.current (v1
 * memory.usage_in_bytes) and the peak at every sample, memory.stat (and memory.swap.current, v1
 * memory.kmem.usage_in_bytes) when the charge moved by 64 KiB and 50 ms passed, or a second
 * passed. The v2 peak: two descriptors of memory.peak, each reset (a write, Linux 6.12+) just
 * before the other is read, so that consecutive intervals overlap by a few microseconds instead
 * of leaving a gap; v1: memory.max_usage_in_bytes read, then reset by writing 0.
 */
#include "record/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX	    "memline-"
#define SELF_SUFFIX ".self"

/* memory.stat is read at least this often, and at most this often when the charge moves. */
#define STAT_MAX_AGE  1.0
#define STAT_MIN_AGE  0.05
#define STAT_MOVE_KIB 64

const char *const cgroup_peak_names[4] = {"fd", "reset", "lifetime", "none"};

/* ---- the mounts ---- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Whether the comma-separated list opts has the item word. */
static bool has_item(const char *opts, const char *word, char sep)
{
	size_t wl = strlen(word);
	for (const char *o = opts; o && *o;) {
		const char *next = strchr(o, sep);
		size_t len = next ? (size_t)(next - o) : strlen(o);
		if (len == wl && !memcmp(o, word, wl))
			return true;
		o = next ? next + 1 : NULL;
	}
	return false;
}

/*
 * Splits one line of mountinfo, "id parent maj:min root mountpoint opts [optional...] - type
 * src super", in place: its root and mount point (unescaped), its type and its super options
 * ("" when absent). False for a line that is not one.
 */
static bool split_mount(char *line, char **root, char **mnt, char **type, char **super)
{
	char *f[5];
	char *q = line;
	for (int i = 0; i < 5; i++) {
		char *sp = strchr(q, ' ');
		if (!sp)
			return false;
		*sp = '\0';
		f[i] = q;
		q = sp + 1;
	}
	char *sep = strstr(q, " - ");
	if (!sep)
		return false;
	char *fstype = sep + 3;
	char *sp = strchr(fstype, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	char *opts = strchr(sp + 1, ' ');
	unescape(f[3]);
	unescape(f[4]);
	*root = f[3];
	*mnt = f[4];
	*type = fstype;
	*super = opts ? opts + 1 : sp + strlen(sp + 1) + 1;
	return true;
}

static void parse_mount(char *line, struct cgroup_mounts *m)
{
	char *root_s, *mnt_s, *fstype, *super;
	if (!split_mount(line, &root_s, &mnt_s, &fstype, &super))
		return;
	char **mnt = NULL, **root = NULL;
	if (!strcmp(fstype, "cgroup2") && !m->v2) {
		mnt = &m->v2;
		root = &m->v2_root;
	} else if (!strcmp(fstype, "cgroup") && !m->v1 && has_item(super, "memory", ',')) {
		mnt = &m->v1;
		root = &m->v1_root;
	}
	if (!mnt)
		return;
	*mnt = strdup(mnt_s);
	*root = strdup(root_s);
	if (!*mnt || !*root) {
		free(*mnt);
		free(*root);
		*mnt = *root = NULL;
	}
}

void cgroup_mounts_parse(const char *buf, size_t len, struct cgroup_mounts *m)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)((nl ? nl : end) - p);
		char *line = strndup(p, ll);
		p += ll + 1;
		if (!line)
			return;
		parse_mount(line, m);
		free(line);
	}
}

void cgroup_mounts_read(struct cgroup_mounts *m, const struct procfs *fs)
{
	memset(m, 0, sizeof(*m));
	struct strbuf sb = STRBUF_INIT;
	if (procfs_mountinfo(fs, &sb))
		cgroup_mounts_parse(sb.buf, sb.len, m);
	strbuf_release(&sb);
}

void cgroup_mounts_release(struct cgroup_mounts *m)
{
	free(m->v1);
	free(m->v1_root);
	free(m->v2);
	free(m->v2_root);
	memset(m, 0, sizeof(*m));
}

bool cgroup_mounts_find_v1(const char *buf, size_t len, const char *controller, struct strbuf *mnt)
{
	bool found = false;
	for (const char *p = buf, *end = buf + len; p < end && !found;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)((nl ? nl : end) - p);
		char *line = strndup(p, ll);
		p += ll + 1;
		if (!line)
			return false;
		char *root, *dir, *fstype, *super;
		if (split_mount(line, &root, &dir, &fstype, &super) && !strcmp(fstype, "cgroup") &&
		    has_item(super, controller, ',')) {
			strbuf_addstr(mnt, dir);
			found = !mnt->oom;
		}
		free(line);
	}
	return found;
}

/* Whether s is prefix, or prefix followed by a '/'; sets *rest to what follows. */
static bool under(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/') {
		*rest = s;
		return s[0] == '/';
	}
	if (strncmp(s, prefix, n) || (s[n] != '\0' && s[n] != '/'))
		return false;
	*rest = s + n;
	return true;
}

/* Appends a (a directory) and b (empty, or starting with '/') without a doubled slash. */
static void join(struct strbuf *out, const char *a, const char *b)
{
	size_t n = strlen(a);
	while (n > 1 && a[n - 1] == '/')
		n--;
	strbuf_add(out, a, n);
	if (*b && strcmp(b, "/"))
		strbuf_addstr(out, n == 1 && a[0] == '/' ? b + 1 : b);
}

bool cgroup_mounts_dir(const struct cgroup_mounts *m, int version, const char *path,
		       struct strbuf *out)
{
	const char *mnt = version == 1 ? m->v1 : m->v2;
	const char *root = version == 1 ? m->v1_root : m->v2_root;
	const char *rest;
	if (!mnt || !root || !path || path[0] != '/' || !under(path, root, &rest))
		return false;
	join(out, mnt, rest);
	return !out->oom;
}

/* ---- small file operations, relative to the system root ---- */

/* Writes text to dir/file (a cgroup's control file). 0, or -1 with errno. */
static int write_file(const struct procfs *fs, const char *dir, const char *file, const char *text)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, file);
	int fd = path.oom ? -1 : procfs_sys_open(fs, path.buf, O_WRONLY);
	strbuf_release(&path);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	errno = n < 0 ? e : EIO;
	return -1;
}

/* Reads dir/file whole into out; false when it cannot be read. */
static bool read_file(const struct procfs *fs, const char *dir, const char *file,
		      struct strbuf *out)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, file);
	bool ok = !path.oom && procfs_read_sys_file(fs, path.buf, out);
	strbuf_release(&path);
	return ok;
}

/* Whether dir/file exists. */
static bool exists(const struct procfs *fs, const char *dir, const char *file)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s", dir, file);
	int fd = path.oom ? -1 : procfs_sys_open(fs, path.buf, O_PATH);
	strbuf_release(&path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int make_dir(const struct procfs *fs, const char *dir)
{
	if (fs->sys_fd < 0) {
		errno = ENOENT;
		return -1;
	}
	return mkdirat(fs->sys_fd, procfs_sys_rel(dir), 0755);
}

static int remove_dir(const struct procfs *fs, const char *dir)
{
	if (fs->sys_fd < 0) {
		errno = ENOENT;
		return -1;
	}
	return unlinkat(fs->sys_fd, procfs_sys_rel(dir), AT_REMOVEDIR);
}

/* Whether a space- or newline-separated list file (cgroup.controllers) has word. */
static bool file_has(const struct procfs *fs, const char *dir, const char *file, const char *word)
{
	struct strbuf sb = STRBUF_INIT;
	bool found = false;
	size_t wl = strlen(word);
	if (read_file(fs, dir, file, &sb)) {
		for (const char *p = sb.buf; *p && !found;) {
			p += strspn(p, " \n");
			size_t n = strcspn(p, " \n");
			found = n == wl && !memcmp(p, word, n);
			p += n;
		}
	}
	strbuf_release(&sb);
	return found;
}

/* ---- where a cgroup can be made ---- */

void cgroup_sites_release(struct cgroup_sites *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->site[i].parent);
		free(s->site[i].home);
		free(s->site[i].path);
	}
	memset(s, 0, sizeof(*s));
}

static void add_site(struct cgroup_sites *out, enum cgroup_place place, int version,
		     const char *parent, const char *home, const char *path)
{
	struct cgroup_site *s = &out->site[out->n];
	s->place = place;
	s->version = version;
	s->parent = strdup(parent);
	s->home = strdup(home);
	s->path = strdup(path);
	if (!s->parent || !s->home || !s->path) {
		free(s->parent);
		free(s->home);
		free(s->path);
		memset(s, 0, sizeof(*s));
		return;
	}
	out->n++;
}

/* Whether the only process in dir is self. */
static bool alone_in(const struct procfs *fs, const char *dir, pid_t self)
{
	struct strbuf sb = STRBUF_INIT;
	bool alone = false;
	if (read_file(fs, dir, "cgroup.procs", &sb)) {
		char *end;
		long pid = strtol(sb.buf, &end, 10);
		alone = end != sb.buf && pid == self && end[strspn(end, "\n")] == '\0';
	}
	strbuf_release(&sb);
	return alone;
}

/* The first limit dir has that a cgroup beside it would escape, into what (empty: none). */
static void limit_of(const struct procfs *fs, const char *dir, struct strbuf *what)
{
	static const char *const files[] = {"memory.max", "memory.high", "memory.swap.max",
					    "pids.max", "cpu.max"};
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !what->len; i++) {
		if (!read_file(fs, dir, files[i], &sb))
			continue; /* not there: no such limit */
		sb.buf[strcspn(sb.buf, "\n")] = '\0';
		if (strncmp(sb.buf, "max", 3) || (sb.buf[3] != '\0' && sb.buf[3] != ' '))
			strbuf_addf(what, "%s %s", files[i], sb.buf);
	}
	strbuf_release(&sb);
}

static void v2_sites(const struct procfs *fs, pid_t self, const char *path, const char *dir,
		     struct cgroup_sites *out, struct strbuf *why)
{
	if (!file_has(fs, dir, "cgroup.controllers", "memory")) {
		strbuf_addf(why,
			    "the memory controller is not available in memline's cgroup '%s' (not "
			    "in its cgroup.controllers)",
			    dir);
		return;
	}
	/* The hierarchy's root has no cgroup.type; a cgroup namespace's root does. */
	bool root = !exists(fs, dir, "cgroup.type");
	if (root || file_has(fs, dir, "cgroup.subtree_control", "memory"))
		add_site(out, CGROUP_CHILD, 2, dir, dir, path);
	if (root)
		return;
	if (alone_in(fs, dir, self))
		add_site(out, CGROUP_PAIR, 2, dir, dir, path);
	struct strbuf limit = STRBUF_INIT, parent = STRBUF_INIT, ppath = STRBUF_INIT;
	limit_of(fs, dir, &limit);
	const char *slash = strrchr(dir, '/'), *pslash = strrchr(path, '/');
	if (!limit.len && slash && slash > dir && pslash) {
		strbuf_add(&parent, dir, (size_t)(slash - dir));
		strbuf_add(&ppath, path, pslash > path ? (size_t)(pslash - path) : 1);
		if (!parent.oom && !ppath.oom)
			add_site(out, CGROUP_SIBLING, 2, parent.buf, dir, ppath.buf);
	}
	if (!out->n)
		strbuf_addf(why,
			    "memline's cgroup '%s' holds other processes, so its children cannot "
			    "have the memory controller, and %s%s",
			    dir, limit.len ? "a cgroup beside it would escape its limit " : "",
			    limit.len ? limit.buf : "it has no parent to make one in");
	strbuf_release(&limit);
	strbuf_release(&parent);
	strbuf_release(&ppath);
}

void cgroup_sites(const struct procfs *fs, pid_t self, struct cgroup_sites *out, struct strbuf *why)
{
	memset(out, 0, sizeof(*out));
	struct cgroup_mounts m;
	cgroup_mounts_read(&m, fs);
	struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT, dir = STRBUF_INIT;
	bool v2 = false;
	if (!procfs_read_file(fs, "self/cgroup", &sb) ||
	    !procfs_parse_cgroup(sb.buf, sb.len, &path, &v2)) {
		strbuf_addstr(why, "memline's memory cgroup is unknown (/proc/self/cgroup)");
	} else if (!cgroup_mounts_dir(&m, v2 ? 2 : 1, path.buf, &dir)) {
		strbuf_addf(why, "memline's cgroup '%s' is under no cgroup%s mount", path.buf,
			    v2 ? "2" : " v1 memory");
	} else if (!v2) {
		/* Kernels before 5.x let a v1 cgroup keep its children's charges out of its own
		 * (memory.use_hierarchy 0): a child would escape memline's cgroup's limit. */
		if (read_file(fs, dir.buf, "memory.use_hierarchy", &sb) && sb.buf[0] == '0')
			strbuf_addf(why,
				    "memline's memory cgroup '%s' does not count its children "
				    "(memory.use_hierarchy 0): the job would escape its limit",
				    dir.buf);
		else
			add_site(out, CGROUP_CHILD, 1, dir.buf, dir.buf, path.buf);
	} else {
		v2_sites(fs, self, path.buf, dir.buf, out, why);
	}
	strbuf_release(&sb);
	strbuf_release(&path);
	strbuf_release(&dir);
	cgroup_mounts_release(&m);
}

/* ---- making one ---- */

void cgroup_init(struct cgroup *cg)
{
	memset(cg, 0, sizeof(*cg));
	cg->dir_fd = cg->procs_fd = cg->current_fd = cg->stat_fd = cg->swap_fd = cg->kmem_fd = -1;
	cg->peak_fd[0] = cg->peak_fd[1] = -1;
	cg->last_current = cg->last_peak = -1;
	cg->stat_t = -1;
	strbuf_init(&cg->scratch);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void cgroup_release(struct cgroup *cg)
{
	close_fd(&cg->dir_fd);
	close_fd(&cg->procs_fd);
	close_fd(&cg->current_fd);
	close_fd(&cg->peak_fd[0]);
	close_fd(&cg->peak_fd[1]);
	close_fd(&cg->stat_fd);
	close_fd(&cg->swap_fd);
	close_fd(&cg->kmem_fd);
	free(cg->path);
	free(cg->dir);
	free(cg->home);
	free(cg->self_dir);
	strbuf_release(&cg->scratch);
	cgroup_init(cg);
}

/* The file whose presence says the memory controller is enabled for a cgroup. */
static const char *memory_file(int version)
{
	return version == 1 ? "memory.usage_in_bytes" : "memory.current";
}

/* Undoes a pair's steps: +memory (if enabled), memline's move, its leaf. */
static void undo_pair(const struct procfs *fs, const char *home, const char *self_dir, bool enabled)
{
	if (enabled)
		write_file(fs, home, "cgroup.subtree_control", "-memory");
	write_file(fs, home, "cgroup.procs", "0");
	remove_dir(fs, self_dir);
}

/* Tries to make the job's cgroup name at site. 0, or -1 with why (appended). */
static int try_site(struct cgroup *cg, const struct procfs *fs, const struct cgroup_site *site,
		    const char *name, struct strbuf *why)
{
	struct strbuf dir = STRBUF_INIT, self_dir = STRBUF_INIT, path = STRBUF_INIT;
	bool enabled = false, moved = false;
	int ret = -1;
	cgroup_clean(fs, site->parent);
	strbuf_addf(&dir, "%s/%s", site->parent, name);
	strbuf_addf(&path, "%s%s%s", site->path, strcmp(site->path, "/") ? "/" : "", name);
	if (dir.oom || path.oom)
		goto fail;
	if (site->place == CGROUP_PAIR) {
		strbuf_addf(&self_dir, "%s%s", dir.buf, SELF_SUFFIX);
		if (self_dir.oom)
			goto fail;
		if (make_dir(fs, self_dir.buf) < 0) {
			strbuf_addf(why, "cannot make '%s': %s", self_dir.buf, strerror(errno));
			goto fail;
		}
		if (write_file(fs, self_dir.buf, "cgroup.procs", "0") < 0) {
			strbuf_addf(why, "cannot move memline into '%s': %s", self_dir.buf,
				    strerror(errno));
			goto fail;
		}
		moved = true;
	}
	if (site->version == 2 && site->place != CGROUP_SIBLING &&
	    !file_has(fs, site->parent, "cgroup.subtree_control", "memory")) {
		/* the hierarchy's root, or a pair's home now that memline left it */
		if (write_file(fs, site->parent, "cgroup.subtree_control", "+memory") < 0) {
			strbuf_addf(why,
				    "cannot enable the memory controller for the children of '%s': "
				    "%s",
				    site->parent, strerror(errno));
			goto fail;
		}
		enabled = site->place == CGROUP_PAIR;
	}
	if (make_dir(fs, dir.buf) < 0) {
		strbuf_addf(why, "cannot make a memory cgroup in '%s': %s", site->parent,
			    strerror(errno));
		goto fail;
	}
	cg->dir_fd = procfs_sys_open(fs, dir.buf, O_RDONLY | O_DIRECTORY);
	if (cg->dir_fd < 0 || faccessat(cg->dir_fd, memory_file(site->version), F_OK, 0) < 0) {
		strbuf_addf(why, "the memory controller is not enabled for the children of '%s'",
			    site->parent);
		close_fd(&cg->dir_fd);
		remove_dir(fs, dir.buf);
		goto fail;
	}
	/* Held while memline runs: a cgroup whose lock is free has no memline any more. */
	flock(cg->dir_fd, LOCK_EX | LOCK_NB);
	cg->procs_fd = openat(cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	cg->procs_errno = cg->procs_fd < 0 ? errno : 0;
	cg->fs = fs;
	cg->version = site->version;
	cg->own = true;
	cg->place = site->place;
	cg->enabled = enabled;
	if (!(cg->home = strdup(site->home))) {
		strbuf_addstr(why, "out of memory");
		cgroup_release(cg);
		remove_dir(fs, dir.buf);
		goto fail;
	}
	cg->dir = strbuf_detach(&dir, NULL);
	cg->path = strbuf_detach(&path, NULL);
	if (moved)
		cg->self_dir = strbuf_detach(&self_dir, NULL);
	ret = 0;
	goto out;
fail:
	if (moved || self_dir.len)
		undo_pair(fs, site->home, self_dir.buf, enabled);
out:
	strbuf_release(&dir);
	strbuf_release(&self_dir);
	strbuf_release(&path);
	return ret;
}

int cgroup_create(struct cgroup *cg, const struct procfs *fs, pid_t self, struct strbuf *why)
{
	cgroup_init(cg);
	struct cgroup_sites sites;
	cgroup_sites(fs, self, &sites, why);
	struct proc_stat st;
	unsigned long long start = procfs_pid_stat(fs, self, &st) ? st.starttime : 0;
	char name[64];
	snprintf(name, sizeof(name), PREFIX "%d-%llu", (int)self, start);
	int ret = -1;
	for (size_t i = 0; i < sites.n && ret < 0; i++) {
		if (i)
			strbuf_addstr(why, "; ");
		ret = try_site(cg, fs, &sites.site[i], name, why);
	}
	if (ret == 0)
		strbuf_reset(why);
	cgroup_sites_release(&sites);
	return ret;
}

/* The hierarchy path of dir, a directory under mount mnt that shows root. */
static char *path_of(const char *dir, const char *mnt, const char *root)
{
	const char *rest;
	if (!under(dir, mnt, &rest))
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	join(&sb, root, rest);
	if (sb.oom) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

int cgroup_open(struct cgroup *cg, const struct procfs *fs, const char *path, bool *missing,
		struct strbuf *err)
{
	cgroup_init(cg);
	*missing = false;
	struct cgroup_mounts m;
	cgroup_mounts_read(&m, fs);
	struct strbuf dir = STRBUF_INIT;
	int version = 0, ret = -1;
	char *hpath = NULL;
	const char *rest;
	if (m.v1 && under(path, m.v1, &rest)) {
		version = 1;
		strbuf_addstr(&dir, path);
		hpath = path_of(path, m.v1, m.v1_root);
	} else if (m.v2 && under(path, m.v2, &rest)) {
		version = 2;
		strbuf_addstr(&dir, path);
		hpath = path_of(path, m.v2, m.v2_root);
	} else if (cgroup_mounts_dir(&m, m.v1 ? 1 : 2, path, &dir)) {
		/* a path in the memory hierarchy, as /proc/PID/cgroup names it */
		version = m.v1 ? 1 : 2;
		hpath = strdup(path);
	}
	if (!version) {
		strbuf_addf(err,
			    "no cgroup '%s': it is under no memory cgroup mount; give its "
			    "directory (/sys/fs/cgroup/...)",
			    path);
		*missing = true;
		goto out;
	}
	cg->dir_fd = procfs_sys_open(fs, dir.buf, O_RDONLY | O_DIRECTORY);
	if (cg->dir_fd < 0) {
		*missing = errno == ENOENT || errno == ENOTDIR;
		strbuf_addf(err, "cannot open cgroup '%s': %s", dir.buf, strerror(errno));
		goto out;
	}
	if (faccessat(cg->dir_fd, memory_file(version), F_OK, 0) < 0) {
		if (version == 2 && faccessat(cg->dir_fd, "cgroup.type", F_OK, 0) < 0)
			strbuf_addf(err,
				    "'%s' is the root cgroup, which has no memory.current; give a "
				    "cgroup below it",
				    dir.buf);
		else
			strbuf_addf(err,
				    "'%s' is not a memory cgroup: it has no %s (the memory "
				    "controller is not enabled for it)",
				    dir.buf, memory_file(version));
		goto out;
	}
	cg->procs_fd = openat(cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	cg->procs_errno = cg->procs_fd < 0 ? errno : 0;
	cg->fs = fs;
	cg->version = version;
	cg->own = false;
	cg->place = CGROUP_EXISTING;
	cg->path = hpath;
	hpath = NULL;
	cg->dir = strbuf_detach(&dir, NULL);
	ret = cg->path && cg->dir ? 0 : -1;
	if (ret < 0)
		strbuf_addstr(err, "out of memory");
out:
	if (ret < 0) {
		close_fd(&cg->dir_fd);
		close_fd(&cg->procs_fd);
		free(cg->path);
		free(cg->dir);
		cg->path = cg->dir = NULL;
		cg->version = 0;
	}
	free(hpath);
	strbuf_release(&dir);
	cgroup_mounts_release(&m);
	return ret;
}

/* ---- reading ---- */

static int open_at(const struct cgroup *cg, const char *file, int flags)
{
	return openat(cg->dir_fd, file, flags | O_CLOEXEC);
}

/* Opens the peak: v2 memory.peak twice, for writing when the kernel resets it per descriptor. */
static void open_peak(struct cgroup *cg)
{
	if (cg->version == 2) {
		cg->peak_fd[0] = open_at(cg, "memory.peak", O_RDWR);
		cg->peak_fd[1] = cg->peak_fd[0] >= 0 ? open_at(cg, "memory.peak", O_RDWR) : -1;
		/* Linux 6.12+ resets the peak for the descriptor written to; before, no write. */
		if (cg->peak_fd[1] >= 0 && pwrite(cg->peak_fd[0], "reset\n", 6, 0) == 6) {
			cg->peak = CGROUP_PEAK_FD;
			cg->turn = 0;
			return;
		}
		close_fd(&cg->peak_fd[0]);
		close_fd(&cg->peak_fd[1]);
		cg->peak_fd[0] = open_at(cg, "memory.peak", O_RDONLY);
		cg->peak = cg->peak_fd[0] >= 0 ? CGROUP_PEAK_LIFETIME : CGROUP_PEAK_NONE;
		return;
	}
	/* v1: a reset is global; only in a cgroup of memline's own, whose peak is nobody else's */
	if (cg->own) {
		cg->peak_fd[0] = open_at(cg, "memory.max_usage_in_bytes", O_RDWR);
		if (cg->peak_fd[0] >= 0 && pwrite(cg->peak_fd[0], "0", 1, 0) == 1) {
			cg->peak = CGROUP_PEAK_RESET;
			return;
		}
		close_fd(&cg->peak_fd[0]);
	}
	cg->peak_fd[0] = open_at(cg, "memory.max_usage_in_bytes", O_RDONLY);
	cg->peak = cg->peak_fd[0] >= 0 ? CGROUP_PEAK_LIFETIME : CGROUP_PEAK_NONE;
}

void cgroup_start(struct cgroup *cg)
{
	if (cg->started || cg->dir_fd < 0)
		return;
	cg->started = true;
	cg->current_fd = open_at(cg, memory_file(cg->version), O_RDONLY);
	cg->stat_fd = open_at(cg, "memory.stat", O_RDONLY);
	if (cg->version == 2)
		cg->swap_fd = open_at(cg, "memory.swap.current", O_RDONLY);
	else
		cg->kmem_fd = open_at(cg, "memory.kmem.usage_in_bytes", O_RDONLY);
	open_peak(cg);
	cg->last_current = procfs_fd_number(cg->current_fd);
}

static long long kib(long long bytes)
{
	return bytes >= 0 ? bytes / 1024 : -1;
}

/* A key of memory.stat in KiB, or -1. */
static long long stat_kib(const struct strbuf *sb, const char *key)
{
	return kib(procfs_parse_counter(sb->buf, sb->len, key));
}

/* Sums the keys of memory.stat that are there, in KiB; -1 when none is. */
static long long stat_sum(const struct strbuf *sb, const char *const *keys)
{
	long long sum = -1;
	for (; *keys; keys++) {
		long long v = stat_kib(sb, *keys);
		if (v >= 0)
			sum = (sum < 0 ? 0 : sum) + v;
	}
	return sum;
}

/* Reads memory.stat (and swap, v1 kmem) into cg->split. */
static void read_split(struct cgroup *cg)
{
	struct cgroup_values *v = &cg->split;
	struct strbuf *sb = &cg->scratch;
	v->anon = v->file = v->shmem = v->kernel = v->sock = v->swap = -1;
	bool ok = procfs_fd_read(cg->stat_fd, sb);
	long long file = -1;
	if (cg->version == 2) {
		/* Before 5.18 there is no "kernel": the kinds of kernel memory it sums. */
		static const char *const kernel_parts[] = {
			"kernel_stack", "pagetables", "sec_pagetables", "percpu", "slab",
			"vmalloc",	NULL};
		if (ok) {
			v->anon = stat_kib(sb, "anon");
			file = stat_kib(sb, "file");
			v->shmem = stat_kib(sb, "shmem");
			v->kernel = stat_kib(sb, "kernel");
			if (v->kernel < 0)
				v->kernel = stat_sum(sb, kernel_parts);
			v->sock = stat_kib(sb, "sock");
		}
		v->swap = kib(procfs_fd_number(cg->swap_fd));
	} else {
		if (ok) {
			v->anon = stat_kib(sb, "total_rss");
			file = stat_kib(sb, "total_cache");
			v->shmem = stat_kib(sb, "total_shmem");
			v->swap = stat_kib(sb, "total_swap");
		}
		v->kernel = kib(procfs_fd_number(cg->kmem_fd));
	}
	/* file counts shmem (tmpfs, shared anonymous memory) too: the parts do not overlap */
	if (ok)
		v->file = file >= 0 && v->shmem >= 0 && file >= v->shmem ? file - v->shmem : file;
}

void cgroup_read(struct cgroup *cg, double t, struct cgroup_values *v)
{
	v->current = v->peak = -1;
	if (!cg->started) {
		v->anon = v->file = v->shmem = v->kernel = v->sock = v->swap = -1;
		return;
	}
	/* the next interval begins before this one's peak is read: no moment falls between */
	if (cg->peak == CGROUP_PEAK_FD)
		(void)!pwrite(cg->peak_fd[!cg->turn], "reset\n", 6, 0);
	long long cur = procfs_fd_number(cg->current_fd);
	long long peak = -1;
	switch (cg->peak) {
	case CGROUP_PEAK_FD:
		peak = procfs_fd_number(cg->peak_fd[cg->turn]);
		cg->turn = !cg->turn;
		break;
	case CGROUP_PEAK_RESET:
		peak = procfs_fd_number(cg->peak_fd[0]);
		if (peak >= 0)
			(void)!pwrite(cg->peak_fd[0], "0", 1, 0);
		break;
	case CGROUP_PEAK_LIFETIME: {
		/* a new lifetime peak was reached in this interval; at the first read, the peak
		 * since the cgroup was made is ours only when memline made it just now */
		long long life = procfs_fd_number(cg->peak_fd[0]);
		if (life >= 0 && (cg->last_peak >= 0 ? life > cg->last_peak : cg->own))
			peak = life;
		if (life >= 0)
			cg->last_peak = life;
		break;
	}
	case CGROUP_PEAK_NONE:
		break;
	}
	/* the interval's peak is at least the charge at both of its ends */
	if (cur >= 0 && cur > peak)
		peak = cur;
	if (cg->last_current > peak && peak >= 0)
		peak = cg->last_current;
	cg->last_current = cur;
	v->current = kib(cur);
	v->peak = kib(peak);
	long long moved = cur - cg->stat_current;
	if (moved < 0)
		moved = -moved;
	double age = t - cg->stat_t;
	if (cg->stat_t < 0 || age >= STAT_MAX_AGE ||
	    (age >= STAT_MIN_AGE && moved >= STAT_MOVE_KIB * 1024)) {
		read_split(cg);
		cg->stat_t = t;
		cg->stat_current = cur;
	}
	v->anon = cg->split.anon;
	v->file = cg->split.file;
	v->shmem = cg->split.shmem;
	v->kernel = cg->split.kernel;
	v->sock = cg->split.sock;
	v->swap = cg->split.swap;
}

int cgroup_place_pid(const struct cgroup *cg, pid_t pid)
{
	if (cg->procs_fd < 0) {
		errno = EBADF;
		return -1;
	}
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	return write(cg->procs_fd, buf, (size_t)n) == n ? 0 : -1;
}

/* cgroup.procs of the directory dfd and of every cgroup below it, to depth levels more. */
static long pids_under(int dfd, int depth, void (*fn)(pid_t pid, void *data), void *data)
{
	int fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct strbuf sb = STRBUF_INIT;
	long n = 0;
	if (procfs_fd_read(fd, &sb)) {
		for (char *p = sb.buf; *p;) {
			char *end;
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0) {
				fn((pid_t)pid, data);
				n++;
			}
			p = end + strspn(end, "\n");
		}
	}
	close(fd);
	strbuf_release(&sb);
	int ld = depth > 0 ? dup(dfd) : -1;
	DIR *d = ld >= 0 ? fdopendir(ld) : NULL;
	if (!d && ld >= 0)
		close(ld);
	/* the copy shares dfd's offset, at the end once dfd was listed: a cgroup kept open
	 * (attach --cgroup's, listed again every second) would show no child made since */
	if (d)
		rewinddir(d);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue;
		long k = pids_under(sub, depth - 1, fn, data);
		if (k > 0)
			n += k;
		close(sub);
	}
	if (d)
		closedir(d);
	return n;
}

long cgroup_for_each_pid(const struct cgroup *cg, void (*fn)(pid_t pid, void *data), void *data)
{
	return cg->dir_fd < 0 ? -1 : pids_under(cg->dir_fd, 32, fn, data);
}

long cgroup_dir_for_each_pid(const struct procfs *fs, const char *dir,
			     void (*fn)(pid_t pid, void *data), void *data)
{
	int fd = procfs_sys_open(fs, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	long n = pids_under(fd, 32, fn, data);
	close(fd);
	return n;
}

/* ---- the end ---- */

struct move {
	const struct procfs *fs;
	const char *to;
	long failed;
	int err;
};

static void move_pid(pid_t pid, void *data)
{
	struct move *mv = data;
	char buf[24];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write_file(mv->fs, mv->to, "cgroup.procs", buf) < 0 && errno != ESRCH) {
		mv->failed++;
		mv->err = errno;
	}
}

static void count_pid(pid_t pid, void *data)
{
	(void)pid;
	(*(long *)data)++;
}

/* Removes the empty cgroups below the directory dfd (the job's own), deepest first. */
static void remove_below(int dfd, int depth)
{
	int ld = depth > 0 ? dup(dfd) : -1;
	DIR *d = ld >= 0 ? fdopendir(ld) : NULL;
	if (!d) {
		if (ld >= 0)
			close(ld);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue;
		remove_below(sub, depth - 1);
		close(sub);
		unlinkat(dfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

long cgroup_remove(struct cgroup *cg, struct strbuf *msg)
{
	if (!cg->own || !cg->dir || cg->dir_fd < 0)
		return 0;
	const struct procfs *fs = cg->fs;
	long left = 0;
	if (cg->enabled && write_file(fs, cg->home, "cgroup.subtree_control", "-memory") < 0) {
		cgroup_for_each_pid(cg, count_pid, &left);
		strbuf_addf(msg,
			    "cannot disable the memory controller in '%s' again (%s): the job's "
			    "cgroup '%s' is left",
			    cg->home, strerror(errno), cg->dir);
		return left > 0 ? left : 1;
	}
	cg->enabled = false;
	if (cg->self_dir && write_file(fs, cg->home, "cgroup.procs", "0") == 0) {
		remove_dir(fs, cg->self_dir);
		free(cg->self_dir);
		cg->self_dir = NULL;
	}
	/* The processes that outlived the recording run on where memline runs. A process may fork
	 * while they move: a few rounds, until a look finds nobody. */
	struct move mv = {.fs = fs, .to = cg->home};
	for (int round = 0; round < 8; round++) {
		mv.failed = 0;
		long n = cgroup_for_each_pid(cg, move_pid, &mv);
		if (n <= 0 || mv.failed)
			break;
	}
	remove_below(cg->dir_fd, 32);
	if (remove_dir(fs, cg->dir) == 0)
		return 0;
	int e = errno;
	cgroup_for_each_pid(cg, count_pid, &left);
	if (mv.failed)
		strbuf_addf(msg,
			    "the job's cgroup '%s' is left: %ld of its processes run on in it "
			    "(they could not be moved to '%s': %s); a later memline removes it "
			    "once they are gone",
			    cg->dir, left, cg->home, strerror(mv.err));
	else
		strbuf_addf(msg, "cannot remove the job's cgroup '%s': %s", cg->dir, strerror(e));
	return left > 0 ? left : 1;
}

/* Whether name is memline-PID-START[.self]; sets pid, start and whether it is a .self leaf. */
static bool parse_name(const char *name, pid_t *pid, unsigned long long *start, bool *self)
{
	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return false;
	const char *p = name + strlen(PREFIX);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p || *end != '-' || !(*p >= '0' && *p <= '9') || v == 0 || v > 0x7fffffff)
		return false;
	*pid = (pid_t)v;
	p = end + 1;
	if (!(*p >= '0' && *p <= '9'))
		return false;
	*start = strtoull(p, &end, 10);
	if (errno)
		return false;
	*self = !strcmp(end, SELF_SUFFIX);
	return *self || *end == '\0';
}

size_t cgroup_clean(const struct procfs *fs, const char *dir)
{
	int dfd = procfs_sys_open(fs, dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 0;
	int ld = dup(dfd);
	DIR *d = ld >= 0 ? fdopendir(ld) : NULL;
	if (!d) {
		if (ld >= 0)
			close(ld);
		close(dfd);
		return 0;
	}
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t pid;
		unsigned long long start;
		bool self;
		struct stat st;
		struct proc_stat ps;
		if (!parse_name(e->d_name, &pid, &start, &self) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid())
			continue;
		if (procfs_pid_stat(fs, pid, &ps) && ps.starttime == start)
			continue; /* its memline lives */
		int cfd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (cfd < 0)
			continue;
		/* unlocked: no memline uses it (one in another pid namespace would hold the lock)
		 */
		if (self || flock(cfd, LOCK_EX | LOCK_NB) == 0) {
			remove_below(cfd, 32);
			n += unlinkat(dfd, e->d_name, AT_REMOVEDIR) == 0;
		}
		close(cfd);
	}
	closedir(d);
	close(dfd);
	return n;
}
