/* mcgen: the command line. Each subcommand parses its options, runs the
 * pipeline stages it needs and prints or writes their result. */
#define _GNU_SOURCE /* getopt_long, readlink */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "compile.h"
#include "mc_cpu.h"
#include "doc.h"
#include "emit.h"
#include "graph.h"
#include "plan.h"
#include "summary.h"
#include "tune.h"
#include "verify.h"

#ifndef MCGEN_VERSION
#define MCGEN_VERSION "0.1.0"
#endif

static const char usage_main[] =
    "usage: mcgen COMMAND [options]\n"
    "\n"
    "Generates specialized C and CUDA for image classifiers described in .mcn files\n"
    "(see models/README.md), above all for Multiception convolutions.\n"
    "\n"
    "commands:\n"
    "  summary MODEL.mcn   per-layer table: output shapes, parameters, MACs\n"
    "  emit MODEL.mcn      write the specialized C (and CUDA) sources of a model\n"
    "  build MODEL.mcn     emit and compile a standalone classifier executable\n"
    "  ops                 the description language's layers and keys (Markdown)\n"
    "  tune MODEL.mcn      measure the candidate kernel forms of a model here\n"
    "  targets             the CPU targets of --cpu (docs/targets.md)\n"
    "\n"
    "Run 'mcgen COMMAND --help' for a command's options. 'mcgen --version' prints the version.\n";

static const char usage_build[] =
    "usage: mcgen build MODEL.mcn [--conv TYPE] [--classes N] [--input CxHxW] [--target c|cuda] [--cpu CPU]\n"
    "                   [--generic] [--no-fuse] [--tune FILE] [--inference [--weights CKPT]] -o EXE\n"
    "\n"
    "Emits the model's specialized C, compiles it and links it with the runtime into one\n"
    "executable: EXE train, eval, predict, forward, grad, init, info (EXE --help).\n"
    "With --inference, the predictor of the model's inference library (emit --inference)\n"
    "instead: EXE info, predict, eval, bench [--latency]; --weights CKPT builds its\n"
    "parameters in (else each command takes --weights).\n"
    "\n"
    "  --conv, --classes, --input   as for summary\n"
    "  --target cuda    also the CUDA sources (nvcc), linked with cuBLAS: EXE takes\n"
    "                   --device cuda (cpu stays the default)\n"
    "  --cpu CPU        the CPU the C kernels are for: native (default: the best this\n"
    "                   machine runs), avx512, avx2, neon or portable (docs/targets.md)\n"
    "  --generic        run the runtime's generic kernels instead (the baseline)\n"
    "  --tune FILE      the kernel forms mcgen tune measured fastest, for its rules\n"
    "  --no-fuse        no fusion: a Multiception's kernels as separate depthwise\n"
    "                   kernels, every activation its own layer, no batch norm\n"
    "                   folded into the conv or applied by the add after it or\n"
    "                   taking its statistics from the conv before it\n"
    "  -o EXE           the executable to write (replaced only when the build succeeds)\n"
    "  -h, --help       this help\n"
    "\n"
    "Environment: CC (default " MCGEN_CC_DEFAULT "), MCGEN_CFLAGS (default " MCGEN_CFLAGS_DEFAULT ",\n"
    "after the CPU's own flags: -march=native, or the target's, as -march=x86-64-v3 for avx2),\n"
    "MCGEN_NVFLAGS (nvcc's, default " MCGEN_NVFLAGS_DEFAULT "),\n"
    "TMPDIR (the scratch folder), MCGEN_M4, MCGEN_TEMPLATES.\n";

static const char usage_summary[] =
    "usage: mcgen summary MODEL.mcn [--conv TYPE] [--classes N] [--input CxHxW] [--json [FILE|-]]\n"
    "\n"
    "Prints every layer (name, op, output shape, parameters, MACs) and the totals.\n"
    "\n"
    "  --conv TYPE      conv type of every convbn slot: standard, dsconv, multiception\n"
    "                   or mixconv (default: the file's conv_type)\n"
    "  --classes N      number of classes (default: the file's classes)\n"
    "  --input CxHxW    input shape, e.g. 3x96x96 (default: the file's input)\n"
    "  --json [FILE]    one JSON object instead, into FILE (none or -: stdout): params,\n"
    "                   macs, the layers in execution order (then the unused ones), each\n"
    "                   with its inputs, shape, every key of its op and its tensors, and\n"
    "                   the state_dict tensors; tools/torch_graph.py builds it in PyTorch\n"
    "  -h, --help       this help\n";

