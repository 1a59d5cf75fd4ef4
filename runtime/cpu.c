/* What a CPU runs and how many threads to take (mc_cpu.h). This file is
 * compiled with the runtime's own flags, for any CPU of its architecture,
 * so the classifier's check runs before any instruction of its target
 * does; mcgen links it too, for --cpu native (generator/target.c). The
 * features are those the targets' -march levels let the compiler use. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "mc_cpu.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *mc_cpu_name(void)
{
    static char text[200];
    if (*text)
        return text;
    char model[128] = "", family[16] = "", number[16] = "", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f) && !(*model && *family && *number)) {
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v += 1 + strspn(v + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        if (!strncmp(line, "model name", 10))
            snprintf(model, sizeof model, "%s", v);
        else if (!strncmp(line, "cpu family", 10))
            snprintf(family, sizeof family, "%s", v);
        else if (!strncmp(line, "model\t", 6) || !strncmp(line, "model ", 6))
            snprintf(number, sizeof number, "%s", v);
    }
    if (f)
        fclose(f);
    if (*family && *number)
        snprintf(text, sizeof text, "%s, family %s model %s", *model ? model : "unknown", family, number);
    else
        snprintf(text, sizeof text, "%s", *model ? model : "unknown");
    return text;
}

/* "this CPU (its name)". */
static const char *this_cpu(void)
{
    static char text[220];
    snprintf(text, sizeof text, "this CPU (%s)", mc_cpu_name());
    return text;
}

bool mc_cpu_runs(const char *target, char *why, size_t whylen)
{
    if (!target || !strcmp(target, "portable"))
        return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!strcmp(target, "avx512")) {
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            return true;
        snprintf(why, whylen, "%s has no AVX-512 (avx512f avx512bw avx512dq avx512vl)", this_cpu());
        return false;
    }
    if (!strcmp(target, "avx2")) {
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return true;
        snprintf(why, whylen, "%s has no AVX2 and FMA", this_cpu());
        return false;
    }
    if (!strcmp(target, "neon")) {
        snprintf(why, whylen, "%s is x86, not AArch64", this_cpu());
        return false;
    }
#elif defined(__aarch64__)
    if (!strcmp(target, "neon"))
        return true;
    if (!strcmp(target, "avx512") || !strcmp(target, "avx2")) {
        snprintf(why, whylen, "%s is AArch64, not x86-64", this_cpu());
        return false;
    }
#else
    if (!strcmp(target, "avx512") || !strcmp(target, "avx2") || !strcmp(target, "neon")) {
        snprintf(why, whylen, "%s is neither x86-64 nor AArch64", this_cpu());
        return false;
    }
#endif
    snprintf(why, whylen, "the target is unknown to this runtime");
    return false;
}

/* Busy and total jiffies of each processor, from /proc/stat. */
static bool read_stat(unsigned long long *busy, unsigned long long *total, int ncpu)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7]) >= 5 && cpu >= 0 && cpu < ncpu) {
            busy[cpu] = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* user nice system irq softirq steal */
            total[cpu] = busy[cpu] + v[3] + v[4];                 /* idle iowait */
        }
    }
    fclose(f);
    return true;
}

/* This process's user and system jiffies, all its threads (fields 14 and
 * 15 of /proc/self/stat, after the parenthesized name). */
static bool own_jiffies(unsigned long long *jiffies)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    char line[1024];
    const bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    const char *p = got ? strrchr(line, ')') : NULL;
    unsigned long long utime, stime;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return false;
    *jiffies = utime + stime;
    return true;
}

int mc_cpu_free_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    const int allowed = CPU_COUNT(&set);
    static unsigned long long busy[2][CPU_SETSIZE], total[2][CPU_SETSIZE];
    unsigned long long own[2];
    if (!own_jiffies(&own[0]) || !read_stat(busy[0], total[0], CPU_SETSIZE))
        return allowed;
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    if (!own_jiffies(&own[1]) || !read_stat(busy[1], total[1], CPU_SETSIZE))
        return allowed;
    /* The busy time of the allowed processors, less this process's own
     * (a BLAS library's threads spin for a while after it loads: counted,
     * they took one of 2 cores and the step ran on 1 thread), in
     * processors' worth, rounded. */
    unsigned long long busy_sum = 0, window = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set)) {
            busy_sum += busy[1][cpu] - busy[0][cpu];
            window += total[1][cpu] - total[0][cpu];
        }
    const unsigned long long mine = own[1] - own[0], others = busy_sum > mine ? busy_sum - mine : 0;
    window /= (unsigned long long)allowed; /* one processor's jiffies in the window */
    const int taken = window ? (int)((2 * others + window) / (2 * window)) : 0;
    return allowed - taken > 1 ? allowed - taken : 1;
}
