/* One test per error message of the parser and the graph stage, through the
 * command line: the message and its location on one line of stderr, exit
 * status 1, nothing on stdout and no file written. */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A valid model's first lines; the cases append to it (layers from line 4). */
#define HEAD "model t\ninput 3x8x8\nclasses 4\n"
#define TAIL "pool: avgpool\nfc: linear classes\n"

/* Runs `mcgen summary bad.mcn EXTRA` on the given bytes and checks that it
 * fails with exactly one line starting with `where` and containing `what`. */
static void expect_error_bytes(const char *text, long len, const char *extra, const char *where, const char *what)
{
    char *dir = make_temp_dir();
    char path[4200], args[512];
    snprintf(path, sizeof path, "%s/bad.mcn", dir);
    write_text(path, text, len);
    snprintf(args, sizeof args, "summary bad.mcn %s", extra);
    cli_result r = run_mcgen(dir, args);
    cr_expect_eq(r.status, 1, "exit status %d; stderr: %s", r.status, r.err);
    cr_expect_str_empty(r.out, "something was written to stdout: %s", r.out);
    cr_expect_eq(count_files(dir), 1, "files were written beside bad.mcn");
    cr_assert(r.err);
    char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "expected one line on stderr, got: %s", r.err);
    cr_expect(strncmp(r.err, where, strlen(where)) == 0, "expected the error at '%s', got: %s", where, r.err);
    cr_expect(strstr(r.err, what), "expected '%s' in: %s", what, r.err);
    free_result(r);
    remove_temp_dir(dir);
}

static void expect_error(const char *text, const char *where, const char *what)
{
    expect_error_bytes(text, (long)strlen(text), "", where, what);
}

/* ---- the parser ----------------------------------------------------------- */

Test(errors, unknown_layer)
{
    expect_error(HEAD "c: convv 4 k=3\n" TAIL, "bad.mcn:4:4: error: ",
                 "unknown layer 'convv'; expected an op (conv, batchnorm, relu, ...: see 'mcgen ops')");
}

Test(errors, unknown_key)
{
    expect_error(HEAD "c: conv 4 k=3 strid=2\n" TAIL, "bad.mcn:4:15: error: ",
                 "unknown key 'strid' for conv; expected one of: out, k, stride, pad, groups, bias");
}

Test(errors, bad_value)
{
    expect_error(HEAD "c: conv 4 k=3 bias=7\n" TAIL, "bad.mcn:4:20: error: ",
                 "bad value 7 for 'bias' of conv; expected true or false");
}

Test(errors, bad_kernel_list)
{
    expect_error(HEAD "c: multiception 4 kernels=3\n" TAIL, "bad.mcn:4:27: error: ",
                 "bad value 3 for 'kernels' of multiception; expected a list of 1 to 8 kernel sizes, as in [3,5,7]");
}

Test(errors, missing_key)
{
    expect_error(HEAD "c: conv k=3\n" TAIL, "bad.mcn:4:4: error: ",
                 "missing 'out' for conv (output channels); expected it as in 'conv1: conv 16 k=3'");
}

Test(errors, unknown_input)
{
    expect_error(HEAD "c: conv 4 k=3\ns: add from c nope\n" TAIL, "bad.mcn:5:15: error: ",
                 "unknown input 'nope'; expected 'in' or a layer named in this file");
}

Test(errors, unknown_input_in_block)
{
    expect_error(HEAD "block b(c)\n  x: conv c k=3 from y\nend\nl: b 4\n" TAIL, "bad.mcn:5:22: error: ",
                 "unknown input 'y'; expected 'in' or a layer named in this block (in 'l', block 'b')");
}

Test(errors, duplicate_name)
{
    expect_error(HEAD "c: conv 4 k=3\nc: relu\n" TAIL, "bad.mcn:5:1: error: ",
                 "duplicate name 'c'; it is first defined at line 4");
}

