/* Shared by the file-format harnesses: the readers take paths, so each
 * input is written to a file in a private folder first. */
#ifndef MCGEN_FUZZ_UTIL_H
#define MCGEN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A private folder, made once per process ($TMPDIR or /tmp). */
const char *fuzz_dir(void);
/* Writes n bytes to fuzz_dir()/name; its path, in a static buffer. */
const char *fuzz_write(const char *name, const void *data, size_t n);
/* Removes fuzz_dir()/name (missing is fine). */
void fuzz_remove(const char *name);
/* A reader's error must be one line: abort() otherwise, for libFuzzer. */
void fuzz_check_message(const char *err);

#endif
