/* The op registry (see ops.h) and each op's shape, MAC, tensor and lowering
 * rules. Semantics are PyTorch's; tensor names and their order are those of
 * the authors' reference state_dict (key lists in tests/fixtures). */
#include "ops.h"

#include <string.h>

#include "arena.h"
#include "build.h"

const char *const mc_conv_type_names[MC_NCONV_TYPES] = {"standard", "dsconv", "multiception", "mixconv"};

bool mc_parse_conv_type(const char *s, mc_conv_type *out)
{
    for (int i = 0; i < MC_NCONV_TYPES; i++)
        if (strcmp(s, mc_conv_type_names[i]) == 0) {
            *out = (mc_conv_type)i;
            return true;
        }
    return false;
}

/* ---- keys -------------------------------------------------------------- */

#define F(field) offsetof(mc_node, field)
#define BIG 1e9

#define KEY_OUT(what) {"out", KEY_INT, F(out), true, true, 0, 1, MC_MAX_CHANNELS, NULL, what}
#define KEY_STRIDE {"stride", KEY_INT, F(stride), false, false, 1, 1, 64, "1", "step between output positions"}
#define KEY_KERNELS(d, doc) {"kernels", KEY_KERNELS, F(ks), false, false, 0, 1, MC_MAX_K, d, doc}
#define KEY_END {NULL, 0, 0, false, false, 0, 0, 0, NULL, NULL}

static const mc_key conv_keys[] = {
    KEY_OUT("output channels"),
    {"k", KEY_INT, F(k), false, true, 0, 1, MC_MAX_K, NULL, "kernel size (even sizes too: give pad, as k=2 stride=2 pad=0)"},
    KEY_STRIDE,
    {"pad", KEY_INT, F(pad), false, false, -1, 0, MC_MAX_K, "k/2", "zero padding on each side"},
    {"groups", KEY_INT, F(groups), false, false, 1, 1, MC_MAX_CHANNELS, "1", "channel groups; must divide both channel counts"},
    {"bias", KEY_BOOL, F(bias), false, false, 0, 0, 1, "false", "add a learned bias"},
    KEY_END,
};

static const mc_key pointwise_keys[] = {
    KEY_OUT("output channels"),
    KEY_STRIDE,
    {"bias", KEY_BOOL, F(bias), false, false, 0, 0, 1, "false", "add a learned bias"},
    KEY_END,
};

static const mc_key depthwise_keys[] = {
    {"k", KEY_INT, F(k), true, false, 0, 1, MC_MAX_K, NULL, "kernel size (odd); tensor named <name>.weight"},
    KEY_KERNELS(NULL, "several kernel sizes, each applied to every channel, outputs concatenated kernel-major; "
                      "tensors named <name>.<j>.weight (give k or kernels)"),
    KEY_STRIDE,
    {"bias", KEY_BOOL, F(bias), false, false, 0, 0, 1, "false", "add a learned bias"},
    KEY_END,
};

static const mc_key slot_keys[] = {
    KEY_OUT("output channels"),
    KEY_STRIDE,
    KEY_KERNELS("[3]", "Multiception kernel sizes (the other types ignore them, as the reference does)"),
    KEY_END,
};

static const mc_key convbn_keys[] = {
    KEY_OUT("output channels"),
    KEY_STRIDE,
    KEY_KERNELS("[3]", "Multiception kernel sizes (the other types ignore them, as the reference does)"),
    {"type", KEY_CONVTYPE, F(conv_type), false, false, 0, 0, 0, "conv_type",
     "standard, dsconv, multiception or mixconv; fixes this slot, --conv then leaves it alone"},
    KEY_END,
};

static const mc_key bn_keys[] = {
    {"eps", KEY_FLOAT, F(eps), false, false, 1e-5, 0, 1, "1e-5", "added to the variance"},
    {"momentum", KEY_FLOAT, F(momentum), false, false, 0.1, 0, 1, "0.1", "running-stat update weight"},
    KEY_END,
};

