/* mcgen: the command line. Each subcommand parses its options, runs the
 * pipeline stages it needs and prints or writes their result. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "graph.h"
#include "summary.h"

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
    "  ops                 the description language's layers and keys (Markdown)\n"
    "\n"
    "Run 'mcgen COMMAND --help' for a command's options. 'mcgen --version' prints the version.\n";

static const char usage_summary[] =
    "usage: mcgen summary MODEL.mcn [--conv TYPE] [--classes N] [--input CxHxW] [--json]\n"
    "\n"
    "Prints every layer (name, op, output shape, parameters, MACs) and the totals.\n"
    "\n"
    "  --conv TYPE      conv type of every convbn slot: standard, dsconv, multiception\n"
    "                   or mixconv (default: the file's conv_type)\n"
    "  --classes N      number of classes (default: the file's classes)\n"
    "  --input CxHxW    input shape, e.g. 3x96x96 (default: the file's input)\n"
    "  --json           one JSON object: params, macs, layers and the state_dict tensors\n"
    "  -h, --help       this help\n";

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

static int cmd_summary(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"conv", required_argument, NULL, 'c'}, {"classes", required_argument, NULL, 'n'},
        {"input", required_argument, NULL, 'i'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    mc_options opt = {0};
    bool json = false;
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt.conv_type = optarg; break;
        case 'n':
            if (!parse_int(optarg, 1, 1000000, &v))
                return usage_error("summary", "bad --classes '%s'; expected an integer from 1 to 1000000", optarg);
            opt.classes = (int)v;
            break;
        case 'i':
            if (!parse_shape(optarg, &opt.input))
                return usage_error("summary", "bad --input '%s'; expected CxHxW, as in 3x32x32", optarg);
            break;
        case 'j': json = true; break;
        case 'h': fputs(usage_summary, stdout); return 0;
        default:
            return usage_error("summary", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_error("summary", "%s", optind >= argc ? "expected one MODEL.mcn" : "expected one MODEL.mcn, got more");

    arena *a = arena_new();
    char err[1024];
    mc_model *m = mc_load(a, argv[optind], &opt, err, sizeof err);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        arena_free(a);
        return 1;
    }
    if (json)
        summary_json(stdout, m);
    else
        summary_table(stdout, m);
    arena_free(a);
    if (fflush(stdout) != 0) {
        perror("mcgen: writing the summary");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "%s", "expected a command (summary, ops)");
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
    return usage_error(NULL, "unknown command '%s'; expected summary or ops", cmd);
}
