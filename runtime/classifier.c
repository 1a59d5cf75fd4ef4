/* A classifier's command line. Every subcommand parses its options here and
 * calls the runtime: train (train.c), eval, predict, forward and grad (one
 * batch from a safetensors file, to check against other frameworks), init
 * and info. Errors are one line on stderr and exit status 1; usage errors
 * exit 2. */
#define _GNU_SOURCE /* getopt_long */
#include "mc_classifier.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mc_batch.h"
#include "mc_bench.h"
#include "mc_check.h"
#include "mc_cpu.h"
#include "mc_checkpoint.h"
#include "mc_class_names.h"
#include "mc_data.h"
#include "mc_dataset.h"
#include "mc_finetune.h"
#include "mc_image.h"
#include "mc_dist.h"
#include "mc_net.h"
#include "mc_optim.h"
#include "mc_progress.h"
#include "mc_report.h"
#include "mc_safetensors.h"
#include "mc_train.h"

typedef struct cli {
    const mc_model_desc *m;
    const mc_device *cuda; /* NULL: built without CUDA */
    int generic;
    const char *build, *cmd, *exe;
} cli;

typedef struct options {
    mc_train_options train;
    const char *weights, *input, *output;
    int train_mode, no_dropout, batch, iters, layers, generated_only, cpu_time, top;
    const char *json, *times, *confusion;
    double shake_alpha, shake_beta;
    int nargs;
    char **args; /* positional arguments (predict's images) */
} options;

enum { O_DATA = 1 << 0, O_DATASET = 1 << 1, O_EPOCHS = 1 << 2, O_BATCH = 1 << 3, O_LR = 1 << 4, O_WD = 1 << 5,
       O_SEED = 1 << 6, O_RESUME = 1 << 7, O_OUT = 1 << 8, O_LIMIT = 1 << 9, O_WEIGHTS = 1 << 10, O_INPUT = 1 << 11,
       O_OUTPUT = 1 << 12, O_TRAIN = 1 << 13, O_NO_DROPOUT = 1 << 14, O_SHAKE = 1 << 15, O_ARGS = 1 << 16,
       O_THREADS = 1 << 17, O_ITERS = 1 << 18, O_JSON = 1 << 19, O_BENCH = 1 << 20, O_SYNC_BN = 1 << 21,
       O_DEVICE = 1 << 22, O_RECIPE = 1 << 23, O_SMOOTHING = 1 << 24, O_TOP = 1 << 25, O_CONFUSION = 1 << 26,
       O_OWN = 1 << 27 /* --val-split, --mean, --std */, O_INIT = 1 << 28 /* --init, --freeze */ };
/* Long options without a short letter. */
enum { OPT_VAL_SPLIT = 0x100, OPT_MEAN, OPT_STD, OPT_INIT, OPT_FREEZE };

static int usage_error(const cli *c, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s %s: ", c->exe, c->cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun '%s %s --help' for its options.\n", c->exe, c->cmd);
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

/* OpenMP threads that wait for work by spinning take the core of the
 * thread that has the work when other processes keep the cores busy.
 * Unless the user chose a wait policy, they sleep instead (on an idle
 * machine the step is 1% slower; docs/targets.md). libgomp reads
 * OMP_WAIT_POLICY once, in its constructor, before main: so this runs from
 * the executable's .preinit_array, which the loader calls before any
 * shared library's constructor (as the sanitizers' runtimes do). */
static void passive_threads(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && !getenv("KMP_BLOCKTIME"))
        setenv("OMP_WAIT_POLICY", "passive", 0);
}
__attribute__((section(".preinit_array"), used)) static void (*const mc_preinit_passive)(int, char **, char **) =
    passive_threads;

/* Threads of the generated kernels (OpenMP). The kernels give the same
 * bits for any count; the default is every processor this process may run
 * on that no other process keeps busy (mc_cpu_free_count). */
