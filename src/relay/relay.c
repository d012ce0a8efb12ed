/*
 * roq-relay: the program the web server runs once per request (RFC 3875 CGI). It only relays: the CGI
 * environment and a bounded POST body in, one request line into the daemon's REQUESTS FIFO, the daemon's proven
 * answer (a whole CGI response, rendered by a warm worker) out to stdout. It parses no parameter and renders no
 * page; validation, queries, templates, ETags and error pages are the daemon's (docs/ARCHITECTURE.md).
 *
 * The bytes it reads and writes mirror src/protocol.ts (the request line) and src/web-protocol.ts (the form and the
 * answer); test/relay.test.ts keeps them in step. C99, libc only, no allocation: every buffer is static and
 * bounded, every wait has a deadline, every return value is checked, and nothing reaches stdout that is not either
 * the relay's own fixed page or an answer that proved itself (the request's secret proof, its length, and a
 * SipHash-2-4 digest of its bytes keyed by the proof).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* protocol.ts: MAX_REQUEST_BYTES (PIPE_BUF: a write this size into a FIFO is atomic) */
#define MAX_REQUEST_BYTES 4096
/* protocol.ts: WEB_MAGIC, WEB_KIND; web-protocol.ts: the answer's first line and its proof, length and end lines */
#define WEB_MAGIC "roq3"
#define WEB_KIND ".web"
#define ANSWER_HEAD "roq=3\n"
#define ANSWER_PROOF "proof="
#define ANSWER_LENGTH "length="
#define ANSWER_END "end="
#define DIGEST_HEX 16
#define REQUESTS_FIFO "REQUESTS"
#define RESPONSE_PREFIX "resp."
/* client.ts: RESPONSE_FIFO_MODE: the relay reads, the daemon's group may write */
#define RESPONSE_FIFO_MODE 0620
/* token.ts: randomToken(9) and randomToken(18): 12 and 24 characters of its alphabet */
#define TOKEN_CHARS 12
#define PROOF_CHARS 24
/* env.ts: the defaults and bounds of the settings Apache's SetEnv gives */
#define DEFAULT_RUN_DIR "/run/roq"
#define DEFAULT_TIMEOUT_MS 3000
#define MAX_TIMEOUT_MS 60000
/* web-protocol.ts: MAX_WEB_RESPONSE_BYTES, the biggest CGI response an answer carries; a bigger one is refused whole
 * (502), never sent in part. The buffer holds it with the answer's head and end lines. */
#define MAX_WEB_RESPONSE_BYTES (4 * 1024 * 1024)
#define MAX_ANSWER_BYTES (MAX_WEB_RESPONSE_BYTES + 256)
/* How long a web server that stopped reading may keep the relay writing its answer. */
#define STDOUT_BUDGET_MS 10000
#define MAX_LENGTH_DIGITS 8

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789xx";

static char answer[MAX_ANSWER_BYTES];
static char line[MAX_REQUEST_BYTES];
static char body[MAX_REQUEST_BYTES];
static char fifo_path[PATH_MAX];
/* Set once the answer FIFO exists, so that a SIGTERM from the web server still removes it. */
static volatile sig_atomic_t fifo_made;

struct request {
    const char *run_dir;
    long timeout_ms;
    int head; /* HEAD: the relay's own pages carry no body */
    char token[TOKEN_CHARS + 1];
    char proof[PROOF_CHARS + 1];
    unsigned char key[16]; /* the digest's key, from the proof (answer_key) */
};

/* ---- time and small I/O helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll(2) one descriptor for `events` until `deadline`: 1 ready, 0 deadline passed, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Writes all of buf to fd (made non-blocking) by `deadline`; 0 done, -1 not (EPIPE, deadline, error). */
static int write_all(int fd, const char *buf, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            if (wait_fd(fd, POLLOUT, deadline) != 1)
                return -1;
        } else if (!(w < 0 && errno == EINTR)) {
            return -1;
        }
    }
    return 0;
}