static const mc_key avgpool_keys[] = {
    {"k", KEY_INT, F(k), true, false, 0, 1, 1 << 14, "global", "window size; without it, the mean over all of H x W"},
    {"stride", KEY_INT, F(stride), false, false, 0, 1, 1 << 14, "k", "step between windows"},
    KEY_END,
};

static const mc_key maxpool_keys[] = {
    {"k", KEY_INT, F(k), true, true, 0, 1, MC_MAX_K, NULL, "window size"},
    {"stride", KEY_INT, F(stride), false, false, 0, 1, 64, "k", "step between windows"},
    {"pad", KEY_INT, F(pad), false, false, 0, 0, MC_MAX_K, "0", "padding on each side, read as -inf; at most k/2 (as PyTorch)"},
    KEY_END,
};

static const mc_key subsample_keys[] = {
    {"stride", KEY_INT, F(stride), true, true, 0, 1, 64, NULL, "keep every stride-th row and column"},
    {"offset", KEY_INT, F(offset), false, false, 0, 0, 64, "0",
     "start at this row and column; positions past the edge read 0 (PyTorch's pad(-1,1) trick)"},
    KEY_END,
};

static const mc_key linear_keys[] = {
    KEY_OUT("output features (the input is flattened)"),
    {"bias", KEY_BOOL, F(bias), false, false, 1, 0, 1, "true", "add a learned bias"},
    KEY_END,
};

static const mc_key dropout_keys[] = {
    {"p", KEY_FLOAT, F(p), true, false, 0.5, 0, 0.999, "0.5", "probability of zeroing an element in training"},
    KEY_END,
};

static const mc_key no_keys[] = {KEY_END};

/* ---- helpers --------------------------------------------------------------- */

static mc_node *node(build *b, int i) { return &b->m->nodes[i]; }

static const char *sub_name(build *b, const mc_node *n, const char *suffix)
{
    return arena_printf(b->a, "%s.%s", n->name, suffix);
}

/* A depthwise conv pads by k/2, which keeps the size only for
 * odd k; a dense conv takes its padding as given, as PyTorch's does, so
 * any k (a patchify stem: k=2 stride=2 pad=0). */
static void check_kernel(build *b, const mc_node *n, int k)
{
    if (k % 2 == 0)
        build_error(b, n, "kernel size %d is even; expected an odd size (padding k/2 keeps the size only for odd k)", k);
}

static int out_size(int in, int k, int pad, int stride) { return (in + 2 * pad - k) / stride + 1; }

static void check_window(build *b, const mc_node *n, mc_shape in, int k, int pad)
{
    if (k > in.h + 2 * pad || k > in.w + 2 * pad)
        build_error(b, n, "kernel %dx%d is larger than the padded input %dx%d (input %dx%d, pad %d)", k, k,
                    in.h + 2 * pad, in.w + 2 * pad, in.h, in.w, pad);
}

static void same_shapes(build *b, const mc_node *n, bool channels_too)
{
    mc_shape s0 = build_in(b, n, 0);
    for (int i = 1; i < n->ninputs; i++) {
        mc_shape si = build_in(b, n, i);
        if ((channels_too && si.c != s0.c) || si.h != s0.h || si.w != s0.w)
            build_error(b, n, "%s '%s': input shapes differ: '%s' is %s but '%s' is %s", n->op->name, n->name,
                        node(b, n->inputs[0])->name, shape_str(b->a, s0), node(b, n->inputs[i])->name,
                        shape_str(b->a, si));
    }
}

static mc_init bn_init(build *b, init_target t) { return build_init(b, t, 0, 0); }

static void weight_and_bias(build *b, mc_node *n, const char *prefix, int ndim, const int *shape, init_target wt,
                            bool bias)
{
    long long fan_in = 1, receptive = 1;
    for (int i = 2; i < ndim; i++)
        receptive *= shape[i];
    fan_in = (long long)shape[1] * receptive;
    long long fan_out = (long long)shape[0] * receptive;
    const char *w = prefix ? arena_printf(b->a, "%s.weight", prefix) : "weight";
    build_tensor(b, n, w, ndim, shape, true, MC_F32, build_init(b, wt, fan_in, fan_out));
    if (bias) {
        const char *bn = prefix ? arena_printf(b->a, "%s.bias", prefix) : "bias";
        build_tensor(b, n, bn, 1, shape, true, MC_F32, build_init(b, wt + 1, fan_in, fan_out));
    }
}

