/*
 * zkcheck exercises Apache ZooKeeper's multi-threaded C client (libzookeeper_mt, Debian's
 * libzookeeper-mt-dev) against one ZooKeeper-compatible endpoint and prints one line per
 * check:
 *
 *   OK <check>[: detail]
 *   FAIL <check>: <reason>
 *   DROP <host:port>   the test should cut this client off that server now (it waits for
 *                      CONNECTING then CONNECTED and checks that its session and
 *                      watches survived)
 *   DONE <passed> passed, <failed> failed
 *
 * It exits 1 when a check failed.
 *
 * Usage: zkcheck <single|cluster> <host list> [comma-separated member addresses]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <zookeeper/zookeeper.h>

static int passed, failed;
static char failmsg[4096];
static char detail[4096];
static char base[128];
static const char *mode, *hosts, *members;
static zhandle_t *zh;

/* ---- events: every watcher pushes (tag, type, state, path); tests wait by tag ---- */

struct event {
    const char *tag;
    int type, state;
    char path[256];
};
#define MAXEV 256
static struct event events[MAXEV];
static int nevents;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void watcher(zhandle_t *h, int type, int state, const char *path, void *ctx) {
    (void)h;
    pthread_mutex_lock(&mu);
    if (nevents < MAXEV) {
        struct event *e = &events[nevents++];
        e->tag = ctx ? (const char *)ctx : "session";
        e->type = type;
        e->state = state;
        snprintf(e->path, sizeof e->path, "%s", path ? path : "");
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* wait_event removes and returns the first event with tag (and, if type != 0, that
 * type), waiting up to ms; returns 0 when none came. */
static int wait_event(const char *tag, int type, int ms, struct event *out) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&mu);
    for (;;) {
        for (int i = 0; i < nevents; i++) {
            if (strcmp(events[i].tag, tag) == 0 && (type == 0 || events[i].type == type)) {
                if (out) {
                    *out = events[i];
                }
                memmove(&events[i], &events[i + 1], (size_t)(nevents - i - 1) * sizeof events[0]);
                nevents--;
                pthread_mutex_unlock(&mu);
                return 1;
            }
        }
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            return 0;
        }
    }
}

static void drop_events(const char *tag) {
    pthread_mutex_lock(&mu);
    int j = 0;
    for (int i = 0; i < nevents; i++) {
        if (strcmp(events[i].tag, tag) != 0) {
            events[j++] = events[i];
        }
    }
    nevents = j;
    pthread_mutex_unlock(&mu);
}

/* ---- completions for the async-only calls (add_auth, sync) ---- */

struct done {
    int fired, rc;
};

