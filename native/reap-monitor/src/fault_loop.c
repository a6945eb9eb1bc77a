#define _GNU_SOURCE
#include "monitor.h"
#include "events.h"
#include "fault_log.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * The exchange with `criu restore --lazy-pages` (see criu/uffd.c): CRIU connects to our stream
 * socket and, per restored task, sends an int PID (the task's PID in the dump, which names its
 * pagemap-PID.img) and then that task's userfaultfd as SCM_RIGHTS (a negative PID is a zombie and
 * comes without a descriptor). When the whole tree is restored it sends the u32 "restore finished"
 * marker; the tasks resume right after. Lazy areas are registered in MISSING mode and CRIU asked for
 * fork/remap/remove/unmap events, so those arrive on the uffd too.
 *
 * Each uffd is one address space (struct space) tied to the task whose pages serve it: a fault is
 * answered from that task's own pages image, never another's (a command instance's program is the
 * port bridge's child: its memory is not the bridge's). A task that exits leaves its uffd silent or
 * answering ESRCH; that space alone is dropped and the others are served on.
 */
#define RESTORE_FINISHED 0x52535446u
#define MAX_SPACES 256
/* with this many spaces, a new one first has the dead ones swept out (see space_alive) */
#define SWEEP_AT 16
/* any page-aligned user address: the liveness probe never copies anything there */
#define PROBE_ADDR (1UL << 24)

struct loop {
	struct monitor *m;
	int listen_fd, client_fd, pidfd, stdin_open;
	struct space spaces[MAX_SPACES];
	size_t nr_spaces;
	int installing; /* the prefetch holds a space: the array must not be swept meanwhile */
	/* uffds of spaces gone during the prefetch: closed after it, so no new uffd takes the number
	 * the install is still copying through */
	int late_close[MAX_SPACES];
	size_t late_close_nr;
	int finished;
	uint8_t page[PAGE_SZ] __attribute__((aligned(4096)));
	char line[256];
	size_t line_len;
	pthread_t fetcher;
	int fetching;
	/* faults read while draining events (see drain_events), served once the copy in hand is done */
	struct deferred_fault {
		int uffd;
		uint64_t addr;
	} *deferred;
	size_t deferred_nr, deferred_cap;
};

static void handle_event(struct loop *l, struct space *sp, const struct uffd_msg *msg);

static struct space *space_of(struct loop *l, int uffd)
{
	for (size_t i = 0; i < l->nr_spaces; i++)
		if (l->spaces[i].uffd == uffd)
			return &l->spaces[i];
	return NULL;
}

static void sweep_spaces(struct loop *l);
static void space_gone(struct loop *l, struct space *sp);

/*
 * Is the space's task still there? The kernel tells a userfaultfd's reader nothing when its mm goes
 * away: a forked child that exits leaves its uffd silent for good, and a server forking a child per
 * request would fill the table. A write-protecting UFFDIO_COPY is refused before anything is
 * copied: ENOENT where this uffd has no area, EINVAL where it registered missing pages only (CRIU
 * never registers write-protection), and ESRCH (or ENOSPC) once the mm is gone.
 */
static int space_alive(struct loop *l, const struct space *sp)
{
	struct uffdio_copy c = {
		.dst = PROBE_ADDR,
		.src = (uint64_t)(uintptr_t)l->page,
		.len = PAGE_SZ,
		.mode = UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP,
	};
	return !(ioctl(sp->uffd, UFFDIO_COPY, &c) < 0 && (errno == ESRCH || errno == ENOSPC));
}

/* Drops the spaces whose task exited. Moves spaces in the array: callers look them up again by fd. */
static void sweep_dead_spaces(struct loop *l)
{
	for (size_t i = 0; i < l->nr_spaces; i++)
		if (l->spaces[i].uffd >= 0 && !space_alive(l, &l->spaces[i]))
			space_gone(l, &l->spaces[i]);
	sweep_spaces(l);
}

static struct space *add_space(struct loop *l, int uffd, struct task *task)
{
	struct space *sp;

	if (l->nr_spaces >= SWEEP_AT && !l->installing)
		sweep_dead_spaces(l);
	if (l->nr_spaces == MAX_SPACES) {
		emit("{\"event\":\"error\",\"message\":\"more than %d address spaces to serve\"}", MAX_SPACES);
		close(uffd);
		return NULL;
	}
	fcntl(uffd, F_SETFL, fcntl(uffd, F_GETFL) | O_NONBLOCK);
	sp = &l->spaces[l->nr_spaces++];
	*sp = (struct space){ .uffd = uffd, .task = task };
	l->m->st.spaces++;
	return sp;
}

