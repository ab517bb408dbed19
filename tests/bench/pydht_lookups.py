# Peers contacted per lookup by py-dht's own lookup_for_hash, on a network
# built its fast way (init_with_random_peers), no errors, no delays: the
# reference for emofs sim --b/--steps-to-stop (bench_pydht.sh runs it from a
# py-dht checkout). Arguments: nodes lookups alpha b steps-to-stop.
import random, sys, time
from dht.dht import DHTNetwork
from dht.hashes import Hash
n, lookups, alpha, b, steps = (int(x) for x in sys.argv[1:6])
random.seed(1)
net = DHTNetwork(0, 0, 0, None, None, None, 0)
t0 = time.time()
net.init_with_random_peers(1, n, 20, alpha, b, steps)
t1 = time.time()
ids = list(net.nodestore.get_nodes())
att = 0
for i in range(lookups):
    src = net.nodestore.get_node(random.choice(ids))
    key = Hash("target-%d" % i)
    _, _, summary, _ = src.lookup_for_hash(key, finishwithfirstvalue=False)
    att += summary['connectionAttempts']
print("py-dht: %d nodes (init %.1f s), k 20, a %d, b %d, steps-to-stop %d: %.2f peers contacted per lookup (%d lookups)" % (n, t1 - t0, alpha, b, steps, att / lookups, lookups))
