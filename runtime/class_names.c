/* See mc_class_names.h. */
#define _POSIX_C_SOURCE 200809L
#include "mc_class_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_safetensors.h"

/* The releases' class names, in label order. */
static const char *const fashion[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const digits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
static const char *const cifar10[] = {"airplane", "automobile", "bird", "cat", "deer",
                                      "dog", "frog", "horse", "ship", "truck"};
static const char *const stl10[] = {"airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"};
static const char *const cifar100[] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

static const struct {
    const char *dataset;
    const char *const *names;
    int count;
} known[] = {
    {"fashion-mnist", fashion, 10}, {"mnist", digits, 10}, {"cifar10", cifar10, 10},
    {"stl10", stl10, 10},           {"cifar100", cifar100, 100},
};

/* Appends the UTF-8 of code point u to out. */
static char *put_utf8(char *out, unsigned u)
{
    if (u < 0x80)
        *out++ = (char)u;
    else if (u < 0x800)
        *out++ = (char)(0xc0 | u >> 6), *out++ = (char)(0x80 | (u & 0x3f));
    else
        *out++ = (char)(0xe0 | u >> 12), *out++ = (char)(0x80 | (u >> 6 & 0x3f)), *out++ = (char)(0x80 | (u & 0x3f));
    return out;
}

/* One JSON string at *p (just past its opening quote) into a new string;
 * *p ends past its closing quote. NULL when malformed. */
static char *json_string(const char **p)
{
    const char *s = *p;
    char *out = malloc(strlen(s) + 1), *o = out; /* decoding never lengthens */
    while (out && *s && *s != '"') {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        const char *plain = strchr("\"\\/bfnrt", *s);
        unsigned u;
        if (*s && plain) {
            *o++ = "\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
            s++;
        } else if (*s == 'u' && sscanf(s + 1, "%4x", &u) == 1 && strspn(s + 1, "0123456789abcdefABCDEF") >= 4) {
            o = put_utf8(o, u); /* at most 3 bytes for the 6 of \uXXXX */
            s += 5;
        } else
            break;
    }
    if (!out || *s != '"') {
        free(out);
        return NULL;
    }
    *o = '\0';
    *p = s + 1;
    return out;
}

static const char *skip_space(const char *s) { return s + strspn(s, " \t\r\n"); }

char **mc_json_strings(const char *text, int *count)
{
    const char *s = skip_space(text);
    char **list = NULL;
    int n = 0, ok = *s == '[';
    s = skip_space(s + 1);
    while (ok && *s != ']') {
        char **grown = *s == '"' ? realloc(list, (size_t)(n + 1) * sizeof *list) : NULL;
        if (!grown || (list = grown, s++, !(list[n] = json_string(&s)))) {
            ok = 0;
            break;
        }
        n++;
        s = skip_space(s);
        if (*s == ',')
            s = skip_space(s + 1), ok = *s == '"';
        else
            ok = *s == ']';
    }
    if (ok && *skip_space(s + 1) == '\0') {
        *count = n;
        return list;
    }
    while (n > 0)
        free(list[--n]);
    free(list);
    return NULL;
}

/* Newline-separated names (how train on a folder of images records them)
 * into a new array of *count strings; NULL when out of memory. */
static char **lines(const char *text, int *count)
{
    int n = 1;
    for (const char *c = text; *c; c++)
        n += *c == '\n';
    char **list = calloc((size_t)n, sizeof *list);
    for (int k = 0; list && k < n; k++) {
        const size_t len = strcspn(text, "\n");
        if (!(list[k] = strndup(text, len))) {
            while (k > 0)
                free(list[--k]);
            free(list);
            return NULL;
        }
        text += len + (text[len] != '\0');
    }
    *count = n;
    return list;
}

static int take(mc_class_names *cn, char **list, int count)
{
    if (count == cn->classes) {
        cn->names = list, cn->known = 1;
        return 1;
    }
    while (count > 0)
        free(list[--count]);
    free(list);
    return 0;
}

int mc_class_names_load(mc_class_names *cn, int classes, const char *ckpt, const char *dataset)
{
    *cn = (mc_class_names){.classes = classes};
    char err[1024];
    mc_st_file *f = ckpt ? mc_st_open(ckpt, err, sizeof err) : NULL;
    const char *json = f ? mc_st_metadata(f, "class_names") : NULL;
    int count = 0;
    const char *first = json ? json + strspn(json, " \t\r\n") : NULL;
    char **list = !json ? NULL : *first == '[' ? mc_json_strings(json, &count) : lines(json, &count);
    if (!dataset && f)
        dataset = mc_st_metadata(f, "dataset");
    if (!list || !take(cn, list, count)) {
        cn->names = calloc((size_t)classes, sizeof *cn->names);
        for (size_t d = 0; cn->names && dataset && d < sizeof known / sizeof *known; d++)
            if (!strcmp(dataset, known[d].dataset) && known[d].count == classes) {
                for (int k = 0; k < classes; k++)
                    cn->names[k] = strdup(known[d].names[k]);
                cn->known = 1;
            }
        for (int k = 0; cn->names && k < classes; k++)
            if (!cn->names[k] && (cn->names[k] = malloc(24)))
                snprintf(cn->names[k], 24, "class %d", k);
    }
    if (f)
        mc_st_close(f);
    for (int k = 0; cn->names && k < classes; k++)
        if (!cn->names[k])
            return mc_class_names_free(cn), -1;
    return cn->names ? 0 : -1;
}

const char *mc_class_name(const mc_class_names *cn, int k) { return cn->names[k]; }

void mc_class_names_free(mc_class_names *cn)
{
    for (int k = 0; cn->names && k < cn->classes; k++)
        free(cn->names[k]);
    free(cn->names);
    cn->names = NULL;
}