static void set_threads(int threads)
{
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

/* Parses argv into o; returns -1 to go on, else the exit status. */
static int parse(const cli *c, int argc, char **argv, unsigned allowed, const char *usage, options *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},       {"dataset", required_argument, NULL, 'D'},
        {"epochs", required_argument, NULL, 'e'},     {"batch", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'l'},         {"wd", required_argument, NULL, 'w'},
        {"seed", required_argument, NULL, 's'},       {"resume", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},        {"limit", required_argument, NULL, 'L'},
        {"weights", required_argument, NULL, 'W'},    {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'O'},     {"train", no_argument, NULL, 't'},
        {"no-dropout", no_argument, NULL, 'N'},       {"shake-alpha", required_argument, NULL, 'a'},
        {"shake-beta", required_argument, NULL, 'B'}, {"threads", required_argument, NULL, 'T'},
        {"iters", required_argument, NULL, 'I'},      {"json", required_argument, NULL, 'J'},
        {"layers", no_argument, NULL, 'Y'},           {"generated-only", no_argument, NULL, 'G'},
        {"cpu-time", no_argument, NULL, 'C'},         {"sync-bn", no_argument, NULL, 'S'},
        {"times", required_argument, NULL, 'M'},
        {"device", required_argument, NULL, 'v'},     {"help", no_argument, NULL, 'h'},
        {"optimizer", required_argument, NULL, 'P'},  {"momentum", required_argument, NULL, 'm'},
        {"warmup-epochs", required_argument, NULL, 'U'}, {"label-smoothing", required_argument, NULL, 'E'},
        {"top", required_argument, NULL, 'k'},        {"confusion", required_argument, NULL, 'c'},
        {"val-split", required_argument, NULL, OPT_VAL_SPLIT}, {"mean", required_argument, NULL, OPT_MEAN},
        {"std", required_argument, NULL, OPT_STD},    {"init", required_argument, NULL, OPT_INIT},
        {"freeze", required_argument, NULL, OPT_FREEZE},
        {NULL, 0, NULL, 0},
    };
    static const struct { int opt; unsigned bit; } bits[] = {
        {'d', O_DATA}, {'D', O_DATASET}, {'e', O_EPOCHS}, {'b', O_BATCH}, {'l', O_LR}, {'w', O_WD},
        {'s', O_SEED}, {'r', O_RESUME}, {'o', O_OUT}, {'L', O_LIMIT}, {'W', O_WEIGHTS}, {'i', O_INPUT},
        {'O', O_OUTPUT}, {'t', O_TRAIN}, {'N', O_NO_DROPOUT}, {'a', O_SHAKE}, {'B', O_SHAKE},
        {'T', O_THREADS}, {'I', O_ITERS}, {'J', O_JSON}, {'Y', O_BENCH}, {'G', O_BENCH}, {'C', O_BENCH}, {'M', O_BENCH},
        {'S', O_SYNC_BN}, {'v', O_DEVICE}, {'P', O_RECIPE}, {'m', O_RECIPE}, {'U', O_RECIPE},
        {'E', O_SMOOTHING}, {'k', O_TOP}, {'c', O_CONFUSION},
        {OPT_VAL_SPLIT, O_OWN}, {OPT_MEAN, O_OWN}, {OPT_STD, O_OWN}, {OPT_INIT, O_INIT}, {OPT_FREEZE, O_INIT},
    };
    memset(o, 0, sizeof *o);
    o->train = (mc_train_options){.momentum = -1, .optimizer = -1, .warmup = -1, .label_smoothing = -1,
                                  .progress = mc_progress_default(), .own.val_split = -1};
    o->top = 1;
    o->shake_alpha = o->shake_beta = -1;
    optind = 1;
    opterr = 0;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        for (size_t i = 0; i < sizeof bits / sizeof *bits; i++)
            if (bits[i].opt == ch && !(allowed & bits[i].bit))
                return usage_error(c, "option '%s' does not apply here", argv[optind - 1]);
        switch (ch) {
        case 'd': o->train.data = optarg; break;
        case 'D': o->train.dataset = optarg; break;
        case 'e':
            if (!parse_long(optarg, 1, 100000, &v))
                return usage_error(c, "bad --epochs '%s'; expected an integer from 1 to 100000", optarg);
            o->train.epochs = (int)v;
            break;
        case 'b':
            if (!parse_long(optarg, 1, 65536, &v))
                return usage_error(c, "bad --batch '%s'; expected an integer from 1 to 65536", optarg);
            o->train.batch = o->batch = (int)v;
            break;
        case 'l':
            if (!parse_double(optarg, 0, 100, &o->train.lr))
                return usage_error(c, "bad --lr '%s'; expected a number from 0 to 100", optarg);
            o->train.lr_set = 1;
            break;
        case 'w':
            if (!parse_double(optarg, 0, 1, &o->train.wd))
                return usage_error(c, "bad --wd '%s'; expected a number from 0 to 1", optarg);
            o->train.wd_set = 1;
            break;
        case 's':
            if (!parse_long(optarg, 0, INT64_MAX > LONG_MAX ? LONG_MAX : INT64_MAX, &v))
                return usage_error(c, "bad --seed '%s'; expected a non-negative integer", optarg);
            o->train.seed = (uint64_t)v;
            o->train.seed_set = 1;
            break;
        case 'r': o->train.resume = optarg; break;
        case 'o': o->train.out = optarg; break;
        case 'L':
            if (!parse_long(optarg, 1, LONG_MAX, &o->train.limit))
                return usage_error(c, "bad --limit '%s'; expected a positive integer", optarg);
            break;
        case 'W': o->weights = optarg; break;
        case 'i': o->input = optarg; break;
        case 'O': o->output = optarg; break;
        case 't': o->train_mode = 1; break;
        case 'N': o->no_dropout = 1; break;
        case 'S': o->train.sync_bn = 1; break;
        case 'a':
        case 'B': {
            double x;
            if (!parse_double(optarg, 0, 1, &x))
                return usage_error(c, "bad shake weight '%s'; expected a number from 0 to 1", optarg);
            *(ch == 'a' ? &o->shake_alpha : &o->shake_beta) = x;
            break;
        }
        case 'T':
            if (!parse_long(optarg, 1, 1024, &v))
                return usage_error(c, "bad --threads '%s'; expected an integer from 1 to 1024", optarg);
            set_threads((int)v);
            break;
        case 'I':
            if (!parse_long(optarg, 1, 100000, &v))
                return usage_error(c, "bad --iters '%s'; expected an integer from 1 to 100000", optarg);
            o->iters = (int)v;
            break;
        case 'J': o->json = optarg; break;
        case 'M': o->times = optarg; break;
        case 'Y': o->layers = 1; break;
        case 'G': o->generated_only = 1; break;
        case 'C': o->cpu_time = 1; break;
        case 'v':
            if (strcmp(optarg, "cpu") != 0 && strcmp(optarg, "cuda") != 0)
                return usage_error(c, "bad --device '%s'; expected cpu or cuda", optarg);
            if (!strcmp(optarg, "cuda") && !c->cuda)
                return usage_error(c, "%s", "--device cuda: this executable was built without CUDA (mcgen build --target cuda)");
            if (!strcmp(optarg, "cuda") && c->generic)
                return usage_error(c, "%s", "--device cuda: a --generic build runs the generic C kernels only");
            o->train.device = !strcmp(optarg, "cuda") ? c->cuda : NULL;
            break;
        case 'P':
            if ((o->train.optimizer = mc_optimizer_named(optarg)) < 0)
                return usage_error(c, "bad --optimizer '%s'; expected sgd or adamw", optarg);
            break;
        case 'm':
            if (!parse_double(optarg, 0, 0.999999, &o->train.momentum))
                return usage_error(c, "bad --momentum '%s'; expected a number from 0 to 1 (not included)", optarg);
            break;
        case 'U':
            if (!parse_long(optarg, 0, 100000, &v))
                return usage_error(c, "bad --warmup-epochs '%s'; expected an integer from 0 to 100000", optarg);
            o->train.warmup = (int)v;
            break;
        case 'E':
            if (!parse_double(optarg, 0, 0.999999, &o->train.label_smoothing))
                return usage_error(c, "bad --label-smoothing '%s'; expected a number from 0 to 1 (not included)",
                                   optarg);
            break;
        case 'k':
            if (!parse_long(optarg, 1, 100000, &v))
                return usage_error(c, "bad --top '%s'; expected a positive integer", optarg);
            o->top = (int)v;
            break;
        case 'c': o->confusion = optarg; break;
        case OPT_VAL_SPLIT:
            if (!parse_double(optarg, 0, 0.9, &o->train.own.val_split))
                return usage_error(c, "bad --val-split '%s'; expected a fraction from 0 to 0.9", optarg);
            break;
        case OPT_MEAN: o->train.own.mean = optarg; break;
        case OPT_STD: o->train.own.std = optarg; break;
        case OPT_INIT: o->train.tune.init = optarg; break;
        case OPT_FREEZE:
            if (o->train.tune.nfreeze == MC_FREEZE_MAX)
                return usage_error(c, "more than %s --freeze options", "32");
            o->train.tune.freeze[o->train.tune.nfreeze++] = optarg;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    o->nargs = argc - optind;
    o->args = argv + optind;
    if (o->nargs && !(allowed & O_ARGS))
        return usage_error(c, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int need(const cli *c, const char *value, const char *what)
{
    if (value)
        return 0;
    usage_error(c, "expected %s", what);
    return 1;
}

/* ---- info, init ---------------------------------------------------------------- */

static const char usage_info[] = "usage: EXE info\n\nPrints the model, its conv type, input, classes, parameters, "
                                 "multiply-accumulates per image and how this executable was built.\n";

static int cmd_info(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, 0, usage_info, &o);
    if (rc >= 0)
        return rc;
    const mc_model_desc *m = c->m;
    printf("model       %s\nconv type   %s\nsource      %s\ninput       %dx%dx%d\nclasses     %d\n", m->name,
           m->conv_type, m->source, m->c, m->h, m->w, m->classes);
    printf("parameters  %" PRId64 "\nMACs/image  %" PRId64 "\nkernels     %s\ncpu target  %s\nbuild       %s\n", m->params,
           m->macs, c->generic ? "generic (runtime)" : "generated (specialized)", m->cpu ? m->cpu : "any", c->build);
    printf("devices     cpu%s\n", c->cuda ? ", cuda" : "");
    return 0;
}

static const char usage_init[] =
    "usage: EXE init --out CKPT [--seed S]\n\nWrites a checkpoint of the model's initial state (the init rules of "
    "its description, drawn with seed S, default 0), as train starts from it.\n";

/* A net for up to `capacity` images, honouring the stochastic options. */
static int open_net(const cli *c, const options *o, int capacity, mc_net *net)
{
    if (mc_net_init(net, c->m, capacity, c->generic) != 0) {
        fprintf(stderr, "error: out of memory for a batch of %d\n", capacity);
        return -1;
    }
    mc_net_set_device(net, o->train.device);
    net->no_dropout = o->no_dropout;
    net->shake_alpha = (float)o->shake_alpha;
    net->shake_beta = (float)o->shake_beta;
    return 0;
}

static int load_weights(mc_net *net, const char *path)
{
    char err[1024];
    if (mc_checkpoint_load(path, net, NULL, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "error: %s\n", err);
    return -1;
}

static int cmd_init(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, O_OUT | O_SEED, usage_init, &o);
    if (rc >= 0)
        return rc;
    if (need(c, o.train.out, "--out CKPT"))
        return 2;
    mc_net net;
    if (open_net(c, &o, 1, &net) != 0)
        return 1;
    mc_rng r;
    mc_rng_seed(&r, o.train.seed);
    mc_net_init_params(&net, &r);
    char err[1024];
    rc = mc_checkpoint_save(o.train.out, &net, NULL, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "error: %s\n", err);
    mc_net_free(&net);
    return rc ? 1 : 0;
}

/* ---- train, eval ----------------------------------------------------------------- */

static const char usage_train[] =
    "usage: EXE train --data DIR [options]\n"
    "\n"
    "Trains the model with the paper's recipe: SGD, Nesterov momentum 0.9, weight decay\n"
    "on every parameter, a cosine learning rate set per epoch, the dataset's augmentation\n"
    "(pad 4, random crop, flip) and normalization. After every epoch it evaluates on the\n"
    "test split, writes OUT/checkpoint.safetensors, then its row of OUT/log.csv, then\n"
    "OUT/curves.svg (loss and accuracy per epoch, for a browser). A loss that becomes NaN\n"
    "or infinite stops the run at once (the checkpoint keeps the last good epoch).\n"
    "Progress: a bar on a terminal, else a line at least every 30 s.\n"
    "\n"
    "  --data DIR        the dataset's files as released (CIFAR-10/100 and STL-10 binary,\n"
    "                    (Fashion-)MNIST IDX, gzipped or not, ImageNet32 npz), or your\n"
    "                    own images: DIR/train/<class>/* with DIR/val/<class>/*, one\n"
    "                    DIR/<class>/*, or a list.csv of path,label lines (PNG, JPEG,\n"
    "                    PGM/PPM, BMP of any size; docs/own_data.md)\n"
    "  --dataset NAME    mnist, fashion-mnist, cifar10, cifar100, stl10, imagenet32 or\n"
    "                    images (default: recognized from the files)\n"
    "  --val-split F     images: the fraction of each class of one folder or list\n"
    "                    held out for test (default 0.1), drawn with --seed\n"
    "  --mean A[,B,C]    images: per-channel normalization (with --std; default: the\n"
    "  --std A[,B,C]     training images' mean and std, computed once)\n"
    "  --init W          start from the weights in W (a checkpoint, or a PyTorch\n"
    "                    state_dict in safetensors); tensors of another shape (a\n"
    "                    head for another class count) start afresh\n"
    "  --freeze PREFIX   keep the parameters whose names start with PREFIX fixed\n"
    "                    (repeatable; e.g. --freeze conv1. --freeze layer1.)\n"
    "  --epochs N        default 300 (50 for imagenet32, 30 for images)\n"
    "  --batch B         default 128 (64 for stl10 and images)\n"
    "  --optimizer O     sgd (default: Nesterov, as the paper) or adamw (PyTorch's AdamW:\n"
    "                    decoupled weight decay, betas 0.9 and 0.999, eps 1e-8)\n"
    "  --lr X            base learning rate, default 0.1 (adamw: 0.001)\n"
    "  --wd X            weight decay, default 2e-4 (adamw: 0.01)\n"
    "  --momentum M      SGD's momentum, default 0.9\n"
    "  --warmup-epochs N the rate rises linearly over the first N epochs (epoch e of them:\n"
    "                    (e+1)/N of it), then the cosine runs over the rest; default 0\n"
    "  --label-smoothing X  the targets are (1-X) one-hot + X/classes, as PyTorch's\n"
    "                    CrossEntropyLoss(label_smoothing=X); default 0. The train loss\n"
    "                    shown is the smoothed one, the test loss plain cross-entropy\n"
    "  --seed S          initial weights, shuffles and augmentation, default 0\n"
    "  --resume CKPT     go on from a checkpoint of this command with its settings\n"
    "                    (--limit, --batch, --optimizer, ... included); --epochs may\n"
    "                    change the run's length and --lr its base rate (e.g. lower after\n"
    "                    a divergence), each with a note; any other setting that differs\n"
    "                    is refused. OUT/log.csv is cut to the checkpoint's epochs\n"
    "  --out DIR         default ./run (made if missing; checked before any work)\n"
    "  --limit N         the first N training and test images only\n"
    "  --threads T       threads of the kernels (default: every processor that no\n"
    "                    other process keeps busy; the results do not depend on it,\n"
    "                    but for a --generic build's last bits: OpenBLAS, which its\n"
    "                    convolutions run on, splits some products by it)\n"
    "  --device D        cpu (default) or cuda (an executable of mcgen build --target cuda;\n"
    "                    eval, predict, forward and grad take it too)\n"
    "  --sync-bn         under mpirun: batch norm takes its statistics over the\n"
    "                    global batch of every rank (default: each rank's own shard)\n"
    "\n"
    "Data-parallel: 'mpirun -np N EXE train ...' splits every batch of B images\n"
    "over N processes (B/N each), sums their gradients and makes one update;\n"
    "rank 0 prints and writes. Every rank needs the data and any --resume file.\n";

static int cmd_train(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv,
                   O_DATA | O_DATASET | O_EPOCHS | O_BATCH | O_LR | O_WD | O_SEED | O_RESUME | O_OUT | O_LIMIT | O_THREADS |
                       O_SYNC_BN | O_DEVICE | O_RECIPE | O_SMOOTHING | O_OWN | O_INIT,
                   usage_train, &o);
    if (rc >= 0)
        return rc;
    if (need(c, o.train.data, "--data DIR"))
        return 2;
    if (o.train.tune.init && o.train.resume)
        return usage_error(c, "%s", "--init starts a new run from weights, --resume goes on with one: give one");
    if (!o.train.out)
        o.train.out = "run";
    if (mc_dist_init(NULL, NULL) != 0)
        return 1;
    rc = mc_train(c->m, c->generic, &o.train);
    /* Aborting kills every rank at once, maybe before rank 0's error is out:
     * only where the others may be waiting for this one. */
    if (rc == MC_TRAIN_FAILED && mc_dist_size() > 1)
        mc_dist_abort();
    mc_dist_finalize();
    return rc != 0;
}

