/* Expansion: runs the description's statements (blocks, for, if, let) and
 * appends one node per layer, or the primitive nodes a composite layer
 * lowers to. Names get their block-instance prefixes here ("layer1.0."), so
 * tensor names follow from layer names. Inputs stay references until every
 * scope has closed (see build.h). */
#include "expand.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"

typedef enum { V_INT, V_FLOAT, V_BOOL, V_LIST, V_SYM } vkind;

static const char *const vkind_names[] = {"an integer", "a number", "a boolean", "a list", "a name"};

typedef struct value {
    vkind kind;
    long long i;
    double f;
    long long *items;
    int n;
    const char *sym; /* V_SYM: an identifier bound to nothing, e.g. "dsconv" */
} value;

typedef struct binding {
    const char *name;
    value v;
    const struct binding *next;
} binding;

typedef struct scope {
    const char *prefix; /* "" at the top, "layer1.0." in a block instance */
    const char *where;  /* for errors: "in 'layer1.0' (block 'basic')" */
    int input, prev;    /* references: the block's input, the last statement's output */
    int *pending;       /* references waiting for a name of this scope */
    int npending, cap;
    int anon, depth;
} scope;

/* Names of this model: full name -> reference to its output. */
typedef struct entry {
    const char *name;
    int ref;
    mc_loc at;
} entry;

typedef struct expander {
    build *b;
    const program *prog;
    entry *table;
    int table_cap, table_n;
    long steps;
    bool unused; /* inside a statement marked unused=true */
} expander;

/* ---- errors ---------------------------------------------------------------- */

_Noreturn static void fail(expander *ex, const scope *sc, mc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(expander *ex, const scope *sc, mc_loc at, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sc && sc->where)
        diag_error(ex->b->d, at, "%s (%s)", msg, sc->where);
    diag_error(ex->b->d, at, "%s", msg);
}

/* ---- the name table (open addressing) ----------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static entry *lookup(expander *ex, const char *name)
{
    if (!ex->table_cap)
        return NULL;
    for (uint64_t i = hash_str(name) & (uint64_t)(ex->table_cap - 1);; i = (i + 1) & (uint64_t)(ex->table_cap - 1)) {
        entry *e = &ex->table[i];
        if (!e->name)
            return NULL;
        if (strcmp(e->name, name) == 0)
            return e;
    }
}

static void insert(expander *ex, const char *name, int r, mc_loc at)
{
    if (2 * (ex->table_n + 1) > ex->table_cap) {
        entry *old = ex->table;
        int old_cap = ex->table_cap;
        ex->table_cap = old_cap ? 2 * old_cap : 256;
        ex->table = arena_alloc(ex->b->a, (size_t)ex->table_cap * sizeof *ex->table);
        ex->table_n = 0;
        for (int i = 0; i < old_cap; i++)
            if (old[i].name)
                insert(ex, old[i].name, old[i].ref, old[i].at);
    }
    uint64_t i = hash_str(name) & (uint64_t)(ex->table_cap - 1);
    while (ex->table[i].name)
        i = (i + 1) & (uint64_t)(ex->table_cap - 1);
    ex->table[i] = (entry){name, r, at};
    ex->table_n++;
}

/* ---- values ------------------------------------------------------------------ */

static value eval(expander *ex, const scope *sc, const binding *env, const expr *e);
static value eval_call(expander *ex, const scope *sc, const binding *env, const expr *e);

static long long checked(expander *ex, const scope *sc, const expr *e, long long x, long long y)
{
    long long r = 0;
    bool overflow = false;
    switch (e->op) {
    case T_PLUS: overflow = __builtin_add_overflow(x, y, &r); break;
    case T_MINUS: overflow = __builtin_sub_overflow(x, y, &r); break;
    case T_STAR: overflow = __builtin_mul_overflow(x, y, &r); break;
    case T_SLASH:
    case T_PERCENT:
        if (y == 0)
            fail(ex, sc, e->at, "division by zero");
        if (x == INT64_MIN && y == -1)
            overflow = true;
        else
            r = e->op == T_SLASH ? x / y : x % y;
        break;
    }
    if (overflow)
        fail(ex, sc, e->at, "integer overflow in %s", token_spelling(e->op));
    return r;
}

