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

int mc_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        return -1;
    }
    const char *p = data;
    size_t done = 0;
    ssize_t k = 0;
    while (done < len && (k = write(fd, p + done, len - done)) > 0)
        done += (size_t)k;
    int ok = done == len && fsync(fd) == 0, saved = errno;
    if (close(fd) != 0 && ok)
        ok = 0, saved = errno;
    if (ok && rename(tmp, path) != 0)
        ok = 0, saved = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    if (mc_sync_dir(path) != 0) {
        snprintf(err, errlen, "%s: written, but its folder could not be synced: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

FILE *mc_text_open(mc_text *t, const char *path, char *err, size_t errlen)
{
    *t = (mc_text){0};
    if (!(t->f = open_memstream(&t->data, &t->len)))
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return t->f;
}

int mc_text_commit(mc_text *t, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    if (fclose(t->f) != 0 || !t->data)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        rc = mc_write_atomic(path, t->data, t->len, err, errlen);
    free(t->data);
    *t = (mc_text){0};
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
