/* Every string of the reversal task through a decoder, int8 and float: sweep.py builds and runs it.

   The int8 steps are those of tools/tinylm/int8_ops.py and int8_model.py (the board's, bit
   for bit: host_tests/language_model/test_sweep.py compares the logits of this program with
   the numpy int8 model's); the float steps those of float_model.py in single precision, its norm
   gains folded into the projections after them.

   sweep MODEL n first last   all strings of n letters whose first letter is first..last-1,
                              by depth-first search over their prefixes (a prefix's rows are
                              computed once), each answered by teacher forcing: a string is
                              right when the argmax after the prompt and after each answer
                              token is the next answer token, exactly when greedy generation
                              answers it right. Prints "count N int8_wrong A float_wrong B"
                              and one "int8 s" / "float s" line per wrong string (letters as
                              ids, joined by ',').
   sweep MODEL strings        strings from stdin (one per line, letter ids joined by ','),
                              each answered as above (no prefix shared): the same lines.
   sweep MODEL logits         token id sequences from stdin (one per line, ids joined by ','),
                              the int8 logits of every position to stdout, one line each.

   MODEL is what sweep.py writes: int32 header V D H L F T num down logit_shift shift letters
   sep end, the activation table (256), then per tensor int32 data (and per scaled row m, s),
   then the float weights (double). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model's sizes are compile-time constants (sweep.py passes them with -D), so the
   compiler unrolls and vectorises every loop for them. */
#ifndef DIM
#define DIM 32
#define HEADS 2
#define HIDDEN 64
#define LAYERS 2
#define VOCAB 12
#define CONTEXT 18
#endif
#define MAXT CONTEXT
#define MAXD DIM
#define MAXF (HIDDEN > DIM ? HIDDEN : DIM)
#define MAXV VOCAB
#define MAXL LAYERS
#define V VOCAB
#define D DIM
#define H HEADS
#define L LAYERS
#define F HIDDEN
#define T CONTEXT

typedef int64_t i64;

static int NUM, DOWN, LSHIFT, SSHIFT, NLET, SEP, END;
static i64 table[256];
static i64 exp2t[65];

typedef struct { int rows, cols; int16_t *w; i64 *m, *s; float *f; } proj;
static int32_t *tok8, *pos8;
static float *tokf, *posf;
static proj P[MAXL][6], HEAD;

/* caches: int8 keys and values, float keys and values, per layer and position */
static int16_t K8[MAXL][MAXT][MAXD], V8[MAXL][MAXT][MAXD];
static float KF[MAXL][MAXT][MAXD], VF[MAXL][MAXT][MAXD];

static FILE *in;
static void *take(size_t n) { void *p = malloc(n ? n : 1); if (!p) { perror("malloc"); exit(2); } return p; }
static void rd(void *p, size_t size, size_t n) {
  if (fread(p, size, n, in) != n) { fprintf(stderr, "model: truncated\n"); exit(2); }
}
static int32_t *rd32(size_t n) { int32_t *p = take(4 * n); rd(p, 4, n); return p; }
static float *rdf(size_t n) {
  double *d = take(8 * n);
  float *p = take(4 * n);
  rd(d, 8, n);
  for (size_t i = 0; i < n; i++) p[i] = (float)d[i];
  free(d);
  return p;
}
static int16_t *rd16(size_t n) {
  int32_t *d = rd32(n);
  int16_t *p = take(2 * n);
  for (size_t i = 0; i < n; i++) p[i] = (int16_t)d[i];
  free(d);
  return p;
}

static void rdproj(proj *p, int rows, int cols) {
  p->rows = rows; p->cols = cols;
  p->w = rd16((size_t)rows * cols);
  int32_t *ms = rd32(2 * (size_t)rows);
  p->m = take(8 * rows); p->s = take(8 * rows);
  for (int r = 0; r < rows; r++) { p->m[r] = ms[2 * r]; p->s[r] = ms[2 * r + 1]; }
  free(ms);
}