Test(errors, duplicate_tensor)
{
    expect_error(HEAD "c: multiception 4\nc.bn1: batchnorm\n" TAIL, "bad.mcn:5:1: error: ",
                 "duplicate tensor name 'c.bn1.weight' (also made at line 4)");
}

Test(errors, cycle)
{
    expect_error(HEAD "a: relu from b\nb: relu from a\nc: conv 4 k=3 from b\n" TAIL, "bad.mcn:4:1: error: ",
                 "cycle: a -> b -> a (each feeds the next)");
}

Test(errors, cycle_through_itself)
{
    expect_error(HEAD "a: relu from a\n" TAIL, "bad.mcn:4:1: error: ", "cycle: 'a' reads itself");
    expect_error(HEAD "block empty(c)\nend\nx: empty 1 from x\n" TAIL, "bad.mcn:6:17: error: ", "cycle: 'x' reads itself");
}

Test(errors, shape_mismatch)
{
    expect_error(HEAD "a: conv 4 k=3\nb: conv 8 k=3 stride=2 from in\ns: add from a b\n" TAIL, "bad.mcn:6:1: error: ",
                 "add 's': input shapes differ: 'a' is 4x8x8 but 'b' is 8x4x4");
}

Test(errors, shape_mismatch_in_block)
{
    expect_error(HEAD "block blk(c)\n  a: conv c k=3\n  s: add from a in\nend\nl: blk 5\n" TAIL,
                 "bad.mcn:6:3: error: ",
                 "add 'l.s': input shapes differ: 'l.a' is 5x8x8 but 'input' is 3x8x8 (in 'l', block 'blk')");
}

Test(errors, even_kernel)
{
    /* a depthwise pads by k/2: even sizes are refused there (a dense
     * conv takes any size with its own padding) */
    expect_error(HEAD "c: depthwise k=4\n" TAIL, "bad.mcn:4:1: error: ",
                 "kernel size 4 is even; expected an odd size");
}

Test(errors, even_kernel_in_list)
{
    expect_error(HEAD "c: multiception 4 kernels=[3,6]\n" TAIL, "bad.mcn:4:1: error: ",
                 "kernel size 6 is even; expected an odd size");
}

Test(errors, kernel_larger_than_padded_input)
{
    expect_error(HEAD "c: conv 4 k=9 pad=0\n" TAIL, "bad.mcn:4:1: error: ",
                 "kernel 9x9 is larger than the padded input 8x8 (input 8x8, pad 0)");
}

Test(errors, stride_zero)
{
    expect_error(HEAD "c: conv 4 k=3 stride=0\n" TAIL, "bad.mcn:4:22: error: ",
                 "bad value 0 for 'stride' of conv; expected an integer from 1 to 64");
}

Test(errors, empty_file)
{
    expect_error("", "bad.mcn: error: ", "the file is empty; expected a model description starting with 'model NAME'");
    expect_error("  \n\n", "bad.mcn: error: ", "the file is empty");
}