static bool values_equal(value a, value b)
{
    if (a.kind != b.kind)
        return (a.kind == V_INT || a.kind == V_FLOAT) && (b.kind == V_INT || b.kind == V_FLOAT) &&
               (a.kind == V_INT ? (double)a.i : a.f) == (b.kind == V_INT ? (double)b.i : b.f);
    switch (a.kind) {
    case V_INT:
    case V_BOOL: return a.i == b.i;
    case V_FLOAT: return a.f == b.f;
    case V_SYM: return strcmp(a.sym, b.sym) == 0;
    case V_LIST:
        if (a.n != b.n)
            return false;
        for (int i = 0; i < a.n; i++)
            if (a.items[i] != b.items[i])
                return false;
        return true;
    }
    return false;
}

static void want(expander *ex, const scope *sc, const expr *e, value v, vkind kind, const char *what)
{
    if (v.kind == kind)
        return;
    if (v.kind == V_SYM)
        fail(ex, sc, e->at, "unknown name '%s'; expected %s", v.sym, what);
    fail(ex, sc, e->at, "expected %s, got %s", what, vkind_names[v.kind]);
}

static bool is_number(value v) { return v.kind == V_INT || v.kind == V_FLOAT; }
static double as_double(value v) { return v.kind == V_INT ? (double)v.i : v.f; }

static value eval_binary(expander *ex, const scope *sc, const binding *env, const expr *e)
{
    value a = eval(ex, sc, env, e->a);
    if (e->op == T_AND || e->op == T_OR) { /* short-circuit */
        want(ex, sc, e->a, a, V_BOOL, "a boolean before && or ||");
        if ((e->op == T_AND) != (a.i != 0))
            return a;
        value b = eval(ex, sc, env, e->b);
        want(ex, sc, e->b, b, V_BOOL, "a boolean after && or ||");
        return b;
    }
    value b = eval(ex, sc, env, e->b);
    value r = {.kind = V_BOOL};
    if (e->op == T_EQ || e->op == T_NE) {
        if (a.kind == V_SYM || b.kind == V_SYM)
            fail(ex, sc, e->at, "unknown name '%s' in a comparison", a.kind == V_SYM ? a.sym : b.sym);
        r.i = values_equal(a, b) == (e->op == T_EQ);
        return r;
    }
    if (!is_number(a))
        want(ex, sc, e->a, a, V_INT, arena_printf(ex->b->a, "a number before %s", token_spelling(e->op)));
    if (!is_number(b))
        want(ex, sc, e->b, b, V_INT, arena_printf(ex->b->a, "a number after %s", token_spelling(e->op)));
    switch (e->op) {
    case T_LT: r.i = as_double(a) < as_double(b); return r;
    case T_LE: r.i = as_double(a) <= as_double(b); return r;
    case T_GT: r.i = as_double(a) > as_double(b); return r;
    case T_GE: r.i = as_double(a) >= as_double(b); return r;
    default: break;
    }
    if (a.kind == V_INT && b.kind == V_INT)
        return (value){.kind = V_INT, .i = checked(ex, sc, e, a.i, b.i)};
    double x = as_double(a), y = as_double(b);
    switch (e->op) {
    case T_PLUS: return (value){.kind = V_FLOAT, .f = x + y};
    case T_MINUS: return (value){.kind = V_FLOAT, .f = x - y};
    case T_STAR: return (value){.kind = V_FLOAT, .f = x * y};
    case T_SLASH:
        if (y == 0)
            fail(ex, sc, e->at, "division by zero");
        return (value){.kind = V_FLOAT, .f = x / y};
    default: fail(ex, sc, e->at, "'%%' needs integers on both sides");
    }
}

