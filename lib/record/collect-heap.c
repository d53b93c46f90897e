/*
 * collect-heap: --heap, the heap each thread holds, from the counters file that
 * libmemline-heap.so keeps in every process it was preloaded into (lib/heap/counters.h). At
 * every sample it reads the file's slots (shared memory: no system call), binds new slots to
 * the process's threads (collect-threads.c, which runs after it and writes their rows), takes
 * each slot's peak since the last read, and sums the process's live heap (its "heap" field).
 *
 * Each program image of a process is looked for once it runs: its file DIR/heap.PID, whose
 * header names the image (argv's address) so that the file of the image before an exec is not
 * taken for the new one's. When the file is not there, the reason is looked for once: a
 * static binary (no program interpreter: LD_PRELOAD does not apply; a Go program says so), a
 * setuid or setgid program (AT_SECURE: the loader ignores LD_PRELOAD): those are said at once.
 * Otherwise the file is waited for a second, then the process is said to have none (its
 * environment no longer preloads the library, or the library did not start), and it is still
 * looked for, once a second: a heap record saying it is counted may follow.
 * memline's own child before its exec of the command has none and is not told of. A file is
 * removed once its process is gone, and the tree collector at the end removes, every few
 * seconds, those of processes that came and went unseen; the directory itself goes with the
 * recording's private directory.
 */
#include "record/collector.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap/counters.h"
#include "record/sampler.h"

#define HEAP_WAIT	 1.0 /* how long a dynamic program's file is waited for */
#define HEAP_SWEEP_EVERY 5.0 /* seconds between two sweeps of files of unseen processes */

/* What a process's executable is, for why it has no counters. */
struct exe_kind {
	bool read;    /* it could be read */
	bool elf64;   /* a 64-bit ELF file */
	bool dynamic; /* it has a program interpreter (PT_INTERP) */
	bool go;      /* a Go program (its build id note or build info section) */
};

static bool read_at(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n;
}

/* Whether the ELF file fd has a section of one of Go's names. */
static bool has_go_section(int fd, const Elf64_Ehdr *eh)
{
	if (eh->e_shnum == 0 || eh->e_shnum > 4096 || eh->e_shstrndx >= eh->e_shnum ||
	    eh->e_shentsize != sizeof(Elf64_Shdr))
		return false;
	Elf64_Shdr strs;
	if (!read_at(fd, &strs, sizeof(strs), (off_t)(eh->e_shoff + eh->e_shstrndx * sizeof(strs))))
		return false;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh;
		char name[20] = "";
		if (!read_at(fd, &sh, sizeof(sh), (off_t)(eh->e_shoff + i * sizeof(sh))))
			return false;
		if (sh.sh_name >= strs.sh_size)
			continue;
		ssize_t n = pread(fd, name, sizeof(name) - 1, (off_t)(strs.sh_offset + sh.sh_name));
		if (n <= 0)
			continue;
		name[n] = '\0';
		if (!strcmp(name, ".go.buildinfo") || !strcmp(name, ".note.go.buildid"))
			return true;
	}
	return false;
}

static struct exe_kind exe_kind(int fd)
{
	struct exe_kind k = {0};
	Elf64_Ehdr eh;
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return k;
	k.read = true;
	k.elf64 = eh.e_ident[EI_CLASS] == ELFCLASS64;
	if (!k.elf64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 4096)
		return k;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (!read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))))
			break;
		if (ph.p_type == PT_INTERP)
			k.dynamic = true;
	}
	k.go = has_go_section(fd, &eh);
	return k;
}

/* Whether the kernel started p's program in secure-execution mode (setuid, setgid, caps). */
static bool secure_exec(struct sampler *s, pid_t pid)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/auxv", (int)pid);
	int fd = procfs_open(s->fs, path, O_RDONLY);
	if (fd < 0)
		return false;
	Elf64_auxv_t av[64];
	ssize_t n = read(fd, av, sizeof(av));
	close(fd);
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(av[0]); i++)
		if (av[i].a_type == AT_SECURE)
			return av[i].a_un.a_val != 0;
	return false;
}

/*
 * Whether p's environment (as its exec gave it) preloads the library: 1 yes, 0 no, -1 it
 * cannot be read.
 */
