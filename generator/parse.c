/* Parser for network descriptions: text -> syntax tree (ast.h).
 *
 * The language is line-oriented: one statement a line, '#' starts a comment,
 * indentation is free. Blocks ('block', 'for', 'if') close with 'end'. Each
 * line is lexed into tokens, then parsed by recursive descent. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h"

typedef struct token {
    int kind;
    mc_loc at;
    const char *text; /* T_WORD, T_INT, T_FLOAT: the spelling */
    int len;
} token;

typedef struct parser {
    arena *a;
    diag *d;
    const char *file;
    token *toks; /* the current line's tokens, ending with T_EOL */
    int ntoks, cap, pos;
    int depth; /* expression nesting, bounded so hostile input cannot exhaust the stack */
} parser;

static const char *const spellings[] = {
    [T_EOL] = "end of line", [T_WORD] = "name", [T_INT] = "integer", [T_FLOAT] = "number",
    [T_LPAREN] = "'('", [T_RPAREN] = "')'", [T_LBRACK] = "'['", [T_RBRACK] = "']'",
    [T_COMMA] = "','", [T_COLON] = "':'", [T_DOTDOT] = "'..'", [T_ASSIGN] = "'='",
    [T_EQ] = "'=='", [T_NE] = "'!='", [T_LT] = "'<'", [T_LE] = "'<='", [T_GT] = "'>'",
    [T_GE] = "'>='", [T_PLUS] = "'+'", [T_MINUS] = "'-'", [T_STAR] = "'*'",
    [T_SLASH] = "'/'", [T_PERCENT] = "'%'", [T_NOT] = "'!'", [T_AND] = "'&&'",
    [T_OR] = "'||'",
};

const char *token_spelling(int kind) { return spellings[kind]; }

static mc_loc loc_at(parser *p, int line, int col) { return (mc_loc){p->file, line, col}; }

/* ---- lexer ------------------------------------------------------------- */

static bool is_word_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '{'; }

static void push_token(parser *p, int kind, int line, int col, const char *text, int len)
{
    p->toks = arena_grow(p->a, p->toks, p->ntoks, &p->cap, sizeof *p->toks);
    p->toks[p->ntoks++] = (token){kind, loc_at(p, line, col), text, len};
}

/* A word is a name ("layer1.0", "relu"), a name with interpolations
 * ("layer{s}"), a number ("16", "0.2", "1e-5") or a shape ("3x32x32"). It
 * stops before "..", so that "1..n" is a range. Returns its length. */
static int lex_word(parser *p, const char *s, int line, int col)
{
    int i = 0, depth = 0;
    while (s[i]) {
        if (depth > 0) {
            if (s[i] == '{')
                depth++;
            else if (s[i] == '}')
                depth--;
            i++;
            continue;
        }
        if (s[i] == '.' && s[i + 1] == '.')
            break;
        if (!is_word_char((unsigned char)s[i]))
            break;
        if (s[i] == '{')
            depth++;
        i++;
    }
    if (depth > 0)
        diag_error(p->d, loc_at(p, line, col), "unclosed '{' in name; expected '}' as in 'layer{i}'");
    /* Numbers: digits [. digits] [e [+-] digits], nothing else glued on. */
    int j = 0;
    bool isfloat = false;
    while (isdigit((unsigned char)s[j]))
        j++;
    if (j > 0) {
        if (j < i && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
            isfloat = true;
            j++;
            while (isdigit((unsigned char)s[j]))
                j++;
        }
        if ((s[j] == 'e' || s[j] == 'E') &&
            (isdigit((unsigned char)s[j + 1]) ||
             ((s[j + 1] == '-' || s[j + 1] == '+') && isdigit((unsigned char)s[j + 2])))) {
            isfloat = true;
            j += 2;
            while (isdigit((unsigned char)s[j]))
                j++;
            i = j; /* the exponent's sign is not a word character */
        }
        if (j == i) {
            push_token(p, isfloat ? T_FLOAT : T_INT, line, col, s, i);
            return i;
        }
    }
    push_token(p, T_WORD, line, col, s, i);
    return i;
}