/* Built-in functions: min(a, b, ...), max(a, b, ...) on integers, len(list). */
static value eval_call(expander *ex, const scope *sc, const binding *env, const expr *e)
{
    bool is_min = strcmp(e->name, "min") == 0, is_max = strcmp(e->name, "max") == 0;
    if (strcmp(e->name, "len") == 0) {
        if (e->nitems != 1)
            fail(ex, sc, e->at, "len takes one list; expected as in 'len(kernels)'");
        value v = eval(ex, sc, env, e->items[0]);
        want(ex, sc, e->items[0], v, V_LIST, "a list for len");
        return (value){.kind = V_INT, .i = v.n};
    }
    if (!is_min && !is_max)
        fail(ex, sc, e->at, "unknown function '%s'; expected min, max or len", e->name);
    if (e->nitems < 1)
        fail(ex, sc, e->at, "%s needs at least one value", e->name);
    value r = {.kind = V_INT};
    for (int i = 0; i < e->nitems; i++) {
        value v = eval(ex, sc, env, e->items[i]);
        want(ex, sc, e->items[i], v, V_INT, arena_printf(ex->b->a, "an integer for %s", e->name));
        if (i == 0 || (is_min ? v.i < r.i : v.i > r.i))
            r.i = v.i;
    }
    return r;
}

static value eval(expander *ex, const scope *sc, const binding *env, const expr *e)
{
    switch (e->kind) {
    case E_INT: return (value){.kind = V_INT, .i = e->i};
    case E_FLOAT: return (value){.kind = V_FLOAT, .f = e->f};
    case E_BOOL: return (value){.kind = V_BOOL, .i = e->i};
    case E_VAR:
        for (const binding *b = env; b; b = b->next)
            if (strcmp(b->name, e->name) == 0)
                return b->v;
        if (strcmp(e->name, "classes") == 0)
            return (value){.kind = V_INT, .i = ex->b->m->classes};
        return (value){.kind = V_SYM, .sym = e->name};
    case E_LIST: {
        value v = {.kind = V_LIST, .n = e->nitems};
        v.items = arena_alloc(ex->b->a, (size_t)(e->nitems + 1) * sizeof *v.items);
        for (int i = 0; i < e->nitems; i++) {
            value item = eval(ex, sc, env, e->items[i]);
            want(ex, sc, e->items[i], item, V_INT, "an integer in the list");
            v.items[i] = item.i;
        }
        return v;
    }
    case E_UNARY: {
        value a = eval(ex, sc, env, e->a);
        if (e->op == T_NOT) {
            want(ex, sc, e->a, a, V_BOOL, "a boolean after '!'");
            a.i = !a.i;
            return a;
        }
        if (a.kind == V_FLOAT) {
            a.f = -a.f;
            return a;
        }
        want(ex, sc, e->a, a, V_INT, "a number after '-'");
        if (a.i == INT64_MIN)
            fail(ex, sc, e->at, "integer overflow in '-'");
        a.i = -a.i;
        return a;
    }
    case E_BINARY: return eval_binary(ex, sc, env, e);
    case E_CALL: return eval_call(ex, sc, env, e);
    }
    return (value){.kind = V_INT};
}

static long long eval_int(expander *ex, const scope *sc, const binding *env, const expr *e, const char *what)
{
    value v = eval(ex, sc, env, e);
    want(ex, sc, e, v, V_INT, what);
    return v.i;
}

/* ---- names --------------------------------------------------------------------- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* A layer name: parts joined, checked to make a well-formed tensor-name
 * prefix ("layer1.0", not "layer1..0" or ".x"). */
static const char *eval_name(expander *ex, const scope *sc, const binding *env, const namepat *n)
{
    char buf[MC_MAX_NAME + 1];
    size_t len = 0;
    for (int i = 0; i < n->nparts; i++) {
        const char *s = n->parts[i].text;
        if (!s) {
            value v = eval(ex, sc, env, n->parts[i].e);
            if (v.kind == V_SYM)
                fail(ex, sc, n->parts[i].e->at, "unknown name '%s' in '{...}'; expected a variable", v.sym);
            want(ex, sc, n->parts[i].e, v, V_INT, "an integer in '{...}'");
            s = arena_printf(ex->b->a, "%lld", v.i);
        }
        size_t l = strlen(s);
        if (len + l > MC_MAX_NAME)
            fail(ex, sc, n->at, "name is longer than %d characters", MC_MAX_NAME);
        memcpy(buf + len, s, l);
        len += l;
    }
    buf[len] = '\0';
    bool ok = len > 0 && buf[0] != '.' && buf[len - 1] != '.' && !strstr(buf, "..");
    for (size_t i = 0; ok && i < len; i++)
        ok = is_name_char(buf[i]);
    if (!ok)
        fail(ex, sc, n->at, "bad name '%s'; expected letters, digits, '_' and single dots inside, as in 'layer1.0'", buf);
    return arena_strdup(ex->b->a, buf);
}