static void load(const char *path) {
  in = fopen(path, "rb");
  if (!in) { perror(path); exit(2); }
  int32_t h[13];
  rd(h, 4, 13);
  NUM = h[6]; DOWN = h[7]; LSHIFT = h[8]; SSHIFT = h[9]; NLET = h[10]; SEP = h[11]; END = h[12];
  if (h[0] != V || h[1] != D || h[2] != H || h[3] != L || h[4] != F || h[5] != T) {
    fprintf(stderr, "model: not the sizes this program was compiled for\n");
    exit(2);
  }
  int32_t t[256];
  rd(t, 4, 256);
  for (int i = 0; i < 256; i++) table[i] = t[i];
  tok8 = rd32((size_t)V * D);
  pos8 = rd32((size_t)T * D);
  for (int i = 0; i < L; i++)
    for (int j = 0; j < 6; j++)
      rdproj(&P[i][j], j == 4 ? F : D, j == 5 ? F : D);
  rdproj(&HEAD, V, D);
  tokf = rdf((size_t)V * D);
  posf = rdf((size_t)T * D);
  for (int i = 0; i < L; i++)
    for (int j = 0; j < 6; j++)
      P[i][j].f = rdf((size_t)P[i][j].rows * P[i][j].cols);
  HEAD.f = rdf((size_t)V * D);
  fclose(in);
  for (int k = 0; k <= 64; k++) exp2t[k] = llround(65536.0 * pow(2.0, -k / 64.0));
}

static inline i64 sat8(i64 v) { return v > 127 ? 127 : v < -128 ? -128 : v; }

static i64 isqrt64(i64 v) {
  i64 r = (i64)sqrt((double)v);
  while (r * r > v) r--;
  while ((r + 1) * (r + 1) <= v) r++;
  return r;
}

static void norm8(const int16_t *x, int16_t *y) {
  i64 ss = 0;
  for (int j = 0; j < D; j++) ss += x[j] * x[j];
  if (!ss) { for (int j = 0; j < D; j++) y[j] = 0; return; }
  int e = 0;
  while (ss < ((i64)1 << 28)) { ss <<= 2; e++; }
  i64 inv = NUM / isqrt64(ss);
  int t = DOWN - e;
  for (int j = 0; j < D; j++) y[j] = (int16_t)sat8((x[j] * inv + ((i64)1 << (t - 1))) >> t);
}

/* y = requant(W x), unsaturated */
static void project8(const proj *p, const int16_t *x, i64 *y) {
  for (int r = 0; r < p->rows; r++) {
    const int16_t *w = p->w + (size_t)r * p->cols;
    int32_t acc = 0;  /* exact: |sum| <= 2**14 * cols */
    for (int c = 0; c < p->cols; c++) acc += (int32_t)w[c] * x[c];
    y[r] = ((i64)acc * p->m[r] + ((i64)1 << (p->s[r] - 1))) >> p->s[r];
  }
}

/* one query row at position pos over cache rows 0..pos of layer i, all heads, into a (int8) */
static void attend8(int i, const int16_t *q, int pos, int16_t *a) {
  int hd = D / H;
  i64 sc[MAXT], e[MAXT];
  for (int h = 0; h < H; h++) {
    int c0 = h * hd;
    i64 top = INT64_MIN;
    for (int r = 0; r <= pos; r++) {
      int32_t s = 0;
      for (int j = 0; j < hd; j++) s += (int32_t)q[c0 + j] * K8[i][r][c0 + j];
      sc[r] = (i64)s >> SSHIFT;
      if (sc[r] > top) top = sc[r];
    }
    i64 limit = (i64)17 << LSHIFT, total = 0;
    for (int r = 0; r <= pos; r++) {
      e[r] = 0;
      if (sc[r] >= top - limit) {
        i64 z = ((top - sc[r]) * 23637) >> LSHIFT;
        i64 frac = z & 0x3FFF, k = frac >> 8, av = exp2t[k];
        e[r] = (av - (((av - exp2t[k + 1]) * (frac & 0xFF)) >> 8)) >> (z >> 14);
      }
      total += e[r];
    }
    for (int r = 0; r <= pos; r++) e[r] = ((e[r] << 8) + (total >> 1)) / total;
    for (int j = 0; j < hd; j++) {
      i64 s = 0;
      for (int r = 0; r <= pos; r++) s += e[r] * V8[i][r][c0 + j];
      a[c0 + j] = (int16_t)sat8(s >> 8);
    }
  }
}