Test(errors, binary_garbage)
{
    static const char elf[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00";
    expect_error_bytes(elf, sizeof elf - 1, "", "bad.mcn:1:1: error: ",
                       "unexpected control byte 0x7f; expected a text file");
    expect_error(HEAD "c: conv 4 k=3 \xc3\xa9\n" TAIL, "bad.mcn:4:15: error: ",
                 "unexpected byte 0xc3; expected text (non-ASCII is allowed only in comments)");
}

Test(errors, overlong_line)
{
    char text[8192];
    int n = snprintf(text, sizeof text, "%s# ", HEAD);
    memset(text + n, 'a', 5000);
    text[n + 5000] = '\n';
    expect_error_bytes(text, n + 5001, "", "bad.mcn:4:4097: error: ",
                       "line is 5002 characters long; expected at most 4096");
}

Test(errors, runaway_recursion)
{
    expect_error(HEAD "block r(n)\n  x: r n+1\nend\ntop: r 1\n" TAIL, "bad.mcn:5:6: error: ",
                 "blocks nested more than 32 deep; expected a block that does not use itself");
}

Test(errors, runaway_repetition)
{
    expect_error(HEAD "for i in 1..100000000\n  relu\nend\n" TAIL, "bad.mcn:4:1: error: ",
                 "'for' over 100000000 values; expected at most 1048576");
    expect_error(HEAD "for i in 1..2000\n  for j in 1..2000\n    let x = i\n  end\nend\n" TAIL, "bad.mcn:",
                 "expansion ran more than 1048576 statements");
}

Test(errors, too_many_layers)
{
    expect_error(HEAD "for i in 1..70000\n  relu\nend\n" TAIL, "bad.mcn:5:3: error: ",
                 "the model has more than 65536 layers");
}

/* ---- the rest of the front end's messages ------------------------------- */

Test(errors, header)
{
    expect_error("input 3x8x8\nclasses 4\n" TAIL, "bad.mcn: error: ", "no 'model' line");
    expect_error("model t\nclasses 4\n" TAIL, "bad.mcn:1:1: error: ", "no 'input' line");
    expect_error("model t\ninput 3x8x8\n" TAIL, "bad.mcn:1:1: error: ", "no 'classes' line");
    expect_error("model t\ninput 3x8\nclasses 4\n" TAIL, "bad.mcn:2:7: error: ",
                 "bad input shape '3x8'; expected CxHxW");
    expect_error("model t\ninput 3x8x8\nclasses 0\n" TAIL, "bad.mcn:3:9: error: ", "bad class count 0");
    expect_error(HEAD "conv_type fancy\n" TAIL, "bad.mcn:4:11: error: ", "unknown conv type 'fancy'");
    expect_error(HEAD "model u\n" TAIL, "bad.mcn:4:1: error: ", "second 'model' line; the first is at line 1");
}

Test(errors, init_rules)
{
    expect_error(HEAD "init conv.wieght zeros\n" TAIL, "bad.mcn:4:1: error: ", "unknown init target 'conv.wieght'");
    expect_error(HEAD "init conv.weight gaussian\n" TAIL, "bad.mcn:4:18: error: ", "unknown init rule 'gaussian'");
    expect_error(HEAD "init linear.weight normal\n" TAIL, "bad.mcn:4:20: error: ",
                 "'normal' needs its standard deviation");
    expect_error(HEAD "init linear.weight zeros 3\n" TAIL, "bad.mcn:4:26: error: ", "init rule 'zeros' takes no value");
}

Test(errors, structure)
{
    expect_error(HEAD "block b(c)\n  relu\n" TAIL, "bad.mcn:4:1: error: ",
                 "'block' is never closed; expected 'end' before the end of the file");
    expect_error(HEAD "end\n" TAIL, "bad.mcn:4:1: error: ", "'end' without an open 'block', 'for' or 'if'");
    expect_error(HEAD "else\n" TAIL, "bad.mcn:4:1: error: ", "'else' without an open 'if'");
    expect_error(HEAD "if true\n  model u\nend\n" TAIL, "bad.mcn:5:3: error: ",
                 "'model' inside a block; expected it at the top level");
    expect_error(HEAD "for 3 in 1..2\nend\n" TAIL, "bad.mcn:4:5: error: ", "expected a loop variable");
    expect_error(HEAD "c: conv 4 k=3 )\n" TAIL, "bad.mcn:4:15: error: ", "expected a value");
    expect_error(HEAD "block conv(c)\nend\n" TAIL, "bad.mcn:4:1: error: ", "block 'conv' has the name of an op");
}

Test(errors, names)
{
    expect_error(HEAD "conv 4 k=3\n" TAIL, "bad.mcn:4:1: error: ",
                 "a conv needs a name: its tensors are named after it (as in 'conv1: conv 16 k=3')");
    expect_error(HEAD "x.: relu\n" TAIL, "bad.mcn:4:1: error: ", "bad name 'x.'; expected letters, digits, '_'");
    expect_error(HEAD "x{q}: relu\n" TAIL, "bad.mcn:4:3: error: ", "unknown name 'q' in '{...}'");
    expect_error(HEAD "in: relu\n" TAIL, "bad.mcn:4:1: error: ", "'in' names the block's input");
}

Test(errors, values)
{
    expect_error(HEAD "c: conv 4+true k=3\n" TAIL, "bad.mcn:4:11: error: ", "expected a number after '+', got a boolean");
    expect_error(HEAD "c: conv 4/0 k=3\n" TAIL, "bad.mcn:4:10: error: ", "division by zero");
    expect_error(HEAD "c: conv 4000000000*4000000000 k=3\n" TAIL, "bad.mcn:4:19: error: ", "integer overflow");
    expect_error(HEAD "c: conv width k=3\n" TAIL, "bad.mcn:4:9: error: ",
                 "bad value width for 'out' of conv; expected an integer from 1 to 65536");
    expect_error(HEAD "c: conv 4 k=3 k=5\n" TAIL, "bad.mcn:4:15: error: ", "'k' given twice for conv");
    expect_error(HEAD "c: convbn 4 type=fancy\n" TAIL, "bad.mcn:4:18: error: ",
                 "bad value fancy for 'type' of convbn; expected standard, dsconv, multiception or mixconv");
    expect_error(HEAD "d: depthwise\n" TAIL, "bad.mcn:4:4: error: ", "depthwise needs exactly one of 'k' and 'kernels'");
    expect_error(HEAD "d: depthwise kernels=[3,5] bias=true\n" TAIL, "bad.mcn:4:1: error: ",
                 "depthwise 'd' has 2 kernels and a bias; expected bias=true only with one kernel (k=3 bias=true)");
}

Test(errors, blocks)
{
    expect_error(HEAD "block b(c, s)\n  x: conv c k=3 stride=s\nend\nl: b 4\n" TAIL, "bad.mcn:7:4: error: ",
                 "missing argument 's' for block 'b' (defined at line 4)");
    expect_error(HEAD "block b(c)\n  x: conv c k=3\nend\nl: b 4 5\n" TAIL, "bad.mcn:7:8: error: ",
                 "too many arguments for block 'b'; expected 1");
    expect_error(HEAD "block b(c)\n  x: conv c k=3\nend\nb 4\n" TAIL, "bad.mcn:7:1: error: ", "block 'b' needs a name");
    expect_error(HEAD "block b(c)\nend\nblock b(c)\nend\n" TAIL, "bad.mcn:6:1: error: ",
                 "duplicate block 'b'; it is first defined at line 4");
}

Test(errors, graph)
{
    expect_error(HEAD "c: conv 4 k=3\n", "bad.mcn:4:1: error: ",
                 "the model's output 'c' is 4x8x8; expected 4x1x1 (one score per class");
    expect_error(HEAD "c: conv 4 k=3\nd: conv 4 k=3 from in\n" TAIL, "bad.mcn:4:1: error: ",
                 "'c' is never used: its output does not reach the model's output; remove it or mark it unused=true");
    expect_error(HEAD "c: conv 4 k=3 unused=true\n" TAIL, "bad.mcn:4:1: error: ",
                 "'c' is marked unused=true but 'pool' reads it");
    expect_error(HEAD "c: conv 4 k=3 groups=3\n" TAIL, "bad.mcn:4:1: error: ",
                 "groups=3 must divide both the input channels (3) and out (4)");
    expect_error(HEAD "s: scale from in in\n" TAIL, "bad.mcn:4:1: error: ", "scale 's': the scales 'input' are 3x8x8");
    expect_error(HEAD "s: add from in\n" TAIL, "bad.mcn:4:4: error: ", "add reads at least 2 inputs, got 1");
    expect_error(HEAD "m: mixconv 2\n" TAIL, "bad.mcn:4:1: error: ", "expected at least 3 input and output channels");
    expect_error(HEAD, "bad.mcn: error: ", "the model has no layers");
    char text[4096];
    int len = snprintf(text, sizeof text, "%sa: conv 4 k=1\ns: add from", HEAD);
    for (int i = 0; i < 65; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, " a");
    snprintf(text + len, sizeof text - (size_t)len, "\n%s", TAIL);
    expect_error(text, "bad.mcn:5:", "add reads 65 inputs; expected at most 64");
}

Test(errors, command_line)
{
    expect_error_bytes(HEAD TAIL, (long)strlen(HEAD TAIL), "--conv fancy", "bad.mcn: error: ",
                       "unknown conv type 'fancy' (from --conv)");
    char *dir = make_temp_dir();
    cli_result r = run_mcgen(dir, "summary missing.mcn");
    cr_expect_eq(r.status, 1);
    cr_expect_str_empty(r.out);
    cr_expect(strstr(r.err, "missing.mcn: error: cannot open: No such file or directory"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "summary x.mcn --classes 0");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "bad --classes '0'; expected an integer from 1 to 1000000"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "summary x.mcn --input 3x32");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "bad --input '3x32'; expected CxHxW"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "frobnicate");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "emit x.mcn --cpu sse9 -o out");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "bad --cpu 'sse9'; expected native, avx512, avx2, neon or portable"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "summary x.mcn --cpu avx2");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "option '--cpu' does not apply here"), "%s", r.err);
    free_result(r);
    r = run_mcgen(dir, "targets --flags sse9");
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "bad --flags 'sse9'"), "%s", r.err);
    free_result(r);
    remove_temp_dir(dir);
}