static void void_done(int rc, const void *data) {
    struct done *d = (struct done *)data;
    pthread_mutex_lock(&mu);
    d->rc = rc;
    d->fired = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void string_done(int rc, const char *value, const void *data) {
    (void)value;
    void_done(rc, data);
}

static int wait_done(struct done *d, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&mu);
    while (!d->fired) {
        if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    int ok = d->fired;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* ---- checks ---- */

#define REQUIRE(cond, ...)                                                \
    do {                                                                  \
        if (!(cond)) {                                                    \
            snprintf(failmsg, sizeof failmsg, __VA_ARGS__);               \
            return -1;                                                    \
        }                                                                 \
    } while (0)

#define RC(expr, want)                                                               \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != (want)) {                                                         \
            snprintf(failmsg, sizeof failmsg, "line %d: %s = %d (%s), want %d (%s)", \
                     __LINE__, #expr, rc_, zerror(rc_), (want), zerror(want));        \
            return -1;                                                               \
        }                                                                            \
    } while (0)

static void check(const char *name, int (*fn)(void)) {
    failmsg[0] = detail[0] = 0;
    if (fn() == 0) {
        passed++;
        printf("OK %s%s%s\n", name, detail[0] ? ": " : "", detail);
    } else {
        failed++;
        printf("FAIL %s: %s\n", name, failmsg);
    }
    fflush(stdout);
}

static char *p(const char *suffix) {
    static char bufs[8][256];
    static int n;
    char *b = bufs[n++ % 8];
    snprintf(b, 256, "%s%s", base, suffix);
    return b;
}

static zhandle_t *connect_handle(void) {
    zhandle_t *h = zookeeper_init(hosts, watcher, 10000, 0, NULL, 0);
    if (!h) {
        return NULL;
    }
    struct event e;
    while (wait_event("session", ZOO_SESSION_EVENT, 20000, &e)) {
        if (e.state == ZOO_CONNECTED_STATE) {
            return h;
        }
    }
    zookeeper_close(h);
    return NULL;
}

static int t_connect(void) {
    zh = connect_handle();
    REQUIRE(zh != NULL, "no session with %s within 20s", hosts);
    snprintf(detail, sizeof detail, "session 0x%llx, timeout %d ms",
             (unsigned long long)zoo_client_id(zh)->client_id, zoo_recv_timeout(zh));
    return 0;
}

static int t_create(void) {
    char buf[256];
    RC(zoo_create(zh, base, "root", 4, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf), ZOK);
    REQUIRE(strcmp(buf, base) == 0, "created %s", buf);
    RC(zoo_create(zh, base, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf), ZNODEEXISTS);
    RC(zoo_create(zh, p("/no/parent"), "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf), ZNONODE);
    return 0;
}

static int t_create2(void) {
    char buf[256];
    struct Stat st;
    RC(zoo_create2(zh, p("/s"), "hello", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf, &st), ZOK);
    REQUIRE(st.version == 0 && st.dataLength == 5 && st.czxid > 0 && st.czxid == st.mzxid && st.ephemeralOwner == 0,
            "stat version %d dataLength %d czxid %lld mzxid %lld", st.version, st.dataLength,
            (long long)st.czxid, (long long)st.mzxid);
    snprintf(detail, sizeof detail, "czxid=0x%llx", (long long)st.czxid);
    return 0;
}

static int t_modes(void) {
    char a[256], b[256], e[256], buf[256];
    struct Stat st;
    RC(zoo_create(zh, p("/seq"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, buf, sizeof buf), ZOK);
    RC(zoo_create(zh, p("/seq/n-"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, a, sizeof a), ZOK);
    RC(zoo_create(zh, p("/seq/n-"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, b, sizeof b), ZOK);
    size_t n = strlen(p("/seq/n-"));
    REQUIRE(strlen(a) == n + 10 && strcmp(b, a) > 0, "sequence names %s %s", a, b);
    RC(zoo_create2(zh, p("/eph"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, buf, sizeof buf, &st), ZOK);
    REQUIRE(st.ephemeralOwner == zoo_client_id(zh)->client_id, "ephemeralOwner 0x%llx", (long long)st.ephemeralOwner);
    RC(zoo_create(zh, p("/seq/e-"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, e, sizeof e), ZOK);
    REQUIRE(strlen(e) == strlen(p("/seq/e-")) + 10, "ephemeral sequential %s", e);
    RC(zoo_create(zh, p("/ctr"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, buf, sizeof buf), ZOK);
    RC(zoo_create_ttl(zh, p("/ttl"), "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL, 60000, buf, sizeof buf), ZOK);
    RC(zoo_exists(zh, p("/ttl"), 0, &st), ZOK);
    snprintf(detail, sizeof detail, "%s %s %s", a, b, e);
    return 0;
}

static int t_getset(void) {
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    RC(zoo_get(zh, p("/s"), 0, buf, &len, &st), ZOK);
    REQUIRE(len == 5 && memcmp(buf, "hello", 5) == 0 && st.version == 0, "get: %.*s v%d", len, buf, st.version);
    RC(zoo_set(zh, p("/s"), "v1", 2, 0), ZOK);
    RC(zoo_set(zh, p("/s"), "stale", 5, 0), ZBADVERSION);
    RC(zoo_set2(zh, p("/s"), "v2", 2, -1, &st), ZOK);
    REQUIRE(st.version == 2 && st.dataLength == 2, "set2 stat v%d len %d", st.version, st.dataLength);
    len = sizeof buf;
    RC(zoo_get(zh, p("/s"), 0, buf, &len, &st), ZOK);
    REQUIRE(len == 2 && memcmp(buf, "v2", 2) == 0, "get after set: %.*s", len, buf);
    RC(zoo_set(zh, p("/missing"), "x", 1, -1), ZNONODE);
    RC(zoo_get(zh, p("/missing"), 0, buf, &len, &st), ZNONODE);
    strcpy(detail, "version 2");
    return 0;
}

static int t_children(void) {
    struct String_vector v;
    struct Stat st;
    RC(zoo_get_children(zh, p("/seq"), 0, &v), ZOK);
    int n = v.count;
    deallocate_String_vector(&v);
    REQUIRE(n == 3, "children of /seq: %d", n);
    RC(zoo_get_children2(zh, base, 0, &v, &st), ZOK);
    int has = 0;
    for (int i = 0; i < v.count; i++) {
        has |= strcmp(v.data[i], "s") == 0;
    }
    n = v.count;
    deallocate_String_vector(&v);
    REQUIRE(has && st.numChildren == n, "children2: %d, numChildren %d", n, st.numChildren);
    snprintf(detail, sizeof detail, "%d under %s", n, base);
    return 0;
}

static int t_watches(void) {
    struct Stat st;
    struct event e;
    char buf[64];
    int len = sizeof buf;
    RC(zoo_wexists(zh, p("/w"), watcher, "exists", &st), ZNONODE);
    RC(zoo_create(zh, p("/w"), "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    REQUIRE(wait_event("exists", 0, 10000, &e), "exists watch did not fire");
    REQUIRE(e.type == ZOO_CREATED_EVENT && strcmp(e.path, p("/w")) == 0, "exists watch: type %d path %s", e.type, e.path);
    RC(zoo_wget(zh, p("/w"), watcher, "data", buf, &len, &st), ZOK);
    RC(zoo_set(zh, p("/w"), "1", 1, -1), ZOK);
    REQUIRE(wait_event("data", 0, 10000, &e) && e.type == ZOO_CHANGED_EVENT, "data watch: fired %d type %d", e.type != 0, e.type);
    struct String_vector v;
    RC(zoo_wget_children(zh, p("/w"), watcher, "child", &v), ZOK);
    deallocate_String_vector(&v);
    RC(zoo_create(zh, p("/w/c"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    REQUIRE(wait_event("child", 0, 10000, &e) && e.type == ZOO_CHILD_EVENT, "child watch: type %d", e.type);
    RC(zoo_wexists(zh, p("/w/c"), watcher, "deleted", &st), ZOK);
    RC(zoo_delete(zh, p("/w/c"), -1), ZOK);
    REQUIRE(wait_event("deleted", 0, 10000, &e) && e.type == ZOO_DELETED_EVENT, "delete watch: type %d", e.type);
    /* zoo_remove_watches (one watcher), then zoo_remove_all_watches: neither fires on change. */
    len = sizeof buf;
    RC(zoo_wget(zh, p("/w"), watcher, "rm", buf, &len, &st), ZOK);
    RC(zoo_remove_watches(zh, p("/w"), ZWATCHTYPE_DATA, watcher, "rm", 0), ZOK);
    len = sizeof buf;
    RC(zoo_wget(zh, p("/w"), watcher, "rm", buf, &len, &st), ZOK);
    RC(zoo_remove_all_watches(zh, p("/w"), ZWATCHTYPE_ANY, 0), ZOK);
    drop_events("rm");
    RC(zoo_set(zh, p("/w"), "2", 1, -1), ZOK);
    REQUIRE(!wait_event("rm", ZOO_CHANGED_EVENT, 300, &e), "removed watch fired: type %d", e.type);
    RC(zoo_remove_watches(zh, p("/w"), ZWATCHTYPE_DATA, watcher, "rm", 0), ZNOWATCHER);
    return 0;
}

static int t_delete(void) {
    RC(zoo_delete(zh, p("/s"), 7), ZBADVERSION);
    RC(zoo_delete(zh, p("/s"), 2), ZOK);
    RC(zoo_exists(zh, p("/s"), 0, NULL), ZNONODE);
    RC(zoo_delete(zh, p("/w"), -1), ZOK);
    RC(zoo_delete(zh, p("/seq"), -1), ZNOTEMPTY);
    RC(zoo_delete(zh, p("/s"), -1), ZNONODE);
    return 0;
}

static int t_multi(void) {
    char created[256], seq[256];
    struct Stat st;
    RC(zoo_create(zh, p("/m"), "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    RC(zoo_create(zh, p("/m/gone"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    zoo_create_op_init(&ops[0], p("/m/x"), "1", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created);
    zoo_set_op_init(&ops[1], p("/m"), "1", 1, 0, &st);
    zoo_check_op_init(&ops[2], p("/m"), 1);
    zoo_create_op_init(&ops[3], p("/m/q-"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, seq, sizeof seq);
    zoo_delete_op_init(&ops[4], p("/m/gone"), -1);
    RC(zoo_multi(zh, 5, ops, res), ZOK);
    for (int i = 0; i < 5; i++) {
        REQUIRE(res[i].err == ZOK, "op %d: %d", i, res[i].err);
    }
    REQUIRE(strcmp(created, p("/m/x")) == 0 && strlen(seq) == strlen(p("/m/q-")) + 10, "created %s %s", created, seq);
    REQUIRE(st.version == 1, "set in multi: version %d", st.version);
    RC(zoo_exists(zh, p("/m/gone"), 0, NULL), ZNONODE);
    zoo_create_op_init(&ops[0], p("/m/z"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, created, sizeof created);
    zoo_check_op_init(&ops[1], p("/m"), 0);
    RC(zoo_multi(zh, 2, ops, res), ZBADVERSION);
    REQUIRE(res[0].err == ZOK && res[1].err == ZBADVERSION, "failed multi results %d %d", res[0].err, res[1].err);
    RC(zoo_exists(zh, p("/m/z"), 0, NULL), ZNONODE);
    strcpy(detail, "5 ops; failed one rolled back");
    return 0;
}

static int do_sync(zhandle_t *h, const char *path) {
    struct done d = {0, 0};
    RC(zoo_async(h, path, string_done, &d), ZOK);
    REQUIRE(wait_done(&d, 10000), "sync: no completion");
    RC(d.rc, ZOK);
    return 0;
}

static int t_sync(void) { return do_sync(zh, base); }

static int t_acl(void) {
    zhandle_t *a = connect_handle();
    REQUIRE(a != NULL, "second session");
    struct done d = {0, 0};
    const char *cred = "alice:secret";
    int rc = zoo_add_auth(a, "digest", cred, (int)strlen(cred), void_done, &d);
    if (rc == ZOK && (!wait_done(&d, 10000) || d.rc != ZOK)) {
        rc = d.fired ? d.rc : ZOPERATIONTIMEOUT;
    }
    if (rc == ZOK) {
        rc = zoo_create(a, p("/secret"), "x", 1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT, NULL, 0);
    }
    struct ACL_vector acl = {0, NULL};
    struct Stat st;
    char buf[16];
    int len = sizeof buf;
    int getrc = -1, aclrc = -1, setrc = -1, after = -1;
    if (rc == ZOK && do_sync(zh, p("/secret")) == 0) {
        getrc = zoo_get(zh, p("/secret"), 0, buf, &len, &st);
        aclrc = zoo_get_acl(a, p("/secret"), &acl, &st);
        setrc = zoo_set_acl(a, p("/secret"), 0, &ZOO_OPEN_ACL_UNSAFE);
        if (do_sync(zh, p("/secret")) == 0) {
            len = sizeof buf;
            after = zoo_get(zh, p("/secret"), 0, buf, &len, &st);
        }
    }
    zookeeper_close(a);
    RC(rc, ZOK);
    RC(getrc, ZNOAUTH);
    RC(aclrc, ZOK);
    REQUIRE(acl.count == 1 && strcmp(acl.data[0].id.scheme, "digest") == 0 && strncmp(acl.data[0].id.id, "alice:", 6) == 0 &&
                acl.data[0].perms == ZOO_PERM_ALL,
            "acl count %d", acl.count);
    snprintf(detail, sizeof detail, "%s", acl.data[0].id.id);
    deallocate_ACL_vector(&acl);
    RC(setrc, ZOK);
    RC(after, ZOK);
    return 0;
}

static int t_config(void) {
    char buf[2048];
    int len = sizeof buf - 1;
    struct Stat st;
    RC(zoo_getconfig(zh, 0, buf, &len, &st), ZOK);
    buf[len < 0 ? 0 : len] = 0;
    if (strcmp(mode, "cluster") == 0) {
        char list[1024];
        snprintf(list, sizeof list, "%s", members);
        for (char *m = strtok(list, ","); m; m = strtok(NULL, ",")) {
            char want[300];
            snprintf(want, sizeof want, ";%s", m);
            REQUIRE(strstr(buf, want) != NULL, "/zookeeper/config lacks %s: %s", m, buf);
        }
    }
    for (char *c = buf; *c; c++) {
        if (*c == '\n') {
            *c = '|';
        }
    }
    snprintf(detail, sizeof detail, "[%s]", buf);
    return 0;
}

static int t_reconnect(void) {
    struct Stat st;
    struct event e;
    char buf[16];
    int len = sizeof buf;
    RC(zoo_create(zh, p("/drop"), "0", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    RC(zoo_create(zh, p("/drop/eph"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), ZOK);
    RC(zoo_wget(zh, p("/drop"), watcher, "drop", buf, &len, &st), ZOK);
    RC(zoo_wexists(zh, p("/drop/new"), watcher, "dropnew", &st), ZNONODE);
    long long sid = zoo_client_id(zh)->client_id;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    REQUIRE(zookeeper_get_connected_host(zh, (struct sockaddr *)&ss, &sl) != NULL && ss.ss_family == AF_INET, "connected host");
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    char ip[64];
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    drop_events("session");
    printf("DROP %s:%d\n", ip, ntohs(in->sin_port));
    fflush(stdout);
    REQUIRE(wait_event("session", ZOO_SESSION_EVENT, 30000, &e) && e.state == ZOO_CONNECTING_STATE, "first state %d", e.state);
    int reconnected = 0;
    while (wait_event("session", ZOO_SESSION_EVENT, 30000, &e)) {
        if (e.state == ZOO_CONNECTED_STATE) {
            reconnected = 1;
            break;
        }
    }
    REQUIRE(reconnected, "not reconnected within 30s");
    REQUIRE(zoo_client_id(zh)->client_id == sid, "new session");
    RC(zoo_exists(zh, p("/drop/eph"), 0, &st), ZOK);
    RC(zoo_set(zh, p("/drop"), "1", 1, -1), ZOK);
    /* Watchers also saw the session events of the reconnect: wait for the node event. */
    REQUIRE(wait_event("drop", ZOO_CHANGED_EVENT, 10000, &e), "data watch did not fire after reconnect");
    RC(zoo_create(zh, p("/drop/new"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0), ZOK);
    REQUIRE(wait_event("dropnew", ZOO_CREATED_EVENT, 10000, &e), "exists watch did not fire after reconnect");
    sl = sizeof ss;
    zookeeper_get_connected_host(zh, (struct sockaddr *)&ss, &sl);
    char ip2[64];
    inet_ntop(AF_INET, &in->sin_addr, ip2, sizeof ip2);
    snprintf(detail, sizeof detail, "to %s:%d, session 0x%llx", ip2, ntohs(in->sin_port), sid);
    return 0;
}

static int rmr(const char *path) {
    struct String_vector v;
    int rc = zoo_get_children(zh, path, 0, &v);
    if (rc == ZNONODE) {
        return ZOK;
    }
    if (rc != ZOK) {
        return rc;
    }
    for (int i = 0; i < v.count && rc == ZOK; i++) {
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, v.data[i]);
        rc = rmr(child);
    }
    deallocate_String_vector(&v);
    if (rc == ZOK) {
        rc = zoo_delete(zh, path, -1);
    }
    return rc == ZNONODE ? ZOK : rc;
}

static int t_cleanup(void) {
    RC(rmr(base), ZOK);
    return 0;
}

static int t_close(void) {
    int rc = zookeeper_close(zh);
    zh = NULL;
    RC(rc, ZOK);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <single|cluster> <hosts> [members]\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    hosts = argv[2];
    members = argc > 3 ? argv[3] : "";
    snprintf(base, sizeof base, "/ccheck-%s", mode);
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    check("connect", t_connect);
    if (zh) {
        check("create (persistent; exists, no parent)", t_create);
        check("create2 (stat)", t_create2);
        check("create modes (sequential, ephemeral, container, TTL)", t_modes);
        check("get/set with versions", t_getset);
        check("get_children, get_children2", t_children);
        check("watches (exists, data, children, delete; remove)", t_watches);
        check("delete with versions", t_delete);
        check("multi", t_multi);
        check("sync", t_sync);
        check("auth and ACLs", t_acl);
        check("getconfig (/zookeeper/config)", t_config);
        check("reconnect keeps session and watches", t_reconnect);
        check("cleanup", t_cleanup);
        check("close", t_close);
    }
    printf("DONE %d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 ? 0 : 1;
}