/* the int8 row of token tok at position pos: caches filled; logits when wanted (else the
   last layer stops after its keys and values) */
static void row8(int tok, int pos, i64 *logits) {
  int16_t x[MAXD], n[MAXD], q[MAXD], a[MAXD], f[MAXF];
  i64 y[MAXF];
  for (int j = 0; j < D; j++) x[j] = (int16_t)sat8(tok8[tok * D + j] + pos8[pos * D + j]);
  for (int i = 0; i < L; i++) {
    norm8(x, n);
    project8(&P[i][1], n, y);
    for (int j = 0; j < D; j++) K8[i][pos][j] = (int16_t)sat8(y[j]);
    project8(&P[i][2], n, y);
    for (int j = 0; j < D; j++) V8[i][pos][j] = (int16_t)sat8(y[j]);
    if (i == L - 1 && !logits) return;
    project8(&P[i][0], n, y);
    for (int j = 0; j < D; j++) q[j] = (int16_t)sat8(y[j]);
    attend8(i, q, pos, a);
    project8(&P[i][3], a, y);
    for (int j = 0; j < D; j++) x[j] = (int16_t)sat8(x[j] + sat8(y[j]));
    norm8(x, n);
    project8(&P[i][4], n, y);
    for (int j = 0; j < F; j++) f[j] = (int16_t)table[sat8(y[j]) & 255];
    project8(&P[i][5], f, y);
    for (int j = 0; j < D; j++) x[j] = (int16_t)sat8(x[j] + sat8(y[j]));
  }
  norm8(x, n);
  project8(&HEAD, n, logits);
}

static void normf(const float *x, float *y) {
  double ss = 0;
  for (int j = 0; j < D; j++) ss += x[j] * x[j];
  float k = (float)(1.0 / sqrt(ss / D + 1e-6));
  for (int j = 0; j < D; j++) y[j] = x[j] * k;
}

static void projectf(const proj *p, const float *x, float *y) {
  for (int r = 0; r < p->rows; r++) {
    const float *w = p->f + (size_t)r * p->cols;
    float acc = 0;
    for (int c = 0; c < p->cols; c++) acc += w[c] * x[c];
    y[r] = acc;
  }
}

static void rowf(int tok, int pos, float *logits) {
  float x[MAXD], n[MAXD], q[MAXD], a[MAXD], y[MAXF];
  double sc[MAXT];
  int hd = D / H;
  for (int j = 0; j < D; j++) x[j] = tokf[tok * D + j] + posf[pos * D + j];
  for (int i = 0; i < L; i++) {
    normf(x, n);
    projectf(&P[i][1], n, KF[i][pos]);
    projectf(&P[i][2], n, VF[i][pos]);
    if (i == L - 1 && !logits) return;
    projectf(&P[i][0], n, q);
    for (int h = 0; h < H; h++) {
      int c0 = h * hd;
      double top = -INFINITY, total = 0;
      for (int r = 0; r <= pos; r++) {
        double s = 0;
        for (int j = 0; j < hd; j++) s += q[c0 + j] * KF[i][r][c0 + j];
        sc[r] = s / sqrt((double)hd);
        if (sc[r] > top) top = sc[r];
      }
      for (int r = 0; r <= pos; r++) { sc[r] = exp(sc[r] - top); total += sc[r]; }
      for (int j = 0; j < hd; j++) {
        double s = 0;
        for (int r = 0; r <= pos; r++) s += sc[r] * VF[i][r][c0 + j];
        a[c0 + j] = (float)(s / total);
      }
    }
    projectf(&P[i][3], a, y);
    for (int j = 0; j < D; j++) x[j] += y[j];
    normf(x, n);
    projectf(&P[i][4], n, y);
    for (int j = 0; j < F; j++) y[j] = y[j] > 0 ? y[j] : 0;
    float g[MAXD];
    projectf(&P[i][5], y, g);
    for (int j = 0; j < D; j++) x[j] += g[j];
  }
  normf(x, n);
  projectf(&HEAD, n, logits);
}