/* The run directory, named in every log line: one web server may serve several apps' daemons. */
static const char *log_run_dir = DEFAULT_RUN_DIR;

/* One line for the web server's error log: for the admin only, never for the visitor. */
static void log_line(const char *what, const char *detail)
{
    char text[1024];
    int n = snprintf(text, sizeof text, "roq-relay: run directory %s: %s%s%s\n", log_run_dir, what,
        detail ? ": " : "", detail ? detail : "");
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof text) { /* cut, but still one line */
        n = (int)sizeof text - 1;
        text[n - 1] = '\n';
    }
    (void)write_all(2, text, (size_t)n, now_ms() + 1000);
}

static void remove_fifo(void)
{
    if (fifo_made && unlink(fifo_path) != 0 && errno != ENOENT)
        log_line("cannot remove the answer FIFO", strerror(errno));
    fifo_made = 0;
}

/* The web server ends a CGI program that outlives its timeout with SIGTERM: remove the FIFO (unlink is
 * async-signal-safe) and go, as nothing else is left to do for a request that nobody waits for. */
static void on_term(int sig)
{
    (void)sig;
    if (fifo_made)
        (void)unlink(fifo_path);
    _exit(1);
}

/* ---- the relay's own pages: the only bytes on stdout that do not come from a proven answer ---- */

struct page {
    const char *status;
    const char *code; /* errors.ts catalog code */
    const char *text; /* the catalog's visitor sentence */
    int retry;        /* Retry-After seconds, 0 for none */
};

static const struct page DAEMON_DOWN = { "503 Service Unavailable", "ROQ_DAEMON_DOWN",
    "The service is not available right now. Please try again in a few minutes.", 5 };
static const struct page DAEMON_TIMEOUT = { "503 Service Unavailable", "ROQ_DAEMON_TIMEOUT",
    "The service did not answer in time. Please try again in a moment.", 2 };
static const struct page BODY_TOO_LARGE = { "413 Content Too Large", "ROQ_REQUEST_TOO_LARGE",
    "The request is too large. Please send a shorter form.", 0 };
static const struct page URI_TOO_LONG = { "414 URI Too Long", "ROQ_REQUEST_TOO_LARGE",
    "The request is too large. Please use a shorter address.", 0 };
static const struct page BROKEN_ANSWER = { "500 Internal Server Error", "ROQ_PROTOCOL",
    "Something went wrong on our side while answering. Please try again; if it keeps happening, tell the site "
    "owner.", 0 };

static int own_page(const struct page *pg, int head)
{
    char text[1024];
    char retry[32] = "";
    char body_text[256];
    int b = snprintf(body_text, sizeof body_text, "%s: %s\n", pg->code, pg->text);
    if (b < 0 || (size_t)b >= sizeof body_text)
        return 1;
    if (pg->retry > 0 && snprintf(retry, sizeof retry, "Retry-After: %d\n", pg->retry) < 0)
        return 1;
    int n = snprintf(text, sizeof text,
        "Status: %s\nContent-Type: text/plain; charset=utf-8\nCache-Control: no-store\n%sContent-Length: %d\n\n%s",
        pg->status, retry, b, head ? "" : body_text);
    if (n < 0 || (size_t)n >= sizeof text)
        return 1;
    return write_all(1, text, (size_t)n, now_ms() + STDOUT_BUDGET_MS) == 0 ? 0 : 1;
}

/* ---- settings ---- */

/* A decimal in [lo, hi] made of digits only, else `fallback`. */
static long bounded_number(const char *text, long lo, long hi, long fallback)
{
    if (!text || !*text || strlen(text) > 9)
        return fallback;
    long v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return fallback;
        v = v * 10 + (*c - '0');
    }
    return v >= lo && v <= hi ? v : fallback;
}

