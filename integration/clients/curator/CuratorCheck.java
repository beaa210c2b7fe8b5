// CuratorCheck exercises Apache Curator 5.x (framework, recipes, x-discovery) against one
// ZooKeeper-compatible endpoint and prints one line per check:
//
//   OK <check>[: detail]
//   FAIL <check>: <reason>
//   DROP <host:port>   the test should cut this client off that server now (it waits for
//                      SUSPENDED then RECONNECTED and checks that its session, watches and
//                      cache survived)
//   DONE <passed> passed, <failed> failed
//
// It exits 1 when a check failed.
//
// Usage: java CuratorCheck <single|cluster> <connect string> [comma-separated member addresses]
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceProvider;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

public class CuratorCheck {
    interface Body {
        String run() throws Exception;
    }

    static int passed, failed;
    static String mode, connect, base;
    static List<String> members = new ArrayList<>();
    static List<AutoCloseable> toClose = new ArrayList<>();

    static void check(String name, Body body) {
        try {
            String detail = body.run();
            passed++;
            System.out.println("OK " + name + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        } catch (Throwable e) {
            failed++;
            System.out.println("FAIL " + name + ": " + e);
            for (StackTraceElement el : e.getStackTrace()) {
                if (el.getClassName().startsWith("CuratorCheck")) {
                    System.out.println("    at " + el);
                }
            }
        }
        System.out.flush();
    }

    // syncPath waits until c's member has caught up with the leader: reads are local,
    // so a read after another client's write through another member needs it first
    // (as with ZooKeeper). Curator runs sync in the background; wait for its callback.
    static void syncPath(CuratorFramework c, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        c.sync().inBackground((cl, ev) -> done.countDown()).forPath(path);
        require(done.await(10, TimeUnit.SECONDS), "sync " + path + " did not complete");
    }

    static void require(boolean cond, String what) {
        if (!cond) {
            throw new AssertionError(what);
        }
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static <E extends Throwable> E expectThrows(Class<E> type, Body body) throws Exception {
        try {
            body.run();
        } catch (Throwable e) {
            if (type.isInstance(e)) {
                return type.cast(e);
            }
            throw new AssertionError("want " + type.getSimpleName() + ", got " + e, e);
        }
        throw new AssertionError("want " + type.getSimpleName() + ", got no exception");
    }

    static CuratorFramework newClient(CuratorFrameworkFactory.Builder b) throws Exception {
        CuratorFramework c = b.connectString(connect).sessionTimeoutMs(10000).connectionTimeoutMs(5000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 1000)).build();
        c.start();
        toClose.add(c);
        if (!c.blockUntilConnected(20, TimeUnit.SECONDS)) {
            throw new AssertionError("not connected within 20s to " + connect);
        }
        return c;
    }

    static CuratorFramework newClient() throws Exception {
        return newClient(CuratorFrameworkFactory.builder());
    }

    static <T> T poll(BlockingQueue<T> q, String what) throws Exception {
        T v = q.poll(10, TimeUnit.SECONDS);
        require(v != null, "timed out waiting for " + what);
        return v;
    }

    public static void main(String[] args) throws Exception {
        mode = args[0];
        connect = args[1];
        if (args.length > 2) {
            members.addAll(Arrays.asList(args[2].split(",")));
        }
        base = "/curatorcheck-" + mode;
        final CuratorFramework[] cs = new CuratorFramework[1];
        check("connect", () -> {
            cs[0] = newClient();
            return connect;
        });
        if (cs[0] == null) {
            finish();
        }
        CuratorFramework c = cs[0];

        check("create creatingParentsIfNeeded", () -> {
            String p = c.create().creatingParentsIfNeeded().forPath(base + "/a/b/c", b("c"));
            require(p.equals(base + "/a/b/c"), "path " + p);
            require(c.checkExists().forPath(base + "/a/b") != null, "parent " + base + "/a/b missing");
            require("c".equals(s(c.getData().forPath(p))), "data");
            return p;
        });

        check("create2 storingStatIn", () -> {
            Stat st = new Stat();
            String p = c.create().storingStatIn(st).forPath(base + "/s", b("hello"));
            require(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid(), "czxid/mzxid " + st);
            require(st.getVersion() == 0 && st.getDataLength() == 5 && st.getEphemeralOwner() == 0, "stat " + st);
            return "czxid=0x" + Long.toHexString(st.getCzxid());
        });

        check("create modes (ephemeral sequential, protection, container, TTL)", () -> {
            long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
            String p1 = c.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(base + "/seq/n-");
            String p2 = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(base + "/seq/n-");
            require(p1.matches(".*/n-\\d{10}") && p2.compareTo(p1) > 0, "sequence " + p1 + " " + p2);
            require(c.checkExists().forPath(p1).getEphemeralOwner() == sid, "ephemeralOwner != session");
            String pp = c.create().creatingParentContainersIfNeeded().withProtection()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(base + "/prot/sub/lock-");
            require(pp.contains("/_c_") && pp.matches(".*lock-\\d{10}"), "protected name " + pp);
            require(c.checkExists().forPath(base + "/prot/sub") != null, "parents of a protected node");
            c.create().withMode(CreateMode.CONTAINER).forPath(base + "/ctr");
            // Clients see ephemeralOwner 0 for containers and TTL nodes (ZooKeeper's
            // DataNode.getClientEphemeralOwner), so only their existence is checked.
            Stat ct = c.checkExists().forPath(base + "/ctr");
            require(ct != null && ct.getEphemeralOwner() == 0, "container " + ct);
            c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(base + "/ttl", b("t"));
            Stat tt = c.checkExists().forPath(base + "/ttl");
            require(tt != null && tt.getEphemeralOwner() == 0, "TTL node " + tt);
            return p1 + ", " + pp;
        });

        check("getData/setData with versions", () -> {
            String p = base + "/s";
            Stat st = new Stat();
            require("hello".equals(s(c.getData().storingStatIn(st).forPath(p))) && st.getVersion() == 0, "getData v0");
            Stat s1 = c.setData().withVersion(0).forPath(p, b("v1"));
            require(s1.getVersion() == 1, "version after setData " + s1.getVersion());
            expectThrows(KeeperException.BadVersionException.class, () -> {
                c.setData().withVersion(0).forPath(p, b("stale"));
                return null;
            });
            Stat s2 = c.setData().forPath(p, b("v2"));
            require(s2.getVersion() == 2 && "v2".equals(s(c.getData().forPath(p))), "unconditional setData");
            expectThrows(KeeperException.NoNodeException.class, () -> {
                c.setData().forPath(base + "/missing", b("x"));
                return null;
            });
            return "version 2";
        });

        check("getChildren", () -> {
            List<String> kids = c.getChildren().forPath(base + "/a");
            require(kids.equals(Collections.singletonList("b")), "children " + kids);
            Stat st = new Stat();
            List<String> top = c.getChildren().storingStatIn(st).forPath(base);
            require(st.getNumChildren() == top.size() && top.contains("s"), "children2 " + top + " " + st);
            return top.size() + " under " + base;
        });

        check("delete", () -> {
            String p = base + "/s";
            expectThrows(KeeperException.BadVersionException.class, () -> {
                c.delete().withVersion(7).forPath(p);
                return null;
            });
            c.delete().withVersion(2).forPath(p);
            require(c.checkExists().forPath(p) == null, "still exists");
            expectThrows(KeeperException.NotEmptyException.class, () -> {
                c.delete().forPath(base + "/a");
                return null;
            });
            c.delete().guaranteed().deletingChildrenIfNeeded().forPath(base + "/a");
            require(c.checkExists().forPath(base + "/a") == null, "recursive delete");
            expectThrows(KeeperException.NoNodeException.class, () -> {
                c.delete().forPath(base + "/a");
                return null;
            });
            c.delete().quietly().forPath(base + "/a");
            return "";
        });

        check("transaction", () -> {
            String t = base + "/t";
            c.create().forPath(t, b("0"));
            c.create().forPath(t + "/gone");
            List<CuratorTransactionResult> rs = c.transaction().forOperations(
                    c.transactionOp().create().forPath(t + "/x", b("1")),
                    c.transactionOp().setData().withVersion(0).forPath(t, b("1")),
                    c.transactionOp().check().withVersion(1).forPath(t),
                    c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(t + "/q-"),
                    c.transactionOp().delete().forPath(t + "/gone"));
            require(rs.size() == 5, "results " + rs.size());
            require(rs.get(0).getType() == OperationType.CREATE && rs.get(0).getResultPath().equals(t + "/x"), "create result");
            require(rs.get(1).getType() == OperationType.SET_DATA && rs.get(1).getResultStat().getVersion() == 1, "setData result");
            require(rs.get(3).getResultPath().matches(".*/q-\\d{10}"), "sequential result " + rs.get(3).getResultPath());
            require(c.checkExists().forPath(t + "/gone") == null && c.checkExists().forPath(t + "/x") != null, "applied");
            KeeperException e = expectThrows(KeeperException.class, () -> {
                c.transaction().forOperations(
                        c.transactionOp().create().forPath(t + "/z"),
                        c.transactionOp().check().withVersion(0).forPath(t));
                return null;
            });
            require(e.code() == KeeperException.Code.BADVERSION, "failed transaction code " + e.code());
            require(c.checkExists().forPath(t + "/z") == null, "failed transaction applied its create");
            return "5 ops; failed one rolled back (" + e.code() + ")";
        });

        check("watches (data, exists, children; remove)", () -> {
            String p = base + "/w";
            c.create().forPath(p, b("0"));
            BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
            Watcher w = e -> {
                if (e.getType() != Watcher.Event.EventType.None) {
                    q.add(e);
                }
            };
            c.getData().usingWatcher(w).forPath(p);
            c.setData().forPath(p, b("1"));
            WatchedEvent e = poll(q, "NodeDataChanged");
            require(e.getType() == Watcher.Event.EventType.NodeDataChanged && p.equals(e.getPath()), "event " + e);
            c.checkExists().usingWatcher(w).forPath(p + "/new");
            c.create().forPath(p + "/new");
            e = poll(q, "NodeCreated");
            require(e.getType() == Watcher.Event.EventType.NodeCreated, "event " + e);
            c.getChildren().usingWatcher(w).forPath(p);
            c.create().forPath(p + "/new2");
            e = poll(q, "NodeChildrenChanged");
            require(e.getType() == Watcher.Event.EventType.NodeChildrenChanged, "event " + e);
            // remove(watcher) (checkWatches) then removeAll (removeWatches): neither fires on change.
            BlockingQueue<WatchedEvent> r = new LinkedBlockingQueue<>();
            Watcher w2 = r::add;
            c.getData().usingWatcher(w2).forPath(p);
            c.watchers().remove(w2).forPath(p);
            e = poll(r, "DataWatchRemoved");
            require(e.getType() == Watcher.Event.EventType.DataWatchRemoved, "event " + e);
            c.getData().usingWatcher(w2).forPath(p);
            c.watchers().removeAll().forPath(p);
            e = poll(r, "DataWatchRemoved after removeAll");
            require(e.getType() == Watcher.Event.EventType.DataWatchRemoved, "event " + e);
            c.setData().forPath(p, b("2"));
            e = r.poll(300, TimeUnit.MILLISECONDS);
            require(e == null, "removed watch fired: " + e);
            expectThrows(KeeperException.NoWatcherException.class, () -> {
                c.watchers().remove(w2).forPath(p);
                return null;
            });
            return "";
        });

        check("sync", () -> {
            CountDownLatch done = new CountDownLatch(1);
            c.sync().inBackground((cl, ev) -> done.countDown()).forPath(base);
            require(done.await(10, TimeUnit.SECONDS), "sync callback");
            return "";
        });

        check("auth and ACLs", () -> {
            CuratorFramework a = newClient(CuratorFrameworkFactory.builder().authorization("digest", b("alice:secret")));
            String p = base + "/secret";
            a.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(p, b("x"));
            // c may be connected to another member: sync before reading what a wrote.
            c.sync().forPath(p);
            expectThrows(KeeperException.NoAuthException.class, () -> c.getData().forPath(p) == null ? "" : "");
            List<ACL> acl = a.getACL().forPath(p);
            require(acl.size() == 1 && acl.get(0).getId().getScheme().equals("digest")
                    && acl.get(0).getId().getId().startsWith("alice:"), "acl " + acl);
            a.setACL().withVersion(0).withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(p);
            c.sync().forPath(p);
            require("x".equals(s(c.getData().forPath(p))), "readable after setACL");
            a.close();
            return acl.get(0).getId().getId();
        });

        check("InterProcessMutex (two clients contend)", () -> {
            CuratorFramework c2 = newClient();
            String lp = base + "/locks/m";
            InterProcessMutex m1 = new InterProcessMutex(c, lp), m2 = new InterProcessMutex(c2, lp);
            m1.acquire();
            m1.acquire(); // reentrant
            require(!m2.acquire(300, TimeUnit.MILLISECONDS), "second client took a held lock");
            m1.release();
            require(!m2.acquire(200, TimeUnit.MILLISECONDS), "lock free after one release of a reentrant hold");
            m1.release();
            require(m2.acquire(10, TimeUnit.SECONDS), "second client did not get the released lock");
            m2.release();
            AtomicInteger inside = new AtomicInteger(), maxInside = new AtomicInteger(), total = new AtomicInteger();
            ExecutorService ex = Executors.newFixedThreadPool(2);
            List<Future<?>> fs = new ArrayList<>();
            for (InterProcessMutex m : Arrays.asList(m1, m2)) {
                fs.add(ex.submit(() -> {
                    for (int i = 0; i < 15; i++) {
                        if (!m.acquire(20, TimeUnit.SECONDS)) {
                            throw new AssertionError("acquire timed out");
                        }
                        try {
                            int n = inside.incrementAndGet();
                            maxInside.accumulateAndGet(n, Math::max);
                            Thread.sleep(2);
                            total.incrementAndGet();
                            inside.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
            ex.shutdown();
            require(maxInside.get() == 1, "mutual exclusion violated: " + maxInside.get() + " holders at once");
            require(total.get() == 30, "critical sections " + total.get());
            syncPath(c, lp);
            List<String> left = c.getChildren().forPath(lp);
            require(left.isEmpty(), "lock nodes left " + left);
            c2.close();
            return "30 critical sections, max 1 holder";
        });

        check("DistributedAtomicLong (two clients)", () -> {
            CuratorFramework c2 = newClient();
            String cp = base + "/counter";
            ExecutorService ex = Executors.newFixedThreadPool(2);
            List<Future<?>> fs = new ArrayList<>();
            for (CuratorFramework cl : Arrays.asList(c, c2)) {
                DistributedAtomicLong n = new DistributedAtomicLong(cl, cp, new RetryNTimes(200, 5));
                fs.add(ex.submit(() -> {
                    for (int i = 0; i < 20; i++) {
                        AtomicValue<Long> v = n.increment();
                        if (!v.succeeded()) {
                            throw new AssertionError("increment failed");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
            ex.shutdown();
            // c2's last increment may have gone through another member: reads are
            // local, so sync before reading (as with ZooKeeper).
            syncPath(c, cp);
            long v = new DistributedAtomicLong(c, cp, new RetryNTimes(3, 10)).get().postValue();
            require(v == 40, "counter " + v);
            c2.close();
            return "40";
        });

        check("LeaderLatch (one leader, failover)", () -> {
            String lp = base + "/latch";
            List<LeaderLatch> latches = new ArrayList<>();
            List<CuratorFramework> owners = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                CuratorFramework cl = newClient();
                owners.add(cl);
                LeaderLatch l = new LeaderLatch(cl, lp, "p" + i);
                l.start();
                latches.add(l);
            }
            LeaderLatch leader = awaitOneLeader(latches);
            String first = leader.getId();
            for (LeaderLatch l : latches) {
                require(l.getLeader().getId().equals(first), "latch " + l.getId() + " sees leader " + l.getLeader().getId());
            }
            latches.remove(leader);
            leader.close();
            LeaderLatch next = awaitOneLeader(latches);
            require(!next.getId().equals(first), "same leader after close");
            latches.remove(next);
            next.close();
            require(awaitOneLeader(latches) == latches.get(0), "last candidate");
            latches.get(0).close();
            for (CuratorFramework cl : owners) {
                cl.close();
            }
            return first + " -> " + next.getId() + " -> " + "last";
        });

        check("CuratorCache (persistent recursive watch)", () -> {
            String cp = base + "/cache";
            c.create().forPath(cp, b("root"));
            c.create().forPath(cp + "/pre", b("1"));
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CountDownLatch init = new CountDownLatch(1);
            CuratorCache cache = CuratorCache.build(c, cp);
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forAll((type, oldData, data) -> ev.add(type + " " + (data != null ? data.getPath() + "=" + s(data.getData()) : oldData.getPath())))
                    .forInitialized(init::countDown).build());
            cache.start();
            toClose.add(cache);
            require(init.await(10, TimeUnit.SECONDS), "cache not initialized");
            Set<String> initial = new HashSet<>();
            for (String e; (e = ev.poll()) != null; ) {
                initial.add(e);
            }
            require(initial.equals(new HashSet<>(Arrays.asList("NODE_CREATED " + cp + "=root", "NODE_CREATED " + cp + "/pre=1"))), "initial " + initial);
            c.create().forPath(cp + "/new", b("n"));
            require(poll(ev, "create event").equals("NODE_CREATED " + cp + "/new=n"), "create event");
            c.create().forPath(cp + "/new/deep", b("d"));
            require(poll(ev, "deep create").equals("NODE_CREATED " + cp + "/new/deep=d"), "deep create event");
            c.setData().forPath(cp + "/pre", b("2"));
            require(poll(ev, "change").equals("NODE_CHANGED " + cp + "/pre=2"), "change event");
            c.delete().forPath(cp + "/new/deep");
            require(poll(ev, "delete").equals("NODE_DELETED " + cp + "/new/deep"), "delete event");
            require(cache.get(cp + "/pre").map(d -> s(d.getData())).orElse("").equals("2"), "cache content");
            require(cache.size() == 3, "cache size " + cache.size());
            cache.close();
            return "2 initial, 4 changes";
        });

        check("ServiceDiscovery (register, query, provider, unregister)", () -> {
            String dp = base + "/discovery";
            ServiceInstance<String> a = ServiceInstance.<String>builder().name("svc").id("a").address("127.0.0.1").port(1001).payload("pa").build();
            ServiceInstance<String> bb = ServiceInstance.<String>builder().name("svc").id("b").address("127.0.0.1").port(1002).payload("pb").build();
            ServiceInstance<String> o = ServiceInstance.<String>builder().name("other").id("o").address("127.0.0.1").port(1003).build();
            ServiceDiscovery<String> sd = ServiceDiscoveryBuilder.builder(String.class).client(c).basePath(dp)
                    .serializer(new JsonInstanceSerializer<>(String.class)).thisInstance(a).build();
            sd.start();
            sd.registerService(bb);
            sd.registerService(o);
            Collection<String> names = sd.queryForNames();
            require(new HashSet<>(names).equals(new HashSet<>(Arrays.asList("svc", "other"))), "names " + names);
            Collection<ServiceInstance<String>> is = sd.queryForInstances("svc");
            Set<String> ids = new HashSet<>();
            for (ServiceInstance<String> i : is) {
                ids.add(i.getId() + ":" + i.getPort() + ":" + i.getPayload());
            }
            require(ids.equals(new HashSet<>(Arrays.asList("a:1001:pa", "b:1002:pb"))), "instances " + ids);
            require(sd.queryForInstance("svc", "b").getPort() == 1002, "queryForInstance");
            ServiceProvider<String> pr = sd.serviceProviderBuilder().serviceName("svc").build();
            pr.start();
            ServiceInstance<String> got = pr.getInstance();
            require(got != null && got.getName().equals("svc"), "provider instance " + got);
            sd.unregisterService(bb);
            require(sd.queryForInstance("svc", "b") == null, "b still registered");
            long deadline = System.currentTimeMillis() + 10000;
            while (pr.getAllInstances().size() != 1 && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            require(pr.getAllInstances().size() == 1, "provider cache after unregister: " + pr.getAllInstances().size());
            pr.close();
            sd.close();
            require(c.getChildren().forPath(dp + "/svc").isEmpty(), "instances left after close");
            return "svc{a,b} other{o}";
        });

        check("ensemble config (/zookeeper/config, EnsembleTracker)", () -> {
            byte[] cfg = c.getConfig().forEnsemble();
            String text = s(cfg).trim().replace("\n", " | ");
            if (mode.equals("cluster")) {
                for (String m : members) {
                    require(s(cfg).contains(";" + m), "/zookeeper/config lacks client address " + m + ": " + text);
                }
                // The tracker turns the config into a connection string of the client addresses.
                long deadline = System.currentTimeMillis() + 10000;
                while (System.currentTimeMillis() < deadline && (c.getCurrentConfig() == null
                        || c.getCurrentConfig().getAllMembers().size() != members.size())) {
                    Thread.sleep(50);
                }
                require(c.getCurrentConfig().getAllMembers().size() == members.size(), "EnsembleTracker config " + c.getCurrentConfig());
                String tracked = c.getZookeeperClient().getCurrentConnectionString();
                require(new HashSet<>(Arrays.asList(tracked.split(","))).equals(new HashSet<>(members)), "tracked connection string " + tracked);
            }
            c.setData().forPath(base, b("after-config"));
            require(c.getZookeeperClient().isConnected(), "disconnected");
            return "[" + text + "] connection string " + c.getZookeeperClient().getCurrentConnectionString();
        });

        check("reconnect keeps session, watches and cache", () -> {
            String dp = base + "/drop";
            c.create().forPath(dp, b("0"));
            c.create().withMode(CreateMode.EPHEMERAL).forPath(dp + "/eph");
            long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
            BlockingQueue<WatchedEvent> wq = new LinkedBlockingQueue<>();
            // A watcher also gets the connection's state changes (type None): keep node events.
            c.getData().usingWatcher((Watcher) e -> {
                if (e.getType() != Watcher.Event.EventType.None) {
                    wq.add(e);
                }
            }).forPath(dp);
            BlockingQueue<String> ev = new LinkedBlockingQueue<>();
            CountDownLatch init = new CountDownLatch(1);
            CuratorCache cache = CuratorCache.build(c, dp);
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forCreates(d -> ev.add("created " + d.getPath())).forInitialized(init::countDown).build());
            cache.start();
            toClose.add(cache);
            require(init.await(10, TimeUnit.SECONDS), "cache not initialized");
            ev.clear();
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
            // ClientCnxn.toString names the server: "... remoteserver:/127.0.0.1:port ..."
            String info = c.getZookeeperClient().getZooKeeper().toString();
            java.util.regex.Matcher mm = java.util.regex.Pattern.compile("remoteserver:\\S*?/(127\\.0\\.0\\.1:\\d+)").matcher(info);
            require(mm.find(), "no server in " + info);
            System.out.println("DROP " + mm.group(1));
            System.out.flush();
            ConnectionState st = states.poll(30, TimeUnit.SECONDS);
            require(st == ConnectionState.SUSPENDED, "first state " + st);
            st = states.poll(30, TimeUnit.SECONDS);
            require(st == ConnectionState.RECONNECTED, "second state " + st);
            require(c.getZookeeperClient().getZooKeeper().getSessionId() == sid, "new session");
            require(c.checkExists().forPath(dp + "/eph") != null, "ephemeral lost");
            c.setData().forPath(dp, b("1"));
            WatchedEvent e = poll(wq, "data watch after reconnect");
            require(e.getType() == Watcher.Event.EventType.NodeDataChanged, "event " + e);
            c.create().forPath(dp + "/after");
            require(poll(ev, "cache event after reconnect").equals("created " + dp + "/after"), "cache event");
            cache.close();
            String info2 = c.getZookeeperClient().getZooKeeper().toString();
            java.util.regex.Matcher m2 = java.util.regex.Pattern.compile("remoteserver:\\S*?/(127\\.0\\.0\\.1:\\d+)").matcher(info2);
            return "from " + mm.group(1) + " to " + (m2.find() ? m2.group(1) : "?") + ", session 0x" + Long.toHexString(sid);
        });

        check("cleanup", () -> {
            c.delete().deletingChildrenIfNeeded().forPath(base);
            return "";
        });
        finish();
    }

    static LeaderLatch awaitOneLeader(List<LeaderLatch> latches) throws Exception {
        long deadline = System.currentTimeMillis() + 15000;
        while (true) {
            List<LeaderLatch> leaders = new ArrayList<>();
            for (LeaderLatch l : latches) {
                if (l.hasLeadership()) {
                    leaders.add(l);
                }
            }
            if (leaders.size() == 1) {
                // Stable: still exactly one a moment later.
                Thread.sleep(100);
                int n = 0;
                for (LeaderLatch l : latches) {
                    n += l.hasLeadership() ? 1 : 0;
                }
                if (n == 1 && leaders.get(0).hasLeadership()) {
                    return leaders.get(0);
                }
            }
            require(leaders.size() <= 1, leaders.size() + " leaders at once");
            require(System.currentTimeMillis() < deadline, "no leader within 15s");
            Thread.sleep(20);
        }
    }

    static void finish() {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Throwable e) {
                // already closed
            }
        }
        System.out.println("DONE " + passed + " passed, " + failed + " failed");
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
