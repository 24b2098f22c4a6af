#!/usr/bin/env python3
"""bench/originate_rpc.py - the originate load driver of bench/originate.sh.

Issues COUNT originates at RATE per second as JSON-RPC 2.0 batches (at
most 256 calls, the API's limit) over one kept-alive HTTP connection to
the management API: one process, no fork per originate (sipctl in a loop
forks and connects once per call: about 100/s at best). Then polls
originate.status (batched) until every originate is bridged or failed,
reads sipedge's CPU (/proc/PID/stat) and RSS (/proc/PID/status) and
cancels them all (BYE to both legs). Prints one JSON object.

  originate_rpc.py MGMT_PORT SIPEDGE_PID RATE COUNT [SETTLE_S]
"""
import http.client
import json
import os
import sys
import time

BATCH = 256


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Rpc:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def batch(self, calls):
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m,
                            "params": p} for i, (m, p) in enumerate(calls)])
        self.c.request("POST", "/rpc", body,
                       {"Content-Type": "application/json"})
        r = self.c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d: %r" % (r.status, data[:200]))
        out = [None] * len(calls)
        for a in json.loads(data):
            out[a["id"]] = a
        return out


def chunks(v, n):
    for i in range(0, len(v), n):
        yield v[i:i + n]


def main():
    port, pid, rate, count = (int(x) for x in sys.argv[1:5])
    settle = float(sys.argv[5]) if len(sys.argv) > 5 else 60
    rpc = Rpc(port)
    rss0 = rss_kb(pid)
    cpu0 = cpu_s(pid)
    ids, rpc_errors = [], 0
    t0 = time.monotonic()
    sent = 0
    while sent < count:
        due = min(count, int((time.monotonic() - t0) * rate) + 1) - sent
        if due <= 0:
            time.sleep(0.005)
            continue
        n = min(due, BATCH)
        calls = [("originate", {"a": "alice@127.0.0.1",
                                "b": "bob@127.0.0.1"})] * n
        for a in rpc.batch(calls):
            if a and "result" in a:
                ids.append(a["result"]["id"])
            else:
                rpc_errors += 1
        sent += n
    t_sent = time.monotonic() - t0
    # Until every one is bridged or failed (bounded by settle seconds).
    states = {}
    deadline = time.monotonic() + settle
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        still = []
        for ch in chunks(pending, BATCH):
            ans = rpc.batch([("originate.status", {"id": i}) for i in ch])
            for i, a in zip(ch, ans):
                st = a.get("result", {}).get("state") if a else None
                if st in ("bridged", "failed", "ended"):
                    states[i] = a["result"]
                elif a and a.get("error", {}).get("code") == -32002:
                    # Ended and freed (ORIGINATE_LINGER_S after its
                    # end) before this loop looked: not bridged.
                    states[i] = {"state": "gone", "failed_leg": "?",
                                 "status": 0,
                                 "reason": "ended before it was polled"}
                else:
                    still.append(i)
        pending = still
        if pending:
            time.sleep(0.2)
    t_bridged = time.monotonic() - t0
    # What the ones that never settled look like (at most 5).
    stuck = []
    if pending:
        stuck = [a.get("result", a) if a else None for a in
                 rpc.batch([("originate.status", {"id": i})
                            for i in pending[:5]])]
    cpu1 = cpu_s(pid)
    rss1 = rss_kb(pid)
    bridged = sum(1 for s in states.values() if s["state"] == "bridged")
    failed = [s for s in states.values() if s["state"] != "bridged"]
    reasons = {}
    for s in failed:
        k = "%s %s %s" % (s.get("failed_leg"), s.get("status"),
                          s.get("reason"))
        reasons[k] = reasons.get(k, 0) + 1
    # End them all: BYE to both legs.
    ended = 0
    for ch in chunks(ids, BATCH):
        for a in rpc.batch([("originate.cancel", {"id": i}) for i in ch]):
            if a and a.get("result", {}).get("state") == "ended":
                ended += 1
    print(json.dumps({
        "rate": rate, "count": count, "started": len(ids),
        "rpc_errors": rpc_errors, "bridged": bridged,
        "not_settled": len(pending), "failed": len(failed),
        "failures": reasons, "not_settled_states": stuck,
        "ended_by_cancel": ended,
        "send_s": round(t_sent, 2), "all_bridged_s": round(t_bridged, 2),
        "achieved_rate": round(len(ids) / t_sent, 1) if t_sent else 0,
        "cpu_s": round(cpu1 - cpu0, 2),
        "cpu_us_per_originate":
            round((cpu1 - cpu0) * 1e6 / max(1, len(ids)), 1),
        "rss_kb_idle": rss0, "rss_kb_bridged": rss1,
        "rss_bytes_per_bridged_call":
            round((rss1 - rss0) * 1024 / max(1, bridged)),
    }))
    ok = (rpc_errors == 0 and bridged == count and not failed and
          not pending)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
