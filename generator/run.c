#define _POSIX_C_SOURCE 200809L /* posix_spawn, mkdtemp */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"

extern char **environ;

bool mc_run_m4(const char *m4, const char *include_dir, const char *driver, const char *out, char *err,
               size_t errlen)
{
    char errfile[4096];
    snprintf(errfile, sizeof errfile, "%s.stderr", out);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {(char *)m4, "-P", "-I", (char *)include_dir, (char *)driver, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, m4, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(err, errlen, "mcgen: error: cannot run m4 ('%s'): %s; install Debian's m4 package or set MCGEN_M4",
                 m4, strerror(rc));
        return false;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "mcgen: error: waiting for m4: %s", strerror(errno));
            return false;
        }
    char msg[512] = "";
    FILE *f = fopen(errfile, "r");
    if (f) {
        if (!fgets(msg, sizeof msg, f))
            msg[0] = '\0';
        fclose(f);
        msg[strcspn(msg, "\n")] = '\0';
    }
    remove(errfile);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || msg[0]) {
        snprintf(err, errlen, "%s: error: m4 failed on this template driver: %s", driver,
                 msg[0] ? msg : "no message");
        return false;
    }
    return true;
}

bool mc_staging_begin(arena *a, mc_staging *st, const char *target, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->a = a;
    st->target = target;
    /* Beside the target, so that the final renames stay on one file system. */
    size_t len = strlen(target);
    while (len > 1 && target[len - 1] == '/')
        len--;
    st->dir = arena_printf(a, "%.*s.mcgen-XXXXXX", (int)len, target);
    if (!mkdtemp(st->dir)) {
        snprintf(err, errlen, "%s: error: cannot create a folder beside it: %s", target, strerror(errno));
        return false;
    }
    return true;
}

bool mc_staging_add(mc_staging *st, const char *name, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    st->files = arena_grow(st->a, st->files, st->nfiles, &st->cap, sizeof *st->files);
    st->files[st->nfiles++] = arena_strdup(st->a, name);
    return true;
}

/* Flushes a finished file to disk before it replaces anything. */
static bool sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    return (close(fd) == 0) && ok;
}

bool mc_staging_commit(mc_staging *st, char *err, size_t errlen)
{
    if (mkdir(st->target, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: error: cannot create the folder: %s", st->target, strerror(errno));
        return false;
    }
    for (int i = 0; i < st->nfiles; i++) {
        char *from = arena_printf(st->a, "%s/%s", st->dir, st->files[i]);
        if (!sync_file(from)) {
            snprintf(err, errlen, "%s: error: cannot write: %s", from, strerror(errno));
            return false;
        }
    }
    for (int i = 0; i < st->nfiles; i++) {
        char *from = arena_printf(st->a, "%s/%s", st->dir, st->files[i]);
        char *to = arena_printf(st->a, "%s/%s", st->target, st->files[i]);
        if (rename(from, to) != 0) {
            snprintf(err, errlen, "%s: error: cannot move the generated file here: %s", to, strerror(errno));
            return false;
        }
    }
    mc_staging_abort(st); /* what is left: the m4 drivers */
    return true;
}

void mc_staging_abort(mc_staging *st)
{
    DIR *d = opendir(st->dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                remove(arena_printf(st->a, "%s/%s", st->dir, e->d_name));
        closedir(d);
    }
    rmdir(st->dir);
}

/* A file made and removed in dir: the one test of writability that a
 * read-only mount, a quota or an ACL cannot fool. */
static bool can_write_in(const char *dir)
{
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.mcgen-probe.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return false;
    close(fd);
    unlink(probe);
    return true;
}

bool mc_check_output(const char *target, bool folder, char *err, size_t errlen)
{
    struct stat st;
    const bool exists = stat(target, &st) == 0;
    if (exists && folder != S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: error: %s", target,
                 folder ? "not a folder (expected -o to name the folder for the sources)"
                        : "is a folder (expected -o to name the executable)");
        return false;
    }
    /* Staging and linking happen beside the target, so its parent must
     * take new files too (the sources are renamed into the target). */
    char parent[4200];
    snprintf(parent, sizeof parent, "%s", target);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') /* "out/" names out */
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else
        slash[slash == parent ? 1 : 0] = '\0';
    const char *dirs[2] = {parent, exists && folder ? target : NULL};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i])
            continue;
        if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: error: its folder %s %s", target, dirs[i],
                     errno == ENOENT ? "does not exist" : "is not a folder");
            return false;
        }
        if (!can_write_in(dirs[i])) {
            snprintf(err, errlen, "%s: error: cannot write in %s: %s", target, dirs[i], strerror(errno));
            return false;
        }
    }
    return true;
}
