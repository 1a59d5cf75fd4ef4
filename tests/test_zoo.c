/* The zoo against the reference: every model x conv type x class count has
 * the authors' parameter count and state_dict (names, shapes, kinds, order),
 * and the forward MACs of the authors' reference code. The reference counts
 * and key lists are kept in tests/fixtures. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "graph.h"
#include "testutil.h"

static mc_model *load_zoo(arena *a, const char *model, const char *conv, int classes, mc_shape input)
{
    char path[256], err[1024];
    snprintf(path, sizeof path, "models/%s.mcn", model);
    mc_options opt = {.conv_type = conv, .classes = classes, .input = input};
    mc_model *m = mc_load(a, source_path(path), &opt, err, sizeof err);
    cr_assert(m, "%s", err);
    return m;
}

/* "16x3x3x3" or "scalar" for the tensor's shape, as the fixtures write it. */
static void shape_text(const mc_tensor *t, char *buf, size_t n)
{
    if (t->ndim == 0) {
        snprintf(buf, n, "scalar");
        return;
    }
    size_t o = 0;
    for (int i = 0; i < t->ndim; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "x" : "", t->shape[i]);
}

static void check_state_dict(const mc_model *m, const char *model, const char *conv)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/state_dict_keys/%s_%s.tsv", model, conv);
    char *text = read_text(source_path(path), NULL);
    cr_assert(text, "missing fixture %s", path);
    int i = 0;
    char *cursor = text;
    for (char *line; (line = next_line(&cursor)); i++) {
        char name[256], shape[64], kind[16], mine[64];
        cr_assert_eq(sscanf(line, "%255s %63s %15s", name, shape, kind), 3, "bad fixture line %s", line);
        cr_assert_lt(i, m->ntensors, "%s %s: state_dict ends before %s", model, conv, name);
        const mc_tensor *t = &m->tensors[i];
        shape_text(t, mine, sizeof mine);
        cr_assert_str_eq(t->name, name, "%s %s: tensor %d", model, conv, i);
        cr_assert_str_eq(mine, shape, "%s %s: shape of %s", model, conv, name);
        cr_assert_str_eq(t->is_param ? "param" : "buffer", kind, "%s %s: kind of %s", model, conv, name);
        cr_assert_eq(t->dtype == MC_I64, strstr(name, "num_batches_tracked") != NULL, "dtype of %s", name);
    }
    cr_assert_eq(m->ntensors, i, "%s %s: %d tensors, reference %d", model, conv, m->ntensors, i);
    free(text);
}

/* Every conv type and class count of one model against params.tsv; the
 * state_dict at 10 classes against its key list. */
static void check_model(const char *name)
{
    char *table = read_text(source_path("tests/fixtures/params.tsv"), NULL);
    cr_assert(table);
    int checked = 0;
    char *cursor = table;
    for (char *line; (line = next_line(&cursor));) {
        char model[64], conv[64];
        int classes;
        long long params, tensors;
        if (sscanf(line, "%63s %63s %d %lld %lld", model, conv, &classes, &params, &tensors) != 5 ||
            strcmp(model, name) != 0)
            continue;
        arena *a = arena_new();
        mc_model *m = load_zoo(a, model, conv, classes, (mc_shape){0, 0, 0});
        cr_expect_eq(m->params, params, "%s %s %d classes: %lld params, reference %lld", model, conv, classes,
                     m->params, params);
        cr_expect_eq(m->ntensors, tensors, "%s %s %d classes: %d tensors, reference %lld", model, conv, classes,
                     m->ntensors, tensors);
        if (classes == 10)
            check_state_dict(m, model, conv);
        arena_free(a);
        checked++;
    }
    cr_assert_eq(checked, 3 * MC_NCONV_TYPES, "expected 12 rows for %s in params.tsv", name);
    free(table);
}

Test(zoo, resnet20) { check_model("resnet20"); }
Test(zoo, resnet50) { check_model("resnet50"); }
Test(zoo, se_resnet56) { check_model("se_resnet56"); }
Test(zoo, shakenet26_2x96d) { check_model("shakenet26_2x96d"); }
Test(zoo, mobilenetv2) { check_model("mobilenetv2"); }