static const char usage_eval[] =
    "usage: EXE eval --weights CKPT --data DIR|LIST.csv [--dataset NAME] [--batch B] [--limit N]\n"
    "                [--val-split F] [--confusion FILE.csv]\n"
    "\n"
    "Prints the test split's loss and accuracy (eval-mode batch norm), the accuracy of\n"
    "every class and, with 5 classes or more, the top-5 accuracy (the label among the 5\n"
    "highest outputs). Class names: the checkpoint's, else the dataset's. For your own\n"
    "images the checkpoint's classes and normalization apply, and its test split:\n"
    "DIR/val, or the part of one folder or list that training held out (--val-split 0:\n"
    "all of it).\n"
    "\n"
    "  --confusion FILE.csv  the confusion matrix: a row per true class, a column per\n"
    "                    predicted class, a header of class names\n";

static int cmd_eval(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, O_WEIGHTS | O_DATA | O_DATASET | O_BATCH | O_LIMIT | O_THREADS | O_DEVICE | O_CONFUSION | O_OWN,
                   usage_eval, &o);
    if (rc >= 0)
        return rc;
    if (need(c, o.weights, "--weights CKPT") || need(c, o.train.data, "--data DIR"))
        return 2;
    const mc_dataset_info *info = mc_data_choose(c->m, o.train.data, o.train.dataset, o.weights, &o.train.own, 0, 0);
    if (!info || !mc_dataset_fits(c->m, info)) {
        mc_dataset_info_free(info);
        return 1;
    }
    mc_dataset test;
    char err[1024];
    rc = mc_dataset_load(o.train.data, info, 1, o.train.limit, &test, err, sizeof err);
    mc_dataset_info_free(info); /* the split holds what it needs */
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    info = test.info;
    mc_net net;
    mc_confusion confusion;
    mc_class_names names = {0};
    rc = 1;
    if (mc_confusion_init(&confusion, c->m->classes) || mc_class_names_load(&names, c->m->classes, o.weights, info->name))
        fprintf(stderr, "error: out of memory\n");
    else if (open_net(c, &o, o.batch ? o.batch : 256, &net) == 0) {
        if (load_weights(&net, o.weights) == 0) {
            double loss, acc;
            mc_evaluate(&net, &test, o.train.progress, &confusion, &loss, &acc);
            if (!isfinite(loss)) /* a NaN logit makes the mean loss NaN: say so instead of "loss nan" */
                fprintf(stderr, "error: %s: the outputs on %s's test images are NaN or infinite (the weights "
                                "overflow on these inputs)\n", o.weights, info->name);
            else {
                printf("%s: %d test images, loss %.4f, accuracy %.2f%%\n", info->name, test.n, loss, 100 * acc);
                mc_confusion_print(&confusion, &names, stdout);
                rc = 0;
                if (o.confusion && mc_confusion_write_csv(&confusion, &names, o.confusion, err, sizeof err) != 0) {
                    fprintf(stderr, "error: %s\n", err);
                    rc = 1;
                }
            }
        }
        mc_net_free(&net);
    }
    mc_class_names_free(&names);
    mc_confusion_free(&confusion);
    mc_dataset_free(&test);
    return rc;
}

