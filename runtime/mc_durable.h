/* What every file the runtime replaces needs: the rename made durable, and
 * the points where a test can make a save die or fail (fault injection). */
#ifndef MC_DURABLE_H
#define MC_DURABLE_H

#include <stddef.h>
#include <stdio.h>

/* fsyncs the directory holding path, so that a rename into it survives a
 * power cut (filesystems that cannot, EINVAL, count as done). 0, or -1
 * with errno. */
int mc_sync_dir(const char *path);

/* Replaces path with len bytes of data atomically: written to a temporary
 * file beside it, synced, renamed over it, the folder synced; a crash
 * leaves the old file or the new one, never half of one. 0, or -1 with
 * one line in err naming the file. */
int mc_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* A small text file built in memory, then written with mc_write_atomic
 * (the confusion matrix, the curves): mc_text_open gives the stream to
 * print to (NULL with one line in err naming path when out of memory);
 * mc_text_commit closes it, writes it to path and frees it: 0, or -1 with
 * one line in err. */
typedef struct mc_text {
    FILE *f;
    char *data;
    size_t len;
} mc_text;
FILE *mc_text_open(mc_text *t, const char *path, char *err, size_t errlen);
int mc_text_commit(mc_text *t, const char *path, char *err, size_t errlen);

/* A step of a save (a write, an fsync, a rename) is about to happen.
 * Normally 0. Under MCGEN_TEST_CRASH_AT=k the process dies at the k-th
 * step (as a SIGKILL or a power cut there would leave it); under
 * MCGEN_TEST_FAIL_AT=k the k-th step fails as a full disk does (-1,
 * errno ENOSPC). MCGEN_TEST_FAULT_COUNT=1 prints each step's number and
 * name on stderr, for the test to know how many there are. */
int mc_fault_point(const char *what);

#endif
