// CuratorPeer drives Curator recipes for the cross-language tests, one mode per run:
//   lock     <connect> <path>                 InterProcessMutex: WAITING, ACQUIRED; "release" -> RELEASED
//   latch    <connect> <path> <id>            LeaderLatch: CANDIDATE, LEADER; "resign" -> RESIGNED
//   register <connect> <base> <name> <id> <port>  ServiceDiscovery: REGISTERED; "quit" -> exits
//   discover <connect> <base> <name>          prints INSTANCE <id> <address> <port> <serviceType>, then DONE
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.UriSpec;

public class CuratorPeer {
    static void waitFor(BufferedReader in, String word) throws Exception {
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().equals(word)) {
                return;
            }
        }
    }

    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(args[1], 2000, 10000, new RetryNTimes(20, 200));
        client.start();
        if (!client.blockUntilConnected(20, TimeUnit.SECONDS)) {
            throw new RuntimeException("not connected");
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        switch (args[0]) {
            case "lock": {
                InterProcessMutex m = new InterProcessMutex(client, args[2]);
                System.out.println("WAITING");
                if (!m.acquire(30, TimeUnit.SECONDS)) {
                    throw new RuntimeException("lock timeout");
                }
                System.out.println("ACQUIRED");
                waitFor(in, "release");
                m.release();
                System.out.println("RELEASED");
                break;
            }
            case "latch": {
                LeaderLatch l = new LeaderLatch(client, args[2], args[3]);
                l.start();
                System.out.println("CANDIDATE");
                l.await();
                System.out.println("LEADER");
                waitFor(in, "resign");
                l.close();
                System.out.println("RESIGNED");
                break;
            }
            case "register": {
                ServiceInstance<Void> inst = ServiceInstance.<Void>builder()
                        .name(args[3]).id(args[4]).address("127.0.0.1").port(Integer.parseInt(args[5]))
                        .uriSpec(new UriSpec("{scheme}://{address}:{port}")).build();
                ServiceDiscovery<Void> sd = ServiceDiscoveryBuilder.builder(Void.class)
                        .client(client).basePath(args[2]).thisInstance(inst).build();
                sd.start();
                System.out.println("REGISTERED");
                waitFor(in, "quit");
                sd.close();
                break;
            }
            case "discover": {
                ServiceDiscovery<Void> sd = ServiceDiscoveryBuilder.builder(Void.class)
                        .client(client).basePath(args[2]).build();
                sd.start();
                for (ServiceInstance<Void> i : sd.queryForInstances(args[3])) {
                    System.out.println("INSTANCE " + i.getId() + " " + i.getAddress() + " " + i.getPort()
                            + " " + i.getServiceType() + " " + i.buildUriSpec());
                }
                System.out.println("DONE");
                sd.close();
                break;
            }
            default:
                throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
        client.close();
    }
}