/* ---- forward, grad ---------------------------------------------------------------- */

static const char usage_forward[] =
    "usage: EXE forward --weights CKPT --input IN.safetensors --output OUT.safetensors [--train]\n"
    "                   [--no-dropout] [--shake-alpha A --shake-beta B]\n"
    "\n"
    "Runs one batch: IN holds `input` [N,C,H,W] float32 (and optionally `labels` [N] int64);\n"
    "OUT gets `logits` [N,classes] float32. Eval-mode batch norm, or with --train batch\n"
    "statistics (and dropout and shake-shake draws, unless fixed by the options).\n";

static const char usage_grad[] =
    "usage: EXE grad --weights CKPT --input IN.safetensors --output OUT.safetensors\n"
    "                [--no-dropout] [--shake-alpha A --shake-beta B] [--seed S]\n"
    "                [--label-smoothing X]\n"
    "\n"
    "One training-mode forward and backward of the batch in IN (`input` [N,C,H,W] float32,\n"
    "`labels` [N] int64): OUT gets `loss` (float32, shape []) and `grad.<name>` for every\n"
    "parameter that the step updates. --label-smoothing: the loss train --label-smoothing\n"
    "uses.\n";

/* The batch of a forward/grad input file, into a new net. */
static int load_batch(const cli *c, const options *o, int need_labels, mc_net *net, int32_t **labels)
{
    char err[1024];
    const mc_model_desc *m = c->m;
    mc_st_file *f = mc_st_open(o->input, err, sizeof err);
    if (!f) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    const mc_st_tensor *x = mc_st_find(f, "input"), *y = mc_st_find(f, "labels");
    int rc = -1;
    if (!x || x->dtype != MC_ST_F32 || x->ndim != 4 || x->shape[1] != m->c || x->shape[2] != m->h ||
        x->shape[3] != m->w || x->shape[0] < 1 || x->shape[0] > 65536)
        fprintf(stderr, "error: %s: expected a tensor 'input' of float32 [N, %d, %d, %d], 1 <= N <= 65536\n",
                o->input, m->c, m->h, m->w);
    else if ((need_labels || y) && (!y || y->dtype != MC_ST_I64 || y->ndim != 1 || y->shape[0] != x->shape[0]))
        fprintf(stderr, "error: %s: expected a tensor 'labels' of int64 [%" PRId64 "]\n", o->input, x->shape[0]);
    else if (open_net(c, o, (int)x->shape[0], net) == 0) {
        const int n = (int)x->shape[0];
        memcpy(mc_net_input(net, n), x->data, x->nbytes);
        *labels = calloc((size_t)n, sizeof **labels);
        rc = *labels ? 0 : -1;
        for (int b = 0; y && rc == 0 && b < n; b++) {
            const int64_t label = ((const int64_t *)y->data)[b];
            if (label < 0 || label >= m->classes) {
                fprintf(stderr, "error: %s: labels[%d] is %" PRId64 ", expected 0..%d\n", o->input, b, label,
                        m->classes - 1);
                rc = -1;
            } else
                (*labels)[b] = (int32_t)label;
        }
        if (rc != 0)
            mc_net_free(net), free(*labels);
    }
    mc_st_close(f);
    return rc;
}

