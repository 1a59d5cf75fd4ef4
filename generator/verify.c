/* The verify stage: libclang parses every emitted C file and checks what
 * the generator promises about it:
 * - it parses without errors;
 * - every function the model's header declares is defined, with the type
 *   the header gives it, and the descriptor exists;
 * - in each specialized depthwise / Multiception kernel the taps are
 *   unrolled: its weights w0, w1, ... are read only at literal indices, and
 *   every tap 0 .. k*k-1 of every kernel appears in its functions (so no
 *   loop runs over taps, whatever its trip count). The interior (the plane
 *   function) may lack taps when the input is smaller than the kernel; the
 *   border helper then holds them all. */
#include "verify.h"

#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ops.h"

enum { MAX_TAPS = MC_MAX_K * MC_MAX_K, KERNEL_SEEN = MC_MAX_KERNELS * MAX_TAPS };

typedef struct fn {
    const char *name, *type;
    bool defined;
} fn;

typedef struct checker {
    arena *a;
    const char *dir;   /* only what lies in the emitted files is checked */
    const char *shown; /* the folder that messages name instead of dir */
    fn *fns; /* declarations and definitions seen so far */
    int nfns, cap;
    char *err;
    size_t errlen;
    bool failed;
    /* the kernel being checked */
    const char *kernel;
    int ks[MC_MAX_KERNELS], nks;
    unsigned char *seen; /* seen[j * MAX_TAPS + t]: tap t of kernel j read at a literal index */
} checker;

static const char *str(checker *c, CXString s)
{
    const char *r = arena_strdup(c->a, clang_getCString(s) ? clang_getCString(s) : "");
    clang_disposeString(s);
    return r;
}

static void fail(checker *c, CXCursor at, const char *fmt, const char *a1, const char *a2)
{
    if (c->failed)
        return;
    CXFile file;
    unsigned line, col;
    clang_getSpellingLocation(clang_getCursorLocation(at), &file, &line, &col, NULL);
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a1, a2);
    const char *path = str(c, clang_getFileName(file));
    if (strncmp(path, c->dir, strlen(c->dir)) == 0)
        path = arena_printf(c->a, "%s%s", c->shown, path + strlen(c->dir));
    snprintf(c->err, c->errlen, "%s:%u:%u: error: verify: %s", path, line, col, msg);
    c->failed = true;
}

static fn *find_fn(checker *c, const char *name)
{
    for (int i = 0; i < c->nfns; i++)
        if (strcmp(c->fns[i].name, name) == 0)
            return &c->fns[i];
    return NULL;
}

/* Records function declarations (from the header) and definitions. */
static enum CXChildVisitResult collect(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    checker *c = data;
    if (clang_getCursorKind(cur) != CXCursor_FunctionDecl || clang_Cursor_getStorageClass(cur) == CX_SC_Static)
        return CXChildVisit_Continue;
    CXFile file;
    clang_getSpellingLocation(clang_getCursorLocation(cur), &file, NULL, NULL, NULL);
    if (strncmp(str(c, clang_getFileName(file)), c->dir, strlen(c->dir)) != 0)
        return CXChildVisit_Continue; /* the runtime's headers */
    const char *name = str(c, clang_getCursorSpelling(cur)), *type = str(c, clang_getTypeSpelling(clang_getCursorType(cur)));
    fn *f = find_fn(c, name);
    if (!f) {
        c->fns = arena_grow(c->a, c->fns, c->nfns, &c->cap, sizeof *c->fns);
        f = &c->fns[c->nfns++];
        *f = (fn){name, type, false};
    } else if (strcmp(f->type, type) != 0) {
        fail(c, cur, "%s is declared and defined with different types (%s)", name, type);
    }
    if (clang_isCursorDefinition(cur))
        f->defined = true;
    return CXChildVisit_Continue;
}

typedef struct kids {
    CXCursor c[2];
    int n;
} kids;

static enum CXChildVisitResult take(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    kids *k = data;
    if (k->n < 2)
        k->c[k->n] = cur;
    k->n++;
    return CXChildVisit_Continue;
}

