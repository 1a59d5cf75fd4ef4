/* See mc_train_log.h. */
#define _POSIX_C_SOURCE 200809L
#include "mc_train_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mc_durable.h"

static const char header[] = "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n";

static void next_path(char *out, size_t len, const char *log) { snprintf(out, len, "%s.next", log); }

/* A whole small file in a new string ("" when it does not exist); NULL on
 * another error, with errno. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? calloc(1, 1) : NULL;
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    size_t k;
    while (s && (k = fread(s + len, 1, cap - 1 - len, f)) > 0) {
        len += k;
        if (len == cap - 1) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                free(s);
            s = t;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (s && bad) {
        free(s);
        s = NULL;
        errno = EIO;
    }
    if (s)
        s[len] = '\0';
    return s;
}

/* The epoch a row starts with (-1: not a row, e.g. the header). */
static long long row_epoch(const char *line)
{
    char *end;
    long long e = strtoll(line, &end, 10);
    return end != line && *end == ',' ? e : -1;
}

int mc_log_prepare(const char *log, int64_t keep, const char *row, char *err, size_t errlen)
{
    char next[4200];
    next_path(next, sizeof next, log);
    char *old = slurp(log);
    if (!old) {
        snprintf(err, errlen, "%s: cannot read the log: %s", log, strerror(errno));
        return -1;
    }
    FILE *f = fopen(next, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", next, strerror(errno));
        free(old);
        return -1;
    }
    int ok = mc_fault_point("write the log") == 0 && fputs(header, f) >= 0;
    /* Rows of earlier epochs, in order; anything after the first row past
     * keep is a run this one replaces. */
    for (char *line = old, *nl; ok && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break; /* a torn last line: never written by this code, dropped */
        long long e = row_epoch(line);
        if (e > keep)
            break;
        if (e >= 1)
            ok = fwrite(line, 1, (size_t)(nl - line + 1), f) == (size_t)(nl - line + 1);
    }
    if (ok && row)
        ok = fprintf(f, "%s\n", row) >= 0;
    ok = ok && fflush(f) == 0 && mc_fault_point("sync the log") == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok)
        ok = 0, saved = errno;
    free(old);
    if (!ok) {
        unlink(next);
        snprintf(err, errlen, "%s: cannot write: %s", next, strerror(saved));
        return -1;
    }
    return 0;
}

int mc_log_commit(const char *log, char *err, size_t errlen)
{
    char next[4200];
    next_path(next, sizeof next, log);
    if (mc_fault_point("rename the log into place") != 0 || rename(next, log) != 0 ||
        mc_fault_point("sync the log's folder") != 0 || mc_sync_dir(log) != 0) {
        snprintf(err, errlen, "%s: cannot replace it with %s: %s", log, next, strerror(errno));
        return -1;
    }
    return 0;
}

void mc_log_abandon(const char *log)
{
    char next[4200];
    next_path(next, sizeof next, log);
    unlink(next);
}

/* The epoch of the last row of text (-1 when none). */
static long long last_epoch(const char *text)
{
    long long last = -1;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        long long e = row_epoch(line);
        if (e >= 1)
            last = e;
        line = nl + 1;
    }
    return last;
}

int mc_log_recover(const char *log, int64_t epoch, char *err, size_t errlen)
{
    char next[4200];
    next_path(next, sizeof next, log);
    char *pending = slurp(next);
    if (pending && last_epoch(pending) == epoch) {
        free(pending);
        if (mc_log_commit(log, err, errlen) != 0)
            return -1; /* the killed run's last row, committed with its checkpoint */
    } else {
        free(pending);
        unlink(next);
    }
    if (mc_log_prepare(log, epoch, NULL, err, errlen) != 0)
        return -1;
    return mc_log_commit(log, err, errlen);
}
