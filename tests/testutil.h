/* Helpers shared by the tests: files, temporary folders, running mcgen. */
#ifndef MCGEN_TESTUTIL_H
#define MCGEN_TESTUTIL_H

#include <stdbool.h>

/* The whole file, NUL-terminated (malloc'd; *len may be NULL). NULL if absent. */
char *read_text(const char *path, long *len);
void write_text(const char *path, const char *text, long len);

/* Splits text in place: returns the next line (without '\n') or NULL. */
char *next_line(char **cursor);

/* A fresh empty folder under the system's temporary folder. */
char *make_temp_dir(void);
/* Removes a folder made by make_temp_dir, with what is in it, and frees dir. */
void remove_temp_dir(char *dir);
/* Files in a folder, counting none of "." and "..". */
int count_files(const char *dir);

typedef struct cli_result {
    int status; /* exit status, or -1 if mcgen did not exit normally */
    char *out, *err;
} cli_result;

/* Runs `mcgen ARGS` (ARGS pasted into a shell command line) in dir. */
cli_result run_mcgen(const char *dir, const char *args);
void free_result(cli_result r);

/* The path of a file under the source tree (static buffer, one at a time). */
const char *source_path(const char *rel);

#endif