/* Looks through implicit casts and parentheses. */
static CXCursor unwrap(CXCursor cur)
{
    while (clang_getCursorKind(cur) == CXCursor_UnexposedExpr || clang_getCursorKind(cur) == CXCursor_ParenExpr) {
        kids k = {.n = 0};
        clang_visitChildren(cur, take, &k);
        if (k.n != 1)
            break;
        cur = k.c[0];
    }
    return cur;
}

/* Inside a depthwise kernel: every read of w<j>[...] must be at an index
 * known at compile time; the taps seen are marked. */
static enum CXChildVisitResult taps(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    checker *c = data;
    if (c->failed || clang_getCursorKind(cur) != CXCursor_ArraySubscriptExpr)
        return CXChildVisit_Recurse;
    kids k = {.n = 0};
    clang_visitChildren(cur, take, &k);
    if (k.n != 2)
        return CXChildVisit_Recurse;
    CXCursor base = unwrap(k.c[0]);
    if (clang_getCursorKind(base) != CXCursor_DeclRefExpr)
        return CXChildVisit_Recurse;
    const char *name = str(c, clang_getCursorSpelling(base));
    if (name[0] != 'w' || name[1] < '0' || name[1] > '9')
        return CXChildVisit_Recurse;
    int j = atoi(name + 1);
    if (j >= c->nks)
        return CXChildVisit_Recurse;
    CXEvalResult r = clang_Cursor_Evaluate(k.c[1]);
    bool constant = r && clang_EvalResult_getKind(r) == CXEval_Int;
    long long t = constant ? clang_EvalResult_getAsLongLong(r) : -1;
    if (r)
        clang_EvalResult_dispose(r);
    if (!constant)
        fail(c, cur, "%s reads its weights %s at a run-time index: a loop over the taps is left", c->kernel, name);
    else if (t < 0 || t >= (long long)c->ks[j] * c->ks[j])
        fail(c, cur, "%s reads %s outside its taps", c->kernel, name);
    else
        c->seen[j * MAX_TAPS + t] = 1;
    return CXChildVisit_Recurse;
}

typedef struct kernel_scan {
    checker *c;
    const mc_plan *p;
    unsigned char *seen; /* per plan kernel: KERNEL_SEEN bytes of taps seen */
    CXCursor *first;     /* per plan kernel: its first function in this file */
    bool *found;
} kernel_scan;

/* The depthwise kernel (and the function suffix) a function belongs to. */
static int depthwise_of(const mc_plan *p, const char *name)
{
    for (int i = 0; i < p->nkernels; i++) {
        const mc_kernel *k = &p->kernels[i];
        size_t len = strlen(k->name);
        if (p->m->nodes[k->node].op->code == OP_DEPTHWISE && strncmp(name, k->name, len) == 0 && name[len] == '_')
            return i;
    }
    return -1;
}

static void kernel_sizes(const mc_plan *p, int kernel, int *ks, int *nks)
{
    const mc_kernel *k = &p->kernels[kernel];
    const mc_node *n = &p->m->nodes[k->node];
    *nks = k->k ? 1 : n->nks;
    for (int j = 0; j < *nks; j++)
        ks[j] = k->k ? k->k : n->ks[j];
}

static enum CXChildVisitResult scan_kernels(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    kernel_scan *ks = data;
    checker *c = ks->c;
    if (clang_getCursorKind(cur) != CXCursor_FunctionDecl || !clang_isCursorDefinition(cur) || c->failed)
        return CXChildVisit_Continue;
    const char *name = str(c, clang_getCursorSpelling(cur));
    int kernel = depthwise_of(ks->p, name);
    if (kernel < 0)
        return CXChildVisit_Continue;
    if (!ks->found[kernel])
        ks->first[kernel] = cur;
    ks->found[kernel] = true;
    c->kernel = name;
    kernel_sizes(ks->p, kernel, c->ks, &c->nks);
    c->seen = ks->seen + (size_t)kernel * KERNEL_SEEN;
    clang_visitChildren(cur, taps, c);
    return CXChildVisit_Continue;
}