/* Resolves an input name in this scope, now or when the scope closes. */
static int input_ref(expander *ex, scope *sc, const binding *env, const namepat *n)
{
    const char *local = eval_name(ex, sc, env, n);
    if (strcmp(local, "in") == 0)
        return sc->input;
    const char *full = arena_printf(ex->b->a, "%s%s", sc->prefix, local);
    entry *e = lookup(ex, full);
    if (e)
        return e->ref;
    int r = build_ref(ex->b, -1, full, n->at, sc->where);
    sc->pending = arena_grow(ex->b->a, sc->pending, sc->npending, &sc->cap, sizeof *sc->pending);
    sc->pending[sc->npending++] = r;
    return r;
}

static void define(expander *ex, scope *sc, const char *local, int r, mc_loc at)
{
    if (strcmp(local, "in") == 0)
        fail(ex, sc, at, "'in' names the block's input; expected another layer name");
    const char *full = arena_printf(ex->b->a, "%s%s", sc->prefix, local);
    entry *e = lookup(ex, full);
    if (e)
        fail(ex, sc, at, "duplicate name '%s'; it is first defined at line %d", local, e->at.line);
    insert(ex, full, r, at);
}

/* Points every pending reference of a closing scope at what its name now
 * means. Longer alias cycles are caught when graph.c follows the chains. */
static void close_scope(expander *ex, scope *sc)
{
    build *b = ex->b;
    for (int i = 0; i < sc->npending; i++) {
        int r = sc->pending[i];
        entry *e = lookup(ex, b->refs[r].name);
        if (!e)
            fail(ex, NULL, b->refs[r].at, "unknown input '%s'; expected 'in' or a layer named in this %s%s",
                 b->refs[r].name + strlen(sc->prefix), sc->depth ? "block" : "file",
                 sc->where ? arena_printf(b->a, " (%s)", sc->where) : "");
        if (e->ref == r)
            fail(ex, NULL, b->refs[r].at, "cycle: '%s' reads itself", b->refs[r].name);
        b->refs[r].alias = e->ref;
    }
}

/* ---- statements ----------------------------------------------------------- */

static void exec_list(expander *ex, scope *sc, const binding *env, const stmt_list *list);

static void step(expander *ex, const scope *sc, mc_loc at)
{
    if (++ex->steps > MC_MAX_STEPS)
        fail(ex, sc, at, "expansion ran more than %d statements; expected a bounded model (a runaway 'for'?)",
             MC_MAX_STEPS);
}

static const char *describe_value(expander *ex, value v)
{
    switch (v.kind) {
    case V_INT: return arena_printf(ex->b->a, "%lld", v.i);
    case V_FLOAT: return arena_printf(ex->b->a, "%g", v.f);
    case V_BOOL: return v.i ? "true" : "false";
    case V_SYM: return v.sym;
    default: return "a list";
    }
}

/* Sets one key of an op from its value, checking type and range. */
static void set_key(expander *ex, scope *sc, mc_node *spec, const mc_key *k, const expr *e, value v)
{
    char *field = (char *)spec + k->field;
    switch (k->type) {
    case KEY_INT:
        if (v.kind != V_INT || v.i < (long long)k->min || v.i > (long long)k->max)
            fail(ex, sc, e->at, "bad value %s for '%s' of %s; expected an integer from %.0f to %.0f",
                 describe_value(ex, v), k->name, spec->op->name, k->min, k->max);
        *(int *)field = (int)v.i;
        break;
    case KEY_FLOAT:
        if (!is_number(v) || as_double(v) < k->min || as_double(v) > k->max)
            fail(ex, sc, e->at, "bad value %s for '%s' of %s; expected a number from %g to %g",
                 describe_value(ex, v), k->name, spec->op->name, k->min, k->max);
        *(double *)field = as_double(v);
        break;
    case KEY_BOOL:
        if (v.kind != V_BOOL)
            fail(ex, sc, e->at, "bad value %s for '%s' of %s; expected true or false", describe_value(ex, v),
                 k->name, spec->op->name);
        *(bool *)field = v.i != 0;
        break;
    case KEY_KERNELS:
        if (v.kind != V_LIST || v.n < 1 || v.n > MC_MAX_KERNELS)
            fail(ex, sc, e->at, "bad value %s for '%s' of %s; expected a list of 1 to %d kernel sizes, as in [3,5,7]",
                 describe_value(ex, v), k->name, spec->op->name, MC_MAX_KERNELS);
        for (int i = 0; i < v.n; i++) {
            if (v.items[i] < 1 || v.items[i] > MC_MAX_K)
                fail(ex, sc, e->at, "bad kernel size %lld in '%s'; expected 1 to %d", v.items[i], k->name, MC_MAX_K);
            spec->ks[i] = (int)v.items[i];
        }
        spec->nks = v.n;
        break;
    case KEY_CONVTYPE:
        if (v.kind != V_SYM || !mc_parse_conv_type(v.sym, &spec->conv_type))
            fail(ex, sc, e->at, "bad value %s for '%s' of %s; expected standard, dsconv, multiception or mixconv",
                 describe_value(ex, v), k->name, spec->op->name);
        spec->conv_type_set = true;
        break;
    }
}