/* The task behind a space is gone: close its uffd now (and forget its put-aside faults: a new uffd
 * may get the same number), compact the array later (sweep_spaces). */
static void space_gone(struct loop *l, struct space *sp)
{
	size_t k = 0;

	if (sp->uffd < 0)
		return;
	for (size_t i = 0; i < l->deferred_nr; i++)
		if (l->deferred[i].uffd != sp->uffd)
			l->deferred[k++] = l->deferred[i];
	l->deferred_nr = k;
	if (l->installing && l->late_close_nr < MAX_SPACES)
		l->late_close[l->late_close_nr++] = sp->uffd;
	else
		close(sp->uffd);
	sp->uffd = -1;
	l->m->st.spaces--;
	l->m->st.spaces_gone++;
}

static void sweep_spaces(struct loop *l)
{
	size_t k = 0;

	for (size_t i = 0; i < l->nr_spaces; i++) {
		if (l->spaces[i].uffd >= 0)
			l->spaces[k++] = l->spaces[i];
		else
			free(l->spaces[i].remaps);
	}
	l->nr_spaces = k;
}

/* The prefetch phase's fetch: file-page readahead, then the one O_DIRECT read of the working set. */
static void *fetch_thread(void *arg)
{
	struct monitor *m = arg;
	char err[512] = "";

	/* The working set first: it is installed before the instance runs, so its one large read must
	 * not queue behind the file pages' readahead (which only saves faults later). */
	if (working_set_read(m, err, sizeof(err))) {
		/* never install a working set that fails its checksum: serve everything lazily instead */
		emit("{\"event\":\"ws-invalid\",\"message\":\"%s\"}", err);
	}
	if (m->file_pages_path)
		file_pages_readahead(m);
	return NULL;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int recv_uffd(int sk)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sk, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

/* One message from CRIU: a task's PID + uffd, or the restore-finished marker. */
static int handle_client(struct loop *l)
{
	struct monitor *m = l->m;
	int32_t word;
	ssize_t r = recv(l->client_fd, &word, sizeof(word), MSG_WAITALL);
	char err[512] = "";

	if (r == 0 || (r < 0 && errno != EINTR)) {
		if (!l->finished)
			emit("{\"event\":\"error\",\"message\":\"CRIU closed the lazy-pages connection before the restore finished\"}");
		close(l->client_fd);
		l->client_fd = -1;
		return l->finished ? 0 : -1;
	}
	if (r != sizeof(word))
		return 0;
	if ((uint32_t)word == RESTORE_FINISHED) {
		l->finished = 1;
		fault_log("restore-finished spaces=%zu faults=%llu", l->nr_spaces, (unsigned long long)m->st.faults);
		if (l->fetching) {
			pthread_join(l->fetcher, NULL);
			l->fetching = 0;
		}
		/* every task CRIU restored gets its own pages of the working set, before any of them runs */
		if (m->mode == MODE_PREFETCH && m->ws_ok) {
			l->installing = 1;
			for (size_t i = 0; i < l->nr_spaces; i++)
				if (!l->spaces[i].forked && l->spaces[i].uffd >= 0)
					working_set_install(m, &l->spaces[i], err, sizeof(err));
			l->installing = 0;
			while (l->late_close_nr > 0)
				close(l->late_close[--l->late_close_nr]);
		}
		working_set_release(m);
		fault_log("installed prefetched=%llu onDemand=%llu", (unsigned long long)m->st.prefetched, (unsigned long long)m->st.on_demand);
		emit_stats(m, "restored");
		return 0;
	}
	if (word < 0)
		return 0; /* zombie: no userfaultfd follows */
	int fd = recv_uffd(l->client_fd);
	if (fd < 0) {
		emit("{\"event\":\"error\",\"message\":\"no userfaultfd received for task %d\"}", word);
		return -1;
	}
	struct task *task = task_by_pid(m, word);
	if (!task) {
		/* serving it another task's pages would corrupt it: fail the restore instead */
		emit("{\"event\":\"error\",\"message\":\"task %d has no page map in the snapshot's index\"}", word);
		close(fd);
		return -1;
	}
	if (!add_space(l, fd, task))
		return -1;
	emit("{\"event\":\"task\",\"pid\":%d}", word);
	fault_log("task pid=%d uffd=%d", word, fd);
	return 0;
}

static uint64_t unremap(const struct space *sp, uint64_t addr)
{
	for (size_t i = sp->remaps_nr; i-- > 0;) {
		const struct remap *r = &sp->remaps[i];
		if (addr >= r->to && addr < r->to + r->len)
			addr = r->from + (addr - r->to);
	}
	return addr;
}

/*
 * UFFDIO_COPY and UFFDIO_ZEROPAGE answer EAGAIN while a non-cooperative event (remove, unmap, remap,
 * fork) is pending on the uffd: the task that caused it waits until we read it, and the memory
 * layout may change meanwhile. Retrying the copy without reading the event spins forever while the
 * instance hangs (one thread in the fault, one in userfaultfd_event_wait_completion). So: read
 * everything pending, handle the events, keep the faults for later, then retry.
 */
static void drain_events(struct loop *l, int uffd)
{
	struct uffd_msg msgs[16];

	for (;;) {
		ssize_t r = read(uffd, msgs, sizeof(msgs));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (size_t k = 0; k < (size_t)r / sizeof(msgs[0]); k++) {
			if (msgs[k].event != UFFD_EVENT_PAGEFAULT) {
				/* looked up per event: a fork's new space may have had the array swept */
				struct space *sp = space_of(l, uffd);
				if (sp)
					handle_event(l, sp, &msgs[k]);
				continue;
			}
			if (l->deferred_nr == l->deferred_cap) {
				size_t cap = l->deferred_cap ? l->deferred_cap * 2 : 64;
				struct deferred_fault *d = realloc(l->deferred, cap * sizeof(*d));
				if (!d)
					continue; /* the kernel re-delivers nothing: but out of memory we cannot do better */
				l->deferred = d;
				l->deferred_cap = cap;
			}
			l->deferred[l->deferred_nr++] = (struct deferred_fault){ uffd, msgs[k].arg.pagefault.address & ~(PAGE_SZ - 1) };
		}
	}
}

static int task_gone(int err)
{
	return err == ESRCH || err == ENOSPC; /* the space's mm is gone (or exiting) */
}

static void serve_fault(struct loop *l, int uffd, uint64_t addr)
{
	struct monitor *m = l->m;
	struct space *sp = space_of(l, uffd);
	struct task *t;
	uint64_t orig, off;
	int r;

	if (!sp || sp->uffd < 0)
		return; /* its task exited meanwhile */
	t = sp->task;
	orig = unremap(sp, addr);
	m->st.faults++;
	page_map_lookup(&t->map, orig, &off);
	if (off == NO_DATA) {
		struct uffdio_zeropage z = { .range = { .start = addr, .len = PAGE_SZ } };
		while ((r = ioctl(uffd, UFFDIO_ZEROPAGE, &z)) < 0 && errno == EAGAIN) {
			drain_events(l, uffd);
			z.zeropage = 0;
		}
		m->st.zero_pages++;
	} else {
		if (pread(t->pages_fd, l->page, PAGE_SZ, (off_t)off) != (ssize_t)PAGE_SZ) {
			emit("{\"event\":\"error\",\"message\":\"cannot read page at offset %llu of task %d's pages image\"}",
			     (unsigned long long)off, t->pid);
			memset(l->page, 0, PAGE_SZ);
		}
		__atomic_fetch_add(&m->st.bytes_read, PAGE_SZ, __ATOMIC_RELAXED);
		struct uffdio_copy c = { .dst = addr, .src = (uint64_t)(uintptr_t)l->page, .len = PAGE_SZ };
		while ((r = ioctl(uffd, UFFDIO_COPY, &c)) < 0 && errno == EAGAIN && c.copy <= 0) {
			drain_events(l, uffd);
			c.copy = 0;
		}
	}
	if (r < 0 && task_gone(errno)) {
		/* drain_events may have moved the spaces (a fork swept the array): look it up again */
		if ((sp = space_of(l, uffd)))
			space_gone(l, sp);
	} else if (r < 0 && errno == EEXIST) {
		/* installed meanwhile (prefetch raced with this fault): just wake the faulting thread */
		struct uffdio_range w = { .start = addr, .len = PAGE_SZ };
		ioctl(uffd, UFFDIO_WAKE, &w);
	} else {
		m->st.on_demand++;
		if (fault_log_on())
			fault_log("fault pid=%d uffd=%d forked=%d addr=%#llx image=%#llx %s in-ws=%d finished=%d", t->pid, uffd, sp->forked,
				  (unsigned long long)addr, (unsigned long long)orig, off == NO_DATA ? "zero" : "data",
				  working_set_has(m, t->pid, orig), l->finished);
		if (m->mode == MODE_RECORD)
			trace_record(m, t->pid, orig, off);
	}
}

/* A non-cooperative event: fork (a new uffd to serve), remap, remove, unmap. */
static void handle_event(struct loop *l, struct space *sp, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_FORK: {
		/*
		 * A child shares its parent's not-yet-served pages: serve its faults from the parent's task,
		 * through the parent's remaps (copied: from now on each space moves on its own). `sp` may
		 * move when the array grows: copy what we need first.
		 */
		struct task *task = sp->task;
		size_t nr = sp->remaps_nr;
		struct remap *copy = nr ? malloc(nr * sizeof(*copy)) : NULL;
		if (nr && !copy) {
			close((int)msg->arg.fork.ufd);
			emit("{\"event\":\"error\",\"message\":\"out of memory on a fork\"}");
			break;
		}
		if (nr)
			memcpy(copy, sp->remaps, nr * sizeof(*copy));
		struct space *child = add_space(l, (int)msg->arg.fork.ufd, task);
		if (!child) {
			free(copy);
			break;
		}
		child->remaps = copy;
		child->remaps_nr = nr;
		child->forked = 1;
		fault_log("fork pid=%d uffd=%d child-uffd=%d", task->pid, sp->uffd, child->uffd);
		break;
	}
	case UFFD_EVENT_REMAP: {
		struct remap *nr = realloc(sp->remaps, (sp->remaps_nr + 1) * sizeof(*nr));
		if (nr) {
			sp->remaps = nr;
			sp->remaps[sp->remaps_nr++] = (struct remap){ msg->arg.remap.from, msg->arg.remap.to, msg->arg.remap.len };
		}
		fault_log("remap uffd=%d from=%#llx to=%#llx len=%#llx", sp->uffd, (unsigned long long)msg->arg.remap.from,
			  (unsigned long long)msg->arg.remap.to, (unsigned long long)msg->arg.remap.len);
		break;
	}
	case UFFD_EVENT_REMOVE: {
		/* madvise(DONTNEED): later faults there must see zeros, not the snapshot's data */
		struct uffdio_range rg = { .start = msg->arg.remove.start, .len = msg->arg.remove.end - msg->arg.remove.start };
		fault_log("remove uffd=%d start=%#llx end=%#llx", sp->uffd, (unsigned long long)msg->arg.remove.start, (unsigned long long)msg->arg.remove.end);
		if (ioctl(sp->uffd, UFFDIO_UNREGISTER, &rg) && task_gone(errno))
			space_gone(l, sp);
		break;
	}
	case UFFD_EVENT_UNMAP:
		fault_log("unmap uffd=%d start=%#llx end=%#llx", sp->uffd, (unsigned long long)msg->arg.remove.start, (unsigned long long)msg->arg.remove.end);
		break; /* the area is gone; nothing will fault there */
	}
}

