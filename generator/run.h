/* What the emitters need from the system: running m4, and writing a set of
 * files so that a failure leaves the target folder as it was. */
#ifndef MCGEN_RUN_H
#define MCGEN_RUN_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* Runs `m4 -P -I include_dir driver > out`. On failure, err names the
 * driver and quotes m4's first message. */
bool mc_run_m4(const char *m4, const char *include_dir, const char *driver, const char *out, char *err,
               size_t errlen);

/* Files are made in a staging folder beside the target and moved into it
 * only when all of them are done. */
typedef struct mc_staging {
    struct arena *a;
    const char *target;
    char *dir;
    const char **files;
    int nfiles, cap;
} mc_staging;

bool mc_staging_begin(struct arena *a, mc_staging *st, const char *target, char *err, size_t errlen);
bool mc_staging_add(mc_staging *st, const char *name, char *err, size_t errlen);
/* Creates the target if needed and renames every added file into it. */
bool mc_staging_commit(mc_staging *st, char *err, size_t errlen);
/* Removes the staging folder and what is in it. */
void mc_staging_abort(mc_staging *st);

/* -o before any work (emit's folder, build's executable): the target, if
 * it exists, is a folder (folder) or not one (an executable), and the
 * folder that receives the files (the target, or the one holding it) exists
 * and takes a new file, tried with a probe file. */
bool mc_check_output(const char *target, bool folder, char *err, size_t errlen);

#endif