static const char *key_list(expander *ex, const mc_key *keys)
{
    const char *s = "";
    for (const mc_key *k = keys; k->name; k++)
        s = arena_printf(ex->b->a, "%s%s%s", s, *s ? ", " : "", k->name);
    return *s ? s : "none";
}

/* Fills spec's attributes from the statement's arguments. */
static void configure(expander *ex, scope *sc, const binding *env, const stmt *s, mc_node *spec)
{
    const mc_key *keys = spec->op->keys;
    bool given[16] = {false};
    for (const mc_key *k = keys; k->name; k++)
        if (k->type == KEY_INT)
            *(int *)((char *)spec + k->field) = (int)k->dflt;
        else if (k->type == KEY_FLOAT)
            *(double *)((char *)spec + k->field) = k->dflt;
        else if (k->type == KEY_BOOL)
            *(bool *)((char *)spec + k->field) = k->dflt != 0;
    int npos = 0;
    for (int i = 0; i < s->nargs; i++) {
        const arg *a = &s->args[i];
        const mc_key *k = NULL;
        if (a->key && strcmp(a->key, "unused") == 0)
            continue;
        if (a->key) {
            for (k = keys; k->name && strcmp(k->name, a->key) != 0; k++)
                ;
            if (!k->name)
                fail(ex, sc, a->at, "unknown key '%s' for %s; expected one of: %s (as in '%s')", a->key,
                     spec->op->name, key_list(ex, keys), spec->op->example);
        } else {
            int seen = 0;
            for (k = keys; k->name; k++)
                if (k->positional && seen++ == npos)
                    break;
            if (!k->name)
                fail(ex, sc, a->at, "too many values for %s; expected %d before the key=value arguments (as in '%s')",
                     spec->op->name, npos, spec->op->example);
            npos++;
        }
        int idx = (int)(k - keys);
        if (given[idx])
            fail(ex, sc, a->at, "'%s' given twice for %s", k->name, spec->op->name);
        given[idx] = true;
        set_key(ex, sc, spec, k, a->value, eval(ex, sc, env, a->value));
    }
    for (const mc_key *k = keys; k->name; k++)
        if (k->required && !given[k - keys])
            fail(ex, sc, s->op_at, "missing '%s' for %s (%s); expected it as in '%s'", k->name, spec->op->name, k->doc,
                 spec->op->example);
    if (spec->op->code == OP_DEPTHWISE) { /* k= or kernels=, exactly one */
        bool has_k = given[0], has_list = given[1];
        if (has_k == has_list)
            fail(ex, sc, s->op_at, "depthwise needs exactly one of 'k' and 'kernels'; expected as in '%s'",
                 spec->op->example);
        if (has_k) {
            spec->ks[0] = spec->k;
            spec->nks = 1;
        } else {
            spec->indexed = true;
        }
    }
    if (spec->nks == 0) { /* the slots' default kernel list */
        spec->ks[0] = 3;
        spec->nks = 1;
    }
}