static void handle_uffd(struct loop *l, int uffd)
{
	struct uffd_msg msgs[64];

	for (;;) {
		struct space *sp = space_of(l, uffd);
		if (!sp || sp->uffd < 0)
			return;
		ssize_t r = read(uffd, msgs, sizeof(msgs));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			space_gone(l, sp);
			return;
		}
		for (size_t k = 0; k < (size_t)r / sizeof(msgs[0]); k++) {
			struct uffd_msg *msg = &msgs[k];
			if (msg->event == UFFD_EVENT_PAGEFAULT)
				serve_fault(l, uffd, msg->arg.pagefault.address & ~(PAGE_SZ - 1));
			else if ((sp = space_of(l, uffd)) && sp->uffd >= 0)
				handle_event(l, sp, msg);
			/* faults put aside while an event was drained (spaces may have moved: by fd) */
			while (l->deferred_nr > 0) {
				struct deferred_fault d = l->deferred[--l->deferred_nr];
				serve_fault(l, d.uffd, d.addr);
			}
		}
	}
}

static int handle_command(struct loop *l, const char *cmd)
{
	struct monitor *m = l->m;
	char err[512] = "";

	fault_log("command %s onDemand=%llu", cmd, (unsigned long long)m->st.on_demand);
	if (!strcmp(cmd, "stats")) {
		if (!l->installing)
			sweep_dead_spaces(l); /* count live spaces, not silent ones */
		emit_stats(m, "stats");
	} else if (!strcmp(cmd, "record-done")) {
		if (m->mode != MODE_RECORD) {
			emit("{\"event\":\"error\",\"message\":\"record-done outside the record phase\"}");
		} else if (working_set_write(m, err, sizeof(err))) {
			emit("{\"event\":\"error\",\"message\":\"%s\"}", err);
		} else {
			emit_stats(m, "recorded");
		}
	} else if (!strncmp(cmd, "watch ", 6)) {
		/* the instance's host PID: when it exits, so do we (nothing left to serve) */
		int pid = atoi(cmd + 6);
		l->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (l->pidfd < 0)
			emit("{\"event\":\"instance-exited\",\"pid\":%d}", pid);
		return l->pidfd < 0 ? 1 : 0;
	} else if (!strcmp(cmd, "exit")) {
		return 1;
	} else {
		emit("{\"event\":\"error\",\"message\":\"unknown command\"}");
	}
	return 0;
}