static int environ_preloads(struct sampler *s, pid_t pid)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/environ", (int)pid);
	int fd = procfs_open(s->fs, path, O_RDONLY);
	if (fd < 0)
		return -1;
	struct strbuf *sb = &s->scratch;
	strbuf_reset(sb);
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && sb->len < (1u << 20))
		strbuf_add(sb, buf, (size_t)n);
	close(fd);
	if (n < 0 || sb->oom)
		return -1;
	const char *lib = s->opt.heap_lib ? s->opt.heap_lib : "";
	for (size_t off = 0; off < sb->len;) {
		const char *e = sb->buf + off;
		size_t len = strnlen(e, sb->len - off);
		if (len > 11 && !memcmp(e, "LD_PRELOAD=", 11))
			return memmem(e + 11, len - 11, lib, strlen(lib)) != NULL;
		off += len + 1;
	}
	return 0;
}

/* Queues a heap record of p: its counters were found (on), or why it has none. */
static void tell(struct sampler *s, struct tracked_proc *p, double t, bool on, const char *why,
		 const char *allocator)
{
	p->th->heap_told = true;
	struct sampler_event *ev = sampler_new_event(s, SAMPLER_HEAP);
	if (!ev)
		return;
	ev->heap.t = t;
	ev->heap.pid = p->pid;
	ev->heap.on = on;
	ev->heap.why = why;
	if (allocator)
		snprintf(ev->text, sizeof(ev->text), "%s", allocator);
}

/*
 * Why p's image cannot have the library's counters, when its program says so for sure (a
 * static binary, a 32-bit one, secure execution); NULL when it may have them. *ours: it is
 * memline's own child before its exec (memline's program); *go: a Go program.
 */
static const char *why_never(struct sampler *s, struct tracked_proc *p, bool *ours, bool *go)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/exe", (int)p->pid);
	int fd = procfs_open(s->fs, path, O_RDONLY);
	*ours = *go = false;
	if (fd >= 0) {
		struct stat st;
		*ours = s->opt.self > 0 && p->ppid == s->opt.self && fstat(fd, &st) == 0 &&
			st.st_dev == s->self_dev && st.st_ino == s->self_ino;
		struct exe_kind k = *ours ? (struct exe_kind){0} : exe_kind(fd);
		close(fd);
		*go = k.go;
		if (*ours)
			return NULL;
		if (k.read && !k.elf64)
			return "a 32-bit program: the 64-bit heap library cannot load into it";
		if (k.read && !k.dynamic)
			return k.go ? "a static Go program: LD_PRELOAD cannot load the heap "
				      "library "
				      "into it, and Go's heap does not use malloc"
				    : "a static binary: LD_PRELOAD cannot load the heap library "
				      "into "
				      "it";
	}
	if (secure_exec(s, p->pid))
		return "a setuid, setgid or privileged program: the loader ignores LD_PRELOAD in "
		       "it";
	return NULL;
}

/* Maps p's counters file if it is there and is its image's; true when it is. */
static bool map_counters(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt)
{
	char name[32];
	snprintf(name, sizeof(name), HEAP_FILE_PREFIX "%d", (int)p->pid);
	int fd = openat(s->heap_dir_fd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)HEAP_FILE_SIZE)
		map = mmap(NULL, HEAP_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	const struct heap_header *h = map;
	uint64_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	bool ok = magic == HEAP_MAGIC && h->version == HEAP_VERSION &&
		  h->slot_size == HEAP_SLOT_SIZE && h->max_slots == HEAP_MAX_SLOTS &&
		  h->pid == p->pid && (p->argstart <= 1 || h->arg_start == p->argstart);
	if (!ok) {
		munmap(map, HEAP_FILE_SIZE);
		return false;
	}
	pt->map = map;
	pt->dev = st.st_dev;
	pt->ino = st.st_ino;
	pt->scanned = 0;
	return true;
}

static const char *limit_of(const struct heap_header *h, bool go)
{
	uint32_t f = atomic_load_explicit(&h->flags, memory_order_relaxed);
	if (f & HEAP_F_NOT_INTERPOSED)
		return "its own malloc (linked into its executable) is not seen: only its "
		       "anonymous "
		       "mmaps are counted";
	if (go)
		return "a Go program: only what goes through malloc (cgo) and its anonymous mmaps "
		       "are counted, not Go's own heap accounting";
	return NULL;
}