static int argmax8(const i64 *v) { int b = 0; for (int i = 1; i < V; i++) if (v[i] > v[b]) b = i; return b; }
static int argmaxf(const float *v) { int b = 0; for (int i = 1; i < V; i++) if (v[i] > v[b]) b = i; return b; }

static long count, wrong8, wrongf;
static int letters[MAXT];

static void print_string(const char *what, int n) {
  printf("%s ", what);
  for (int j = 0; j < n; j++) printf(j ? ",%d" : "%d", letters[j]);
  printf("\n");
}

static void finish(int n) {
  i64 l8[MAXV];
  float lf[MAXV];
  int ok8 = 1, okf = 1;
  for (int j = 0; j <= n && (ok8 || okf); j++) {
    int tok = j == 0 ? SEP : letters[n - j];
    int want = j == n ? END : letters[n - 1 - j];
    if (ok8) { row8(tok, n + j, l8); ok8 = argmax8(l8) == want; }
    if (okf) { rowf(tok, n + j, lf); okf = argmaxf(lf) == want; }
  }
  count++;
  if (!ok8) { wrong8++; print_string("int8", n); }
  if (!okf) { wrongf++; print_string("float", n); }
}

static void dfs(int depth, int n, int first, int last) {
  if (depth == n) { finish(n); return; }
  int lo = depth ? 0 : first, hi = depth ? NLET : last;
  for (int c = lo; c < hi; c++) {
    letters[depth] = c;
    row8(c, depth, NULL);
    rowf(c, depth, NULL);
    dfs(depth + 1, n, first, last);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: sweep MODEL n first last | sweep MODEL logits\n"); return 2; }
  load(argv[1]);
  if (!strcmp(argv[2], "logits")) {
    char line[4096];
    i64 lg[MAXV];
    while (fgets(line, sizeof line, stdin)) {
      int pos = 0;
      for (char *p = strtok(line, ",\n"); p; p = strtok(NULL, ",\n")) {
        row8(atoi(p), pos++, lg);
        for (int v = 0; v < V; v++) printf(v ? " %lld" : "%lld", (long long)lg[v]);
        printf("\n");
      }
    }
    return 0;
  }
  if (!strcmp(argv[2], "strings")) {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
      int n = 0;
      for (char *p = strtok(line, ",\n"); p; p = strtok(NULL, ",\n")) letters[n++] = atoi(p);
      if (n < 1 || 2 * n + 1 > T) { fprintf(stderr, "a string of 1..%d letters\n", (T - 1) / 2); return 2; }
      for (int k = 0; k < n; k++) { row8(letters[k], k, NULL); rowf(letters[k], k, NULL); }
      finish(n);
    }
    printf("count %ld int8_wrong %ld float_wrong %ld\n", count, wrong8, wrongf);
    return 0;
  }
  if (argc < 5) { fprintf(stderr, "usage: sweep MODEL n first last\n"); return 2; }
  int n = atoi(argv[2]);
  if (2 * n + 1 > T || n < 1) { fprintf(stderr, "n: 1..%d\n", (T - 1) / 2); return 2; }
  dfs(0, n, atoi(argv[3]), atoi(argv[4]));
  printf("count %ld int8_wrong %ld float_wrong %ld\n", count, wrong8, wrongf);
  return 0;
}