static int random_chars(char *out, size_t n)
{
    unsigned char raw[PROOF_CHARS];
    if (n > sizeof raw)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(raw + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = ALPHABET[raw[i] & 63];
    out[n] = '\0';
    return 0;
}

/* ---- the request line ---- */

struct line_out {
    size_t len;
    int full; /* a field did not fit: the line is not sent */
    int fields;
};

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
        || c == '~' || c == '-';
}

static void put(struct line_out *o, const char *s, size_t n)
{
    /* one byte stays for the '\n' */
    if (o->full || n > MAX_REQUEST_BYTES - 1 - o->len) {
        o->full = 1;
        return;
    }
    memcpy(line + o->len, s, n);
    o->len += n;
}

/* Appends `name=value` (value %XX-encoded outside [A-Za-z0-9._~-]); omitted when the value is empty. Returns 0
 * when it fitted, -1 when the line is full. */
static int put_field(struct line_out *o, char name, const char *value, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0)
        return o->full ? -1 : 0;
    char head[3] = { '&', name, '=' };
    int first = o->fields == 0;
    o->fields++;
    put(o, first ? head + 1 : head, first ? 2 : 3);
    for (size_t i = 0; i < n && !o->full; i++) {
        unsigned char c = (unsigned char)value[i];
        char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
        if (unreserved(c))
            put(o, (const char *)&value[i], 1);
        else
            put(o, esc, 3);
    }
    return o->full ? -1 : 0;
}

static size_t env_len(const char *name, const char **value)
{
    *value = getenv(name);
    return *value ? strlen(*value) : 0;
}

/* Builds `roq3 <pid> <token> <proof> .web <form>\n` into `line`. Returns its length, or 0 with *refusal set to
 * the page that says what did not fit (the body: 413; anything else from the URL or headers: 414). */
static size_t build_line(const struct request *rq, const char *post, size_t post_len, const struct page **refusal)
{
    const char *cl = getenv("CONTENT_LENGTH");
    int with_body = cl && *cl && strcmp(cl, "0") != 0;
    struct line_out o = { 0, 0, 0 };
    int n = snprintf(line, sizeof line, "%s %ld %s %s %s ", WEB_MAGIC, (long)getpid(), rq->token, rq->proof,
        WEB_KIND);
    if (n < 0 || (size_t)n >= sizeof line) {
        *refusal = &URI_TOO_LONG;
        return 0;
    }
    o.len = (size_t)n;
    static const struct { char name; const char *env; } FIELDS[] = {
        { 'm', "REQUEST_METHOD" }, { 's', "SCRIPT_NAME" }, { 'p', "PATH_INFO" }, { 'q', "QUERY_STRING" },
        { 't', "CONTENT_TYPE" }, { 'c', "CONTENT_LENGTH" }, { 'b', NULL }, { 'i', "HTTP_IF_NONE_MATCH" },
        { 'n', "ROQ_NOW" },
    };
    for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++) {
        const char *value = post;
        size_t len = FIELDS[f].env ? env_len(FIELDS[f].env, &value) : post_len;
        if ((FIELDS[f].name == 't' || FIELDS[f].name == 'c') && !with_body)
            len = 0;
        if (put_field(&o, FIELDS[f].name, value, len) != 0) {
            *refusal = FIELDS[f].env ? &URI_TOO_LONG : &BODY_TOO_LARGE;
            return 0;
        }
    }
    line[o.len++] = '\n';
    return o.len;
}

/* ---- the body ---- */

/* Reads `length` bytes of stdin by `deadline`; keeps the first sizeof body of them and drops the rest. *read_bytes:
 * how many came. 0 all of them, -1 the body ended early or did not come in time. */
