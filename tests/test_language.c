/* The description language's features, on small models: scoping, blocks,
 * repetition, conditions, references, unused layers, init rules, shapes of
 * every op, the plan of the parameter areas, the CLI's help, and that
 * models/README.md shows the registry as it is. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "graph.h"
#include "ops.h"
#include "testutil.h"

#define HEAD "model t\ninput 3x8x8\nclasses 4\n"
#define TAIL "pool: avgpool\nfc: linear classes\n"

static arena *A;

static void setup(void) { A = arena_new(); }
static void teardown(void) { arena_free(A); }

TestSuite(language, .init = setup, .fini = teardown);

static mc_model *load_opt(const char *text, const mc_options *opt)
{
    char err[1024];
    mc_model *m = mc_load_text(A, "t.mcn", text, (long)strlen(text), opt, err, sizeof err);
    cr_assert(m, "%s", err);
    return m;
}

static mc_model *load(const char *text) { return load_opt(text, NULL); }

static const mc_node *node(const mc_model *m, const char *name)
{
    for (int i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0)
            return &m->nodes[i];
    cr_assert_fail("no node '%s'", name);
    return NULL;
}

static const mc_tensor *tensor(const mc_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    cr_assert_fail("no tensor '%s'", name);
    return NULL;
}

static void expect_shape(const mc_model *m, const char *name, int c, int h, int w)
{
    mc_shape s = node(m, name)->shape;
    cr_expect(s.c == c && s.h == h && s.w == w, "%s is %dx%dx%d, expected %dx%dx%d", name, s.c, s.h, s.w, c, h, w);
}

Test(language, blocks_loops_and_names)
{
    mc_model *m = load(HEAD
                       "# a comment\r\n"
                       "block unit(c, s)\n"
                       "  let half = c / 2\n"
                       "  conv: conv half*2 k=3 stride=s  # trailing comment\n"
                       "  bn: batchnorm\n"
                       "end\n"
                       "for i in 1..3\n"
                       "  stage{i}.x: unit c=4*i s=min(i, 2)\n"
                       "end\n" TAIL);
    expect_shape(m, "stage1.x.conv", 4, 8, 8);
    expect_shape(m, "stage2.x.conv", 8, 4, 4);
    expect_shape(m, "stage3.x.conv", 12, 2, 2);
    cr_expect_str_eq(m->tensors[0].name, "stage1.x.conv.weight");
    cr_expect_eq(tensor(m, "stage3.x.conv.weight")->shape[1], 8);
    cr_expect_str_eq(node(m, "stage2.x.bn")->where, "in 'stage2.x', block 'unit'");
}

Test(language, conditions_and_lets)
{
    mc_model *m = load(HEAD
                       "let w = 6\n"
                       "if w > 4 && !(w == 5)\n"
                       "  let w = 2\n"
                       "  a: conv w k=1\n"
                       "else\n"
                       "  a: conv 7 k=1\n"
                       "end\n"
                       "b: conv w k=1\n"
                       "c: conv len([3,5,7]) + max(1, 2) k=1\n" TAIL);
    expect_shape(m, "a", 2, 8, 8); /* the inner let */
    expect_shape(m, "b", 6, 8, 8); /* the outer one: lets do not leak out of an if */
    expect_shape(m, "c", 5, 8, 8);
}

Test(language, inputs_and_forward_references)
{
    mc_model *m = load(HEAD
                       "short: conv 4 k=1 from in\n"
                       "a: conv 4 k=3 from in\n"
                       "sum: add from a short later\n"
                       "later: identity from short\n"
                       "cat: concat from sum a\n"
                       "relu\n" TAIL);
    const mc_node *sum = node(m, "sum");
    cr_assert_eq(sum->ninputs, 3);
    cr_expect_str_eq(m->nodes[sum->inputs[2]].name, "later");
    expect_shape(m, "cat", 8, 8, 8);
    /* Execution order: every node after its inputs; the output last. */
    int *pos = calloc((size_t)m->nnodes, sizeof *pos);
    for (int i = 0; i < m->norder; i++)
        pos[m->order[i]] = i + 1;
    for (int i = 0; i < m->norder; i++) {
        const mc_node *n = &m->nodes[m->order[i]];
        for (int j = 0; j < n->ninputs; j++)
            cr_expect(n->inputs[j] == 0 || pos[n->inputs[j]] < i + 1, "%s runs before its input", n->name);
    }
    cr_expect_eq(m->order[m->norder - 1], m->output);
    free(pos);
}

Test(language, unused_layers_count_but_never_run)
{
    mc_model *m = load(HEAD
                       "block side(c)\n  p: conv c k=1\n  q: batchnorm\nend\n"
                       "dead: side 16 unused=true from in\n"
                       "a: conv 4 k=3 from in\n" TAIL);
    const mc_node *p = node(m, "dead.p");
    cr_expect(p->unused && node(m, "dead.q")->unused);
    cr_expect_eq(m->params, 16 * 3 + 2 * 16 + 4 * 27 + 4 * 4 + 4);
    cr_expect_eq(m->macs, 4 * 64 * 27 + 16, "unused layers add no MACs");
    for (int i = 0; i < m->norder; i++)
        cr_expect(!m->nodes[m->order[i]].unused, "unused node %s is in the execution order",
                  m->nodes[m->order[i]].name);
    cr_expect_str_eq(m->tensors[0].name, "dead.p.weight", "tensors stay in declaration order");
}