static void lex_line(parser *p, const char *s, int line)
{
    p->ntoks = 0;
    p->pos = 0;
    int i = 0;
    while (s[i]) {
        unsigned char c = (unsigned char)s[i];
        int col = i + 1;
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        if (c == '#')
            break;
        if (is_word_char(c) && !(c == '.' && s[i + 1] == '.')) {
            i += lex_word(p, s + i, line, col);
            continue;
        }
        static const struct {
            const char *s;
            int kind;
        } punct[] = {
            {"..", T_DOTDOT}, {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE},
            {"&&", T_AND}, {"||", T_OR}, {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK},
            {"]", T_RBRACK}, {",", T_COMMA}, {":", T_COLON}, {"=", T_ASSIGN}, {"<", T_LT},
            {">", T_GT}, {"+", T_PLUS}, {"-", T_MINUS}, {"*", T_STAR}, {"/", T_SLASH},
            {"%", T_PERCENT}, {"!", T_NOT},
        };
        int k;
        for (k = 0; k < (int)(sizeof punct / sizeof punct[0]); k++) {
            size_t n = strlen(punct[k].s);
            if (strncmp(s + i, punct[k].s, n) == 0) {
                push_token(p, punct[k].kind, line, col, s + i, (int)n);
                i += (int)n;
                break;
            }
        }
        if (k < (int)(sizeof punct / sizeof punct[0]))
            continue;
        if (c == '}')
            diag_error(p->d, loc_at(p, line, col), "unexpected '}'; expected it to close a '{' in a name such as 'layer{i}'");
        if (c >= 0x20 && c < 0x7f)
            diag_error(p->d, loc_at(p, line, col), "unexpected character '%c'; expected a name, a number or an operator", c);
        diag_error(p->d, loc_at(p, line, col), "unexpected byte 0x%02x; expected text (non-ASCII is allowed only in comments)", c);
    }
    push_token(p, T_EOL, line, i + 1, s + i, 0);
}

/* ---- token helpers ------------------------------------------------------ */

static token *peek(parser *p) { return &p->toks[p->pos]; }
static token *next(parser *p) { return &p->toks[p->pos < p->ntoks - 1 ? p->pos++ : p->pos]; }

static char *tok_text(parser *p, const token *t) { return arena_strndup(p->a, t->text, (size_t)t->len); }

static bool tok_is(const token *t, const char *word)
{
    return t->kind == T_WORD && (int)strlen(word) == t->len && strncmp(t->text, word, (size_t)t->len) == 0;
}

static const char *describe(parser *p, const token *t)
{
    if (t->kind == T_EOL)
        return "end of line";
    return arena_printf(p->a, "'%.*s'", t->len > 40 ? 40 : t->len, t->text);
}

static token *expect(parser *p, int kind, const char *what)
{
    token *t = next(p);
    if (t->kind != kind)
        diag_error(p->d, t->at, "expected %s, found %s", what, describe(p, t));
    return t;
}

static void expect_eol(parser *p, const char *example)
{
    token *t = peek(p);
    if (t->kind != T_EOL)
        diag_error(p->d, t->at, "unexpected %s at the end of the statement; expected end of line (as in '%s')",
                   describe(p, t), example);
}

/* A plain identifier: letters, digits, '_', starting with a letter or '_'. */
static bool is_ident(const token *t)
{
    if (t->kind != T_WORD || !(isalpha((unsigned char)t->text[0]) || t->text[0] == '_'))
        return false;
    for (int i = 0; i < t->len; i++)
        if (!(isalnum((unsigned char)t->text[i]) || t->text[i] == '_'))
            return false;
    return true;
}

static const char *expect_ident(parser *p, const char *what)
{
    token *t = next(p);
    if (!is_ident(t))
        diag_error(p->d, t->at, "expected %s (letters, digits and '_'), found %s", what, describe(p, t));
    return tok_text(p, t);
}

/* ---- expressions --------------------------------------------------------- */

static expr *new_expr(parser *p, expr_kind kind, mc_loc at)
{
    expr *e = arena_alloc(p->a, sizeof *e);
    e->kind = kind;
    e->at = at;
    return e;
}

static expr *parse_expr(parser *p);

/* Comma-separated expressions up to `close`: list items, call arguments. */
static void parse_items(parser *p, expr *e, int close, const char *what)
{
    int cap = 0;
    while (peek(p)->kind != close) {
        e->items = arena_grow(p->a, e->items, e->nitems, &cap, sizeof *e->items);
        e->items[e->nitems++] = parse_expr(p);
        if (peek(p)->kind != T_COMMA)
            break;
        next(p);
    }
    expect(p, close, what);
}