static int write_or_report(mc_st_writer *w, const char *path)
{
    char err[1024];
    int rc = mc_st_write(w, path, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "error: %s\n", err);
    mc_st_writer_free(w);
    return rc ? 1 : 0;
}

static int forward_or_grad(const cli *c, int argc, char **argv, int grad)
{
    options o;
    unsigned allowed = O_WEIGHTS | O_INPUT | O_OUTPUT | O_NO_DROPOUT | O_SHAKE | O_SEED | O_THREADS | O_DEVICE |
                       (grad ? O_SMOOTHING : O_TRAIN);
    int rc = parse(c, argc, argv, allowed, grad ? usage_grad : usage_forward, &o);
    if (rc >= 0)
        return rc;
    if (need(c, o.weights, "--weights CKPT") || need(c, o.input, "--input IN.safetensors") ||
        need(c, o.output, "--output OUT.safetensors"))
        return 2;
    if (o.train.label_smoothing > 0 && o.train.device)
        return usage_error(c, "%s", "--label-smoothing: the device step has the plain loss only, for now");
    mc_net net;
    int32_t *labels = NULL;
    if (load_batch(c, &o, grad, &net, &labels) != 0)
        return 1;
    net.label_smoothing = o.train.label_smoothing > 0 ? (float)o.train.label_smoothing : 0;
    if (load_weights(&net, o.weights) != 0) {
        mc_net_free(&net), free(labels);
        return 1;
    }
    mc_rng r;
    mc_rng_seed(&r, o.train.seed);
    const mc_model_desc *m = c->m;
    const int n = net.s.batch;
    mc_net_forward(&net, grad || o.train_mode, &r);
    mc_st_writer *w = mc_st_writer_new();
    float loss = 0;
    if (!grad) {
        const int64_t shape[2] = {n, m->classes};
        mc_st_add(w, "logits", MC_ST_F32, 2, shape, mc_net_logits(&net));
    } else {
        loss = mc_net_loss(&net, labels);
        mc_net_backward(&net, labels);
        mc_st_add(w, "loss", MC_ST_F32, 0, NULL, &loss);
        mc_net_to_host(&net);
        for (int i = 0; i < m->ntensors; i++) {
            const mc_tensor_desc *t = &m->tensors[i];
            if (t->area != MC_AREA_PARAM || !t->updated)
                continue;
            char name[512];
            snprintf(name, sizeof name, "grad.%s", t->name);
            int64_t shape[4];
            for (int d = 0; d < t->ndim; d++)
                shape[d] = t->shape[d];
            mc_st_add(w, name, MC_ST_F32, t->ndim, shape, net.s.grads + t->offset);
        }
    }
    rc = write_or_report(w, o.output);
    free(labels);
    mc_net_free(&net);
    return rc;
}

