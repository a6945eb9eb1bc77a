#define _GNU_SOURCE
#include "monitor.h"
#include "events.h"
#include "fault_log.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Trace file: a 64-byte header ("HLTRACE2", u64 entries, u64 working-set pages, u64 working-set
 * checksum, u64 entries checksum, u64 page size, zero padding) then, in first-fault order, one
 * {u64 address, u64 offset in the task's pages image, u64 task PID in the dump} per page (version 1
 * had no PID: one task). Working-set file: the same pages sorted by task, then address, contents
 * back to back, so that contiguous runs of a task install with one UFFDIO_COPY each.
 */
#define TRACE_HDR 64

int trace_record(struct monitor *m, int32_t pid, uint64_t vaddr, uint64_t pages_off)
{
	if (m->trace_nr == m->trace_cap) {
		size_t cap = m->trace_cap ? m->trace_cap * 2 : 4096;
		struct trace_entry *t = realloc(m->trace, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		m->trace = t;
		m->trace_cap = cap;
	}
	m->trace[m->trace_nr++] = (struct trace_entry){ vaddr, pages_off, (uint64_t)(uint32_t)pid };
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct trace_entry *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Sorted, unique copy of `in` (a page can fault twice, e.g. after it was madvise'd away). */
static struct trace_entry *sorted_unique(const struct trace_entry *in, size_t n, size_t *out_n)
{
	struct trace_entry *s = malloc((n ? n : 1) * sizeof(*s));
	size_t k = 0;

	if (!s)
		return NULL;
	memcpy(s, in, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_entry);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || cmp_entry(&s[k - 1], &s[i]))
			s[k++] = s[i];
	*out_n = k;
	return s;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes `buf` to `path` via a temporary file, fsync and rename: a crash never leaves half a file. */
static int write_durably(const char *path, const void *buf, size_t len)
{
	char tmp[4096];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	return ret;
}

int working_set_write(struct monitor *m, char *err, size_t errlen)
{
	size_t nr_unique = 0, i;
	struct trace_entry *ws = sorted_unique(m->trace, m->trace_nr, &nr_unique);
	uint8_t *buf = NULL, *hdr = NULL;
	struct trace_entry *order = NULL;
	size_t nr_order = 0;
	int ret = -ENOMEM;

	if (!ws)
		goto out;
	/* the trace keeps first-fault order but each page once */
	order = malloc((m->trace_nr ? m->trace_nr : 1) * sizeof(*order));
	if (!order)
		goto out;
	memcpy(order, m->trace, m->trace_nr * sizeof(*order));
	nr_order = m->trace_nr;
	{
		/* dedupe `order` keeping first occurrences: mark seen pages in a byte array indexed like `ws` */
		uint8_t *seen = calloc(nr_unique ? nr_unique : 1, 1);
		size_t k = 0;
		if (!seen)
			goto out;
		for (i = 0; i < nr_order; i++) {
			struct trace_entry *hit = bsearch(&order[i], ws, nr_unique, sizeof(*ws), cmp_entry);
			size_t idx = (size_t)(hit - ws);
			if (!seen[idx]) {
				seen[idx] = 1;
				order[k++] = order[i];
			}
		}
		nr_order = k;
		free(seen);
	}

	buf = calloc(nr_unique ? nr_unique : 1, PAGE_SZ);
	if (!buf)
		goto out;
	for (i = 0; i < nr_unique; i++) {
		if (ws[i].pages_off == NO_DATA)
			continue; /* zero page: calloc'ed */
		struct task *t = task_by_pid(m, (int64_t)ws[i].pid);
		ssize_t r = t ? pread(t->pages_fd, buf + i * PAGE_SZ, PAGE_SZ, (off_t)ws[i].pages_off) : -1;
		if (r != (ssize_t)PAGE_SZ) {
			snprintf(err, errlen, "reading page at offset %llu of task %llu's pages image failed", (unsigned long long)ws[i].pages_off, (unsigned long long)ws[i].pid);
			ret = -EIO;
			goto out;
		}
	}
	ret = write_durably(m->ws_path, buf, nr_unique * PAGE_SZ);
	if (ret) {
		snprintf(err, errlen, "writing working-set file %s: %s", m->ws_path, strerror(-ret));
		goto out;
	}

	hdr = calloc(1, TRACE_HDR + nr_order * sizeof(struct trace_entry));
	if (!hdr) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(hdr + TRACE_HDR, order, nr_order * sizeof(struct trace_entry));
	uint64_t h[5] = { nr_order, nr_unique, ws_checksum(buf, nr_unique * PAGE_SZ),
			  ws_checksum(hdr + TRACE_HDR, nr_order * sizeof(struct trace_entry)), PAGE_SZ };
	memcpy(hdr, "HLTRACE2", 8);
	memcpy(hdr + 8, h, sizeof(h));
	ret = write_durably(m->trace_path, hdr, TRACE_HDR + nr_order * sizeof(struct trace_entry));
	if (ret)
		snprintf(err, errlen, "writing trace file %s: %s", m->trace_path, strerror(-ret));
	m->st.ws_pages = nr_unique;
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory writing the working set");
	free(ws);
	free(order);
	free(buf);
	free(hdr);
	return ret;
}

int working_set_read(struct monitor *m, char *err, size_t errlen)
{
	uint64_t t0 = now_us();
	uint8_t hdr[TRACE_HDR];
	uint64_t h[5];
	struct trace_entry *entries = NULL;
	int fd = -1, ret = -EINVAL;
	size_t len;

	fd = open(m->trace_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "opening trace file %s: %s", m->trace_path, strerror(errno));
		return -errno;
	}
	if (pread(fd, hdr, TRACE_HDR, 0) != TRACE_HDR || memcmp(hdr, "HLTRACE2", 8)) {
		snprintf(err, errlen, "trace file %s: bad header", m->trace_path);
		goto out;
	}
	memcpy(h, hdr + 8, sizeof(h));
	if (h[4] != PAGE_SZ || h[0] > (1u << 26) || h[1] > h[0]) {
		snprintf(err, errlen, "trace file %s: implausible header", m->trace_path);
		goto out;
	}
	len = h[0] * sizeof(struct trace_entry);
	entries = malloc(len ? len : 1);
	if (!entries || pread(fd, entries, len, TRACE_HDR) != (ssize_t)len || ws_checksum(entries, len) != h[3]) {
		snprintf(err, errlen, "trace file %s: checksum mismatch (corrupted)", m->trace_path);
		goto out;
	}
	close(fd);
	fd = -1;

	m->ws_pages = sorted_unique(entries, h[0], &m->ws_nr);
	if (!m->ws_pages || m->ws_nr != h[1]) {
		snprintf(err, errlen, "trace file %s: working-set page count mismatch", m->trace_path);
		goto out;
	}
	len = m->ws_nr * PAGE_SZ;
	/* One O_DIRECT read into an aligned buffer: the page cache is bypassed, the disk streams. */
	if (posix_memalign((void **)&m->ws_buf, PAGE_SZ, len ? len : PAGE_SZ)) {
		snprintf(err, errlen, "cannot allocate %zu bytes for the working set", len);
		ret = -ENOMEM;
		goto out;
	}
	fd = open(m->ws_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) /* tmpfs and some filesystems refuse O_DIRECT: a buffered read is still one read */
		fd = open(m->ws_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "opening working-set file %s: %s", m->ws_path, strerror(errno));
		ret = -errno;
		goto out;
	}
	size_t got = 0;
	uint64_t t_read = now_us();
	while (got < len) {
		ssize_t r = read(fd, m->ws_buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	m->st.read_us = now_us() - t_read;
	if (got != len) {
		snprintf(err, errlen, "working-set file %s: short read (%zu of %zu bytes)", m->ws_path, got, len);
		goto out;
	}
	__atomic_fetch_add(&m->st.bytes_read, len, __ATOMIC_RELAXED);
	if (ws_checksum(m->ws_buf, len) != h[2]) {
		snprintf(err, errlen, "working-set file %s: checksum mismatch (corrupted)", m->ws_path);
		goto out;
	}
	m->st.ws_pages = m->ws_nr;
	m->ws_ok = 1;
	ret = 0;
out:
	m->st.fetch_us = now_us() - t0;
	if (fd >= 0)
		close(fd);
	free(entries);
	return ret;
}

/*
 * Installs `n` pages at `dst` without waking anyone. A run of the trace may span two areas (VMAs):
 * one UFFDIO_COPY must stay inside one, else the kernel answers ENOENT for the whole call. So a
 * failed call is retried with half the length until it fits; a single page that still fails
 * (EEXIST: faulted in meanwhile; ENOENT: no longer registered) is skipped.
 */
static int copy_range(struct monitor *m, int uffd, uint64_t dst, const uint8_t *src, uint64_t n)
{
	uint64_t done = 0, len = n;

	while (done < n) {
		if (len > n - done)
			len = n - done;
		struct uffdio_copy c = {
			.dst = dst + done * PAGE_SZ,
			.src = (uint64_t)(uintptr_t)(src + done * PAGE_SZ),
			.len = len * PAGE_SZ,
			.mode = UFFDIO_COPY_MODE_DONTWAKE,
		};
		int r = ioctl(uffd, UFFDIO_COPY, &c);
		if (c.copy > 0) {
			done += (uint64_t)c.copy / PAGE_SZ;
			m->st.prefetched += (uint64_t)c.copy / PAGE_SZ;
			len = n - done;
			continue;
		}
		if (r < 0 && errno == EAGAIN) {
			/* an event is pending: read it first, or this spins while the instance waits on it */
			if (m->drain)
				m->drain(m->drain_ctx, uffd);
			continue;
		}
		if (r < 0 && (errno == ESRCH || errno == ENOSPC))
			return -errno; /* the task is gone (or going): nothing of its space is left to fill */
		if (len > 1) {
			len /= 2;
			continue;
		}
		fault_log("install-skip addr=%#llx %s", (unsigned long long)c.dst, strerror(errno));
		done += 1;
		len = n - done;
	}
	return 0;
}

/*
 * The trace holds image addresses (faults are un-remapped before recording, so the page map can be
 * looked up). CRIU's restorer mremap()s areas from where it premapped them to their final place
 * (UFFD_EVENT_REMAP, each one waited for by the kernel, so all are known once the restore has
 * finished): install at the final address, replaying the remaps in order.
 */
static uint64_t redo_remap(const struct space *sp, uint64_t addr)
{
	for (size_t i = 0; i < sp->remaps_nr; i++) {
		const struct remap *r = &sp->remaps[i];
		if (addr >= r->from && addr < r->from + r->len)
			addr = r->to + (addr - r->from);
	}
	return addr;
}

int working_set_install(struct monitor *m, struct space *sp, char *err, size_t errlen)
{
	uint64_t t0 = now_us(), lo = UINT64_MAX, hi = 0, pid = (uint64_t)(uint32_t)sp->task->pid;
	size_t i = 0, end;

	(void)err;
	(void)errlen;
	fault_log("install pid=%llu uffd=%d remaps=%zu", (unsigned long long)pid, sp->uffd, sp->remaps_nr);
	/* this task's pages: a contiguous stretch of the (task, address)-sorted working set */
	while (i < m->ws_nr && m->ws_pages[i].pid < pid)
		i++;
	for (end = i; end < m->ws_nr && m->ws_pages[end].pid == pid;)
		end++;
	while (i < end && sp->uffd >= 0) { /* a space whose task went meanwhile is closed: stop */
		uint64_t dst = redo_remap(sp, m->ws_pages[i].vaddr);
		size_t j = i + 1;
		while (j < end && redo_remap(sp, m->ws_pages[j].vaddr) == dst + (j - i) * PAGE_SZ)
			j++;
		if (copy_range(m, sp->uffd, dst, m->ws_buf + i * PAGE_SZ, j - i))
			break;
		if (dst < lo)
			lo = dst;
		if (dst + (j - i) * PAGE_SZ > hi)
			hi = dst + (j - i) * PAGE_SZ;
		i = j;
	}
	if (hi > lo && sp->uffd >= 0) {
		/* one wake for every thread that faulted while we were installing */
		struct uffdio_range wake = { .start = lo, .len = hi - lo };
		ioctl(sp->uffd, UFFDIO_WAKE, &wake);
	}
	m->ws_installed = 1;
	m->st.install_us += now_us() - t0;
	return 0;
}

int working_set_has(const struct monitor *m, int32_t pid, uint64_t vaddr)
{
	struct trace_entry key = { .vaddr = vaddr, .pid = (uint64_t)(uint32_t)pid };

	return m->ws_pages && bsearch(&key, m->ws_pages, m->ws_nr, sizeof(key), cmp_entry) != NULL;
}

void working_set_release(struct monitor *m)
{
	free(m->ws_buf);
	m->ws_buf = NULL;
}