/* ---- primitive ops ------------------------------------------------------- */

static void infer_input(build *b, mc_node *n) { n->shape = b->m->input; }

static void infer_conv(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    /* any k: the padding is the conv's own (check_kernel) */
    if (n->pad < 0)
        n->pad = n->k / 2;
    if (in.c % n->groups || n->out % n->groups)
        build_error(b, n, "groups=%d must divide both the input channels (%d) and out (%d)", n->groups, in.c, n->out);
    check_window(b, n, in, n->k, n->pad);
    n->shape = (mc_shape){n->out, out_size(in.h, n->k, n->pad, n->stride), out_size(in.w, n->k, n->pad, n->stride)};
    long long per = build_mul(b, n, (long long)in.c / n->groups * n->k, n->k);
    n->macs = build_mul(b, n, build_mul(b, n, (long long)n->shape.c * n->shape.h, n->shape.w), per);
}

static void tensors_conv(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    int shape[4] = {n->out, in.c / n->groups, n->k, n->k};
    weight_and_bias(b, n, NULL, 4, shape, TGT_CONV_WEIGHT, n->bias);
}

static void infer_depthwise(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    long long macs = 0;
    for (int j = 0; j < n->nks; j++)
        check_kernel(b, n, n->ks[j]);
    /* The kernels and the runtime read a bias as one value per output
     * channel after all the weights; a list's tensors would interleave. */
    if (n->bias && n->nks > 1)
        build_error(b, n, "depthwise '%s' has %d kernels and a bias; expected bias=true only with one kernel (k=3 bias=true)",
                    n->name, n->nks);
    n->shape = (mc_shape){in.c * n->nks, out_size(in.h, 1, 0, n->stride), out_size(in.w, 1, 0, n->stride)};
    if (n->shape.c > MC_MAX_CHANNELS)
        build_error(b, n, "depthwise '%s' makes %d channels; expected at most %d", n->name, n->shape.c, MC_MAX_CHANNELS);
    for (int j = 0; j < n->nks; j++)
        macs += build_mul(b, n, build_mul(b, n, (long long)in.c * n->shape.h, n->shape.w),
                          (long long)n->ks[j] * n->ks[j]);
    n->macs = macs;
}

static void tensors_depthwise(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    for (int j = 0; j < n->nks; j++) {
        int shape[4] = {in.c, 1, n->ks[j], n->ks[j]};
        weight_and_bias(b, n, n->indexed ? arena_printf(b->a, "%d", j) : NULL, 4, shape, TGT_CONV_WEIGHT, n->bias);
    }
}

/* MixConv splits channels into 3 groups, the first taking the remainder
 * (the reference's split(C, 3)), and always uses kernels 3, 5, 7. */
void mc_mix_split(int c, int out[3])
{
    out[0] = c / 3 + c % 3;
    out[1] = out[2] = c / 3;
}

static void infer_mixconv(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    if (in.c < 3 || n->out < 3)
        build_error(b, n, "mixconv '%s' splits channels into 3 groups; expected at least 3 input and output channels, got %d -> %d",
                    n->name, in.c, n->out);
    int cin[3], cout[3];
    mc_mix_split(in.c, cin);
    mc_mix_split(n->out, cout);
    n->shape = (mc_shape){n->out, out_size(in.h, 1, 0, n->stride), out_size(in.w, 1, 0, n->stride)};
    n->macs = 0;
    for (int i = 0; i < 3; i++) {
        int k = 3 + 2 * i;
        n->macs += build_mul(b, n, build_mul(b, n, (long long)cout[i] * n->shape.h, n->shape.w),
                             (long long)cin[i] * k * k);
    }
}