static void look(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt, double t)
{
	bool first = pt->heap_since == t;
	if (!first && p->slow_t != t && t - pt->heap_since < HEAP_WAIT)
		return; /* a new image: looked for at every sample in its first second */
	if (first) {
		bool ours = false;
		const char *why = why_never(s, p, &ours, &pt->go);
		if (ours) {
			pt->heap = HEAP_NONE; /* memline's child before its exec: the exec resets */
			return;
		}
		if (why) {
			pt->heap = HEAP_NONE;
			tell(s, p, t, false, why, NULL);
			return;
		}
	}
	if (map_counters(s, p, pt)) {
		pt->heap = HEAP_FOUND;
		const struct heap_header *h = pt->map;
		char alloc[sizeof(h->allocator)];
		memcpy(alloc, h->allocator, sizeof(alloc));
		alloc[sizeof(alloc) - 1] = '\0';
		const char *base = strrchr(alloc, '/'); /* the file's name says which malloc */
		tell(s, p, t, true, limit_of(h, pt->go), base ? base + 1 : alloc);
		return;
	}
	/* not there yet: said once, and looked for again once a second */
	if (!pt->heap_told && t - pt->heap_since >= HEAP_WAIT)
		tell(s, p, t, false,
		     environ_preloads(s, p->pid) == 0
			     ? "its environment does not preload the heap library (its parent "
			       "changed LD_PRELOAD)"
			     : "the heap library did not start in it (no counters file appeared)",
		     NULL);
}

/* Binds the slots handed out since the last read to p's threads. */
static void bind_slots(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt)
{
	struct heap_header *h = pt->map;
	uint32_t n = atomic_load_explicit(&h->n_slots, memory_order_acquire);
	if (n > HEAP_MAX_SLOTS)
		n = HEAP_MAX_SLOTS;
	while (pt->scanned < n) {
		struct heap_slot *slot = heap_slot_at(pt->map, pt->scanned);
		int32_t tid = atomic_load_explicit(&slot->tid, memory_order_acquire);
		if (tid == 0)
			break; /* taken, not published yet: the next read binds it */
		struct tracked_thread *th = threads_get(s, p, tid);
		if (!th)
			return;
		if (th->slot >= 0) {
			/* its tid was recycled: the old thread ended, this is a new one */
			th->ended = true;
			if (th->announced) {
				struct sampler_event *ev = sampler_new_event(s, SAMPLER_THREAD);
				if (ev) {
					ev->thread =
						(struct thread_info){.pid = p->pid, .tid = tid};
					ev->thread.end = true;
					ev->thread.t = s->sample.t;
				}
			}
			th = threads_get(s, p, tid);
			if (!th)
				return;
		}
		if (tid == HEAP_TID_SHARED)
			snprintf(th->name, sizeof(th->name), "(more threads)");
		th->slot = pt->scanned++;
	}
}

static void read_counters(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt)
{
	bind_slots(s, p, pt);
	long long total = 0;
	for (size_t i = 0; i < pt->n; i++) {
		struct tracked_thread *th = &pt->v[i];
		if (th->slot < 0)
			continue;
		struct heap_slot *sl = heap_slot_at(pt->map, (uint32_t)th->slot);
		long long *v = th->now.v;
		v[TH_HEAP_PEAK] = heap_slot_take_peak(sl);
		v[TH_HEAP] = heap_slot_live(sl);
		if (v[TH_HEAP_PEAK] < v[TH_HEAP])
			v[TH_HEAP_PEAK] = v[TH_HEAP];
		uint64_t mm = atomic_load_explicit(&sl->mmap, memory_order_relaxed);
		uint64_t unm = atomic_load_explicit(&sl->munmap, memory_order_relaxed);
		v[TH_ALLOC] = (long long)atomic_load_explicit(&sl->alloc, memory_order_relaxed);
		v[TH_NALLOC] = (long long)atomic_load_explicit(&sl->nalloc, memory_order_relaxed);
		v[TH_FREED] =
			(long long)(atomic_load_explicit(&sl->own_free, memory_order_relaxed) +
				    atomic_load_explicit(&sl->remote_free, memory_order_relaxed));
		v[TH_NFREE] =
			(long long)(atomic_load_explicit(&sl->own_nfree, memory_order_relaxed) +
				    atomic_load_explicit(&sl->remote_nfree, memory_order_relaxed));
		v[TH_MMAP] = (long long)(mm - unm);
		if (v[TH_HEAP] > 0)
			total += v[TH_HEAP];
	}
	pt->total = total;
}

