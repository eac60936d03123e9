// A model in C of the linear probe's parallel pass (Sources/Training/ProbeFit.swift and
// Sources/NeuralNet/ThinDense.swift), to tell how fast this machine runs that work at all:
// 1,000,000 x 768 float32 rows from a memory-mapped .npy, 10 outputs, 2 threads, each taking
// half the rows in sub-blocks of 32: logits in tiles of 4 rows x 5 outputs (512-bit vectors),
// softmax, then the weight gradient in strips of 32 columns x 5 outputs over the sub-block.
// Without AVX-512 (16 vector registers), as Curate's 256-bit path: logit tiles of 4 rows x 3
// outputs after a first 4 x 2, and gradient strips of 16 columns.
// The rows are visited hot (256 rows, in cache), in file order, and in a shuffled order with
// no prefetching, with each sub-block prefetching the next one in bursts (as Curate does), and
// with the next sub-block's lines prefetched one at a time inside the multiply-add loops.
//   cc -O3 -march=native -pthread bench/probe_pass_model.c -o probe_pass_model -lm
//   ./probe_pass_model FILE.npy          (run by bench/probe-model.sh)
#include <fcntl.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define D 768
#define C 10
#define SB 32

#ifdef __AVX512F__
typedef __m512 vec;
#define VW 16
#define vload _mm512_load_ps
#define vloadu _mm512_loadu_ps
#define vstore _mm512_store_ps
#define vset1 _mm512_set1_ps
#define vfmadd _mm512_fmadd_ps
#else
typedef __m256 vec;
#define VW 8
#define vload _mm256_load_ps
#define vloadu _mm256_loadu_ps
#define vstore _mm256_store_ps
#define vset1 _mm256_set1_ps
#define vfmadd _mm256_fmadd_ps
#endif

static long rows;
static const float *X;
static const int *order;
static int mode, every;
static float W[C][D] __attribute__((aligned(64)));

typedef struct {
    int t;
    float sink;
    float G[C][D] __attribute__((aligned(64)));
} task_t;
static task_t tasks[2];

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *work(void *p) {
    task_t *a = p;
    long lo = a->t * (rows / 2), hi = lo + rows / 2;
    const float *cur[SB], *next[SB];
    float lg[SB][C], dy[SB][C], sink = 0;
    for (long s = lo; s + SB <= hi; s += SB) {
        for (int i = 0; i < SB; i++) {
            cur[i] = X + (size_t)order[s + i] * D;
            next[i] = s + SB + i < hi ? X + (size_t)order[s + SB + i] * D : cur[i];
        }
        int pr = 0, pl = 0, g = 0;
#define TICK() do { if (pr < SB) { _mm_prefetch((const char *)next[pr] + pl * 64, _MM_HINT_T1); if (++pl == D * 4 / 64) { pl = 0; pr++; } } } while (0)
        for (int q = 0; q < SB; q += 4) {
            if (mode == 1)
                for (int r = 0; r < 4; r++)
                    for (int l = 0; l < D * 4 / 64; l++) _mm_prefetch((const char *)next[q + r] + l * 64, _MM_HINT_T1);
#ifdef __AVX512F__
            for (int c0 = 0; c0 < C; c0 += 5) {
                __m512 acc[4][5];
                for (int r = 0; r < 4; r++) for (int c = 0; c < 5; c++) acc[r][c] = _mm512_setzero_ps();
                for (int k = 0; k < D; k += 16) {
                    if (mode == 2) TICK();
                    __m512 u0 = _mm512_loadu_ps(cur[q] + k), u1 = _mm512_loadu_ps(cur[q + 1] + k);
                    __m512 u2 = _mm512_loadu_ps(cur[q + 2] + k), u3 = _mm512_loadu_ps(cur[q + 3] + k);
                    for (int c = 0; c < 5; c++) {
                        __m512 w = _mm512_load_ps(&W[c0 + c][k]);
                        acc[0][c] = _mm512_fmadd_ps(u0, w, acc[0][c]); acc[1][c] = _mm512_fmadd_ps(u1, w, acc[1][c]);
                        acc[2][c] = _mm512_fmadd_ps(u2, w, acc[2][c]); acc[3][c] = _mm512_fmadd_ps(u3, w, acc[3][c]);
                    }
                }
                for (int r = 0; r < 4; r++) for (int c = 0; c < 5; c++) lg[q + r][c0 + c] = _mm512_reduce_add_ps(acc[r][c]);
            }
#else
            // AVX2 (16 vector registers), as Curate's 256-bit path: a first pair of outputs
            // (4 rows x 2, where the line-at-a-time prefetches go), then 4 x 3 tiles, then a pair.
            for (int c0 = 0; c0 < C;) {
                int width = (c0 == 0 || C - c0 < 3 || C - c0 == 4) ? 2 : 3;
                __m256 acc[4][3];
                for (int r = 0; r < 4; r++) for (int c = 0; c < 3; c++) acc[r][c] = _mm256_setzero_ps();
                if (width == 2) {
                    for (int k = 0; k < D; k += 8) {
                        if (mode == 2 && (k & 15) == 0) TICK();
                        __m256 w0 = _mm256_load_ps(&W[c0][k]), w1 = _mm256_load_ps(&W[c0 + 1][k]);
                        for (int r = 0; r < 4; r++) {
                            __m256 u = _mm256_loadu_ps(cur[q + r] + k);
                            acc[r][0] = _mm256_fmadd_ps(u, w0, acc[r][0]); acc[r][1] = _mm256_fmadd_ps(u, w1, acc[r][1]);
                        }
                    }
                } else {
                    for (int k = 0; k < D; k += 8) {
                        __m256 w0 = _mm256_load_ps(&W[c0][k]), w1 = _mm256_load_ps(&W[c0 + 1][k]), w2 = _mm256_load_ps(&W[c0 + 2][k]);
                        for (int r = 0; r < 4; r++) {
                            __m256 u = _mm256_loadu_ps(cur[q + r] + k);
                            acc[r][0] = _mm256_fmadd_ps(u, w0, acc[r][0]); acc[r][1] = _mm256_fmadd_ps(u, w1, acc[r][1]);
                            acc[r][2] = _mm256_fmadd_ps(u, w2, acc[r][2]);
                        }
                    }
                }
                for (int r = 0; r < 4; r++) for (int c = 0; c < width; c++) lg[q + r][c0 + c] = hsum256(acc[r][c]);
                c0 += width;
            }
#endif
        }
        for (int i = 0; i < SB; i++) {
            float m = lg[i][0], sum = 0;
            for (int c = 1; c < C; c++) m = fmaxf(m, lg[i][c]);
            for (int c = 0; c < C; c++) { dy[i][c] = expf(lg[i][c] - m); sum += dy[i][c]; }
            for (int c = 0; c < C; c++) dy[i][c] = dy[i][c] / sum * 1e-3f;
            sink += sum;
        }
        // Strips of two vectors of columns (32 in 512-bit vectors, 16 in 256-bit ones) x 5 outputs.
        for (int j = 0; j < D; j += 2 * VW)
            for (int c0 = 0; c0 < C; c0 += 5) {
                vec acc[5][2];
                for (int c = 0; c < 5; c++) { acc[c][0] = vload(&a->G[c0 + c][j]); acc[c][1] = vload(&a->G[c0 + c][j + VW]); }
                for (int i = 0; i < SB; i++) {
                    if (mode == 2 && ++g == every) { g = 0; TICK(); }
                    vec u0 = vloadu(cur[i] + j), u1 = vloadu(cur[i] + j + VW);
                    for (int c = 0; c < 5; c++) {
                        vec b = vset1(dy[i][c0 + c]);
                        acc[c][0] = vfmadd(u0, b, acc[c][0]); acc[c][1] = vfmadd(u1, b, acc[c][1]);
                    }
                }
                for (int c = 0; c < 5; c++) { vstore(&a->G[c0 + c][j], acc[c][0]); vstore(&a->G[c0 + c][j + VW], acc[c][1]); }
            }
    }
    a->sink = sink;
    return 0;
}