/* ---- predict ---------------------------------------------------------------------- */

static const char usage_predict[] =
    "usage: EXE predict --weights CKPT [--dataset NAME] [--top K] IMAGE...\n"
    "       EXE predict --weights CKPT --data DIR [--dataset NAME] [--limit N] [--top K]\n"
    "\n"
    "Prints the class, its name and its probability for each image (PNG, JPEG, PGM/PPM\n"
    "or BMP of any size: the largest centered region of the model's aspect, resized to\n"
    "its input), or for the first N (default 10) records of a dataset's test split.\n"
    "Images are normalized as the checkpoint's training data was (--dataset NAME: as\n"
    "that dataset is). Class names: the checkpoint's (metadata class_names), else the\n"
    "dataset's.\n"
    "\n"
    "  --top K     the K most likely classes, a line each, most likely first (default 1)\n";

/* The dataset whose statistics normalize the images (mc_dataset_info_free it). */
static const mc_dataset_info *predict_dataset(const cli *c, const options *o)
{
    return mc_data_choose(c->m, o->train.data, o->train.dataset, o->weights, NULL, 0, 0);
}

/* Prints one image's k most likely classes, a line each (names when they
 * are known); 0, or -1 (and says so instead of "p=nan") when its logits
 * are not all finite. */
static int print_prediction(const char *what, const float *logits, int classes, int k, const mc_class_names *names,
                            int label)
{
    for (int j = 0; j < classes; j++)
        if (!isfinite(logits[j])) {
            printf("%s: no class: the outputs are NaN or infinite\n", what);
            return -1;
        }
    int top[64];
    double p[64];
    k = k < classes ? k : classes;
    k = k < 64 ? k : 64;
    mc_top_k(logits, classes, k, top, p);
    for (int i = 0; i < k; i++) {
        printf("%s: ", what);
        if (k > 1)
            printf("%d. ", i + 1);
        printf("class %d%s%s (p=%.4f)", top[i], names->known ? " " : "", names->known ? mc_class_name(names, top[i]) : "",
               p[i]);
        if (label >= 0 && i == 0)
            printf(", label %d%s%s", label, names->known ? " " : "", names->known ? mc_class_name(names, label) : "");
        printf("\n");
    }
    return 0;
}