static void tensors_mixconv(build *b, mc_node *n)
{
    int cin[3], cout[3];
    mc_mix_split(build_in(b, n, 0).c, cin);
    mc_mix_split(n->out, cout);
    for (int i = 0; i < 3; i++) {
        int shape[4] = {cout[i], cin[i], 3 + 2 * i, 3 + 2 * i};
        weight_and_bias(b, n, arena_printf(b->a, "%d", i), 4, shape, TGT_CONV_WEIGHT, false);
    }
}

static void infer_same(build *b, mc_node *n) { n->shape = build_in(b, n, 0); }

static void tensors_batchnorm(build *b, mc_node *n)
{
    int c[1] = {n->shape.c};
    build_tensor(b, n, "weight", 1, c, true, MC_F32, bn_init(b, TGT_BN_WEIGHT));
    build_tensor(b, n, "bias", 1, c, true, MC_F32, bn_init(b, TGT_BN_BIAS));
    build_tensor(b, n, "running_mean", 1, c, false, MC_F32, (mc_init){INIT_ZEROS, 0, "zeros"});
    build_tensor(b, n, "running_var", 1, c, false, MC_F32, (mc_init){INIT_ONES, 0, "ones"});
    build_tensor(b, n, "num_batches_tracked", 0, c, false, MC_I64, (mc_init){INIT_ZEROS, 0, "zeros"});
}

static void infer_elementwise(build *b, mc_node *n)
{
    same_shapes(b, n, true);
    n->shape = build_in(b, n, 0);
}

static void infer_concat(build *b, mc_node *n)
{
    same_shapes(b, n, false);
    n->shape = build_in(b, n, 0);
    for (int i = 1; i < n->ninputs; i++)
        n->shape.c += build_in(b, n, i).c;
    if (n->shape.c > MC_MAX_CHANNELS)
        build_error(b, n, "concat '%s' makes %d channels; expected at most %d", n->name, n->shape.c, MC_MAX_CHANNELS);
}

static void infer_scale(build *b, mc_node *n)
{
    mc_shape x = build_in(b, n, 0), s = build_in(b, n, 1);
    if (s.c != x.c || s.h != 1 || s.w != 1)
        build_error(b, n, "scale '%s': the scales '%s' are %s but '%s' is %s; expected %dx1x1", n->name,
                    node(b, n->inputs[1])->name, shape_str(b->a, s), node(b, n->inputs[0])->name,
                    shape_str(b->a, x), x.c);
    n->shape = x;
}

static void infer_avgpool(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    if (n->k == 0) {
        n->shape = (mc_shape){in.c, 1, 1};
        return;
    }
    if (n->stride == 0)
        n->stride = n->k;
    check_window(b, n, in, n->k, 0);
    n->shape = (mc_shape){in.c, out_size(in.h, n->k, 0, n->stride), out_size(in.w, n->k, 0, n->stride)};
}

/* PyTorch's MaxPool2d (floor mode): padding never wins, and pad <= k/2
 * keeps at least one input in every window. */
static void infer_maxpool(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    if (n->stride == 0)
        n->stride = n->k;
    if (n->pad > n->k / 2)
        build_error(b, n, "maxpool '%s' has pad=%d with k=%d; expected pad at most k/2 = %d (as PyTorch)", n->name,
                    n->pad, n->k, n->k / 2);
    check_window(b, n, in, n->k, n->pad);
    n->shape = (mc_shape){in.c, out_size(in.h, n->k, n->pad, n->stride), out_size(in.w, n->k, n->pad, n->stride)};
}

static void infer_subsample(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    n->shape = (mc_shape){in.c, out_size(in.h, 1, 0, n->stride), out_size(in.w, 1, 0, n->stride)};
}

static void infer_linear(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    n->shape = (mc_shape){n->out, 1, 1};
    n->macs = build_mul(b, n, build_mul(b, n, (long long)in.c * in.h, in.w), n->out);
}

static void tensors_linear(build *b, mc_node *n)
{
    mc_shape in = build_in(b, n, 0);
    int shape[2] = {n->out, (int)build_mul(b, n, (long long)in.c * in.h, in.w)};
    weight_and_bias(b, n, NULL, 2, shape, TGT_LINEAR_WEIGHT, n->bias);
}