static int read_body(size_t length, long long deadline, size_t *read_bytes)
{
    static char spill[65536];
    size_t got = 0;
    *read_bytes = 0;
    while (got < length) {
        int ready = wait_fd(0, POLLIN, deadline);
        if (ready != 1)
            return -1;
        char *into = got < sizeof body ? body + got : spill;
        size_t room = got < sizeof body ? sizeof body - got : sizeof spill;
        if (room > length - got)
            room = length - got;
        ssize_t r = read(0, into, room);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
        *read_bytes = got;
    }
    return 0;
}

/* ---- SipHash-2-4 (Aumasson and Bernstein), as src/siphash.ts ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
    do { \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
    } while (0)

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t siphash24(const unsigned char key[16], const unsigned char *in, size_t n)
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t whole = n - n % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(n & 0xff) << 56;
    for (size_t i = 0; i < n % 8; i++)
        last |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* web-protocol.ts: webAnswerKey: the proof's bytes folded into 16 by XOR. */
static void answer_key(struct request *rq)
{
    memset(rq->key, 0, sizeof rq->key);
    for (size_t i = 0; i < PROOF_CHARS; i++)
        rq->key[i % 16] ^= (unsigned char)rq->proof[i];
}

/* ---- the answer ---- */

enum verdict { MORE, SKIP, PROVEN, BROKEN };

/* Compares the literal at p[*i]: 1 matched (and *i moves past it), 0 more bytes needed, -1 mismatch. */
static int expect(const char *p, size_t avail, size_t *i, const char *lit, size_t n)
{
    size_t have = avail - *i < n ? avail - *i : n;
    if (memcmp(p + *i, lit, have) != 0)
        return -1;
    if (have < n)
        return 0;
    *i += n;
    return 1;
}

