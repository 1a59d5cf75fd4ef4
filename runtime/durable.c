/* See mc_durable.h. */
#define _POSIX_C_SOURCE 200809L
#include "mc_durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mc_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    } else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc && errno == EINVAL)
        rc = 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int mc_fault_point(const char *what)
{
    static long count;
    const char *crash = getenv("MCGEN_TEST_CRASH_AT"), *fail = getenv("MCGEN_TEST_FAIL_AT");
    if (!crash && !fail && !getenv("MCGEN_TEST_FAULT_COUNT"))
        return 0;
    count++;
    if (getenv("MCGEN_TEST_FAULT_COUNT"))
        fprintf(stderr, "fault point %ld: %s\n", count, what);
    if (crash && atol(crash) == count)
        _exit(86); /* no atexit handlers, no flushing: as if killed */
    if (fail && atol(fail) == count) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}
