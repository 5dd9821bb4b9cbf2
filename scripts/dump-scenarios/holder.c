/*
 * holder.c - the small process that the dump scenarios exec into and CRIU then dumps.
 *
 * Why not keep the Python process itself: a bare python3 dumps about 2.6 MiB of anonymous
 * pages per process, so a tree of a few Python processes would make every fixture several MiB.
 * The scenario scripts (Python or shell) therefore create the file descriptors (sockets, pipes,
 * eventfd, epoll, memfd, ...), which survive execve, and then exec this program, which adds the
 * state that does not survive execve and waits forever:
 *
 *   -r FD      when set up, write "<pid> <comm>\n" to FD and close it (the scenario waits for it)
 *   -n NAME    prctl(PR_SET_NAME) for the main thread (comm)
 *   -t N       start N more threads, named NAME-t1..tN, each with a marker on its stack
 *   -T         three POSIX timers (CLOCK_MONOTONIC/SIGEV_SIGNAL, CLOCK_REALTIME/SIGEV_NONE,
 *              CLOCK_BOOTTIME/SIGEV_THREAD_ID aimed at the last thread), armed for ~1000 s
 *   -I         ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF armed
 *   -P         pending signals: SIGUSR2 and two queued SIGRTMIN+1 (values 0x1111, 0x2222) for the
 *              process; SIGUSR1 for the first thread; SIGRTMIN+3 for the main thread (all blocked)
 *   -A         signal actions: SIGUSR1 SA_SIGINFO|SA_RESTART|SA_ONSTACK handler, SIGINT ignored,
 *              SIGHUP SA_RESETHAND handler; plus a sigaltstack
 *   -C         a seccomp filter (no_new_privs; acct(2) returns EPERM, everything else allowed)
 *   -L         rlimits: RLIMIT_NOFILE 777/4096, RLIMIT_CORE 0/unlimited
 *   -R         PR_SET_CHILD_SUBREAPER; -D SIG: PR_SET_PDEATHSIG
 *   -m TEXT    plant TEXT (a marker) in the heap, a static buffer, an anonymous private mapping
 *              and the main thread's stack
 *   -S         a 64 KiB shared anonymous mapping holding the marker (then -f children share it)
 *   -M FD      map FD (e.g. a memfd) MAP_SHARED over its size and write the marker at its start
 *   -p FD      map FD (a regular file) MAP_PRIVATE writable and dirty its first page with the marker
 *   -a SHMID   attach SysV shared memory SHMID and write the marker into it
 *   -K         odd mappings: an 8-page anonymous area with MADV_DONTFORK, MADV_DONTDUMP,
 *              MADV_WIPEONFORK and MADV_HUGEPAGE on different pages, one page PROT_NONE and
 *              one mlock()ed; a MAP_GROWSDOWN area; a MAP_32BIT area; an AIO ring (io_setup)
 *   -f N       fork N children after the above (they inherit mappings and fds), named NAME-c1..
 *   -z         fork one child that exits at once and is never reaped (a zombie)
 * Everything after the options is ignored (it is only there to be seen in argv).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <linux/aio_abi.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char static_marker[4096] = "static-buffer:";
static const char *marker = "cfw-marker";
static const char *name = "holder";
static pid_t thread_tids[16];
static int nthreads;
static pthread_barrier_t barrier;

static void handler(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; }

static void forever(void)
{
	for (;;)
		pause();
}

static void *thread_main(void *arg)
{
	long idx = (long)arg;
	char comm[16];
	volatile char stack_marker[256];

	snprintf(comm, sizeof(comm), "%.8s-t%d", name, (int)(idx + 1) % 100);
	prctl(PR_SET_NAME, comm);
	snprintf((char *)stack_marker, sizeof(stack_marker), "thread-stack:%s:%ld", marker, idx + 1);
	thread_tids[idx] = (pid_t)syscall(SYS_gettid);
	if (idx == 0) {
		/* The first thread also blocks SIGPIPE, so threads' masks differ. */
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
	}
	pthread_barrier_wait(&barrier);
	forever();
	return NULL;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	int ready_fd = -1, threads = 0, timers = 0, itimers = 0, pending = 0, actions = 0, secc = 0;
	int limits = 0, subreaper = 0, pdeath = 0, shared = 0, forks = 0, zombie = 0;
	int map_fd = -1, priv_fd = -1, shmid = -1, odd = 0, opt;
	volatile char stack_marker[512];
	sigset_t blocked;

	while ((opt = getopt(argc, argv, "+r:n:t:TIPACLRD:m:SM:p:a:f:zK")) != -1) {
		switch (opt) {
		case 'r': ready_fd = atoi(optarg); break;
		case 'n': name = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'T': timers = 1; break;
		case 'I': itimers = 1; break;
		case 'P': pending = 1; break;
		case 'A': actions = 1; break;
		case 'C': secc = 1; break;
		case 'L': limits = 1; break;
		case 'R': subreaper = 1; break;
		case 'D': pdeath = atoi(optarg); break;
		case 'm': marker = optarg; break;
		case 'S': shared = 1; break;
		case 'M': map_fd = atoi(optarg); break;
		case 'p': priv_fd = atoi(optarg); break;
		case 'a': shmid = atoi(optarg); break;
		case 'f': forks = atoi(optarg); break;
		case 'z': zombie = 1; break;
		case 'K': odd = 1; break;
		default: fprintf(stderr, "holder: bad option\n"); return 2;
		}
	}
	if (threads > 16)
		threads = 16;
	prctl(PR_SET_NAME, name);

	/* Markers in heap, data, anonymous mapping and stack. */
	char *heap = malloc(4096);
	snprintf(heap, 4096, "heap:%s", marker);
	strncat(static_marker, marker, sizeof(static_marker) - 64);
	char *anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap anon");
	snprintf(anon, 8192, "anon-private:%s", marker);
	snprintf((char *)stack_marker, sizeof(stack_marker), "main-stack:%s", marker);

	if (shared) {
		char *sh = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			die("mmap shared");
		snprintf(sh, 4096, "anon-shared:%s", marker);
		snprintf(sh + 32768, 4096, "anon-shared-2:%s", marker);
	}
	if (map_fd >= 0) {
		struct stat st;
		if (fstat(map_fd, &st) || st.st_size == 0)
			die("fstat map fd");
		char *m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
		if (m == MAP_FAILED)
			die("mmap fd shared");
		memcpy(m, "fd-shared:", 10);
		strncpy(m + 10, marker, st.st_size > 64 ? 54 : 0);
	}
	if (priv_fd >= 0) {
		char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, priv_fd, 0);
		if (m == MAP_FAILED)
			die("mmap fd private");
		snprintf(m, 4096, "file-private-dirty:%s", marker);
	}
	if (shmid >= 0) {
		char *m = shmat(shmid, NULL, 0);
		if (m == (void *)-1)
			die("shmat");
		snprintf(m, 4096, "sysv-shm:%s", marker);
	}

	if (odd) {
		long pg = sysconf(_SC_PAGESIZE);
		char *area = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *down, *low;
		aio_context_t ctx = 0;
		if (area == MAP_FAILED)
			die("mmap odd");
		for (int i = 0; i < 8; i++)
			snprintf(area + i * pg, 64, "odd-page-%d:%s", i, marker);
		/* Errors ignored: some of these depend on kernel configuration (THP). */
		madvise(area, pg, MADV_DONTFORK);
		madvise(area + pg, pg, MADV_DONTDUMP);
		madvise(area + 2 * pg, pg, MADV_WIPEONFORK);
		madvise(area + 3 * pg, pg, MADV_HUGEPAGE);
		mprotect(area + 5 * pg, pg, PROT_NONE);
		mlock(area + 6 * pg, pg);
		down = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
		if (down != MAP_FAILED)
			snprintf(down + 3 * pg, 64, "growsdown:%s", marker);
		low = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
		if (low != MAP_FAILED)
			snprintf(low, 64, "map32bit:%s", marker);
		if (syscall(SYS_io_setup, 16, &ctx))
			die("io_setup");
	}

	if (limits) {
		struct rlimit nofile = {777, 4096}, core = {0, RLIM_INFINITY};
		if (setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core))
			die("setrlimit");
	}
	if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("subreaper");
	if (pdeath && prctl(PR_SET_PDEATHSIG, pdeath))
		die("pdeathsig");

	if (actions) {
		struct sigaction sa;
		stack_t ss;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGINT);
		sigaction(SIGUSR1, &sa, NULL);
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
		sigaction(SIGHUP, &sa, NULL);
		signal(SIGINT, SIG_IGN);
		ss.ss_sp = malloc(SIGSTKSZ);
		ss.ss_size = SIGSTKSZ;
		ss.ss_flags = 0;
		if (sigaltstack(&ss, NULL))
			die("sigaltstack");
	}

	/* Blocked in every thread (threads inherit the mask). SIGALRM: ITIMER_REAL's signal. */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigaddset(&blocked, SIGUSR2);
	sigaddset(&blocked, SIGALRM);
	sigaddset(&blocked, SIGRTMIN + 1);
	sigaddset(&blocked, SIGRTMIN + 2);
	sigaddset(&blocked, SIGRTMIN + 3);
	sigaddset(&blocked, SIGRTMIN + 4);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);

	if (secc) {
		struct sock_filter filter[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {sizeof(filter) / sizeof(filter[0]), filter};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			die("seccomp");
	}

	if (zombie) {
		pid_t z = fork();
		if (z == 0)
			_exit(7);
	}
	for (int i = 0; i < forks; i++) {
		pid_t c = fork();
		if (c < 0)
			die("fork");
		if (c == 0) {
			char comm[16];
			snprintf(comm, sizeof(comm), "%.8s-c%d", name, (i + 1) % 100);
			prctl(PR_SET_NAME, comm);
			snprintf(heap, 4096, "child-heap:%s:%d", marker, i + 1);
			if (ready_fd >= 0) {
				dprintf(ready_fd, "%d %s\n", getpid(), comm);
				close(ready_fd);
			}
			forever();
		}
	}

	nthreads = threads;
	pthread_barrier_init(&barrier, NULL, threads + 1);
	for (long i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, (void *)i))
			die("pthread_create");
	}
	pthread_barrier_wait(&barrier);

	if (timers) {
		struct sigevent sev;
		struct itimerspec its = {{500, 0}, {1000, 0}};
		timer_t t1, t2, t3;
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = SIGRTMIN + 2;
		sev.sigev_value.sival_int = 0x5151;
		if (timer_create(CLOCK_MONOTONIC, &sev, &t1) || timer_settime(t1, 0, &its, NULL))
			die("timer 1");
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_NONE;
		its.it_value.tv_sec = 2000;
		its.it_interval.tv_sec = 0;
		if (timer_create(CLOCK_REALTIME, &sev, &t2) || timer_settime(t2, 0, &its, NULL))
			die("timer 2");
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev.sigev_signo = SIGRTMIN + 4;
		sev._sigev_un._tid = threads ? thread_tids[threads - 1] : getpid();
		its.it_value.tv_sec = 3000;
		its.it_interval.tv_sec = 3000;
		if (timer_create(CLOCK_BOOTTIME, &sev, &t3) || timer_settime(t3, 0, &its, NULL))
			die("timer 3");
	}
	if (itimers) {
		struct itimerval real = {{1000, 0}, {1500, 0}}, virt = {{0, 0}, {900, 500000}},
				 prof = {{800, 0}, {800, 0}};
		if (setitimer(ITIMER_REAL, &real, NULL) || setitimer(ITIMER_VIRTUAL, &virt, NULL) ||
		    setitimer(ITIMER_PROF, &prof, NULL))
			die("setitimer");
	}
	if (pending) {
		union sigval v;
		kill(getpid(), SIGUSR2);
		v.sival_int = 0x1111;
		sigqueue(getpid(), SIGRTMIN + 1, v);
		v.sival_int = 0x2222;
		sigqueue(getpid(), SIGRTMIN + 1, v);
		if (threads)
			syscall(SYS_tgkill, getpid(), thread_tids[0], SIGUSR1);
		syscall(SYS_tgkill, getpid(), getpid(), SIGRTMIN + 3);
	}

	if (ready_fd >= 0) {
		dprintf(ready_fd, "%d %s\n", getpid(), name);
		close(ready_fd);
	}
	(void)stack_marker[0];
	forever();
	return 0;
}