/* Reads `length=<digits>\n` at p[*i]. */
static int expect_length(const char *p, size_t avail, size_t *i, size_t *length)
{
    int r = expect(p, avail, i, ANSWER_LENGTH, sizeof ANSWER_LENGTH - 1);
    if (r != 1)
        return r;
    size_t v = 0, d = 0;
    for (; *i + d < avail && p[*i + d] != '\n'; d++) {
        char c = p[*i + d];
        if (c < '0' || c > '9' || d >= MAX_LENGTH_DIGITS || (d == 1 && p[*i] == '0'))
            return -1;
        v = v * 10 + (size_t)(c - '0');
    }
    if (*i + d >= avail)
        return d > MAX_LENGTH_DIGITS ? -1 : 0;
    if (d == 0)
        return -1;
    *i += d + 1;
    *length = v;
    return 1;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether `end=<16 lowercase hex>\n` at p[*i] is the digest of the n bytes at `bytes`. */
static int expect_end(const struct request *rq, const char *p, size_t avail, size_t *i, const char *bytes, size_t n)
{
    int r = expect(p, avail, i, ANSWER_END, sizeof ANSWER_END - 1);
    if (r != 1)
        return r;
    if (avail - *i < DIGEST_HEX + 1)
        return 0;
    uint64_t told = 0;
    for (int d = 0; d < DIGEST_HEX; d++) {
        int h = hex_value(p[*i + d]);
        if (h < 0)
            return -1;
        told = (told << 4) | (uint64_t)h;
    }
    if (p[*i + DIGEST_HEX] != '\n')
        return -1;
    *i += DIGEST_HEX + 1;
    return told == siphash24(rq->key, (const unsigned char *)bytes, n) ? 1 : -1;
}

/* Judges the candidate answer at p (avail bytes so far). SKIP: not this request's proven answer (no or a wrong
 * proof, length or digest: someone else who may write into the FIFO wrote it, or spliced bytes into it);
 * BROKEN: it carried the proof but announces more than MAX_WEB_RESPONSE_BYTES, which the relay cannot hold;
 * PROVEN: *at and *n give the CGI response inside it. */
static enum verdict judge(const struct request *rq, const char *p, size_t avail, size_t *at, size_t *n)
{
    size_t i = 0;
    int r = expect(p, avail, &i, ANSWER_HEAD, sizeof ANSWER_HEAD - 1);
    if (r == 1)
        r = expect(p, avail, &i, ANSWER_PROOF, sizeof ANSWER_PROOF - 1);
    if (r == 1)
        r = expect(p, avail, &i, rq->proof, PROOF_CHARS);
    if (r == 1)
        r = expect(p, avail, &i, "\n", 1);
    if (r != 1)
        return r == 0 ? MORE : SKIP;
    size_t length = 0;
    r = expect_length(p, avail, &i, &length);
    if (r == 0)
        return MORE;
    if (r < 0)
        return SKIP;
    if (length > MAX_WEB_RESPONSE_BYTES)
        return BROKEN;
    if (avail - i < length)
        return MORE;
    size_t start = i;
    i += length;
    r = expect_end(rq, p, avail, &i, p + start, length);
    if (r == 0)
        return MORE;
    if (r < 0)
        return SKIP;
    *at = start;
    *n = length;
    return PROVEN;
}

/* Where the next candidate may start after a skipped one at `from`: the next ANSWER_HEAD, or the tail that could
 * still be the beginning of one. */
static size_t next_candidate(size_t from, size_t len)
{
    const char *found = memmem(answer + from + 1, len - from - 1, ANSWER_HEAD, sizeof ANSWER_HEAD - 1);
    if (found)
        return (size_t)(found - answer);
    size_t keep = sizeof ANSWER_HEAD - 2;
    return len - from - 1 > keep ? len - keep : from + 1;
}

/* Waits for the proven answer on fd until `deadline`, then writes it to stdout. Returns the process status. */
static int relay_answer(const struct request *rq, int fd, long long deadline)
{
    size_t len = 0, at = 0, skipped = 0;
    for (;;) {
        while (at < len) {
            size_t start = 0, n = 0;
            enum verdict v = judge(rq, answer + at, len - at, &start, &n);
            if (v == PROVEN)
                return write_all(1, answer + at + start, n, now_ms() + STDOUT_BUDGET_MS) == 0 ? 0 : 1;
            if (v == BROKEN) {
                log_line("the daemon's answer is larger than the relay holds", NULL);
                return own_page(&BROKEN_ANSWER, rq->head);
            }
            if (v == MORE)
                break;
            skipped++;
            at = next_candidate(at, len);
        }
        if (at > 0) {
            memmove(answer, answer + at, len - at);
            len -= at;
            at = 0;
        }
        int ready = wait_fd(fd, POLLIN, deadline);
        if (ready != 1) {
            log_line(ready == 0 ? "no answer within the deadline" : "poll", skipped ? "answers without the proof were "
                "ignored" : NULL);
            return own_page(&DAEMON_TIMEOUT, rq->head);
        }
        ssize_t r = read(fd, answer + len, sizeof answer - len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            log_line("reading the answer FIFO", r < 0 ? strerror(errno) : "end of file");
            return own_page(&DAEMON_TIMEOUT, rq->head);
        }
        len += (size_t)r;
    }
}

/* ---- REQUESTS and the answer FIFO ---- */

/* Opens REQUESTS for writing, and checks on the open descriptor that it is a FIFO owned by the run directory's
 * owner, the daemon's user: anyone who may create files in the run directory could otherwise put a FIFO of their
 * own there while no daemon's is, and read every request (docs/SECURITY.md). -1: no daemon to ask. */
static int open_requests(const char *run_dir)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", run_dir, REQUESTS_FIFO);
    if (n < 0 || (size_t)n >= sizeof path) {
        log_line("the run directory's name is too long", NULL);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        /* ENXIO: the FIFO exists but nobody reads it; ENOENT: no daemon ever ran here */
        log_line(errno == ENXIO || errno == ENOENT ? "ROQ_DAEMON_DOWN: the roq daemon is not running (start it with "
            "`roq start --run <this directory>`)" : "ROQ_DAEMON_DOWN: cannot open REQUESTS", strerror(errno));
        return -1;
    }
    struct stat fifo, dir;
    const char *wrong = NULL;
    if (fstat(fd, &fifo) != 0 || stat(run_dir, &dir) != 0)
        wrong = strerror(errno);
    else if (!S_ISFIFO(fifo.st_mode))
        wrong = "REQUESTS is not a FIFO";
    else if (fifo.st_uid != dir.st_uid)
        wrong = "REQUESTS is not owned by the run directory's owner";
    if (!wrong)
        return fd;
    log_line("ROQ_REQUESTS_UNTRUSTED: REQUESTS is not the daemon's, nothing was written to it", wrong);
    (void)close(fd);
    return -1;
}