static const char usage_emit[] =
    "usage: mcgen emit MODEL.mcn [--conv TYPE] [--classes N] [--input CxHxW] [--target c|cuda|all] [--cpu CPU]\n"
    "                  [--no-fuse] [--tune FILE] [--inference [--weights CKPT]] -o DIR\n"
    "\n"
    "Writes MODEL.h (the descriptor: tensors, layers, entry points), MODEL.c (the\n"
    "specialized forward and backward steps) and one MODEL_<template>.c per kernel\n"
    "family into DIR, all or nothing; for CUDA, MODEL_cuda.h (the launchers),\n"
    "MODEL_cuda.cu (the steps and the entry table) and MODEL_cuda_<template>.cu,\n"
    "which link with the C target's MODEL.c (the descriptor).\n"
    "\n"
    "  --conv, --classes, --input   as for summary\n"
    "  --target T       c (default), cuda, or all (both)\n"
    "  --cpu CPU        the CPU the C kernels are for: native (default: the best this\n"
    "                   machine runs), avx512, avx2, neon or portable (docs/targets.md)\n"
    "  --no-fuse        no fusion: a Multiception's kernels as separate depthwise\n"
    "                   kernels, every activation its own layer, no batch norm\n"
    "                   folded into the conv or applied by the add after it or\n"
    "                   taking its statistics from the conv before it\n"
    "  --tune FILE      the kernel forms mcgen tune measured fastest, for its rules\n"
    "  --inference      instead, the model as a self-contained C library, forward only\n"
    "                   (eval mode, batch norms folded into the convs): MODEL.h (the\n"
    "                   API), MODEL.c, MODEL_kernels.h and MODEL_<template>.c; a C11\n"
    "                   compiler and libm build it (docs/inference.md)\n"
    "  --weights CKPT   with --inference: the parameters of this checkpoint in the C\n"
    "                   (MODEL_weights.c), or in MODEL.bin past 2M floats\n"
    "  -o DIR           the folder to write (created if missing)\n"
    "  -h, --help       this help\n"
    "\n"
    "Environment: MCGEN_M4 (the m4 program), MCGEN_TEMPLATES (the templates folder).\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "mcgen%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'mcgen%s%s --help' for usage.\n", cmd ? " " : "", cmd ? cmd : "");
    return 2;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_shape(const char *s, mc_shape *out)
{
    int c, h, w, n = 0;
    if (sscanf(s, "%dx%dx%d%n", &c, &h, &w, &n) != 3 || s[n] != '\0' || c < 1 || h < 1 || w < 1 || c > 65536 ||
        h > 65536 || w > 65536)
        return false;
    *out = (mc_shape){c, h, w};
    return true;
}

static bool json_file_word(const char *s)
{
    size_t n = strlen(s);
    return strcmp(s, "-") == 0 || (s[0] != '-' && !(n >= 4 && strcmp(s + n - 4, ".mcn") == 0));
}

/* The options of the commands that read a model. */
typedef struct model_args {
    mc_options opt;
    const char *path, *out, *target;
    const char *json_path; /* --json FILE; NULL or "-": stdout */
    const char *cpu_name; /* --cpu, "native" by default */
    const mc_target *cpu;
    const char *tune;     /* --tune FILE */
    const mc_tuned_form *tuned; /* forms for the C plan instead of its rules' (from tune, or mcgen tune's) */
    int ntuned;
    int threads, batch, iters; /* mcgen tune's measurements */
    const char *weights;  /* --weights CKPT (with --inference) */
    bool json, no_fuse, generic, inference;
} model_args;

enum { OPT_JSON = 1, OPT_OUT = 2, OPT_TARGET = 4, OPT_NO_FUSE = 8, OPT_GENERIC = 16, OPT_CPU = 32, OPT_TUNE = 64,
       OPT_MEASURE = 128, OPT_INFERENCE = 256 };

