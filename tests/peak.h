/* Peak memory of a piece of work, measured in a child process so that the
 * test's own buffers do not count: the bounded-reader tests assert that a
 * small hostile file is refused without the memory it pretends to need. */
#ifndef MCGEN_TEST_PEAK_H
#define MCGEN_TEST_PEAK_H

#include <stddef.h>

/* Runs fn(arg, msg, len) in a forked child; fn returns the child's exit
 * status and leaves a message in msg, which comes back in msg. Returns
 * the child's peak resident memory in kB (ru_maxrss), -1 if it could not
 * run or did not exit normally; *status is fn's result. */
long peak_run(int (*fn)(void *arg, char *msg, size_t len), void *arg, char *msg, size_t len, int *status);

#endif