static int handle_stdin(struct loop *l)
{
	char buf[256];
	ssize_t r = read(0, buf, sizeof(buf));

	if (r <= 0) {
		l->stdin_open = 0;
		return 1; /* the worker is gone: stop serving */
	}
	for (ssize_t i = 0; i < r; i++) {
		if (buf[i] == '\n') {
			l->line[l->line_len] = 0;
			l->line_len = 0;
			if (handle_command(l, l->line))
				return 1;
		} else if (l->line_len + 1 < sizeof(l->line)) {
			l->line[l->line_len++] = buf[i];
		}
	}
	return 0;
}

static void drain_cb(void *ctx, int uffd)
{
	drain_events(ctx, uffd);
}

int monitor_run(struct monitor *m)
{
	static struct loop l;
	l.m = m;
	m->drain = drain_cb;
	m->drain_ctx = &l;
	l.client_fd = -1;
	l.pidfd = -1;
	l.stdin_open = 1;
	l.listen_fd = listen_on(m->socket_path);
	if (l.listen_fd < 0) {
		emit("{\"event\":\"error\",\"message\":\"cannot listen on %s: %s\"}", m->socket_path, strerror(-l.listen_fd));
		return 1;
	}
	emit("{\"event\":\"listening\"}");
	/*
	 * Prefetch: fetch the working set on a second thread while CRIU restores, so that the few faults
	 * CRIU's restorer takes meanwhile are served at once; the install waits for it at the finish marker.
	 */
	if (m->mode == MODE_PREFETCH && pthread_create(&l.fetcher, NULL, fetch_thread, m) == 0)
		l.fetching = 1;

	for (;;) {
		struct pollfd p[MAX_SPACES + 4];
		int fds[MAX_SPACES];

		/* faults read while the install drained events: serve them before waiting again */
		while (l.deferred_nr > 0) {
			struct deferred_fault d = l.deferred[--l.deferred_nr];
			serve_fault(&l, d.uffd, d.addr);
		}
		sweep_spaces(&l);
		size_t n = 0, base, nr = l.nr_spaces;
		int quit = 0;

		p[n++] = (struct pollfd){ .fd = l.stdin_open ? 0 : -1, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = l.listen_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = l.client_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = l.pidfd, .events = POLLIN };
		base = n;
		for (size_t i = 0; i < nr; i++) {
			fds[i] = l.spaces[i].uffd;
			p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		/* faults first: a blocked instance thread is the thing to avoid */
		for (size_t i = 0; i < nr; i++)
			if (p[base + i].revents)
				handle_uffd(&l, fds[i]);
		if (p[1].revents & POLLIN) {
			l.client_fd = accept4(l.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			close(l.listen_fd);
			l.listen_fd = -1;
			unlink(m->socket_path);
		}
		if (p[2].revents && l.client_fd >= 0 && handle_client(&l))
			quit = 1;
		if (p[3].revents) {
			fault_log("instance-exited onDemand=%llu", (unsigned long long)m->st.on_demand);
			emit_stats(m, "instance-exited");
			quit = 1;
		}
		if (p[0].revents && handle_stdin(&l))
			quit = 1;
		if (quit)
			break;
	}
	if (l.fetching)
		pthread_join(l.fetcher, NULL);
	emit_stats(m, "exit");
	return 0;
}
