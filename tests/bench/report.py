#!/usr/bin/env python3
"""tests/bench/report.py OUT — the benchmark's report (bench.sh calls it).

Reads OUT/meta.txt (key=value lines bench.sh wrote) and OUT/raw/rNN/LABEL/
(driver.sh's per-run results: status, steps, K.json, K.before, K.after) and
writes
  stdout, OUT/table.txt  the table: per step, mean ± sd over the runs that
                         passed, per VMM and the host-direct ceiling, and the
                         ratio of each VMM to the first
  OUT/results.json       the same with every per-run value
  OUT/chart.png          bars with error bars (gnuplot; skipped without it)
Exit status: 0 when every VMM passed every step of every run, 1 otherwise,
2 when OUT holds no results at all. Standard library only.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

HOST = "host"


def read_kv(path):
    """key=value lines (later keys win); {} if the file is missing."""
    d = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line:
                    k, v = line.split("=", 1)
                    d[k.strip()] = v
    except OSError:
        pass
    return d


def mean_sd(values):
    """Mean and sample standard deviation (n - 1); sd is None below n = 2."""
    n = len(values)
    if n == 0:
        return None, None
    m = sum(values) / n
    if n < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def ratio(a, b):
    """b / a for two {mean, sd} dicts, sd by first-order error propagation."""
    if not a or not b or not a["mean"] or b["mean"] is None:
        return None
    r = b["mean"] / a["mean"]
    rel = 0.0
    for x in (a, b):
        if x["sd"] is not None and x["mean"]:
            rel += (x["sd"] / x["mean"]) ** 2
        else:
            return {"ratio": r, "sd": None}
    return {"ratio": r, "sd": abs(r) * math.sqrt(rel)}


def fio_values(doc):
    """kIOPS, MB/s, I/O count and mean completion latency (us) from fio JSON."""
    jobs = doc.get("jobs") or []
    if not jobs:
        raise ValueError("no jobs in fio output")
    iops = bw = ios = 0.0
    lat_ns = lat_n = 0.0
    for j in jobs:  # one entry with group_reporting; summed otherwise
        if j.get("error"):
            raise ValueError("fio job error %s" % j.get("error"))
        for d in ("read", "write", "trim"):
            s = j.get(d) or {}
            iops += s.get("iops", 0.0)
            bw += s.get("bw_bytes", s.get("bw", 0) * 1024)
            n = s.get("total_ios", 0)
            ios += n
            clat = (s.get("clat_ns") or {}).get("mean")
            if clat and n:
                lat_ns += clat * n
                lat_n += n
    if ios <= 0:
        raise ValueError("fio did no I/O")
    return {
        "kiops": iops / 1000.0,
        "mbps": bw / 1e6,
        "ios": ios,
        "lat_us": (lat_ns / lat_n / 1000.0) if lat_n else None,
    }


def iperf_values(doc):
    """Gbit/s the receiver saw (and UDP loss %) from iperf3 -J."""
    if doc.get("error"):
        raise ValueError("iperf3: %s" % doc["error"])
    end = doc.get("end") or {}
    s = end.get("sum_received") or end.get("sum")
    if not s or "bits_per_second" not in s:
        raise ValueError("iperf3 output without a received sum")
    out = {"gbps": s["bits_per_second"] / 1e9}
    if "lost_percent" in s:
        out["loss_pct"] = s["lost_percent"]
    return out


def load(out):
    meta = read_kv(os.path.join(out, "meta.txt"))
    raw = os.path.join(out, "raw")
    vmms = []
    for k, v in meta.items():
        if k.startswith("vmm."):
            f = (v.split("|") + [""] * 6)[:6]
            vmms.append({"label": k[4:], "kind": f[0], "path": f[1], "version": f[2],
                         "disk_opts": f[3], "net_opts": f[4], "args": f[5]})
    # meta.txt keeps the command-line order; dicts keep insertion order.
    runs = int(meta.get("runs", "0") or 0)
    if not runs and os.path.isdir(raw):
        runs = len([d for d in os.listdir(raw) if re.match(r"r\d+$", d)])
    series = [v["label"] for v in vmms]
    if meta.get("ceiling", "1") == "1":
        series.append(HOST)
    steps = []  # step names in first-seen order
    # values[step][series][metric] = [per-run values]; fails[series] = [...]
    values, fails, status = {}, {s: [] for s in series}, {}
    for r in range(1, runs + 1):
        for s in series:
            d = os.path.join(raw, "r%02d" % r, s)
            st = read_kv(os.path.join(d, "status"))
            status[(r, s)] = st
            if not st:
                fails[s].append({"run": r, "step": None, "why": "no result (the run did not complete)"})
                continue
            if st.get("status") != "ok":
                fails[s].append({"run": r, "step": None, "why": st.get("reason", "failed")})
            try:
                lines = open(os.path.join(d, "steps")).read().split("\n")
            except OSError:
                lines = []
            for line in lines:
                m = re.match(r"(\d+) (\S+) rc=(\d*)", line)
                if not m:
                    continue
                k, step, rc = m.group(1), m.group(2), m.group(3)
                if step not in steps:
                    steps.append(step)
                if rc != "0":
                    fails[s].append({"run": r, "step": step, "why": "exit status %s" % (rc or "?")})
                    continue
                try:
                    doc = json.load(open(os.path.join(d, k + ".json")))
                    vals = fio_values(doc) if step.startswith("fio:") else iperf_values(doc)
                except (OSError, ValueError, KeyError, TypeError) as e:
                    fails[s].append({"run": r, "step": step, "why": "no usable result (%s)" % e})
                    continue
                before = read_kv(os.path.join(d, k + ".before"))
                after = read_kv(os.path.join(d, k + ".after"))
                if "exits" in before and "exits" in after:
                    ex = int(after["exits"]) - int(before["exits"])
                    vals["exits"] = ex
                    # Every counter the driver read, as a difference (JSON only).
                    vals["kvm"] = {c: int(after[c]) - int(before[c]) for c in after
                                   if c in before and c != "time" and after[c].isdigit()
                                   and before[c].isdigit()}
                    if "ios" in vals:
                        vals["exits_per_io"] = ex / vals["ios"]
                vals["run"] = r
                values.setdefault(step, {}).setdefault(s, []).append(vals)
    return meta, vmms, series, runs, steps, values, fails, status


METRICS = {
    "fio": [("kiops", "kIOPS"), ("mbps", "MB/s"), ("exits_per_io", "exits/IO")],
    "net": [("gbps", "Gbit/s"), ("loss_pct", "UDP loss %")],
}


def summarize(meta, vmms, series, steps, values):
    first = vmms[0]["label"] if vmms else None
    out = []
    for step in steps:
        kind = "fio" if step.startswith("fio:") else "net"
        entry = {"step": step, "kind": kind, "metrics": {}, "ratios": {}}
        for metric, unit in METRICS[kind] + [("lat_us", "clat us")]:
            per = {}
            for s in series:
                vs = [v[metric] for v in values.get(step, {}).get(s, []) if v.get(metric) is not None]
                if not vs:
                    continue
                m, sd = mean_sd(vs)
                per[s] = {"mean": m, "sd": sd, "n": len(vs), "min": min(vs), "max": max(vs),
                          "values": vs}
            if per:
                entry["metrics"][metric] = {"unit": unit, "by": per}
        # KVM counters per I/O (fio) or per run of the step (iperf3), means.
        kvm = {}
        for s in series:
            runs_ = [v for v in values.get(step, {}).get(s, []) if v.get("kvm")]
            if runs_:
                div = [(v["ios"] if kind == "fio" else 1.0) for v in runs_]
                kvm[s] = {c: sum(v["kvm"].get(c, 0) / d for v, d in zip(runs_, div)) / len(runs_)
                          for c in runs_[0]["kvm"]}
        if kvm:
            entry["kvm_counters"] = {"per": "I/O" if kind == "fio" else "step", "by": kvm}
        for v in vmms[1:]:
            rs = {}
            for metric in entry["metrics"]:
                by = entry["metrics"][metric]["by"]
                r = ratio(by.get(first), by.get(v["label"]))
                if r:
                    rs[metric] = r
            entry["ratios"]["%s/%s" % (v["label"], first)] = rs
        out.append(entry)
    return out


def fmt(x, ref=None):
    """A number with about three significant digits (digits from ref)."""
    if x is None:
        return "-"
    a = abs(ref if ref is not None else x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x


def pm(st, runs=None):
    """mean ± sd, and n when fewer runs than asked for counted."""
    if not st:
        return "-"
    if st["sd"] is None:
        return "%s (n=1)" % fmt(st["mean"])
    n = " (n=%d)" % st["n"] if runs and st["n"] < runs else ""
    return "%s ± %s%s" % (fmt(st["mean"]), fmt(st["sd"], st["mean"]), n)


NET_NAMES = {"tcp-tx": "TCP guest->host", "tcp-rx": "TCP host->guest (-R)",
             "udp-tx": "UDP guest->host", "udp-rx": "UDP host->guest (-R)"}


def table(meta, vmms, series, runs, summary, fails, boots):
    lab = meta.get("mode") == "lab"
    first = vmms[0]["label"] if vmms else ""
    lines = []
    where = ("nested lab (both VMMs inside one L1 under QEMU TCG: %s)" % meta.get("mode_why", "")
             if lab else "directly on this host (%s)" % meta.get("mode_why", ""))
    lines.append("kvmini I/O benchmark, %s" % meta.get("date", "?"))
    lines.append("host: %s, %s, %s CPUs (%s), %s; %s" % (
        meta.get("os", "?"), meta.get("host", "?"), meta.get("host_cpus", "?"), meta.get("cpu", "?"),
        meta.get("host_mem", "?"), where))
    lines.append("guest: Linux %s, %s vCPUs, %s MiB; disk %s (%s MiB, raw); %s run(s), interleaved, %s s per job; %s" % (
        meta.get("kernel", "?"), meta.get("cpus", "?"), meta.get("memory_mib", "?"), meta.get("disk", "?"),
        meta.get("disk_mib", "?"), runs, meta.get("runtime", "?"), meta.get("packages", "").strip()))
    if lab and meta.get("l1"):
        lines.append("L1: %s" % meta["l1"])
    for v in vmms:
        extra = "".join(" %s=%s" % (k, v[k.replace("-", "_")]) for k in ("disk-opts", "net-opts", "args")
                        if v[k.replace("-", "_")])
        lines.append("  %-12s %s %s (%s)%s" % (v["label"], v["kind"], v["path"], v["version"] or "?", extra))
    if HOST in series:
        lines.append("  %-12s the same fio jobs on the VMMs' host (%s), same backing file" % (
            HOST, "L1" if lab else "this machine"))
    if lab:
        lines.append("")
        lines.append("NOTE: nested lab. This host has no usable hardware KVM, so the guests ran under KVM")
        lines.append("inside an L1 Linux that QEMU's TCG emulator runs. Absolute numbers measure that")
        lines.append("emulator (each VM exit costs ~100 us), not the VMMs. KVM exits per I/O (from L1's")
        lines.append("KVM counters) mean something; ratios only partly; compare on hardware for speed.")
    lines.append("")
    cols = series + ["%s/%s" % (v["label"], first) for v in vmms[1:]]
    w0, w1, wc = 34, 10, 22
    lines.append("%-*s %-*s " % (w0, "step", w1, "unit") + " ".join("%-*s" % (wc, c) for c in cols))
    lines.append("-" * (w0 + w1 + 2 + (wc + 1) * len(cols)))
    for e in summary:
        name = e["step"].split(":", 1)[1]
        label = ("fio " + name) if e["kind"] == "fio" else "iperf3 " + NET_NAMES.get(name, name)
        firstrow = True
        for metric, unit in METRICS[e["kind"]]:
            if metric not in e["metrics"]:
                continue
            by = e["metrics"][metric]["by"]
            cells = [pm(by.get(s), runs) for s in series]
            for v in vmms[1:]:
                r = e["ratios"].get("%s/%s" % (v["label"], first), {}).get(metric)
                if metric == "loss_pct" or not r:
                    cells.append("-")
                elif r["sd"] is None:
                    cells.append("%.3f" % r["ratio"])
                else:
                    cells.append("%.3f ± %.3f" % (r["ratio"], r["sd"]))
            lines.append("%-*s %-*s " % (w0, label if firstrow else "", w1, unit) +
                         " ".join("%-*s" % (wc, c) for c in cells))
            firstrow = False
    cells = [pm(boots.get(s), runs) if s != HOST else "-" for s in series]
    if any(c != "-" for c in cells):
        lines.append("%-*s %-*s " % (w0, "boot to the first step", w1, "s") +
                     " ".join("%-*s" % (wc, c) for c in cells))
    lines.append("")
    lines.append("mean ± sample sd over the runs that passed (%d asked; (n=K) where fewer counted); "
                 "ratio = VMM / %s, sd propagated" % (runs, first))
    bad = False
    for s in series:
        fl = fails.get(s, [])
        if fl:
            bad = True
            lines.append("failures, %s: %d" % (s, len(fl)))
            for f in fl[:10]:
                lines.append("  run %d%s: %s" % (f["run"], " " + f["step"] if f["step"] else "", f["why"]))
            if len(fl) > 10:
                lines.append("  ... and %d more (results.json)" % (len(fl) - 10))
    if not bad:
        lines.append("no failures: every VMM completed every step of every run")
    return "\n".join(lines) + "\n", bad


def chart(out, series, summary, lab):
    """chart.png: kIOPS (fio), Gbit/s (iperf3) and exits/IO, with error bars."""
    gp = shutil.which("gnuplot")
    if not gp:
        return "no gnuplot: no chart"
    panels = []
    for metric, kinds, title in (("kiops", "fio", "fio: kIOPS (mean ± sd)"),
                                 ("gbps", "net", "iperf3: Gbit/s received (mean ± sd)"),
                                 ("exits_per_io", "fio", "KVM exits per I/O (mean ± sd)")):
        rows = [e for e in summary if e["kind"] == kinds and metric in e["metrics"]]
        if not rows:
            continue
        cols = [s for s in series if any(s in e["metrics"][metric]["by"] for e in rows)]
        dat = os.path.join(out, "chart-%s.dat" % metric)
        vals = []
        with open(dat, "w") as f:
            f.write("# step " + " ".join("%s_mean %s_sd" % (c, c) for c in cols) + "\n")
            for e in rows:
                by = e["metrics"][metric]["by"]
                cells = []
                for c in cols:
                    st = by.get(c)
                    if st:
                        vals.append(st["mean"])
                        cells.append("%g %g" % (st["mean"], st["sd"] or 0))
                    else:
                        cells.append("NaN 0")
                f.write('"%s" %s\n' % (e["step"].split(":", 1)[1], " ".join(cells)))
        pos = [v for v in vals if v > 0]
        log = bool(pos) and max(pos) / min(pos) > 30
        panels.append((dat, cols, title, log))
    if not panels:
        return "nothing to chart"
    png = os.path.join(out, "chart.png")
    script = os.path.join(out, "chart.gp")
    with open(script, "w") as f:
        term = "pngcairo" if "pngcairo" in subprocess.run(
            [gp, "-e", "set terminal"], capture_output=True, text=True).stdout + \
            subprocess.run([gp, "-e", "set terminal"], capture_output=True, text=True).stderr else "png"
        f.write("set terminal %s size 1200,%d font ',10'\n" % (term, 380 * len(panels)))
        f.write("set output '%s'\n" % png)
        f.write("set multiplot layout %d,1 title 'kvmini I/O benchmark%s'\n" % (
            len(panels), " (nested lab: absolute numbers measure the emulator)" if lab else ""))
        f.write("set style data histogram\nset style histogram errorbars gap 2 lw 1\n")
        f.write("set style fill solid 0.6 border -1\nset boxwidth 0.9\nset grid ytics\nset offsets 0, 0, graph 0.08, 0\n")
        f.write("set key outside right top\nset xtics noenhanced rotate by -20\nset datafile missing 'NaN'\n")
        for dat, cols, title, log in panels:
            f.write("set title '%s'\n" % title)
            f.write("set logscale y\nset yrange [*:*]\n" if log else "unset logscale y\nset yrange [0:*]\n")
            plots = []
            for i, c in enumerate(cols):
                src = "'%s'" % dat if i == 0 else "''"
                plots.append("%s using %d:%d%s title '%s'" % (src, 2 + 2 * i, 3 + 2 * i,
                                                               ":xtic(1)" if i == 0 else "", c))
            f.write("plot " + ", ".join(plots) + "\n")
        f.write("unset multiplot\n")
    r = subprocess.run([gp, script], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        return "gnuplot failed: %s" % r.stderr.strip()[-300:]
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    meta, vmms, series, runs, steps, values, fails, status = load(out)
    if not steps:
        print("report.py: no results in %s/raw" % out, file=sys.stderr)
        for s in series:
            for f in fails.get(s, [])[:5]:
                print("  %s run %d: %s" % (s, f["run"], f["why"]), file=sys.stderr)
        return 2
    summary = summarize(meta, vmms, series, steps, values)
    boot_secs = {s: [float(status[(r, s)]["boot_secs"]) for r in range(1, runs + 1)
                     if status.get((r, s), {}).get("boot_secs")] for s in series}
    boots = {}
    for s, vs in boot_secs.items():
        if vs:
            m, sd = mean_sd(vs)
            boots[s] = {"mean": m, "sd": sd, "n": len(vs)}
    text, bad = table(meta, vmms, series, runs, summary, fails, boots)
    sys.stdout.write(text)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    notes = []
    try:
        notes = [l for l in open(os.path.join(out, "raw", "notes")).read().split("\n") if l]
    except OSError:
        pass
    for r in range(1, runs + 1):
        for v in vmms:
            st = status.get((r, v["label"]), {})
            if st.get("aio") == "threads":
                n = "%s: QEMU refused aio=io_uring, ran with aio=threads" % v["label"]
                if n not in notes:
                    notes.append(n)
    lab = meta.get("mode") == "lab"
    doc = {
        "meta": meta,
        "vmms": vmms,
        "series": series,
        "runs": runs,
        "lab_note": ("nested lab: absolute numbers measure QEMU's TCG emulator, not the VMMs; "
                     "KVM exits per I/O are meaningful") if lab else None,
        "steps": summary,
        "failures": fails,
        "boot_secs": boot_secs,
        "notes": notes,
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    for n in notes:
        print("note: " + n)
    err = chart(out, series, summary, lab)
    print("results: %s/results.json, %s/table.txt%s" % (
        out, out, "" if err else ", %s/chart.png" % out))
    if err:
        print("chart: " + err)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