Test(language, conv_types_and_the_command_line)
{
    const char *text = HEAD "conv_type dsconv\n"
                            "s: convbn 6 stride=2 kernels=[3,5]\n"
                            "f: convbn 6 kernels=[1,3] type=multiception\n" TAIL;
    mc_model *m = load(text);
    cr_expect_eq(m->conv_type, MC_DSCONV);
    tensor(m, "s.depthwise.weight");
    tensor(m, "f.seps.0.weight");
    cr_expect_eq(tensor(m, "f.seps.1.weight")->shape[2], 3);
    mc_options opt = {.conv_type = "mixconv", .classes = 7, .input = {3, 16, 16}};
    m = load_opt(text, &opt);
    cr_expect_eq(tensor(m, "s.2.weight")->shape[2], 7, "--conv replaces the file's conv_type");
    tensor(m, "f.bn2.weight"); /* type= is kept */
    expect_shape(m, "fc", 7, 1, 1);
    expect_shape(m, "s", 6, 8, 8);
}

Test(language, shapes_of_every_op)
{
    mc_model *m = load("model t\ninput 5x17x15\nclasses 4\n"
                       "c: conv 6 k=5 stride=2 pad=1 groups=1 bias=true\n"
                       "g: conv 6 k=3 groups=3\n"
                       "d: depthwise k=3 stride=2\n"
                       "dk: depthwise kernels=[1,3,5]\n"
                       "m: mixconv 9 stride=2\n"
                       "b: batchnorm eps=0.001 momentum=0.01\n"
                       "r6: relu6\nsg: sigmoid\ndr: dropout p=0.3\n"
                       "p: avgpool k=1 stride=1\n"
                       "s0: subsample stride=2\n"
                       "s1: subsample stride=2 offset=1 from p\n"
                       "sh: shake from s0 s1\n"
                       "gp: avgpool\n"
                       "sc: scale from sh gp\n"
                       "pw: pointwise 4 stride=2\n"
                       TAIL);
    expect_shape(m, "c", 6, 8, 7);
    expect_shape(m, "g", 6, 8, 7);
    cr_expect_eq(tensor(m, "g.weight")->shape[1], 2);
    expect_shape(m, "d", 6, 4, 4);
    expect_shape(m, "dk", 18, 4, 4);
    cr_expect_eq(tensor(m, "dk.2.weight")->shape[3], 5);
    tensor(m, "d.weight");
    expect_shape(m, "m", 9, 2, 2);
    cr_expect_eq(tensor(m, "m.0.weight")->shape[1], 6); /* 18 = 6 + 6 + 6 */
    cr_expect_eq(node(m, "b")->eps, 0.001);
    expect_shape(m, "p", 9, 2, 2);
    expect_shape(m, "s1", 9, 1, 1);
    expect_shape(m, "gp", 9, 1, 1);
    expect_shape(m, "pw", 4, 1, 1);
    cr_expect_eq(node(m, "c")->macs, 6LL * 8 * 7 * 5 * 25);
    cr_expect_eq(node(m, "dk")->macs, 6LL * 4 * 4 * (1 + 9 + 25));
    cr_expect_eq(node(m, "m")->macs, 3LL * 4 * 6 * (9 + 25 + 49));
}

Test(language, inputs_smaller_than_the_kernel)
{
    mc_model *m = load("model t\ninput 2x2x3\nclasses 4\nd: depthwise kernels=[7,9]\nc: conv 4 k=7\n" TAIL);
    expect_shape(m, "d", 4, 2, 3);
    expect_shape(m, "c", 4, 2, 3);
}

Test(language, init_rules)
{
    mc_model *m = load(HEAD
                       "init conv.weight kaiming_normal_fan_in\n"
                       "init conv.bias zeros\n"
                       "init linear.weight normal 0.01\n"
                       "init batchnorm.weight zeros\n"
                       "c: conv 4 k=3 bias=true\n"
                       "d: depthwise k=5\n"
                       "bn: batchnorm\n" TAIL);
    const mc_tensor *w = tensor(m, "c.weight");
    cr_expect_eq(w->init.kind, INIT_NORMAL);
    cr_expect_float_eq(w->init.a, sqrt(2.0 / 27), 1e-12);
    cr_expect_float_eq(tensor(m, "d.weight")->init.a, sqrt(2.0) / 5, 1e-12);
    cr_expect_eq(tensor(m, "c.bias")->init.kind, INIT_ZEROS);
    cr_expect_float_eq(tensor(m, "fc.weight")->init.a, 0.01, 1e-15);
    cr_expect_eq(tensor(m, "fc.bias")->init.kind, INIT_UNIFORM, "default: PyTorch's U(+-1/sqrt(fan_in))");
    cr_expect_float_eq(tensor(m, "fc.bias")->init.a, 0.5, 1e-15);
    cr_expect_eq(tensor(m, "bn.weight")->init.kind, INIT_ZEROS);
    cr_expect_eq(tensor(m, "bn.bias")->init.kind, INIT_ZEROS);
    cr_expect_eq(tensor(m, "bn.running_var")->init.kind, INIT_ONES);

    m = load(HEAD "init conv.weight kaiming_normal_fan_out\nc: conv 4 k=3\nd: depthwise k=3\n" TAIL);
    cr_expect_float_eq(tensor(m, "c.weight")->init.a, sqrt(2.0 / 36), 1e-12);
    cr_expect_float_eq(tensor(m, "d.weight")->init.a, sqrt(2.0 / 36), 1e-12, "fan_out = C * k * k, no groups");
}

