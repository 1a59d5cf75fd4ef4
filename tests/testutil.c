#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *read_text(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(s);
        return NULL;
    }
    fclose(f);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

char *next_line(char **cursor)
{
    char *s = *cursor;
    if (!s || !*s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    return s;
}

void write_text(const char *path, const char *text, long len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    fwrite(text, 1, (size_t)len, f);
    fclose(f);
}

char *make_temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(4096);
    snprintf(dir, 4096, "%s/mcgen-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

void remove_temp_dir(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
}

int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

cli_result run_mcgen(const char *dir, const char *args)
{
    char *cmd = malloc(16384);
    snprintf(cmd, 16384, "cd '%s' && '%s' %s >'%s/.stdout' 2>'%s/.stderr'", dir, MCGEN_EXE, args, dir, dir);
    int st = system(cmd);
    cli_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, NULL, NULL};
    snprintf(cmd, 16384, "%s/.stdout", dir);
    r.out = read_text(cmd, NULL);
    remove(cmd);
    snprintf(cmd, 16384, "%s/.stderr", dir);
    r.err = read_text(cmd, NULL);
    remove(cmd);
    free(cmd);
    return r;
}

void free_result(cli_result r)
{
    free(r.out);
    free(r.err);
}

const char *source_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", MCGEN_SOURCE_DIR, rel);
    return buf;
}