/* ---- composite ops: lowered while expanding --------------------------------- */

/* Appends a primitive node named "<spec>.<suffix>" (or the spec's own name
 * when suffix is NULL) reading the reference `input`, with the spec's
 * location and PyTorch's defaults. Returns the node's index. */
static int lower_node(build *b, const mc_node *spec, const char *suffix, mc_opcode op, int input)
{
    const char *name = suffix ? sub_name(b, spec, suffix) : spec->name;
    int i = build_node(b, name, mc_op(op), spec->at, spec->where);
    mc_node *n = node(b, i);
    n->inputs = arena_alloc(b->a, sizeof *n->inputs);
    n->inputs[0] = input;
    n->ninputs = 1;
    n->unused = spec->unused;
    n->stride = 1;
    n->groups = 1;
    n->pad = -1;
    n->eps = 1e-5;
    n->momentum = 0.1;
    return i;
}

/* The same, returning a reference to the new node, for chaining. */
static int chain(build *b, const mc_node *spec, const char *suffix, mc_opcode op, int input)
{
    return build_ref(b, lower_node(b, spec, suffix, op, input), NULL, spec->at, spec->where);
}

static int chain_conv(build *b, const mc_node *spec, const char *suffix, int input, int out, int k, int stride,
                      bool bias)
{
    int i = lower_node(b, spec, suffix, OP_CONV, input);
    mc_node *n = node(b, i);
    n->out = out;
    n->k = k;
    n->stride = stride;
    n->bias = bias;
    return build_ref(b, i, NULL, spec->at, spec->where);
}

static int chain_dw(build *b, const mc_node *spec, const char *suffix, int input, const int *ks, int nks, int stride,
                    bool indexed)
{
    int i = lower_node(b, spec, suffix, OP_DEPTHWISE, input);
    mc_node *n = node(b, i);
    memcpy(n->ks, ks, (size_t)nks * sizeof *ks);
    n->nks = nks;
    n->stride = stride;
    n->indexed = indexed;
    return build_ref(b, i, NULL, spec->at, spec->where);
}

static int lower_pointwise(build *b, const mc_node *spec, int input)
{
    return chain_conv(b, spec, NULL, input, spec->out, 1, spec->stride, spec->bias);
}

/* standard: 3x3 conv (stride s, no bias) then BN; names ".0", ".1". */
static int lower_standard(build *b, const mc_node *spec, int input)
{
    int c = chain_conv(b, spec, "0", input, spec->out, 3, spec->stride, false);
    return chain(b, spec, "1", OP_BATCHNORM, c);
}

/* dsconv: depthwise 3x3 with the stride, pointwise with bias, BN. */
static int lower_dsconv(build *b, const mc_node *spec, int input)
{
    static const int k3[1] = {3};
    int dw = chain_dw(b, spec, "depthwise", input, k3, 1, spec->stride, false);
    int pw = chain_conv(b, spec, "pointwise", dw, spec->out, 1, 1, true);
    return chain(b, spec, "bn", OP_BATCHNORM, pw);
}

/* multiception: every kernel of K at stride 1 into one concatenated buffer,
 * BN1, then the pointwise conv carries the stride (and a bias), BN2. */
static int lower_multiception(build *b, const mc_node *spec, int input)
{
    int dw = chain_dw(b, spec, "seps", input, spec->ks, spec->nks, 1, true);
    int bn1 = chain(b, spec, "bn1", OP_BATCHNORM, dw);
    int pw = chain_conv(b, spec, "pointwise", bn1, spec->out, 1, spec->stride, true);
    return chain(b, spec, "bn2", OP_BATCHNORM, pw);
}

static int lower_mixconv(build *b, const mc_node *spec, int input)
{
    int i = lower_node(b, spec, NULL, OP_MIXCONV, input);
    node(b, i)->out = spec->out;
    node(b, i)->stride = spec->stride;
    return build_ref(b, i, NULL, spec->at, spec->where);
}