/* Returns -1 when the command should go on, else the exit status. */
static int parse_model_args(int argc, char **argv, const char *cmd, const char *usage, unsigned allowed,
                            model_args *ma)
{
    static const struct option longopts[] = {
        {"conv", required_argument, NULL, 'c'}, {"classes", required_argument, NULL, 'n'},
        {"input", required_argument, NULL, 'i'}, {"json", optional_argument, NULL, 'j'},
        {"target", required_argument, NULL, 't'}, {"no-fuse", no_argument, NULL, 'f'},
        {"generic", no_argument, NULL, 'g'},     {"cpu", required_argument, NULL, 'u'},
        {"tune", required_argument, NULL, 'T'},  {"threads", required_argument, NULL, 'H'},
        {"batch", required_argument, NULL, 'B'}, {"iters", required_argument, NULL, 'I'},
        {"inference", no_argument, NULL, 'F'},   {"weights", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    memset(ma, 0, sizeof *ma);
    ma->target = "c";
    ma->cpu_name = "native";
    ma->cpu = mc_target_native();
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        unsigned need = c == 'j' ? OPT_JSON : c == 'o' ? OPT_OUT : c == 't' ? OPT_TARGET : c == 'f' ? OPT_NO_FUSE
                      : c == 'g' ? OPT_GENERIC : c == 'u' ? OPT_CPU : c == 'T' ? OPT_TUNE
                      : c == 'H' || c == 'B' || c == 'I' ? OPT_MEASURE : c == 'F' || c == 'W' ? OPT_INFERENCE : 0;
        if (need && !(allowed & need)) {
            /* by its name: argv[optind - 1] is its value when given apart */
            char name[32] = "-o";
            for (const struct option *o = longopts; o->name; o++)
                if (o->val == c)
                    snprintf(name, sizeof name, "--%s", o->name);
            return usage_error(cmd, "option '%s' does not apply here", name);
        }
        switch (c) {
        case 'c': ma->opt.conv_type = optarg; break;
        case 'n':
            if (!parse_int(optarg, 1, 1000000, &v))
                return usage_error(cmd, "bad --classes '%s'; expected an integer from 1 to 1000000", optarg);
            ma->opt.classes = (int)v;
            break;
        case 'i':
            if (!parse_shape(optarg, &ma->opt.input))
                return usage_error(cmd, "bad --input '%s'; expected CxHxW, as in 3x32x32", optarg);
            break;
        case 'j':
            ma->json = true;
            ma->json_path = optarg;
            /* "--json FILE" too: the next word is the file unless it is an
             * option or the model (the one argument ending in .mcn) */
            if (!optarg && optind < argc && json_file_word(argv[optind]))
                ma->json_path = argv[optind++];
            break;
        case 'o': ma->out = optarg; break;
        case 't':
            if (strcmp(optarg, "c") != 0 && strcmp(optarg, "cuda") != 0 && strcmp(optarg, "all") != 0)
                return usage_error(cmd, "bad --target '%s'; expected c, cuda or all", optarg);
            ma->target = optarg;
            break;
        case 'f': ma->no_fuse = true; break;
        case 'g': ma->generic = true; break;
        case 'u':
            if (!(ma->cpu = mc_target_find(optarg)))
                return usage_error(cmd, "bad --cpu '%s'; expected " MC_TARGET_NAMES, optarg);
            ma->cpu_name = optarg;
            break;
        case 'T': ma->tune = optarg; break;
        case 'F': ma->inference = true; break;
        case 'W': ma->weights = optarg; break;
        case 'H':
        case 'B':
        case 'I':
            if (!parse_int(optarg, 1, c == 'B' ? 4096 : 1024, &v))
                return usage_error(cmd, c == 'B' ? "bad --batch '%s'; expected an integer from 1 to 4096"
                                                 : "bad count '%s'; expected an integer from 1 to 1024", optarg);
            *(c == 'H' ? &ma->threads : c == 'B' ? &ma->batch : &ma->iters) = (int)v;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_error(cmd, "%s", optind >= argc ? "expected one MODEL.mcn" : "expected one MODEL.mcn, got more");
    if (ma->weights && !ma->inference)
        return usage_error(cmd, "%s", "--weights goes with --inference (training executables load checkpoints themselves)");
    if (ma->inference && (ma->no_fuse || strcmp(ma->target, "c") != 0))
        return usage_error(cmd, "%s", "--inference makes a C library of fused kernels: not with --no-fuse or --target cuda");
    if ((allowed & OPT_OUT) && !ma->out)
        return usage_error(cmd, "%s", "expected -o DIR, the folder to write");
    ma->path = argv[optind];
    return -1;
}

static mc_model *load_or_report(arena *a, const model_args *ma)
{
    char err[1024];
    mc_model *m = mc_load(a, ma->path, &ma->opt, err, sizeof err);
    if (!m)
        fprintf(stderr, "%s\n", err);
    return m;
}

static int cmd_summary(int argc, char **argv)
{
    model_args ma;
    int rc = parse_model_args(argc, argv, "summary", usage_summary, OPT_JSON, &ma);
    if (rc >= 0)
        return rc;
    arena *a = arena_new();
    mc_model *m = load_or_report(a, &ma);
    if (!m) {
        arena_free(a);
        return 1;
    }
    const bool to_file = ma.json_path && strcmp(ma.json_path, "-") != 0;
    const char *shown = to_file ? ma.json_path : "the summary";
    FILE *f = to_file ? fopen(ma.json_path, "w") : stdout;
    if (f) {
        if (ma.json)
            summary_json(f, m);
        else
            summary_table(f, m);
    }
    bool ok = f && !ferror(f) && (to_file ? fclose(f) == 0 : fflush(f) == 0);
    if (!ok)
        fprintf(stderr, "mcgen summary: error: writing %s: %s\n", shown, strerror(errno));
    arena_free(a);
    return ok ? 0 : 1;
}

/* A folder of the installation beside an installed mcgen (<prefix>/bin/mcgen
 * -> <prefix>/<rel>) if it holds `probe`, else the source tree's. */
static const char *data_dir(arena *a, const char *rel, const char *probe, const char *source_dir)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            const char *dir = arena_printf(a, "%s/../%s", exe, rel);
            if (access(arena_printf(a, "%s/%s", dir, probe), R_OK) == 0)
                return dir;
        }
    }
    return source_dir;
}