static double run(void) {
    pthread_t th[2];
    double t0 = now();
    for (int t = 0; t < 2; t++) { tasks[t].t = t; pthread_create(&th[t], 0, work, &tasks[t]); }
    for (int t = 0; t < 2; t++) pthread_join(th[t], 0);
    return now() - t0;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s FILE.npy (float32, C order, D = 768)\n", argv[0]); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 1; }
    const unsigned char *m = mmap(0, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    madvise((void *)m, st.st_size, MADV_HUGEPAGE);
    size_t header = 10 + (m[8] | m[9] << 8);  // npy 1.0
    X = (const float *)(m + header);
    rows = (st.st_size - header) / (D * 4);
    for (int c = 0; c < C; c++) for (int k = 0; k < D; k++) W[c][k] = 0.001f * (c + k % 7);
    int *shuffled = malloc(rows * sizeof(int)), *inOrder = malloc(rows * sizeof(int)), *hot = malloc(rows * sizeof(int));
    for (long i = 0; i < rows; i++) { shuffled[i] = i; inOrder[i] = i; hot[i] = i % 256; }
    srand(1);
    for (long i = rows - 1; i > 0; i--) { long j = rand() % (i + 1); int t = shuffled[i]; shuffled[i] = shuffled[j]; shuffled[j] = t; }
    const char *names[] = {"rows in cache (256 rows)", "file order", "shuffled, no prefetch", "shuffled, bursts of the next sub-block",
                           "shuffled, a line at a time (gradient: every 2 rows)", "shuffled, a line at a time (gradient: every 4 rows)"};
    const int *orders[] = {hot, inOrder, shuffled, shuffled, shuffled, shuffled};
    int modes[] = {0, 0, 0, 1, 2, 2}, everies[] = {0, 0, 0, 0, 2, 4};
    double t[6][5];
    order = shuffled; mode = 0; run();  // warm-up
    for (int r = 0; r < 5; r++)
        for (int v = 0; v < 6; v++) { order = orders[v]; mode = modes[v]; every = everies[v]; t[v][r] = run(); }
    printf("%ld x %d float32 rows, 10 outputs, 2 threads; medians of 5 alternating rounds\n", rows, D);
    for (int v = 0; v < 6; v++) { qsort(t[v], 5, sizeof(double), cmp); printf("  %-52s %.3f s\n", names[v], t[v][2]); }
    return tasks[0].sink == 12345 ? 1 : 0;
}