static int cmd_predict(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, O_WEIGHTS | O_DATASET | O_DATA | O_LIMIT | O_ARGS | O_THREADS | O_DEVICE | O_TOP,
                   usage_predict, &o);
    if (rc >= 0)
        return rc;
    if (need(c, o.weights, "--weights CKPT"))
        return 2;
    if (!o.train.data && o.nargs == 0)
        return usage_error(c, "%s", "expected IMAGE files or --data DIR");
    const mc_model_desc *m = c->m;
    const mc_dataset_info *info = predict_dataset(c, &o);
    if (!info)
        return 1;
    mc_dataset d = {0};
    char err[1024];
    if (o.train.data) {
        if (mc_dataset_load(o.train.data, info, 1, o.train.limit ? o.train.limit : 10, &d, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            mc_dataset_info_free(info);
            return 1;
        }
    } else {
        /* The images as a dataset of their own, normalized like `info`. */
        d.info = info;
        d.n = o.nargs;
        d.images = malloc((size_t)o.nargs * m->c * m->h * m->w);
        d.labels = calloc((size_t)o.nargs, sizeof *d.labels);
        if (!d.images || !d.labels) {
            fprintf(stderr, "error: out of memory\n");
            return 1;
        }
        for (int i = 0; i < o.nargs; i++)
            if (mc_image_read(o.args[i], m->c, m->h, m->w, d.images + (long)i * m->c * m->h * m->w, err,
                              sizeof err) != 0) {
                fprintf(stderr, "error: %s\n", err);
                mc_dataset_free(&d);
                mc_dataset_info_free(info);
                return 1;
            }
    }
    mc_net net;
    mc_class_names names = {0};
    rc = 1;
    if (mc_class_names_load(&names, m->classes, o.weights, info->name) != 0)
        fprintf(stderr, "error: out of memory\n");
    else if (info->c != m->c || info->h != m->h || info->w != m->w)
        fprintf(stderr, "error: %s images are %dx%dx%d, %s takes %dx%dx%d\n", info->name, info->c, info->h, info->w,
                m->name, m->c, m->h, m->w);
    else if (open_net(c, &o, d.n, &net) == 0) {
        if (load_weights(&net, o.weights) == 0) {
            int64_t *order = malloc((size_t)d.n * sizeof *order);
            int32_t *labels = malloc((size_t)d.n * sizeof *labels);
            if (order && labels) {
                for (int i = 0; i < d.n; i++)
                    order[i] = i;
                mc_batch_fill(&d, order, d.n, 0, NULL, mc_net_input(&net, d.n), labels);
                mc_net_forward(&net, 0, NULL);
                int bad = 0;
                for (int i = 0; i < d.n; i++) {
                    char what[64];
                    snprintf(what, sizeof what, "record %d", i);
                    bad += print_prediction(o.train.data ? what : o.args[i], mc_net_logits(&net) + (long)i * m->classes,
                                            m->classes, o.top, &names, o.train.data ? labels[i] : -1) != 0;
                }
                rc = bad ? 1 : 0;
                if (bad)
                    fprintf(stderr, "error: %s: %d of %d images gave NaN or infinite outputs\n", o.weights, bad, d.n);
            }
            free(order), free(labels);
        }
        mc_net_free(&net);
    }
    mc_class_names_free(&names);
    mc_dataset_free(&d);
    mc_dataset_info_free(info);
    return rc;
}

/* ---- bench ---------------------------------------------------------------------------- */