/* Makes the answer FIFO with a fresh random name and opens it: O_RDWR so that it is open for reading before the
 * request goes out (the daemon opens it non-blocking for writing, which fails unless a reader exists) and so that
 * opening never waits for a writer. Exactly RESPONSE_FIFO_MODE: the umask is the web server's. -1 on failure. */
static int make_answer_fifo(struct request *rq)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (random_chars(rq->token, TOKEN_CHARS) != 0)
            return -1;
        int n = snprintf(fifo_path, sizeof fifo_path, "%s/%s%ld.%s", rq->run_dir, RESPONSE_PREFIX, (long)getpid(),
            rq->token);
        if (n < 0 || (size_t)n >= sizeof fifo_path) {
            log_line("the run directory's name is too long", NULL);
            return -1;
        }
        mode_t old = umask(0);
        int made = mkfifo(fifo_path, RESPONSE_FIFO_MODE);
        int err = errno;
        (void)umask(old);
        if (made == 0) {
            fifo_made = 1;
            int fd = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
                log_line("cannot open the answer FIFO", strerror(errno));
            return fd;
        }
        if (err != EEXIST) {
            log_line("cannot make the answer FIFO", strerror(err));
            return -1;
        }
    }
    return -1;
}

/* One write of at most PIPE_BUF bytes: the kernel takes it whole or not at all. EAGAIN (the daemon's queue is
 * full) is retried every 2 ms until the deadline. 0 written, -1 not. */
static int send_line(int fd, size_t n, long long deadline)
{
    while (now_ms() < deadline) {
        ssize_t w = write(fd, line, n);
        if (w == (ssize_t)n)
            return 0;
        if (w >= 0 || (errno != EAGAIN && errno != EINTR)) {
            log_line("writing REQUESTS", w >= 0 ? "short write" : strerror(errno));
            return -1;
        }
        struct timespec pause = { 0, 2000000 };
        (void)nanosleep(&pause, NULL);
    }
    log_line("REQUESTS stayed full until the deadline", NULL);
    return -1;
}

/* ---- one request ---- */

/* Reads the body the environment announces, whatever the method, so that the web server never writes into a
 * closed pipe. *post_len: the bytes to forward (POST only). A body cut short, one that did not come by the
 * deadline, or a CONTENT_LENGTH that is not a byte count is forwarded as it is, with `c` as the web server gave
 * it: the daemon answers it 400 with its own page. NULL, or the page for a body too large to forward (413). */
static const struct page *take_body(int post, size_t *post_len, long long deadline)
{
    const char *cl = getenv("CONTENT_LENGTH");
    long length = bounded_number(cl, 0, 999999999, -1);
    size_t got = 0;
    *post_len = 0;
    if (length <= 0)
        return NULL;
    if (read_body((size_t)length, deadline, &got) != 0)
        log_line("the request body did not arrive whole", NULL);
    if (got > sizeof body)
        return &BODY_TOO_LARGE;
    *post_len = post ? got : 0;
    return NULL;
}