/* A file of the installation (<prefix>/<rel>/<name>) if there, else the
 * build tree's. */
static const char *data_dir_file(arena *a, const char *rel, const char *name, const char *build_path)
{
    const char *dir = data_dir(a, rel, name, NULL);
    return dir ? arena_printf(a, "%s/%s", dir, name) : build_path;
}

/* Templates: $MCGEN_TEMPLATES, else the installed ones, else the source tree's. */
static const char *template_dir(arena *a, const char *target)
{
    const char *env = getenv("MCGEN_TEMPLATES");
    if (env && *env)
        return arena_printf(a, "%s/%s", env, target);
    return arena_printf(a, "%s/%s", data_dir(a, "share/mcgen/templates", "c/common.m4", MCGEN_TEMPLATE_DIR), target);
}

/* Plans the model, emits its sources into a staging folder, verifies them
 * and moves them into `out` (shown in messages as `shown`): all or nothing.
 * The names of the files written end up in *files. */
static bool emit_sources(arena *a, mc_model *m, const model_args *ma, mc_emit_options *eo, const char *out,
                         const char *shown, const char *const **files, int *nfiles, char *err, size_t errlen)
{
    const char *m4 = getenv("MCGEN_M4");
    eo->source = ma->path;
    eo->m4 = m4 && *m4 ? m4 : MCGEN_M4;
    /* The CUDA target does not do the C target's batch-norm fusions nor
     * keep activation bits: with both targets each gets its own plan (the
     * same layer slots); the descriptor is C's. */
    const bool cuda_only = strcmp(ma->target, "cuda") == 0;
    mc_plan_options po = {.no_fuse = ma->no_fuse, .cuda = cuda_only, .cuda_too = strcmp(ma->target, "all") == 0,
                          .inference = ma->inference, .target = ma->cpu};
    int ntuned = ma->ntuned;
    const mc_tuned_form *tuned = ma->tune ? mc_tune_read(a, ma->tune, mc_plan_model(a, m, &po), &ntuned, err, errlen)
                                          : ma->tuned;
    if (ma->tune && !tuned)
        return false;
    if (!cuda_only && !ma->no_fuse)
        po.tuned = tuned, po.ntuned = ntuned;
    mc_plan *p = mc_plan_model(a, m, &po);
    mc_staging st;
    if (!mc_staging_begin(a, &st, out, err, errlen))
        return false;
    const char *runtime = data_dir(a, "include/mcgen", "mc_model.h", MCGEN_RUNTIME_DIR);
    bool ok = true;
    if (ma->inference) {
        /* the library includes nothing of the runtime: verify it without
         * (the predictor's main, for build, includes mc_predictor.h) */
        eo->templates = template_dir(a, "c");
        /* emit writes weights past 2M floats to MODEL.bin beside the C; a
         * predictor keeps them inside, whatever their size (the compiler
         * takes longer) */
        const mc_infer_options io = {.weights = ma->weights, .embed_max = eo->main ? (1LL << 40) : (2 << 20)};
        ok = mc_emit_inference(a, m, p, eo, &io, &st, err, errlen);
        if (!eo->main)
            runtime = NULL;
    } else if (!cuda_only) {
        eo->templates = template_dir(a, "c");
        ok = mc_emit_c(a, m, p, eo, &st, err, errlen);
    }
    if (ok && strcmp(ma->target, "c") != 0) {
        eo->templates = template_dir(a, "cuda");
        mc_plan_options pco = {.no_fuse = ma->no_fuse, .cuda = true, .target = ma->cpu};
        ok = mc_emit_cuda(a, m, cuda_only ? p : mc_plan_model(a, m, &pco), eo, &st, err, errlen);
    }
    ok = ok && mc_verify(a, p, st.dir, shown, st.files, st.nfiles, runtime, mc_target_flags(ma->cpu_name), err, errlen);
    *files = st.files, *nfiles = st.nfiles;
    ok = ok && mc_staging_commit(&st, err, errlen);
    if (!ok)
        mc_staging_abort(&st);
    return ok;
}