static int lower_convbn(build *b, const mc_node *spec, int input)
{
    switch (spec->conv_type_set ? spec->conv_type : b->m->conv_type) {
    case MC_STANDARD: return lower_standard(b, spec, input);
    case MC_DSCONV: return lower_dsconv(b, spec, input);
    case MC_MIXCONV: return lower_mixconv(b, spec, input);
    default: return lower_multiception(b, spec, input);
    }
}

/* ---- the table ---------------------------------------------------------------- */

const mc_op_info mc_ops[] = {
    {"input", OP_INPUT, "the model's input (implicit: the first statement reads it, or name it 'in')", NULL,
     no_keys, 0, 0, false, NULL, NULL, infer_input, NULL},
    {"conv", OP_CONV, "2-D convolution (cross-correlation, zero padding), weight [out, in/groups, k, k]",
     "conv1: conv 16 k=3", conv_keys, 1, 1, true, "conv", NULL, infer_conv, tensors_conv},
    {"pointwise", OP_POINTWISE, "1x1 convolution; same as conv k=1", "proj: pointwise 64 stride=2", pointwise_keys, 1,
     1, true, NULL, lower_pointwise, NULL, NULL},
    {"depthwise", OP_DEPTHWISE,
     "depthwise convolution, padding k/2, one filter per channel and kernel size",
     "dw: depthwise k=3 stride=2", depthwise_keys, 1, 1, true, "depthwise", NULL, infer_depthwise, tensors_depthwise},
    {"convbn", OP_CONVBN,
     "the swappable conv + BN slot: one of the four conv types below, the file's conv_type unless type= is given "
     "(mcgen --conv overrides conv_type)",
     "conv_bn: convbn 32 stride=2 kernels=[3,5]", convbn_keys, 1, 1, true, NULL, lower_convbn, NULL, NULL},
    {"standard", OP_STANDARD, "3x3 conv (no bias) + BN; tensors <name>.0.weight, <name>.1.*",
     "c: standard 32 stride=2", slot_keys, 1, 1, true, NULL, lower_standard, NULL, NULL},
    {"dsconv", OP_DSCONV,
     "depthwise 3x3 (with the stride) + pointwise with bias + BN; tensors <name>.depthwise/pointwise/bn.*",
     "c: dsconv 32 stride=2", slot_keys, 1, 1, true, NULL, lower_dsconv, NULL, NULL},
    {"multiception", OP_MULTICEPTION,
     "every kernel of `kernels` depthwise at stride 1, concatenated kernel-major, BN, pointwise (stride, bias), BN; "
     "tensors <name>.seps.<j>.weight, bn1.*, pointwise.*, bn2.*",
     "c: multiception 32 stride=2 kernels=[3,5]", slot_keys, 1, 1, true, NULL, lower_multiception, NULL, NULL},
    {"mixconv", OP_MIXCONV,
     "MixConv as the reference codes it: channels split in 3 groups (the first takes the remainder), each a dense "
     "conv with k = 3, 5, 7; no BN; tensors <name>.<i>.weight",
     "c: mixconv 32 stride=2", slot_keys, 1, 1, true, "mixconv", NULL, infer_mixconv, tensors_mixconv},
    {"batchnorm", OP_BATCHNORM, "batch normalization over N, H, W (PyTorch's BatchNorm2d)", "bn1: batchnorm",
     bn_keys, 1, 1, true, "batchnorm", NULL, infer_same, tensors_batchnorm},
    {"relu", OP_RELU, "max(x, 0)", "relu", no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"relu6", OP_RELU6, "min(max(x, 0), 6)", "relu6", no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"sigmoid", OP_SIGMOID, "1 / (1 + exp(-x))", "sigmoid", no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"silu", OP_SILU, "x * sigmoid(x) (swish)", "silu", no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"hardswish", OP_HARDSWISH, "x * relu6(x + 3) / 6; derivative x/3 + 1/2 on [-3, 3] (PyTorch's)", "hardswish",
     no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"hardsigmoid", OP_HARDSIGMOID, "relu6(x + 3) / 6; derivative 1/6 on (-3, 3) (PyTorch's)", "hardsigmoid",
     no_keys, 1, 1, false, "activation", NULL, infer_same, NULL},
    {"identity", OP_IDENTITY, "passes its input through (an alias)", "shortcut: identity from in", no_keys, 1, 1,
     false, NULL, NULL, infer_same, NULL},
    {"add", OP_ADD, "element-wise sum of equal shapes", "sum: add from bn2 in", no_keys, 2, -1, false, "add", NULL,
     infer_elementwise, NULL},
    {"concat", OP_CONCAT, "concatenation along channels, in input order", "cat: concat from a b", no_keys, 2, -1,
     false, "concat", NULL, infer_concat, NULL},
    {"scale", OP_SCALE, "x * s per channel, s of shape Cx1x1 (squeeze-and-excitation)", "se: scale from bn2 gate",
     no_keys, 2, 2, false, "scale", NULL, infer_scale, NULL},
    {"avgpool", OP_AVGPOOL, "average pooling, global without k", "pool: avgpool", avgpool_keys, 1, 1, false, "pool", NULL,
     infer_avgpool, NULL},
    {"maxpool", OP_MAXPOOL, "max pooling (PyTorch's MaxPool2d: the first maximum of a window takes the gradient)",
     "pool: maxpool 3 stride=2 pad=1", maxpool_keys, 1, 1, false, "pool", NULL, infer_maxpool, NULL},
    {"subsample", OP_SUBSAMPLE, "keeps rows and columns offset, offset+stride, ... (avg_pool2d with kernel 1)",
     "path2: subsample stride=2 offset=1", subsample_keys, 1, 1, false, "pool", NULL, infer_subsample, NULL},
    {"linear", OP_LINEAR, "fully connected layer on the flattened input, weight [out, in]", "fc: linear classes",
     linear_keys, 1, 1, true, "linear", NULL, infer_linear, tensors_linear},
    {"dropout", OP_DROPOUT, "zeroes elements with probability p in training, scales the rest by 1/(1-p)",
     "drop: dropout p=0.2", dropout_keys, 1, 1, false, "dropout", NULL, infer_same, NULL},
    {"shake", OP_SHAKE,
     "shake-shake blend a*x + (1-a)*y, a ~ U[0,1) per sample in training (an independent b in the backward), "
     "0.5 in eval", "blend: shake from branch1 branch2", no_keys, 2, 2, false, "shake", NULL, infer_elementwise, NULL},
};