static bool parse_file(checker *c, CXIndex index, const char *path, const char *const *args, int nargs,
                       CXTranslationUnit *tu)
{
    *tu = clang_parseTranslationUnit(index, path, args, nargs, NULL, 0, CXTranslationUnit_None);
    if (!*tu) {
        snprintf(c->err, c->errlen, "%s: error: verify: libclang cannot parse this file", path);
        return false;
    }
    for (unsigned i = 0; i < clang_getNumDiagnostics(*tu); i++) {
        CXDiagnostic d = clang_getDiagnostic(*tu, i);
        if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
            CXString s = clang_formatDiagnostic(d, CXDiagnostic_DisplaySourceLocation | CXDiagnostic_DisplayColumn);
            snprintf(c->err, c->errlen, "%s (verify: libclang)", clang_getCString(s));
            clang_disposeString(s);
            clang_disposeDiagnostic(d);
            return false;
        }
        clang_disposeDiagnostic(d);
    }
    return true;
}

/* Every tap of every depthwise kernel defined in this file was read. */
static void check_all_taps(const kernel_scan *ks)
{
    checker *c = ks->c;
    for (int i = 0; i < ks->p->nkernels && !c->failed; i++) {
        if (!ks->found[i])
            continue;
        int kk[MC_MAX_KERNELS], nks;
        kernel_sizes(ks->p, i, kk, &nks);
        const unsigned char *seen = ks->seen + (size_t)i * KERNEL_SEEN;
        for (int j = 0; j < nks && !c->failed; j++)
            for (int t = 0; t < kk[j] * kk[j]; t++)
                if (!seen[j * MAX_TAPS + t]) {
                    char what[64];
                    snprintf(what, sizeof what, "w%d[%d]", j, t);
                    fail(c, ks->first[i], "%s never reads tap %s: its taps are not all unrolled", ks->p->kernels[i].name,
                         what);
                    break;
                }
    }
}

bool mc_verify(arena *a, const mc_plan *p, const char *dir, const char *shown, const char *const *files, int nfiles,
               const char *runtime_include, const char *cpu_flags, char *err, size_t errlen)
{
    checker c = {.a = a, .dir = dir, .shown = shown, .err = err, .errlen = errlen};
    unsigned char *seen = arena_alloc(a, (size_t)p->nkernels * KERNEL_SEEN + 1);
    CXCursor *first = arena_alloc(a, (size_t)p->nkernels * sizeof *first + 1);
    bool *found = arena_alloc(a, (size_t)p->nkernels * sizeof *found + 1);
    /* The CUDA runtime headers sit in cuda/ in the source tree (a main
     * of a CUDA build includes them); installed, beside the others. */
    /* The CPU's flags (one, or none): the kernels' intrinsics need them. */
    const char *args[8] = {"-std=c11", "-I", dir};
    int nargs = 3;
    if (runtime_include) { /* NULL: the files must stand alone (the inference library) */
        args[nargs++] = "-I";
        args[nargs++] = runtime_include;
        args[nargs++] = "-I";
        args[nargs++] = arena_printf(a, "%s/cuda", runtime_include);
    }
    if (*cpu_flags)
        args[nargs++] = cpu_flags;
    CXIndex index = clang_createIndex(0, 0);
    bool ok = true;
    for (int i = 0; i < nfiles && ok; i++) {
        size_t len = strlen(files[i]);
        if (len < 2 || strcmp(files[i] + len - 2, ".c") != 0)
            continue;
        CXTranslationUnit tu;
        ok = parse_file(&c, index, arena_printf(a, "%s/%s", dir, files[i]), args, nargs, &tu);
        if (!ok)
            break;
        CXCursor root = clang_getTranslationUnitCursor(tu);
        clang_visitChildren(root, collect, &c);
        kernel_scan ks = {&c, p, seen, first, found};
        memset(seen, 0, (size_t)p->nkernels * KERNEL_SEEN);
        memset(found, 0, (size_t)p->nkernels * sizeof *found);
        clang_visitChildren(root, scan_kernels, &ks);
        check_all_taps(&ks);
        clang_disposeTranslationUnit(tu);
        ok = !c.failed;
    }
    for (int i = 0; ok && i < c.nfns; i++)
        if (!c.fns[i].defined) {
            snprintf(err, errlen, "%s: error: verify: %s is declared in %s.h but defined in no emitted file", shown,
                     c.fns[i].name, p->m->name);
            ok = false;
        }
    clang_disposeIndex(index);
    return ok;
}
