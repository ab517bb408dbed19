#!/usr/bin/python3
"""OpenDHT side by side with bench_dht (issue 12 item 6): the same
operations on a 20-node loopback network of OpenDHT nodes, 19 dhtnode
processes and a DhtRunner here that issues them, with 1 KiB values: puts
and gets one at a time and 64 in flight, ops/s, p50 and p99, and the
resident memory of each dhtnode process. Prints lines in bench_dht's
format, "opendht " before each.

Debian's dhtnode and python3-opendht (OpenDHT 2.4.12) run it; the
python3 that has the module is /usr/bin/python3.

    bench_opendht.py [OPS] [BASE_PORT]
"""
import os
import statistics
import subprocess
import sys
import threading
import time

import opendht as dht

PEERS = 19
VALUE = b"\x5a" * 1024
OPS = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
BASE = int(sys.argv[2]) if len(sys.argv) > 2 else 24300


def proc_kib(pid, name, field):
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def report(name, lat, secs, failed):
    lat = sorted(lat)
    n = len(lat)
    print("opendht %-28s %8.0f ops/s   p50 %6.3f ms   p99 %6.3f ms   failed %d"
          % (name, n / secs, lat[n // 2] * 1e3, lat[n * 99 // 100] * 1e3, failed), flush=True)


def one_at_a_time(runner, name, keys, is_get):
    lat, failed = [], 0
    t0 = time.monotonic()
    for k in keys:
        t = time.monotonic()
        if is_get:
            vs = runner.get(k)
            ok = len(vs) >= 1 and len(vs[0].data) == len(VALUE)
        else:
            ok = runner.put(k, dht.Value(VALUE))
        lat.append(time.monotonic() - t)
        failed += not ok
    report(name, lat, time.monotonic() - t0, failed)


def in_flight(runner, name, keys, is_get, window=64):
    slots = threading.Semaphore(window)
    lock = threading.Lock()
    lat, state = [], {"failed": 0, "done": 0}
    all_done = threading.Event()

    def finished(t, ok):
        with lock:
            lat.append(time.monotonic() - t)
            state["failed"] += not ok
            state["done"] += 1
            if state["done"] == len(keys):
                all_done.set()
        slots.release()

    t0 = time.monotonic()
    for k in keys:
        slots.acquire()
        t = time.monotonic()
        if is_get:
            got = []

            def on_value(v, got=got):
                got.append(len(v.data))
                return True

            def on_done(ok, nodes, t=t, got=got):
                finished(t, ok and len(got) >= 1 and got[0] == len(VALUE))

            runner.get(k, on_value, on_done)
        else:
            runner.put(k, dht.Value(VALUE), lambda ok, nodes, t=t: finished(t, ok))
    all_done.wait()
    report(name, lat, time.monotonic() - t0, state["failed"])


def main():
    procs = [subprocess.Popen(["dhtnode", "-s", "-p", str(BASE)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(1, PEERS):
        procs.append(subprocess.Popen(["dhtnode", "-s", "-p", str(BASE + i),
                                       "-b", "127.0.0.1:%d" % BASE],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    runner = dht.DhtRunner()
    try:
        runner.run(port=BASE + PEERS)
        runner.bootstrap("127.0.0.1", str(BASE))
        time.sleep(3)  # the other joins
        print("opendht 20-node loopback network (19 dhtnode processes + a DhtRunner), "
              "1 KiB values, %d ops" % OPS, flush=True)
        put_keys = [dht.InfoHash.get("bench-one-%d" % i) for i in range(OPS // 4)]
        many_keys = [dht.InfoHash.get("bench-many-%d" % i) for i in range(OPS)]
        one_at_a_time(runner, "put, one at a time", put_keys, False)
        one_at_a_time(runner, "get, one at a time", put_keys, True)
        in_flight(runner, "put, 64 in flight", many_keys, False)
        in_flight(runner, "get, 64 in flight", many_keys, True)
        rss = sum(proc_kib(p.pid, "status", "VmRSS") for p in procs)
        anon = sum(proc_kib(p.pid, "status", "RssAnon") for p in procs)
        pss = sum(proc_kib(p.pid, "smaps_rollup", "Pss") for p in procs)
        print("opendht memory per node process: RSS %.1f MB, PSS %.1f MB, private (anon) %.1f MB"
              % (rss / PEERS / 1024, pss / PEERS / 1024, anon / PEERS / 1024), flush=True)
    finally:
        runner.join()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


if __name__ == "__main__":
    main()