/* A new program image (or the first): its threads' heap numbers are the new image's. */
static void new_image(struct sampler *s, struct tracked_proc *p, struct proc_threads *pt, double t)
{
	heap_forget(s, p, true);
	pt->heap = HEAP_LOOKING;
	pt->heap_execs = p->execs;
	pt->heap_since = t;
	pt->heap_told = false;
	pt->total = 0;
	for (size_t i = 0; i < pt->n; i++) {
		pt->v[i].slot = -1;
		for (int f = TH_HEAP; f <= TH_MMAP; f++)
			pt->v[i].now.v[f] = -1;
	}
}

static bool wanted(const struct sampler_options *o)
{
	return o->heap != HEAP_OFF;
}

static enum collect_result collect(struct sampler *s, struct tracked_proc *p, double t)
{
	p->v.v[PF_HEAP] = -1;
	if (s->heap_dir_fd < 0 || p->vm_of >= 0)
		return COLLECT_OK;
	bool fresh = !p->th;
	struct proc_threads *pt = threads_of(s, p);
	if (!pt)
		return COLLECT_OK;
	if (fresh || pt->heap_execs != p->execs)
		new_image(s, p, pt, t);
	if (pt->heap == HEAP_LOOKING)
		look(s, p, pt, t);
	if (pt->heap != HEAP_FOUND)
		return COLLECT_OK;
	read_counters(s, p, pt);
	p->v.v[PF_HEAP] = pt->total / 1024;
	return COLLECT_OK;
}

void heap_forget(struct sampler *s, struct tracked_proc *p, bool gone)
{
	struct proc_threads *pt = p->th;
	if (!pt || !pt->map)
		return;
	munmap(pt->map, HEAP_FILE_SIZE);
	pt->map = NULL;
	char name[32];
	snprintf(name, sizeof(name), HEAP_FILE_PREFIX "%d", (int)p->pid);
	struct stat st;
	/* only the file that was its: a new image's (or a new process's) is left alone */
	if (gone && s->heap_dir_fd >= 0 &&
	    fstatat(s->heap_dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == pt->dev &&
	    st.st_ino == pt->ino)
		unlinkat(s->heap_dir_fd, name, 0);
}

const struct collector collect_heap = {.name = "heap", .wanted = wanted, .collect = collect};

/* ---- the tree's heap, and the files of processes that came and went unseen ---- */

static bool sweep_init(struct sampler *s)
{
	return s->opt.heap != HEAP_OFF && s->heap_dir_fd >= 0;
}

/* Removes the counters files of processes that are gone and not tracked. */
static void sweep(struct sampler *s)
{
	int fd = dup(s->heap_dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dirent *de;
	size_t plen = strlen(HEAP_FILE_PREFIX);
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, HEAP_FILE_PREFIX, plen))
			continue;
		char *end;
		long pid = strtol(de->d_name + plen, &end, 10);
		if (*end || pid <= 0 || sampler_find(s, (pid_t)pid))
			continue;
		struct proc_stat st;
		if (!procfs_pid_stat(s->fs, (pid_t)pid, &st))
			unlinkat(s->heap_dir_fd, de->d_name, 0);
	}
	closedir(d);
}

static void tree_collect(struct sampler *s, struct sample *sample, double t)
{
	long long sum = 0;
	bool any = false;
	for (size_t i = 0; i < sample->n; i++)
		if (sample->procs[i].v[PF_HEAP] >= 0) {
			sum += sample->procs[i].v[PF_HEAP];
			any = true;
		}
	sample->tree.v[TF_HEAP] = any ? sum : -1;
	if (t - s->heap_sweep_t >= HEAP_SWEEP_EVERY) {
		s->heap_sweep_t = t;
		sweep(s);
	}
}

const struct tree_collector collect_heap_tree = {
	.name = "heap", .init = sweep_init, .collect = tree_collect};