static expr *parse_primary(parser *p)
{
    if (p->depth > 64)
        diag_error(p->d, peek(p)->at, "expression nested too deeply; expected at most 64 levels");
    token *t = next(p);
    switch (t->kind) {
    case T_INT: {
        expr *e = new_expr(p, E_INT, t->at);
        char *s = tok_text(p, t), *end;
        e->i = strtoll(s, &end, 10);
        if (strlen(s) > 15)
            diag_error(p->d, t->at, "integer %s is too large; expected at most 15 digits", s);
        return e;
    }
    case T_FLOAT: {
        expr *e = new_expr(p, E_FLOAT, t->at);
        e->f = strtod(tok_text(p, t), NULL);
        return e;
    }
    case T_LPAREN: {
        expr *e = parse_expr(p);
        expect(p, T_RPAREN, "')'");
        return e;
    }
    case T_LBRACK: {
        expr *e = new_expr(p, E_LIST, t->at);
        parse_items(p, e, T_RBRACK, "']' to close the list (as in '[3,5,7]')");
        return e;
    }
    case T_NOT:
    case T_MINUS: {
        expr *e = new_expr(p, E_UNARY, t->at);
        e->op = t->kind;
        p->depth++;
        e->a = parse_primary(p);
        p->depth--;
        return e;
    }
    case T_WORD:
        if (is_ident(t)) {
            if (tok_is(t, "true") || tok_is(t, "false")) {
                expr *e = new_expr(p, E_BOOL, t->at);
                e->i = tok_is(t, "true");
                return e;
            }
            bool call = peek(p)->kind == T_LPAREN && peek(p)->at.col == t->at.col + t->len;
            expr *e = new_expr(p, call ? E_CALL : E_VAR, t->at);
            e->name = tok_text(p, t);
            if (call) {
                next(p);
                parse_items(p, e, T_RPAREN, "')' to close the call (as in 'min(t - 1, 1)')");
            }
            return e;
        }
        break;
    default:
        break;
    }
    diag_error(p->d, t->at, "expected a value (a number, a name or a list such as [3,5,7]), found %s", describe(p, t));
}

static int precedence(int kind)
{
    switch (kind) {
    case T_OR: return 1;
    case T_AND: return 2;
    case T_EQ: case T_NE: return 3;
    case T_LT: case T_LE: case T_GT: case T_GE: return 4;
    case T_PLUS: case T_MINUS: return 5;
    case T_STAR: case T_SLASH: case T_PERCENT: return 6;
    default: return 0;
    }
}

/* Precedence climbing. Arguments are separated by white space, so an
 * expression ends at the first token that cannot continue it. */
static expr *parse_binary(parser *p, int min_prec)
{
    expr *lhs = parse_primary(p);
    for (;;) {
        token *t = peek(p);
        int prec = precedence(t->kind);
        if (prec == 0 || prec < min_prec)
            return lhs;
        next(p);
        expr *e = new_expr(p, E_BINARY, t->at);
        e->op = t->kind;
        e->a = lhs;
        e->b = parse_binary(p, prec + 1);
        lhs = e;
    }
}

static expr *parse_expr(parser *p)
{
    if (++p->depth > 64)
        diag_error(p->d, peek(p)->at, "expression nested too deeply; expected at most 64 levels");
    expr *e = parse_binary(p, 1);
    p->depth--;
    return e;
}

/* ---- names with interpolations ------------------------------------------ */

static namepat *parse_namepat(parser *p, token *t)
{
    namepat *n = arena_alloc(p->a, sizeof *n);
    n->at = t->at;
    if (t->kind != T_WORD && t->kind != T_INT)
        diag_error(p->d, t->at, "expected a layer name (as in 'conv1' or 'layer{s}.{b}'), found %s", describe(p, t));
    if (t->len > MC_MAX_NAME)
        diag_error(p->d, t->at, "name is longer than %d characters", MC_MAX_NAME);
    n->parts = arena_alloc(p->a, (size_t)(t->len + 1) * sizeof *n->parts);
    int i = 0;
    while (i < t->len) {
        if (t->text[i] == '{') {
            int j = i + 1, depth = 1;
            while (j < t->len && depth > 0) {
                depth += t->text[j] == '{';
                depth -= t->text[j] == '}';
                j++;
            }
            /* Lex and parse the text between the braces as an expression. */
            parser sub = {.a = p->a, .d = p->d, .file = p->file};
            char *inner = arena_strndup(p->a, t->text + i + 1, (size_t)(j - i - 2));
            lex_line(&sub, inner, t->at.line);
            for (int k = 0; k < sub.ntoks; k++)
                sub.toks[k].at.col += t->at.col + i;
            if (sub.toks[0].kind == T_EOL)
                diag_error(p->d, loc_at(p, t->at.line, t->at.col + i), "empty '{}' in name; expected an expression as in 'layer{i}'");
            n->parts[n->nparts++].e = parse_expr(&sub);
            if (peek(&sub)->kind != T_EOL)
                diag_error(p->d, peek(&sub)->at, "unexpected %s in '{...}'; expected '}'", describe(&sub, peek(&sub)));
            i = j;
        } else {
            int j = i;
            while (j < t->len && t->text[j] != '{')
                j++;
            n->parts[n->nparts++].text = arena_strndup(p->a, t->text + i, (size_t)(j - i));
            i = j;
        }
    }
    return n;
}