/* -o is checked before any work: the model is not even read (it does not
 * exist here), so a bad -o is the one error, in a few milliseconds instead
 * of after libclang and the compiler (a resnet20 build is 10-30 s). */
Test(errors, output_checked_first)
{
    char *dir = make_temp_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/afile", dir);
    write_text(path, "x", 1);
    snprintf(path, sizeof path, "%s/adir", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"emit missing.mcn -o afile", "afile: error: not a folder"},
        {"emit missing.mcn -o nodir/out", "nodir/out: error: its folder nodir does not exist"},
        {"emit missing.mcn -o afile/out", "afile/out: error: its folder afile is not a folder"},
        {"build missing.mcn -o adir", "adir: error: is a folder (expected -o to name the executable)"},
        {"build missing.mcn -o nodir/exe", "nodir/exe: error: its folder nodir does not exist"},
        {"build missing.mcn -o adir/", "adir/: error: is a folder"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_result r = run_mcgen(dir, cases[i].args);
        cr_expect_eq(r.status, 1, "%s", cases[i].args);
        cr_expect(strstr(r.err, cases[i].want), "%s: %s", cases[i].args, r.err);
        cr_expect_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "not one line: %s", r.err);
        free_result(r);
    }
    /* A good -o lets the real error through. */
    cli_result r = run_mcgen(dir, "emit missing.mcn -o adir");
    cr_expect(strstr(r.err, "missing.mcn: error: cannot open"), "%s", r.err);
    free_result(r);
    remove_temp_dir(dir);
}

/* The CPU targets: the table names each with its flags, marks the native
 * one, and --flags gives a target's flags alone. */
Test(errors, targets)
{
    char *dir = make_temp_dir();
    cli_result r = run_mcgen(dir, "targets");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "avx512       16        32  -march=x86-64-v4"), "%s", r.out);
    cr_expect(strstr(r.out, "avx2          8        16  -march=x86-64-v3"), "%s", r.out);
    cr_expect(strstr(r.out, "neon") && strstr(r.out, "portable") && strstr(r.out, "; native here"), "%s", r.out);
    free_result(r);
    r = run_mcgen(dir, "targets --flags avx2");
    cr_expect_eq(r.status, 0);
    cr_expect_str_eq(r.out, "-march=x86-64-v3\n");
    free_result(r);
    r = run_mcgen(dir, "targets --flags native");
    cr_expect_str_eq(r.out, "-march=native\n");
    free_result(r);
    remove_temp_dir(dir);
}