const int mc_nops = (int)(sizeof mc_ops / sizeof mc_ops[0]);

const mc_op_info *mc_find_op(const char *name)
{
    for (int i = 1; i < mc_nops; i++) /* "input" is not written as an op */
        if (strcmp(mc_ops[i].name, name) == 0)
            return &mc_ops[i];
    return NULL;
}

const mc_op_info *mc_op(mc_opcode code)
{
    for (int i = 0; i < mc_nops; i++)
        if (mc_ops[i].code == code)
            return &mc_ops[i];
    return NULL;
}

const char *const mc_init_targets[] = {
    "conv.weight", "conv.bias", "linear.weight", "linear.bias", "batchnorm.weight", "batchnorm.bias",
};
const int mc_ninit_targets = TGT_COUNT;

const char *const mc_init_rule_docs[][2] = {
    {"default", "PyTorch's default: uniform_fan_in for conv and linear, ones for batchnorm.weight, zeros for batchnorm.bias"},
    {"kaiming_normal_fan_in", "N(0, sqrt(2/fan_in)), fan_in = in/groups * k * k"},
    {"kaiming_normal_fan_out", "N(0, sqrt(2/fan_out)), fan_out = out * k * k"},
    {"uniform_fan_in", "U(-1/sqrt(fan_in), 1/sqrt(fan_in)); a bias uses its weight's fan_in"},
    {"normal STD", "N(0, STD)"},
    {"zeros", "0"},
    {"ones", "1"},
};
const int mc_ninit_rules = RULE_COUNT;