/* ---- statements ---------------------------------------------------------- */

static void list_push(parser *p, stmt_list *l, stmt *s)
{
    l->items = arena_grow(p->a, l->items, l->n, &l->cap, sizeof *l->items);
    l->items[l->n++] = s;
}

static const char *const reserved[] = {
    "model", "input", "classes", "conv_type", "init", "block", "for", "if", "else", "end", "let", "from",
};

static bool is_reserved(const token *t)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (tok_is(t, reserved[i]))
            return true;
    return false;
}

static stmt *new_stmt(parser *p, stmt_kind kind, mc_loc at)
{
    stmt *s = arena_alloc(p->a, sizeof *s);
    s->kind = kind;
    s->at = at;
    return s;
}

/* [name:] op [arg...] [from input...] */
static stmt *parse_layer(parser *p)
{
    token *first = peek(p);
    stmt *s = new_stmt(p, S_LAYER, first->at);
    if (p->toks[p->pos + 1].kind == T_COLON) {
        s->name = parse_namepat(p, next(p));
        next(p);
    }
    token *op = next(p);
    if (!is_ident(op))
        diag_error(p->d, op->at, "expected a layer (as in 'conv1: conv 16 k=3' or 'relu'), found %s", describe(p, op));
    if (is_reserved(op))
        diag_error(p->d, op->at, "'%.*s' is a keyword, not a layer; expected an op or block name after the layer name",
                   op->len, op->text);
    s->op = tok_text(p, op);
    s->op_at = op->at;
    int cap = 0;
    while (peek(p)->kind != T_EOL && !tok_is(peek(p), "from")) {
        s->args = arena_grow(p->a, s->args, s->nargs, &cap, sizeof *s->args);
        arg *a = &s->args[s->nargs++];
        a->at = peek(p)->at;
        if (is_ident(peek(p)) && p->toks[p->pos + 1].kind == T_ASSIGN) {
            a->key = tok_text(p, next(p));
            next(p);
        }
        a->value = parse_expr(p);
    }
    if (tok_is(peek(p), "from")) {
        next(p);
        s->from = arena_alloc(p->a, (size_t)p->ntoks * sizeof *s->from);
        do {
            if (peek(p)->kind == T_COMMA)
                next(p);
            s->from[s->nfrom++] = parse_namepat(p, next(p));
        } while (peek(p)->kind != T_EOL);
    }
    return s;
}

typedef struct open_block {
    stmt_list *list; /* where statements go now */
    stmt *owner;     /* the 'for' or 'if' (NULL for a block definition) */
    block_def *def;
    bool in_else;
} open_block;

static void parse_shape(parser *p, token *t, int out[3])
{
    const char *s = t->text;
    char *end;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*s))
            goto bad;
        long v = strtol(s, &end, 10);
        if (v < 1 || v > 65536 || end - s > 6)
            goto bad;
        out[i] = (int)v;
        s = end;
        if (i < 2 && *s++ != 'x')
            goto bad;
    }
    if (s == t->text + t->len)
        return;
bad:
    diag_error(p->d, t->at, "bad input shape %s; expected CxHxW with each size from 1 to 65536, as in 'input 3x32x32'",
               describe(p, t));
}

