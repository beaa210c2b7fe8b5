package ensemble

// Version is zkraft's own version.
const Version = "0.1.0"

// ZooKeeperVersion is the Apache ZooKeeper release whose wire behaviour zkraft
// emulates; four-letter words and envi report it so clients pick features by it.
const ZooKeeperVersion = "3.8.0"
