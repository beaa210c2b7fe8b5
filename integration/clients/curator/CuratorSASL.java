import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorEventType;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;

/**
 * Curator over a ZooKeeper client that authenticates by SASL, DIGEST-MD5 or GSSAPI (its JAAS
 * Client section is given with -Djava.security.auth.login.config). Arguments: the
 * connect string, "ok" (the right password: SaslAuthenticated, whoAmI and a sasl
 * ACL) or "bad" (a wrong one: AuthFailed, and no request succeeds), and the SASL id
 * expected (default bob; a Kerberos principal works the same way). Prints
 * "OK <what>" per passed check and "FAIL <why>" then exits 1 otherwise.
 */
public class CuratorSASL {
    static void require(boolean ok, String why) {
        if (!ok) {
            System.out.println("FAIL " + why);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        boolean good = args[1].equals("ok");
        String user = args.length > 2 ? args[2] : "bob";
        BlockingQueue<Watcher.Event.KeeperState> states = new LinkedBlockingQueue<>();
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connect)
                .retryPolicy(new RetryOneTime(100)).sessionTimeoutMs(10000).connectionTimeoutMs(5000).build();
        c.getCuratorListenable().addListener((client, ev) -> {
            if (ev.getType() == CuratorEventType.WATCHED && ev.getWatchedEvent().getType() == Watcher.Event.EventType.None) {
                states.add(ev.getWatchedEvent().getState());
            }
        });
        c.start();
        Watcher.Event.KeeperState want = good ? Watcher.Event.KeeperState.SaslAuthenticated : Watcher.Event.KeeperState.AuthFailed;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Watcher.Event.KeeperState got = null;
        while (got != want && System.nanoTime() < deadline) {
            got = states.poll(1, TimeUnit.SECONDS);
        }
        require(got == want, "no " + want + " event");
        System.out.println("OK " + want);
        if (!good) {
            try {
                c.checkExists().forPath("/");
                require(false, "a request succeeded after AuthFailed");
            } catch (KeeperException e) {
                System.out.println("OK request after AuthFailed: " + e.code());
            }
            c.close();
            return;
        }
        List<ClientInfo> who = c.getZookeeperClient().getZooKeeper().whoAmI();
        require(who.stream().anyMatch(ci -> ci.getAuthScheme().equals("sasl") && ci.getUser().equals(user)), "whoAmI " + who);
        System.out.println("OK whoAmI " + who);
        List<ACL> acl = List.of(new ACL(ZooDefs.Perms.ALL, new Id("sasl", user)));
        c.create().withACL(acl).forPath("/curator-sasl", "x".getBytes());
        require(c.getACL().forPath("/curator-sasl").equals(acl), "getACL");
        require(new String(c.getData().forPath("/curator-sasl")).equals("x"), "getData");
        c.delete().forPath("/curator-sasl");
        System.out.println("OK sasl ACL");
        c.close();
    }
}