static void parse_header(parser *p, program *prog, token *kw)
{
    if (tok_is(kw, "model")) {
        if (prog->model)
            diag_error(p->d, kw->at, "second 'model' line; the first is at line %d", prog->model_at.line);
        prog->model = expect_ident(p, "the model's name after 'model' (as in 'model resnet20')");
        prog->model_at = kw->at;
        expect_eol(p, "model resnet20");
    } else if (tok_is(kw, "input")) {
        if (prog->has_input)
            diag_error(p->d, kw->at, "second 'input' line; expected one");
        token *t = next(p);
        if (t->kind != T_WORD)
            diag_error(p->d, t->at, "expected the input shape CxHxW after 'input' (as in 'input 3x32x32'), found %s",
                       describe(p, t));
        parse_shape(p, t, prog->input);
        prog->has_input = true;
        expect_eol(p, "input 3x32x32");
    } else if (tok_is(kw, "classes")) {
        if (prog->has_classes)
            diag_error(p->d, kw->at, "second 'classes' line; expected one");
        token *t = expect(p, T_INT, "the number of classes after 'classes' (as in 'classes 10')");
        prog->classes = strtoll(tok_text(p, t), NULL, 10);
        if (prog->classes < 1 || prog->classes > 1000000 || t->len > 7)
            diag_error(p->d, t->at, "bad class count %.*s; expected 1 to 1000000", t->len, t->text);
        prog->has_classes = true;
        expect_eol(p, "classes 10");
    } else if (tok_is(kw, "conv_type")) {
        if (prog->conv_type)
            diag_error(p->d, kw->at, "second 'conv_type' line; expected one");
        prog->conv_type_at = peek(p)->at;
        prog->conv_type = expect_ident(p, "a conv type after 'conv_type' (as in 'conv_type multiception')");
        expect_eol(p, "conv_type multiception");
    } else { /* init */
        init_stmt *in = &prog->inits[prog->ninits++];
        in->at = kw->at;
        token *t = next(p);
        if (t->kind != T_WORD)
            diag_error(p->d, t->at, "expected what to initialize after 'init' (as in 'init conv.weight kaiming_normal_fan_in'), found %s",
                       describe(p, t));
        in->target = tok_text(p, t);
        in->rule_at = peek(p)->at;
        in->rule = expect_ident(p, "an init rule (as in 'init conv.weight kaiming_normal_fan_in')");
        if (peek(p)->kind != T_EOL)
            in->arg = parse_expr(p);
        expect_eol(p, "init linear.weight normal 0.01");
    }
}

static void parse_block_header(parser *p, block_def *def, token *kw)
{
    def->at = kw->at;
    def->name = expect_ident(p, "the block's name after 'block' (as in 'block basic(cin, cout)')");
    expect(p, T_LPAREN, "'(' after the block's name (as in 'block basic(cin, cout)')");
    def->params = arena_alloc(p->a, (size_t)p->ntoks * sizeof *def->params);
    def->param_at = arena_alloc(p->a, (size_t)p->ntoks * sizeof *def->param_at);
    while (peek(p)->kind != T_RPAREN) {
        def->param_at[def->nparams] = peek(p)->at;
        const char *name = expect_ident(p, "a parameter name");
        for (int i = 0; i < def->nparams; i++)
            if (strcmp(def->params[i], name) == 0)
                diag_error(p->d, def->param_at[def->nparams], "parameter '%s' appears twice in block '%s'", name, def->name);
        def->params[def->nparams++] = name;
        if (peek(p)->kind != T_COMMA)
            break;
        next(p);
    }
    expect(p, T_RPAREN, "')' after the block's parameters (as in 'block basic(cin, cout)')");
    expect_eol(p, "block basic(cin, cout)");
}