static bool unused_flag(expander *ex, scope *sc, const binding *env, const stmt *s)
{
    for (int i = 0; i < s->nargs; i++)
        if (s->args[i].key && strcmp(s->args[i].key, "unused") == 0) {
            value v = eval(ex, sc, env, s->args[i].value);
            want(ex, sc, s->args[i].value, v, V_BOOL, "true or false for 'unused'");
            return v.i != 0;
        }
    return false;
}

static const block_def *find_block(const program *prog, const char *name)
{
    for (int i = 0; i < prog->nblocks; i++)
        if (strcmp(prog->blocks[i].name, name) == 0)
            return &prog->blocks[i];
    return NULL;
}

static int call_block(expander *ex, scope *sc, const binding *env, const stmt *s, const block_def *def,
                      const char *local, int input)
{
    if (sc->depth + 1 > MC_MAX_DEPTH)
        fail(ex, sc, s->op_at, "blocks nested more than %d deep; expected a block that does not use itself",
             MC_MAX_DEPTH);
    binding *params = NULL;
    bool given[64] = {false};
    if (def->nparams > 64)
        fail(ex, sc, def->at, "block '%s' has %d parameters; expected at most 64", def->name, def->nparams);
    value vals[64];
    int npos = 0;
    for (int i = 0; i < s->nargs; i++) {
        const arg *a = &s->args[i];
        if (a->key && strcmp(a->key, "unused") == 0)
            continue;
        int idx;
        if (a->key) {
            for (idx = 0; idx < def->nparams && strcmp(def->params[idx], a->key) != 0; idx++)
                ;
            if (idx == def->nparams)
                fail(ex, sc, a->at, "block '%s' has no parameter '%s'; expected one of its parameters (line %d)",
                     def->name, a->key, def->at.line);
        } else {
            idx = npos++;
            if (idx >= def->nparams)
                fail(ex, sc, a->at, "too many arguments for block '%s'; expected %d (line %d)", def->name,
                     def->nparams, def->at.line);
        }
        if (given[idx])
            fail(ex, sc, a->at, "parameter '%s' of block '%s' given twice", def->params[idx], def->name);
        given[idx] = true;
        vals[idx] = eval(ex, sc, env, a->value);
    }
    for (int i = 0; i < def->nparams; i++) {
        if (!given[i])
            fail(ex, sc, s->op_at, "missing argument '%s' for block '%s' (defined at line %d)", def->params[i],
                 def->name, def->at.line);
        binding *bd = arena_alloc(ex->b->a, sizeof *bd);
        *bd = (binding){def->params[i], vals[i], params};
        params = bd;
    }
    scope inner = {
        .prefix = arena_printf(ex->b->a, "%s%s.", sc->prefix, local),
        .where = arena_printf(ex->b->a, "in '%s%s', block '%s'", sc->prefix, local, def->name),
        .input = input,
        .prev = input,
        .depth = sc->depth + 1,
    };
    exec_list(ex, &inner, params, &def->body);
    close_scope(ex, &inner);
    return inner.prev;
}