static int relay(struct request *rq)
{
    long long deadline = now_ms() + rq->timeout_ms;
    const char *method = getenv("REQUEST_METHOD");
    size_t post_len = 0;
    const struct page *refusal = take_body(method && strcmp(method, "POST") == 0, &post_len, deadline);
    if (refusal)
        return own_page(refusal, rq->head);
    if (random_chars(rq->proof, PROOF_CHARS) != 0 || random_chars(rq->token, TOKEN_CHARS) != 0) {
        log_line("getrandom failed", strerror(errno));
        return own_page(&DAEMON_DOWN, rq->head);
    }
    answer_key(rq);
    size_t n = build_line(rq, body, post_len, &refusal);
    if (n == 0)
        return own_page(refusal, rq->head);
    int requests = open_requests(rq->run_dir);
    if (requests < 0)
        return own_page(&DAEMON_DOWN, rq->head);
    int status;
    int fd = make_answer_fifo(rq);
    /* the token is in the line: write the line again with the FIFO's final token */
    if (fd < 0 || (n = build_line(rq, body, post_len, &refusal)) == 0) {
        status = own_page(&DAEMON_DOWN, rq->head);
    } else {
        deadline = now_ms() + rq->timeout_ms;
        status = send_line(requests, n, deadline) == 0 ? relay_answer(rq, fd, deadline)
                                                       : own_page(&DAEMON_DOWN, rq->head);
    }
    if (fd >= 0)
        (void)close(fd);
    (void)close(requests);
    remove_fifo();
    return status;
}

/*
 * Called with the answer written, just before the relay exits. The web server learns that the answer has ended
 * when the relay's stdout closes, which happens in the middle of the relay's exit: the kernel closes the
 * descriptors first and only then lets the process go. httpd's mod_cgid, woken by that end of file, signals the
 * process it started and, finding it still there, sleeps 10 ms before it looks again (cleanup_nonchild_process);
 * only then does it read the next request of a keep-alive connection, so one visitor's pages wait 10 ms each.
 * So the relay leaves stdout to a child that holds it until the relay is gone: the kernel kills the child when its
 * parent exits (PR_SET_PDEATHSIG), and the end of file comes from the child's exit, after the relay's. The exit
 * status stays the relay's. If fork fails, the relay exits as it always did.
 */
static void leave_stdout_to_child(void)
{
    pid_t relay_pid = getpid();
    if (fork() != 0)
        return; /* the relay (or no child): exit now */
    fifo_made = 0; /* the relay removed it */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != relay_pid)
        _exit(0);
    /* a deadline all the same, though the relay exits right after fork() */
    struct timespec most = { 1, 0 };
    (void)nanosleep(&most, NULL);
    _exit(0);
}

int main(void)
{
    struct sigaction ignore, term;
    memset(&ignore, 0, sizeof ignore);
    memset(&term, 0, sizeof term);
    ignore.sa_handler = SIG_IGN;
    term.sa_handler = on_term;
    if (sigaction(SIGPIPE, &ignore, NULL) != 0 || sigaction(SIGTERM, &term, NULL) != 0)
        return 1;
    /* stdout is ours alone (the web server reads the pipe's other end): non-blocking, so a reader that stops
     * reading costs at most STDOUT_BUDGET_MS */
    int fl = fcntl(1, F_GETFL);
    if (fl < 0 || fcntl(1, F_SETFL, fl | O_NONBLOCK) != 0)
        return 1;
    struct request rq;
    memset(&rq, 0, sizeof rq);
    const char *run_dir = getenv("ROQ_RUN_DIR");
    rq.run_dir = run_dir && *run_dir ? run_dir : DEFAULT_RUN_DIR;
    log_run_dir = rq.run_dir;
    rq.timeout_ms = bounded_number(getenv("ROQ_CGI_TIMEOUT_MS"), 1, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
    const char *method = getenv("REQUEST_METHOD");
    rq.head = method && strcmp(method, "HEAD") == 0;
    int status = relay(&rq);
    leave_stdout_to_child();
    return status;
}
