/*
 * Runs a CGI program the way httpd's mod_cgid does, as far as the end of an answer goes: the parent ignores
 * SIGCHLD (the kernel reaps its children as they exit), and the program's stdin and stdout are one Unix stream
 * socket. It reads stdout to its end, then asks at once whether the process it started is still there, as
 * mod_cgid's request cleanup does (cleanup_nonchild_process: kill(pid, SIGTERM), then kill(pid, 0), and a 10 ms
 * sleep if the process answers). Prints "<bytes read> gone" or "<bytes read> there". Usage: cgid-like PROGRAM.
 *
 * To see the end of file as early as an Apache worker thread on another core can, the program runs on one CPU and
 * this reader on another (when there are two), and once the first bytes are in, the reader polls without sleeping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* The n-th CPU this process may run on into `one`; 0 if there is none. */
static int nth_cpu(int n, cpu_set_t *one)
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) != 0)
        return 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &all) && n-- == 0) {
            CPU_ZERO(one);
            CPU_SET(cpu, one);
            return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    static char buf[65536];
    int sv[2];
    cpu_set_t first, second;
    int pin = nth_cpu(0, &first) && nth_cpu(1, &second);
    if (argc < 2 || signal(SIGCHLD, SIG_IGN) == SIG_ERR || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 2;
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid == 0) {
        if (pin)
            (void)sched_setaffinity(0, sizeof first, &first);
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
            _exit(127);
        (void)close(sv[0]);
        (void)close(sv[1]);
        execv(argv[1], argv + 1);
        _exit(127);
    }
    if (pin)
        (void)sched_setaffinity(0, sizeof second, &second);
    (void)close(sv[1]);
    (void)shutdown(sv[0], SHUT_WR); /* no request body */
    long total = 0;
    for (;;) {
        ssize_t r = recv(sv[0], buf, sizeof buf, total > 0 ? MSG_DONTWAIT : 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0)
            return 2;
        if (r == 0)
            break;
        total += (long)r;
    }
    int there = kill(pid, 0) == 0;
    printf("%ld %s\n", total, there ? "there" : "gone");
    return 0;
}