static int cmd_emit(int argc, char **argv)
{
    model_args ma;
    int rc = parse_model_args(argc, argv, "emit", usage_emit,
                              OPT_OUT | OPT_TARGET | OPT_NO_FUSE | OPT_CPU | OPT_TUNE | OPT_INFERENCE, &ma);
    if (rc >= 0)
        return rc;
    char err[1024];
    if (!mc_check_output(ma.out, true, err, sizeof err)) { /* before the model is even read */
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    arena *a = arena_new();
    mc_model *m = load_or_report(a, &ma);
    if (!m) {
        arena_free(a);
        return 1;
    }
    mc_emit_options eo = {0};
    const char *const *files;
    int nfiles;
    bool ok = emit_sources(a, m, &ma, &eo, ma.out, ma.out, &files, &nfiles, err, sizeof err);
    if (!ok)
        fprintf(stderr, "%s\n", err);
    arena_free(a);
    return ok ? 0 : 1;
}

/* Removes a folder and the files in it (mcgen build's scratch folders hold
 * no subfolders but the sources folder). */
static void remove_tree(arena *a, const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                const char *path = arena_printf(a, "%s/%s", dir, e->d_name);
                if (remove(path) != 0)
                    remove_tree(a, path);
            }
        closedir(d);
    }
    rmdir(dir);
}

/* What `info` shows of the build, without characters that would need
 * quoting in the C string it becomes. */
static const char *build_text(arena *a, const char *cc, const char *cflags, bool generic)
{
    char *t = arena_printf(a, "mcgen %s, %s %s%s", MCGEN_VERSION, cc, cflags, generic ? ", --generic" : "");
    for (char *p = t; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '`' || *p == '\'' || (unsigned char)*p < 32)
            *p = '?';
    return t;
}

/* Emits the model into a scratch folder and compiles it into ma->out;
 * false with err set. */