Test(language, zoo_init_rules)
{
    char err[1024];
    mc_model *m = mc_load(A, source_path("models/shakenet26_2x96d.mcn"), NULL, err, sizeof err);
    cr_assert(m, "%s", err);
    cr_expect_float_eq(tensor(m, "c_in.weight")->init.a, sqrt(2.0 / (9 * 16)), 1e-12);
    cr_expect_float_eq(tensor(m, "c_in.bias")->init.a, 1 / sqrt(27.0), 1e-12);
    cr_expect_eq(tensor(m, "fc_out.bias")->init.kind, INIT_ZEROS);
    m = mc_load(A, source_path("models/resnet20.mcn"), NULL, err, sizeof err);
    cr_assert(m, "%s", err);
    cr_expect_float_eq(tensor(m, "layer1.0.conv_bn.seps.2.weight")->init.a, sqrt(2.0) / 7, 1e-12);
    cr_expect_float_eq(tensor(m, "layer1.0.conv_bn.pointwise.bias")->init.a, 1 / sqrt(48.0), 1e-12);
    cr_expect_float_eq(tensor(m, "fc.weight")->init.a, 0.125, 1e-12);
}

Test(language, parameter_layout)
{
    char err[1024];
    mc_model *m = mc_load(A, source_path("models/resnet20.mcn"), NULL, err, sizeof err);
    cr_assert(m, "%s", err);
    long long next[3] = {0, 0, 0};
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor *t = &m->tensors[i];
        int area = t->dtype == MC_I64 ? 2 : t->is_param ? 0 : 1;
        cr_expect_eq(t->offset, next[area], "%s is not packed after its predecessor", t->name);
        next[area] += t->numel;
    }
    cr_expect_eq(next[0], m->param_floats);
    cr_expect_eq(m->param_floats, m->params);
    cr_expect_eq(next[1], m->buffer_floats);
    int bns = 0;
    for (int i = 0; i < m->nnodes; i++)
        bns += m->nodes[i].op->code == OP_BATCHNORM;
    cr_expect_eq(m->counters, bns, "one num_batches_tracked per batchnorm");
    cr_expect_eq(bns, 30);
}

/* models/README.md holds `mcgen ops` between two markers. */
Test(language, docs_match_the_registry)
{
    char *readme = read_text(source_path("models/README.md"), NULL);
    cr_assert(readme, "models/README.md is missing");
    const char *begin = "<!-- mcgen ops: begin -->\n", *end = "<!-- mcgen ops: end -->";
    char *b = strstr(readme, begin), *e = strstr(readme, end);
    cr_assert(b && e && e > b, "models/README.md lacks the '%s' ... '%s' markers", begin, end);
    b += strlen(begin);
    FILE *f = tmpfile();
    doc_ops_markdown(f);
    long n = ftell(f);
    rewind(f);
    char *want = calloc((size_t)n + 1, 1);
    cr_assert_eq(fread(want, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *e = '\0';
    cr_expect_str_eq(b, want, "models/README.md is out of date: replace the text between the markers by the output "
                              "of 'mcgen ops'");
    free(want);
    free(readme);
}

Test(language, cli_help_and_outputs)
{
    char *dir = make_temp_dir();
    cli_result r = run_mcgen(dir, "--help");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "summary MODEL.mcn"));
    free_result(r);
    r = run_mcgen(dir, "summary --help");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "--conv TYPE"));
    free_result(r);
    r = run_mcgen(dir, "summary \"" MCGEN_SOURCE_DIR "/models/shakenet26_2x96d.mcn\" --classes 100");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "17,600,004"), "%s", r.out);
    const char *row = strstr(r.out, "\nlayer1.1.shortcut.conv1 ");
    cr_expect(row && strstr(row, " conv (unused) ") && strstr(row, " conv (unused) ") < strchr(row + 1, '\n'),
              "%s", r.out);
    free_result(r);
    r = run_mcgen(dir, "ops");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "| `multiception` |"));
    free_result(r);
    cr_expect_eq(count_files(dir), 0);
    remove_temp_dir(dir);
}