static void exec_layer(expander *ex, scope *sc, const binding *env, const stmt *s)
{
    build *b = ex->b;
    const char *local = s->name ? eval_name(ex, sc, env, s->name) : NULL;
    const mc_op_info *op = mc_find_op(s->op);
    const block_def *def = op ? NULL : find_block(ex->prog, s->op);
    if (!op && !def)
        fail(ex, sc, s->op_at, "unknown layer '%s'; expected an op (conv, batchnorm, relu, ...: see 'mcgen ops') or "
             "a block defined in this file", s->op);

    int ninputs = s->nfrom ? s->nfrom : 1;
    int *inputs = arena_alloc(b->a, (size_t)ninputs * sizeof *inputs);
    if (s->nfrom)
        for (int i = 0; i < s->nfrom; i++)
            inputs[i] = input_ref(ex, sc, env, s->from[i]);
    else
        inputs[0] = sc->prev;

    bool was_unused = ex->unused;
    ex->unused = ex->unused || unused_flag(ex, sc, env, s);
    int out;
    if (def) {
        if (!local)
            fail(ex, sc, s->at, "block '%s' needs a name: its tensors are named after it (as in 'layer1: %s ...')",
                 def->name, def->name);
        if (ninputs != 1)
            fail(ex, sc, s->from[1]->at, "a block reads one input; expected 'from' and one name");
        out = call_block(ex, sc, env, s, def, local, inputs[0]);
    } else {
        if (ninputs > MC_MAX_INPUTS)
            fail(ex, sc, s->from[MC_MAX_INPUTS]->at, "%s reads %d inputs; expected at most %d", op->name, ninputs,
                 MC_MAX_INPUTS);
        if (ninputs < op->min_inputs || (op->max_inputs >= 0 && ninputs > op->max_inputs))
            fail(ex, sc, s->op_at, "%s reads %s%d input%s, got %d; expected as in '%s'", op->name,
                 op->max_inputs < 0 ? "at least " : "", op->min_inputs, op->min_inputs == 1 ? "" : "s", ninputs,
                 op->example);
        if (!local && op->has_params)
            fail(ex, sc, s->at, "a %s needs a name: its tensors are named after it (as in '%s')", op->name,
                 op->example);
        mc_node spec = {.op = op, .at = s->at, .where = sc->where, .unused = ex->unused, .stride = 1, .groups = 1,
                        .pad = -1, .eps = 1e-5, .momentum = 0.1};
        configure(ex, sc, env, s, &spec);
        spec.name = local ? arena_printf(b->a, "%s%s", sc->prefix, local)
                          : arena_printf(b->a, "%s%s#%d", sc->prefix, op->name, ++sc->anon);
        spec.anonymous = !local;
        if (op->lower) {
            out = op->lower(b, &spec, inputs[0]);
        } else {
            int i = build_node(b, spec.name, op, s->at, sc->where);
            mc_node *n = &b->m->nodes[i];
            *n = spec;
            n->inputs = inputs;
            n->ninputs = ninputs;
            out = build_ref(b, i, NULL, s->at, sc->where);
        }
    }
    ex->unused = was_unused;
    if (local)
        define(ex, sc, local, out, s->at);
    sc->prev = out;
}

static void exec_list(expander *ex, scope *sc, const binding *env, const stmt_list *list)
{
    for (int i = 0; i < list->n; i++) {
        const stmt *s = list->items[i];
        step(ex, sc, s->at);
        switch (s->kind) {
        case S_LET: {
            binding *bd = arena_alloc(ex->b->a, sizeof *bd);
            *bd = (binding){s->var, eval(ex, sc, env, s->value), env};
            env = bd;
            break;
        }
        case S_IF: {
            value c = eval(ex, sc, env, s->cond);
            want(ex, sc, s->cond, c, V_BOOL, "a condition (as in 'if cin != cout')");
            exec_list(ex, sc, env, c.i ? &s->body : &s->orelse);
            break;
        }
        case S_FOR: {
            long long lo = eval_int(ex, sc, env, s->value, "an integer as the first value of 'for'");
            long long hi = eval_int(ex, sc, env, s->hi, "an integer as the last value of 'for'");
            if (hi >= lo && hi - lo >= MC_MAX_STEPS)
                fail(ex, sc, s->at, "'for' over %lld values; expected at most %d", hi - lo + 1, MC_MAX_STEPS);
            for (long long v = lo; v <= hi; v++) {
                binding bd = {s->var, {.kind = V_INT, .i = v}, env};
                step(ex, sc, s->at);
                exec_list(ex, sc, &bd, &s->body);
            }
            break;
        }
        case S_LAYER: exec_layer(ex, sc, env, s); break;
        }
    }
}

int expand_program(build *b, const program *prog)
{
    expander ex = {.b = b, .prog = prog};
    for (int i = 0; i < prog->nblocks; i++) {
        const block_def *def = &prog->blocks[i];
        if (mc_find_op(def->name))
            diag_error(b->d, def->at, "block '%s' has the name of an op; expected another name", def->name);
        for (int j = 0; j < i; j++)
            if (strcmp(prog->blocks[j].name, def->name) == 0)
                diag_error(b->d, def->at, "duplicate block '%s'; it is first defined at line %d", def->name,
                           prog->blocks[j].at.line);
    }
    int input = build_ref(b, 0, NULL, (mc_loc){prog->file, 0, 0}, NULL);
    scope top = {.prefix = "", .input = input, .prev = input};
    exec_list(&ex, &top, NULL, &prog->body);
    close_scope(&ex, &top);
    return top.prev;
}