static bool build_exe(arena *a, mc_model *m, model_args *ma, char *err, size_t errlen)
{
    const char *cc = getenv("CC"), *cflags = getenv("MCGEN_CFLAGS");
    cc = cc && *cc ? cc : MCGEN_CC_DEFAULT; /* the compiler the runtime was built with, its OpenMP flags too */
    cflags = arena_printf(a, "%s %s", mc_target_flags(ma->cpu_name), cflags ? cflags : MCGEN_CFLAGS_DEFAULT);
    const char *tmpdir = getenv("TMPDIR");
    char *scratch = arena_printf(a, "%s/mcgen-build.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    bool ok = mkdtemp(scratch) != NULL;
    if (!ok)
        snprintf(err, errlen, "mcgen: error: cannot make a scratch folder %s: %s", scratch, strerror(errno));
    const char *src = arena_printf(a, "%s/src", scratch);
    /* A CUDA build holds both targets: the C step is its --device cpu. */
    const bool cuda = strcmp(ma->target, "c") != 0;
    if (cuda)
        ma->target = "all";
    mc_emit_options eo = {.main = true, .generic = ma->generic, .cuda = cuda,
                          .build = build_text(a, cc, cflags, ma->generic)};
    const char *const *files = NULL;
    int nfiles = 0;
    ok = ok && emit_sources(a, m, ma, &eo, src, src, &files, &nfiles, err, errlen);
    if (ok) {
        mc_compile_job job = {
            .cc = cc, .cflags = cflags, .src_dir = src, .files = files, .nfiles = nfiles,
            .include_dir = data_dir(a, "include/mcgen", "mc_model.h", MCGEN_RUNTIME_DIR),
            .runtime_lib = data_dir_file(a, MCGEN_LIB_DIR, "libmcgen_runtime.a", MCGEN_RUNTIME_LIB),
            .libs = MCGEN_RUNTIME_LIBS, .exe = ma->out,
        };
        if (cuda) {
            const char *nvflags = getenv("MCGEN_NVFLAGS");
            job.nvcc = MCGEN_NVCC;
            job.nvflags = nvflags ? nvflags : MCGEN_NVFLAGS_DEFAULT;
            job.cuda_include_dir = data_dir(a, "include/mcgen", "mc_cuda.h", MCGEN_RUNTIME_DIR "/cuda");
            job.cuda_lib = data_dir_file(a, MCGEN_LIB_DIR, "libmcgen_cuda.a", MCGEN_CUDA_LIB);
            job.cuda_libs = MCGEN_CUDA_LIBS;
        }
        ok = mc_compile(a, &job, err, errlen);
    }
    remove_tree(a, scratch);
    return ok;
}

static int cmd_build(int argc, char **argv)
{
    model_args ma;
    int rc = parse_model_args(argc, argv, "build", usage_build,
                              OPT_OUT | OPT_TARGET | OPT_NO_FUSE | OPT_GENERIC | OPT_CPU | OPT_TUNE | OPT_INFERENCE, &ma);
    if (rc >= 0)
        return rc;
    char err[1024];
    if (!mc_check_output(ma.out, false, err, sizeof err)) { /* before anything is compiled */
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (strcmp(ma.target, "c") != 0 && !*MCGEN_NVCC) {
        fprintf(stderr, "mcgen build: error: --target %s: this mcgen was built without CUDA (no nvcc found)\n",
                ma.target);
        return 1;
    }
    arena *a = arena_new();
    mc_model *m = load_or_report(a, &ma);
    const bool ok = m && build_exe(a, m, &ma, err, sizeof err);
    if (m && !ok)
        fprintf(stderr, "%s\n", err);
    arena_free(a);
    return ok ? 0 : 1;
}

static const char usage_tune[] =
    "usage: mcgen tune MODEL.mcn [--conv TYPE] [--classes N] [--input CxHxW] [--cpu CPU]\n"
    "                  [--threads N] [--batch B] [--iters I] -o FILE\n"
    "\n"
    "Measures, on this machine, the forms each conv and depthwise layer can take where the\n"
    "planner's rules cannot know the fastest (channels-last or planar passes, one product\n"
    "per group or plane by plane): a few builds of the model, build v giving every layer its\n"
    "v-th candidate, each checked against the generic kernels (EXE check) and then timed\n"
    "layer by layer (EXE bench --layers); each layer keeps its cheapest candidate, counting\n"
    "the layers whose fusions its form decides. Writes the choices to FILE, for\n"
    "mcgen emit/build --tune FILE, and prints the tuned step against the rules' one.\n"
    "\n"
    "  --conv, --classes, --input, --cpu   as for build\n"
    "  --threads N      threads of the measurements (default 1)\n"
    "  --batch B        images per step (default 32)\n"
    "  --iters I        timed repetitions of each layer (default 5)\n"
    "  -o FILE          the tune file to write (replaced only when tuning succeeds)\n"
    "  -h, --help       this help\n";

/* Runs argv with its output into `out` (or /dev/null); true when it exits 0. */
static bool run_quiet(char *const argv[], const char *out)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(out ? out : "/dev/null", "w", stdout);
        if (!f || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The median generated step of `bench --generated-only` (its output in
 * `out`), in seconds; < 0 when it ran badly. */
static double bench_step(arena *a, const char *exe, const model_args *ma, const char *out)
{
    char *argv[] = {(char *)exe, "bench", "--generated-only", "--threads", arena_printf(a, "%d", ma->threads),
                    "--batch", arena_printf(a, "%d", ma->batch), "--iters", arena_printf(a, "%d", ma->iters), NULL};
    if (!run_quiet(argv, out))
        return -1;
    FILE *f = fopen(out, "r");
    char line[512];
    double ms = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "training step: generated %lf ms", &ms) == 1)
            break;
    if (f)
        fclose(f);
    return ms / 1e3;
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int cmd_tune(int argc, char **argv)
{
    model_args ma;
    int rc = parse_model_args(argc, argv, "tune", usage_tune, OPT_OUT | OPT_CPU | OPT_MEASURE, &ma);
    if (rc >= 0)
        return rc;
    ma.threads = ma.threads ? ma.threads : 1, ma.batch = ma.batch ? ma.batch : 32, ma.iters = ma.iters ? ma.iters : 5;
    char why[256], err[1024] = "";
    if (!mc_check_output(ma.out, false, err, sizeof err)) { /* before the builds */
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (!mc_cpu_runs(ma.cpu->name, why, sizeof why)) {
        fprintf(stderr, "mcgen tune: error: --cpu %s: %s; tune where the kernels run\n", ma.cpu->name, why);
        return 1;
    }
    arena *a = arena_new();
    mc_model *m = load_or_report(a, &ma);
    if (!m) {
        arena_free(a);
        return 1;
    }
    const char *file = ma.out, *tmpdir = getenv("TMPDIR");
    char *scratch = arena_printf(a, "%s/mcgen-tune.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    bool ok = mkdtemp(scratch) != NULL;
    if (!ok)
        snprintf(err, sizeof err, "mcgen tune: error: cannot make a scratch folder %s: %s", scratch, strerror(errno));
    mc_plan_options po = {.target = ma.cpu};
    mc_tuning *t = mc_tune_begin(a, mc_plan_model(a, m, &po));
    const char *exes[MC_FORM_CANDIDATES + 1];
    /* Build v, checked, timed layer by layer; build 0 is the rules'. */
    for (int v = 0; ok && v < t->nbuilds; v++) {
        ma.tuned = mc_tune_build_forms(a, t, v, &ma.ntuned);
        ma.out = exes[v] = arena_printf(a, "%s/build%d", scratch, v);
        const char *times = arena_printf(a, "%s/times%d", scratch, v);
        printf("build %d of %d: ", v + 1, t->nbuilds);
        fflush(stdout);
        ok = build_exe(a, m, &ma, err, sizeof err);
        char *check[] = {(char *)ma.out, "check", "--batch", "4", "--threads", arena_printf(a, "%d", ma.threads), NULL};
        char *bench[] = {(char *)ma.out, "bench", "--layers", "--generated-only", "--threads",
                         arena_printf(a, "%d", ma.threads), "--batch", arena_printf(a, "%d", ma.batch), "--iters",
                         arena_printf(a, "%d", ma.iters), "--times", (char *)times, NULL};
        if (ok && !run_quiet(check, NULL)) {
            /* never timed: its candidates keep no cost, so none is chosen */
            printf("fails the check against the generic kernels (%s check): left out\n", ma.out);
            exes[v] = NULL;
            continue;
        }
        ok = ok && run_quiet(bench, NULL) && mc_tune_record(a, t, v, times, err, sizeof err);
        if (ok)
            printf("checked and timed\n");
        else if (!*err)
            snprintf(err, sizeof err, "mcgen tune: error: %s bench failed", ma.out);
    }
    ok = ok && exes[0]; /* the rules' build must pass its check */
    if (!ok && !*err)
        snprintf(err, sizeof err, "mcgen tune: error: the rules' build of %s fails its check against the generic "
                                  "kernels: run %s check", m->name, exes[0] ? exes[0] : "it");
    /* The tuned build against the rules', whole steps in turn. */
    const char *note = NULL;
    if (ok) {
        ma.tuned = mc_tune_choose(a, t, &ma.ntuned);
        bool rules = true;
        for (int i = 0; i < t->nlayers; i++)
            rules = rules && t->layers[i].best == 0;
        if (rules)
            note = "every layer's rules form measured fastest: the tuned build is the rules' one";
    }
    if (ok && !note) {
        ma.out = arena_printf(a, "%s/tuned", scratch);
        char *check[] = {(char *)ma.out, "check", "--batch", "4", NULL};
        ok = build_exe(a, m, &ma, err, sizeof err);
        if (ok && !run_quiet(check, NULL)) {
            snprintf(err, sizeof err, "mcgen tune: error: the tuned build fails its check against the generic kernels");
            ok = false;
        }
        double steps[2][3];
        for (int round = 0; ok && round < 3; round++)
            for (int s = 0; ok && s < 2; s++) {
                steps[s][round] = bench_step(a, s ? ma.out : exes[0], &ma, arena_printf(a, "%s/step", scratch));
                ok = steps[s][round] > 0;
            }
        if (ok) {
            qsort(steps[0], 3, sizeof(double), cmp_double);
            qsort(steps[1], 3, sizeof(double), cmp_double);
            note = arena_printf(a, "step %.2f ms tuned, %.2f ms by the rules: %.3fx (medians of 3 in turn)",
                                1e3 * steps[1][1], 1e3 * steps[0][1], steps[0][1] / steps[1][1]);
        } else if (!*err)
            snprintf(err, sizeof err, "mcgen tune: error: timing the tuned step failed");
    }
    if (ok)
        printf("%s\n", note);
    ok = ok && mc_tune_write(t, file, note, ma.threads, ma.batch, err, sizeof err);
    if (!ok)
        fprintf(stderr, "%s\n", err);
    remove_tree(a, scratch);
    arena_free(a);
    return ok ? 0 : 1;
}

static const char usage_targets[] =
    "usage: mcgen targets [--flags CPU]\n"
    "\n"
    "Prints the CPU targets of emit and build --cpu: the vector lanes, the vector\n"
    "registers, the compiler flags and what a CPU needs to run each; the one --cpu\n"
    "native picks here is marked. With --flags, only the compiler flags of CPU\n"
    "(native, avx512, avx2, neon or portable), for scripts.\n";

static int cmd_targets(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_targets, stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--flags")) {
        const char *flags = mc_target_flags(argv[2]);
        if (!flags)
            return usage_error("targets", "bad --flags '%s'; expected " MC_TARGET_NAMES, argv[2]);
        puts(flags);
        return 0;
    }
    if (argc != 1)
        return usage_error("targets", "unexpected argument '%s'", argv[1]);
    const mc_target *native = mc_target_native();
    printf("%-9s %5s %9s  %-17s %s\n", "cpu", "lanes", "registers", "flags", "runs on");
    for (int i = 0; mc_target_at(i); i++) {
        const mc_target *t = mc_target_at(i);
        printf("%-9s %5d %9d  %-17s %s%s\n", t->name, t->lanes, t->vregs, *t->cflags ? t->cflags : "(none)",
               t->requires, t == native ? "; native here" : "");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "%s", "expected a command (summary, emit, build, tune, ops, targets)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mcgen %s\n", MCGEN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "summary") == 0)
        return cmd_summary(argc - 1, argv + 1);
    if (strcmp(cmd, "emit") == 0)
        return cmd_emit(argc - 1, argv + 1);
    if (strcmp(cmd, "build") == 0)
        return cmd_build(argc - 1, argv + 1);
    if (strcmp(cmd, "targets") == 0)
        return cmd_targets(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0)
        return cmd_tune(argc - 1, argv + 1);
    if (strcmp(cmd, "ops") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            fputs("usage: mcgen ops\n\nPrints the description language's ops, their keys and the init rules, as "
                  "Markdown.\n", stdout);
            return 0;
        }
        if (argc > 2)
            return usage_error("ops", "unexpected argument '%s'", argv[2]);
        doc_ops_markdown(stdout);
        return 0;
    }
    return usage_error(NULL, "unknown command '%s'; expected summary, emit, build, tune, ops or targets", cmd);
}