program *parse_program(arena *a, diag *d, const char *file, const char *text, long len)
{
    parser p = {.a = a, .d = d, .file = file};
    program *prog = arena_alloc(a, sizeof *prog);
    prog->file = file;
    if (len > MC_MAX_FILE_BYTES)
        diag_error(d, (mc_loc){file, 0, 0}, "file is %ld bytes; expected at most %d", len, MC_MAX_FILE_BYTES);

    int nlines = 1;
    for (long i = 0; i < len; i++)
        nlines += text[i] == '\n';
    prog->inits = arena_alloc(a, (size_t)nlines * sizeof *prog->inits);
    prog->blocks = arena_alloc(a, (size_t)nlines * sizeof *prog->blocks);

    enum { MAX_OPEN = 64 };
    open_block open[MAX_OPEN];
    int nopen = 0;
    open[nopen++] = (open_block){.list = &prog->body};

    char *line = arena_alloc(a, MC_MAX_LINE + 1);
    long pos = 0;
    for (int lineno = 1; pos < len; lineno++) {
        long end = pos;
        while (end < len && text[end] != '\n')
            end++;
        if (end - pos > MC_MAX_LINE)
            diag_error(d, loc_at(&p, lineno, MC_MAX_LINE + 1), "line is %ld characters long; expected at most %d",
                       end - pos, MC_MAX_LINE);
        /* NUL and other control bytes are never text: report them before
         * a comment could hide them. */
        for (long i = pos; i < end; i++) {
            unsigned char c = (unsigned char)text[i];
            if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
                diag_error(d, loc_at(&p, lineno, (int)(i - pos) + 1),
                           "unexpected control byte 0x%02x; expected a text file", c);
        }
        memcpy(line, text + pos, (size_t)(end - pos));
        line[end - pos] = '\0';
        pos = end + 1;

        lex_line(&p, line, lineno);
        token *kw = peek(&p);
        if (kw->kind == T_EOL)
            continue;
        open_block *top = &open[nopen - 1];
        if (tok_is(kw, "end")) {
            next(&p);
            expect_eol(&p, "end");
            if (nopen == 1)
                diag_error(d, kw->at, "'end' without an open 'block', 'for' or 'if'");
            nopen--;
            continue;
        }
        if (tok_is(kw, "else")) {
            next(&p);
            expect_eol(&p, "else");
            if (!top->owner || top->owner->kind != S_IF || top->in_else)
                diag_error(d, kw->at, "'else' without an open 'if'");
            top->in_else = true;
            top->list = &top->owner->orelse;
            continue;
        }
        bool header = tok_is(kw, "model") || tok_is(kw, "input") || tok_is(kw, "classes") ||
                      tok_is(kw, "conv_type") || tok_is(kw, "init");
        if (header || tok_is(kw, "block")) {
            if (nopen > 1)
                diag_error(d, kw->at, "'%.*s' inside a block; expected it at the top level of the file",
                           kw->len, kw->text);
            next(&p);
            if (header) {
                parse_header(&p, prog, kw);
            } else {
                block_def *def = &prog->blocks[prog->nblocks++];
                parse_block_header(&p, def, kw);
                open[nopen++] = (open_block){.list = &def->body, .def = def};
            }
            continue;
        }
        if (nopen == MAX_OPEN)
            diag_error(d, kw->at, "'block', 'for' and 'if' nested more than %d deep", MAX_OPEN - 1);
        stmt *s;
        if (tok_is(kw, "for")) {
            next(&p);
            s = new_stmt(&p, S_FOR, kw->at);
            s->var = expect_ident(&p, "a loop variable after 'for' (as in 'for b in 1..n-1')");
            if (!tok_is(next(&p), "in"))
                diag_error(d, p.toks[p.pos - 1].at, "expected 'in' after the loop variable (as in 'for b in 1..n-1')");
            s->value = parse_expr(&p);
            expect(&p, T_DOTDOT, "'..' between the first and last value (as in 'for b in 1..n-1')");
            s->hi = parse_expr(&p);
            expect_eol(&p, "for b in 1..n-1");
            list_push(&p, top->list, s);
            open[nopen++] = (open_block){.list = &s->body, .owner = s};
        } else if (tok_is(kw, "if")) {
            next(&p);
            s = new_stmt(&p, S_IF, kw->at);
            s->cond = parse_expr(&p);
            expect_eol(&p, "if cin != cout");
            list_push(&p, top->list, s);
            open[nopen++] = (open_block){.list = &s->body, .owner = s};
        } else if (tok_is(kw, "let")) {
            next(&p);
            s = new_stmt(&p, S_LET, kw->at);
            s->var = expect_ident(&p, "a variable name after 'let' (as in 'let hidden = cin * t')");
            expect(&p, T_ASSIGN, "'=' (as in 'let hidden = cin * t')");
            s->value = parse_expr(&p);
            expect_eol(&p, "let hidden = cin * t");
            list_push(&p, top->list, s);
        } else {
            s = parse_layer(&p);
            list_push(&p, top->list, s);
        }
    }
    if (nopen > 1) {
        open_block *top = &open[nopen - 1];
        mc_loc at = top->def ? top->def->at : top->owner->at;
        const char *what = top->def ? "block" : top->owner->kind == S_FOR ? "for" : "if";
        diag_error(d, at, "'%s' is never closed; expected 'end' before the end of the file", what);
    }
    return prog;
}