/* Forward MACs per image, the reference code's (10 classes). */
static const struct {
    const char *model;
    mc_shape input;
    long long macs[MC_NCONV_TYPES]; /* standard, dsconv, multiception, mixconv */
} mac_table[] = {
    {"resnet20", {3, 32, 32}, {40813184, 24754816, 32408192, 40064128}},
    {"resnet50", {3, 32, 32}, {111592064, 65366656, 85533312, 109552128}},
    {"resnet50", {3, 96, 96}, {1004323456, 588294784, 769794688, 985964032}},
    {"se_resnet56", {3, 32, 32}, {125759936, 73501120, 96170432, 123461824}},
    {"shakenet26_2x96d", {3, 32, 32}, {3776892672, 2252025600, 2566246144, 3818311424}},
    {"mobilenetv2", {3, 96, 96}, {356335616, 220049408, 300965888, 356888576}},
};

Test(zoo, macs)
{
    for (size_t i = 0; i < sizeof mac_table / sizeof mac_table[0]; i++)
        for (int c = 0; c < MC_NCONV_TYPES; c++) {
            arena *a = arena_new();
            mc_model *m = load_zoo(a, mac_table[i].model, mc_conv_type_names[c], 0, mac_table[i].input);
            cr_expect_eq(m->macs, mac_table[i].macs[c], "%s %s at %dx%d: %lld MACs, reference %lld",
                         mac_table[i].model, mc_conv_type_names[c], mac_table[i].input.h, mac_table[i].input.w,
                         m->macs, mac_table[i].macs[c]);
            arena_free(a);
        }
}

/* resnet20 per-layer MACs of the slot (the reference code's): layer2.0's
 * Multiception does its depthwise convs at full resolution. */
Test(zoo, resnet20_slot_macs)
{
    arena *a = arena_new();
    mc_model *m = load_zoo(a, "resnet20", "multiception", 0, (mc_shape){0, 0, 0});
    long long slot = 0;
    for (int i = 0; i < m->nnodes; i++)
        if (strncmp(m->nodes[i].name, "layer2.0.conv_bn.", 17) == 0)
            slot += m->nodes[i].macs;
    cr_expect_eq(slot, 819200);
    arena_free(a);
}

/* The acceptance line, through the command line. */
Test(zoo, cli_json_params)
{
    char *dir = make_temp_dir();
    cli_result r = run_mcgen(dir, "summary \"" MCGEN_SOURCE_DIR "/models/resnet20.mcn\" --conv multiception --json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"params\": 189434"), "%s", r.out);
    cr_expect(strstr(r.out, "{\"name\": \"bn1.num_batches_tracked\", \"shape\": [], \"kind\": \"buffer\""), "%s", r.out);
    free_result(r);
    remove_temp_dir(dir);
}

/* --json FILE: the layers in execution order with every key of their op
 * and their tensors, what tools/torch_graph.py builds a PyTorch twin from. */
Test(zoo, cli_json_graph)
{
    char *dir = make_temp_dir();
    cli_result r = run_mcgen(dir, "summary --json g.json \"" MCGEN_SOURCE_DIR "/models/resnet20.mcn\" --conv multiception");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(r.out[0], '\0', "%s", r.out);
    char path[4096];
    snprintf(path, sizeof path, "%s/g.json", dir);
    char *j = read_text(path, NULL);
    cr_assert(j);
    cr_expect(strstr(j, "\"layers\": [\n  {\"name\": \"conv1\", \"op\": \"conv\""), "%.300s", j);
    cr_expect(strstr(j, "\"inputs\": [\"input\"], \"out\": 16, \"k\": 3, \"stride\": 1, \"pad\": 1, \"groups\": 1, "
                        "\"bias\": false, \"unused\": false"));
    cr_expect(strstr(j, "\"name\": \"layer2.0.conv_bn.seps\", \"op\": \"depthwise\""));
    cr_expect(strstr(j, "\"kernels\": [3, 5], \"stride\": 1, \"bias\": false, \"unused\": false, \"indexed\": true"));
    cr_expect(strstr(j, "\"out\": 32, \"k\": 1, \"stride\": 2, \"pad\": 0, \"groups\": 1, \"bias\": true"));
    cr_expect(strstr(j, "\"eps\": 1e-05, \"momentum\": 0.1"));
    cr_expect(strstr(j, "\"tensors\": [{\"name\": \"layer1.0.conv_bn.seps.0.weight\", \"shape\": [16, 1, 3, 3]"));
    free(j);
    free_result(r);
    remove_temp_dir(dir);
}
