/*
 * cowmemfd.c - what the "cow" scenario runs: one memfd seen through a shared mapping and two
 * private (copy-on-write) mappings, some of whose pages the process wrote and some not.
 *
 *   cowmemfd NAME READY_FD
 *
 * The memfd "cfw-cow" has 8 pages, each filled with "cfw-cow memfd page N v1|" written with
 * write(2), so all of them are in the memfd. Then:
 *
 *   S = mmap 8 pages MAP_SHARED,  offset 0
 *   A = mmap 8 pages MAP_PRIVATE, offset 0
 *   B = mmap 4 pages MAP_PRIVATE, offset 4 pages
 *
 * A's pages 0 and 2 are read (the memfd's page is mapped, not copied); A's pages 1 and 3 and
 * B's page 1 (memfd page 5) are written (each becomes the process's own copy); pages 4 to 7 of
 * A are never touched. Then the memfd's pages 1 and 4 are rewritten through S ("v2"): A's page
 * 1 keeps its own copy (v1 with the private write), A's page 4 and B's page 0 show v2.
 *
 * Then the process forks: the child (NAME-c) also writes A's page 6, so the two processes'
 * views of A differ at that page. Each writes "<pid> <comm>\tS=ADDR A=ADDR B=ADDR" to
 * READY_FD and waits forever (pause).
 *
 * Built by cow.py with gcc; tests never run it.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PAGES 8

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void fill(char *page, size_t size, const char *text) {
    size_t length = strlen(text);
    for (size_t at = 0; at < size; at += length)
        memcpy(page + at, text, at + length <= size ? length : size - at);
}

static void stamp(char *page, const char *text) {
    memcpy(page, text, strlen(text)); /* the rest of the page stays as it was */
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: cowmemfd NAME READY_FD\n");
        return 2;
    }
    const char *name = argv[1];
    int ready_fd = atoi(argv[2]);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    prctl(PR_SET_NAME, name);

    int fd = memfd_create("cfw-cow", 0);
    if (fd < 0)
        die("memfd_create");
    char *buffer = malloc(page), text[64];
    for (int i = 0; i < PAGES; i++) {
        snprintf(text, sizeof text, "cfw-cow memfd page %d v1|", i);
        fill(buffer, page, text);
        if (write(fd, buffer, page) != (ssize_t)page)
            die("write");
    }
    char *s = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *a = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *b = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4 * page);
    if (s == MAP_FAILED || a == MAP_FAILED || b == MAP_FAILED)
        die("mmap");

    volatile char sink = a[0] + a[2 * page]; /* mapped, not copied */
    (void)sink;
    stamp(a + 1 * page, "cfw-cow private A page 1 (before fork)|");
    stamp(a + 3 * page, "cfw-cow private A page 3 (before fork)|");
    stamp(b + 1 * page, "cfw-cow private B page 1 = memfd page 5|");
    fill(s + 1 * page, page, "cfw-cow memfd page 1 v2|");
    fill(s + 4 * page, page, "cfw-cow memfd page 4 v2|");

    char child_name[16];
    snprintf(child_name, sizeof child_name, "%.13s-c", name);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        prctl(PR_SET_NAME, child_name);
        stamp(a + 6 * page, "cfw-cow private A page 6 (child only)|");
        name = child_name;
    }
    dprintf(ready_fd, "%d %s\tS=%p A=%p B=%p\n", getpid(), name, (void *)s, (void *)a, (void *)b);
    close(ready_fd);
    for (;;)
        pause();
}