static const char usage_bench[] =
    "usage: EXE bench [--batch B] [--threads T] [--iters N] [--layers] [--generated-only] [--cpu-time]\n"
    "                 [--json FILE] [--times FILE]\n"
    "\n"
    "Times the training step (forward, loss, backward, SGD update) on the generated\n"
    "kernels and on the runtime's generic ones, alternating, on random data: the\n"
    "median of N after a warm-up, images per second and the speedup.\n"
    "\n"
    "  --batch B     images per step (default 128)\n"
    "  --threads T   threads of the kernels (default: every processor that no other\n"
    "                process keeps busy)\n"
    "  --iters N     timed repetitions of each measurement (default 7)\n"
    "  --layers      also every layer's forward and backward, generated and generic\n"
    "                interleaved, with GFLOP/s and GB/s of compulsory traffic\n"
    "  --generated-only  skip the generic side (it is slow), for a quick look\n"
    "  --cpu-time    time with the process CPU clock (all threads together), which\n"
    "                other work on a busy machine disturbs less than the wall clock\n"
    "  --json FILE   write the results as JSON too\n"
    "  --times FILE  with --layers: a line per layer, its name and the median seconds of its\n"
    "                generated forward and backward, tab-separated (what mcgen tune reads)\n";

static int cmd_bench(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, O_BATCH | O_THREADS | O_ITERS | O_JSON | O_BENCH, usage_bench, &o);
    if (rc >= 0)
        return rc;
    mc_bench_options b = {.batch = o.batch ? o.batch : 128, .iters = o.iters ? o.iters : 7, .layers = o.layers,
                          .generated_only = o.generated_only, .cpu_time = o.cpu_time, .json = o.json,
                          .times = o.times};
    return mc_bench(c->m, &b);
}

static const char usage_check[] =
    "usage: EXE check [--batch B] [--threads T]\n"
    "\n"
    "One training step of B random images (default 8) on the generated kernels against the\n"
    "generic ones, layer by layer on equal inputs (as the emitted-code tests do): every\n"
    "output, activation gradient and parameter gradient must agree within 1e-4 of its\n"
    "largest magnitude (a gradient that a batch norm cancels: of a hundredth of the largest\n"
    "gradient of all). Exit status 1 names what differs. mcgen tune checks every candidate\n"
    "build this way.\n";

static int cmd_check(const cli *c, int argc, char **argv)
{
    options o;
    int rc = parse(c, argc, argv, O_BATCH | O_THREADS, usage_check, &o);
    if (rc >= 0)
        return rc;
    return mc_check(c->m, o.batch ? o.batch : 8, 1e-4);
}

/* ---- main --------------------------------------------------------------------------- */

int mc_classifier_main(const mc_model_desc *m, const struct mc_device *cuda, int generic, const char *build, int argc,
                       char **argv)
{
    cli c = {.m = m, .cuda = cuda, .generic = generic, .build = build, .exe = argc > 0 ? argv[0] : m->name};
    static const struct {
        const char *name;
        int (*run)(const cli *, int, char **);
        const char *what;
    } cmds[] = {
        {"train", cmd_train, "train on a dataset (the paper's recipe)"},
        {"eval", cmd_eval, "test loss and accuracy of a checkpoint"},
        {"predict", cmd_predict, "classify images"},
        {"forward", NULL, "logits of one batch from a safetensors file"},
        {"grad", NULL, "loss and parameter gradients of one batch"},
        {"bench", cmd_bench, "time the generated kernels against the generic ones"},
        {"check", cmd_check, "the generated step against the generic one"},
        {"init", cmd_init, "write the initial weights"},
        {"info", cmd_info, "the model and this build"},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: %s COMMAND [options]\n\n%s (%s), %dx%dx%d -> %d classes, built by mcgen.\n\ncommands:\n",
               c.exe, m->name, m->conv_type, m->c, m->h, m->w, m->classes);
        for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
            printf("  %-9s %s\n", cmds[i].name, cmds[i].what);
        printf("\nRun '%s COMMAND --help' for a command's options.\n", c.exe);
        return argc < 2 ? 2 : 0;
    }
    c.cmd = argv[1];
    char why[256];
    if (strcmp(c.cmd, "info") != 0 && !mc_cpu_runs(m->cpu, why, sizeof why)) {
        fprintf(stderr, "%s: error: built for the %s CPU target (mcgen build --cpu %s), but %s; rebuild it with "
                "--cpu native\n", c.exe, m->cpu, m->cpu, why);
        return 1;
    }
#ifdef _OPENMP
    /* The default thread count: the processors no other process keeps
     * busy (--threads and OMP_NUM_THREADS choose otherwise). */
    if (!getenv("OMP_NUM_THREADS") && strcmp(c.cmd, "info") != 0)
        omp_set_num_threads(mc_cpu_free_count());
#endif
    if (!strcmp(c.cmd, "forward") || !strcmp(c.cmd, "grad"))
        return forward_or_grad(&c, argc - 1, argv + 1, !strcmp(c.cmd, "grad"));
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (cmds[i].run && !strcmp(c.cmd, cmds[i].name))
            return cmds[i].run(&c, argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'; expected train, eval, predict, forward, grad, bench, init or info\n", c.exe,
            c.cmd);
    return 2;
}
