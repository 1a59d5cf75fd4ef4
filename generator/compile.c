#define _POSIX_C_SOURCE 200809L /* posix_spawn */
#include "compile.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"

extern char **environ;

/* An argument vector being built. */
typedef struct args {
    arena *a;
    char **v;
    int n, cap;
} args;

static void push(args *g, const char *s)
{
    if (g->n + 2 > g->cap) {
        int cap = g->cap ? 2 * g->cap : 32;
        char **v = arena_alloc(g->a, (size_t)cap * sizeof *v);
        if (g->n)
            memcpy(v, g->v, (size_t)g->n * sizeof *v);
        g->v = v, g->cap = cap;
    }
    g->v[g->n++] = (char *)s;
    g->v[g->n] = NULL;
}

/* Each space-separated word of s. */
static void push_words(args *g, const char *s)
{
    while (s && *s) {
        size_t skip = strspn(s, " \t"), len = strcspn(s + skip, " \t");
        if (len)
            push(g, arena_strndup(g->a, s + skip, len));
        s += skip + len;
    }
}

static pid_t start(args *g, char *err, size_t errlen)
{
    pid_t pid;
    int rc = posix_spawnp(&pid, g->v[0], NULL, NULL, g->v, environ);
    if (rc != 0) {
        snprintf(err, errlen, "mcgen: error: cannot run the C compiler '%s': %s; install gcc or set CC", g->v[0],
                 strerror(rc));
        return -1;
    }
    return pid;
}

static bool finish(pid_t pid, const char *what, char *err, size_t errlen)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "mcgen: error: waiting for the C compiler: %s", strerror(errno));
            return false;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    snprintf(err, errlen, "mcgen: error: the C compiler failed on %s (its messages are above)", what);
    return false;
}

static args compiler(arena *a, const char *program, const char *flags)
{
    args g = {.a = a};
    push_words(&g, program);
    push_words(&g, flags);
    return g;
}

/* Whether file f ends with ext. */
static bool ends_with(const char *f, const char *ext)
{
    size_t len = strlen(f), n = strlen(ext);
    return len > n && strcmp(f + len - n, ext) == 0;
}

bool mc_compile(arena *a, const mc_compile_job *job, char *err, size_t errlen)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const int parallel = cpus > 0 ? (int)cpus : 1;
    pid_t *pids = arena_alloc(a, (size_t)(job->nfiles + 1) * sizeof *pids);
    const char **objs = arena_alloc(a, (size_t)(job->nfiles + 1) * sizeof *objs);
    bool ok = true;
    int started = 0, done = 0, nobj = 0;
    /* Keep `parallel` compilers busy; stop starting new ones on a failure. */
    while (done < started || (ok && started < job->nfiles)) {
        while (ok && started < job->nfiles && started - done < parallel) {
            const char *f = job->files[started];
            const bool cu = job->nvcc && ends_with(f, ".cu");
            if (!cu && !ends_with(f, ".c")) {
                pids[started++] = 0;
                continue;
            }
            const char *obj = arena_printf(a, "%s/%s.o", job->src_dir, f);
            args g = cu ? compiler(a, job->nvcc, job->nvflags) : compiler(a, job->cc, job->cflags);
            push(&g, "-I"), push(&g, job->src_dir), push(&g, "-I"), push(&g, job->include_dir);
            if (job->nvcc)
                push(&g, "-I"), push(&g, job->cuda_include_dir);
            push(&g, "-c"), push(&g, arena_printf(a, "%s/%s", job->src_dir, f)), push(&g, "-o"), push(&g, obj);
            objs[nobj++] = obj;
            pids[started] = start(&g, err, errlen);
            ok = pids[started++] > 0;
        }
        if (done < started) {
            pid_t pid = pids[done];
            if (pid > 0 && !finish(pid, job->files[done], err, errlen))
                ok = false;
            done++;
        }
    }
    if (!ok)
        return false;
    /* Link beside the target, then rename: never a half-written executable. */
    const char *tmp = arena_printf(a, "%s.tmp.%ld", job->exe, (long)getpid());
    args g = compiler(a, job->cc, job->cflags);
    for (int i = 0; i < nobj; i++)
        push(&g, objs[i]);
    push(&g, job->runtime_lib);
    if (job->nvcc)
        push(&g, job->cuda_lib), push_words(&g, job->cuda_libs);
    push_words(&g, job->libs);
    push(&g, "-o"), push(&g, tmp);
    pid_t pid = start(&g, err, errlen);
    if (pid < 0 || !finish(pid, "the link", err, errlen)) {
        remove(tmp);
        return false;
    }
    if (rename(tmp, job->exe) != 0) {
        snprintf(err, errlen, "%s: error: cannot write the executable: %s", job->exe, strerror(errno));
        remove(tmp);
        return false;
    }
    return true;
}
