/* test_fileread.c - the node's file reader (node/io/fileread.h) on a bare node shell (its loop and
 * log, nothing else).  A read ends with done on the loop thread, with the file's bytes in the
 * buffer, or with the read's error.  A stop waits for a read in progress only up to
 * NODE_FILEREAD_STOP_MS: a read that hangs leaves its thread behind, the read queued behind it
 * ends with -ECANCELED on the loop during the stop, the stop warns, and the hung read's done comes,
 * with -ECANCELED too, on the thread once the read returns.
 *
 * The hang is a pread into a buffer whose page a userfaultfd holds back, which is what a read from
 * a hung NFS or FUSE file system looks like to the thread: it blocks in the kernel until the page
 * comes.  Handling the kernel's own faults needs root (CAP_SYS_PTRACE); without it that test is
 * skipped and says so. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "node/io/evclock.h"
#include "node/io/fileread.h"
#include "node/io/node_int.h"

struct rd {
	atomic_int calls;
	atomic_int e;
	atomic_bool on_loop;
};

static pthread_t loop_thread;
static char warned[1024];

static void on_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (level == KONCE_LOG_WARN)
		snprintf(warned, sizeof warned, "%s", line);
}

static void on_read(void *ctx, int e)
{
	struct rd *r = ctx;
	atomic_store(&r->e, e);
	atomic_store(&r->on_loop, pthread_equal(pthread_self(), loop_thread) != 0);
	atomic_fetch_add(&r->calls, 1);
}

static void shell(struct konce_node *n)
{
	*n = (struct konce_node){.base = event_base_new()};
	assert_non_null(n->base);
	n->cfg.log = on_log;
	n->cfg.log_level = KONCE_LOG_INFO;
	loop_thread = pthread_self();
	warned[0] = 0;
}

/* A temporary file of len bytes, i & 0xff at offset i; its descriptor, open for reading. */
static int temp_file(size_t len)
{
	char path[] = "/tmp/konce-fileread-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	uint8_t *b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	free(b);
	return fd;
}

static void run_until(struct konce_node *n, struct rd *r, int calls)
{
	uint64_t end = node_now_us() + 10000000;
	while (atomic_load(&r->calls) < calls && node_now_us() < end)
		event_base_loop(n->base, EVLOOP_ONCE);
}

static void test_reads_on_the_thread_reports_on_the_loop(void **state)
{
	(void)state;
	struct konce_node n;
	shell(&n);
	enum { LEN = 300000 };
	uint8_t *buf = malloc(LEN);
	assert_non_null(buf);
	struct rd a = {0}, b = {0};
	assert_int_equal(node_fileread(&n, temp_file(LEN), buf, LEN, on_read, &a), 0);
	assert_int_equal(atomic_load(&a.calls), 0); /* never inside the call */
	run_until(&n, &a, 1);
	assert_int_equal(atomic_load(&a.calls), 1);
	assert_int_equal(atomic_load(&a.e), 0);
	assert_true(atomic_load(&a.on_loop));
	for (size_t i = 0; i < LEN; i += 4099)
		assert_int_equal(buf[i], (uint8_t)i);
	/* a file shorter than asked (it shrank since the caller's fstat): -EIO */
	assert_int_equal(node_fileread(&n, temp_file(100), buf, 200, on_read, &b), 0);
	run_until(&n, &b, 1);
	assert_int_equal(atomic_load(&b.e), -EIO);
	node_fileread_stop(&n);
	assert_null(n.reader);
	assert_string_equal(warned, "");
	assert_int_equal(atomic_load(&a.calls), 1);
	free(buf);
	event_base_free(n.base);
}

static void test_stop_leaves_a_hung_read(void **state)
{
	(void)state;
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = {.api = UFFD_API};
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		fprintf(stderr, "SKIP: userfaultfd for the kernel's faults needs root (CAP_SYS_PTRACE): %s\n",
			strerror(errno));
		if (uffd >= 0)
			close(uffd);
		skip();
	}
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *held = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(held != MAP_FAILED);
	struct uffdio_register reg = {.range = {(uintptr_t)held, (uint64_t)page}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		fprintf(stderr, "SKIP: userfaultfd registration refused: %s\n", strerror(errno));
		close(uffd);
		munmap(held, (size_t)page);
		skip();
	}
	struct konce_node n;
	shell(&n);
	static struct rd hung, queued; /* hung's done comes on the thread, after this frame could be gone */
	uint8_t small[64];
	int fd = temp_file(4096);
	assert_int_equal(node_fileread(&n, fd, held, (size_t)page, on_read, &hung), 0);
	assert_int_equal(node_fileread(&n, temp_file(64), small, sizeof small, on_read, &queued), 0);
	/* the thread is in the first pread, waiting for the page: the fault reaches the uffd */
	struct pollfd pf = {.fd = uffd, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 10000), 1);
	struct uffd_msg msg;
	assert_int_equal(read(uffd, &msg, sizeof msg), (ssize_t)sizeof msg);
	assert_int_equal(msg.event, UFFD_EVENT_PAGEFAULT);
	assert_int_equal(atomic_load(&hung.calls), 0);
	uint64_t t0 = node_now_us();
	node_fileread_stop(&n);
	uint64_t took = node_now_us() - t0;
	assert_true(took >= (uint64_t)NODE_FILEREAD_STOP_MS * 1000 - 1000);
	/* and it returned, although the read cannot end until the page comes (below) */
	assert_null(n.reader);
	assert_non_null(strstr(warned, "did not end"));
	/* the read behind it never ran: it ended in the stop, on the loop */
	assert_int_equal(atomic_load(&queued.calls), 1);
	assert_int_equal(atomic_load(&queued.e), -ECANCELED);
	assert_true(atomic_load(&queued.on_loop));
	assert_int_equal(atomic_load(&hung.calls), 0);
	/* the page comes (the fault handler goes): the read returns, its done runs on its thread */
	close(uffd);
	for (int i = 0; i < 1000 && !atomic_load(&hung.calls); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&hung.calls), 1);
	assert_int_equal(atomic_load(&hung.e), -ECANCELED);
	assert_false(atomic_load(&hung.on_loop));
	usleep(50000); /* the thread frees itself after the done */
	munmap(held, (size_t)page);
	event_base_free(n.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_on_the_thread_reports_on_the_loop),
		cmocka_unit_test(test_stop_leaves_a_hung_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
