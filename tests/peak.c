/* See peak.h. */
#define _DEFAULT_SOURCE

#include "peak.h"

#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

long peak_run(int (*fn)(void *arg, char *msg, size_t len), void *arg, char *msg, size_t len, int *status)
{
    int fds[2];
    if (len == 0 || pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        msg[0] = '\0';
        int rc = fn(arg, msg, len);
        size_t n = strlen(msg);
        _exit(write(fds[1], msg, n) == (ssize_t)n ? rc : 125);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t k;
    while (got < len - 1 && (k = read(fds[0], msg + got, len - 1 - got)) > 0)
        got += (size_t)k;
    msg[got] = '\0';
    close(fds[0]);
    int ws;
    struct rusage ru;
    if (wait4(pid, &ws, 0, &ru) != pid || !WIFEXITED(ws))
        return -1;
    *status = WEXITSTATUS(ws);
    return ru.ru_maxrss;
}
