import { describe, expect, it } from 'vitest';
import { EventBus, SUBSCRIBER_QUEUE } from '../src/events/event-bus.js';
import { parseFlatKeyed, parseNetDev, parsePressure, parseProcCgroup } from '../src/stats/cgroup-files.js';
import { metricDescriptors, podMetrics } from '../src/stats/metrics.js';

describe('cgroup and proc parsers', () => {
  it('reads v1 memory.stat and v2 cpu.stat', () => {
    const v1 = parseFlatKeyed('cache 4096\nrss 8192\ntotal_inactive_file 1024\ntotal_pgfault 77\n');
    expect(v1.get('total_inactive_file')).toBe(1024);
    expect(parseFlatKeyed('usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n').get('usage_usec')).toBe(123456);
  });

  it('reads pressure files', () => {
    expect(parsePressure('some avg10=1.50 avg60=0.20 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=99\n')).toEqual({
      some: { avg10: 1.5, avg60: 0.2, avg300: 0, total: 12345 },
      full: { avg10: 0, avg60: 0, avg300: 0, total: 99 },
    });
  });

  it('maps each hierarchy of a process, hybrid v1/v2 included', () => {
    const m = parseProcCgroup('12:pids:/berth/berth-a\n4:cpu,cpuacct:/berth/berth-a\n1:name=systemd:/x\n0::/berth/berth-a\n');
    expect([m.get('pids'), m.get('cpuacct'), m.get('cpu'), m.get('systemd'), m.get('')]).toEqual([
      '/berth/berth-a',
      '/berth/berth-a',
      '/berth/berth-a',
      '/x',
      '/berth/berth-a',
    ]);
  });

  it('reads interface counters', () => {
    const text =
      'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    5000      10    2    0    0     0          0         0     7000      12    3    0    0     0       0          0\n';
    expect(parseNetDev(text)).toEqual([
      { name: 'lo', rxBytes: 100, rxErrors: 0, txBytes: 100, txErrors: 0 },
      { name: 'eth0', rxBytes: 5000, rxErrors: 2, txBytes: 7000, txErrors: 3 },
    ]);
  });
});

describe('metrics', () => {
  it('describes only the configured groups and converts stats', () => {
    expect(metricDescriptors(['cpu']).map((d) => d.name)).toEqual(['container_cpu_usage_seconds_total']);
    const m = podMetrics(
      ['cpu', 'network'],
      {
        attributes: { id: 'p1' },
        linux: {
          network: { interfaces: [{ name: 'eth0', rxBytes: { value: '10' }, txBytes: { value: '20' }, rxErrors: { value: '0' }, txErrors: { value: '0' } }] },
          containers: [{ attributes: { id: 'c1' }, cpu: { usageCoreNanoSeconds: { value: '3500000000' } } }],
        },
      },
      '1',
      '/',
    );
    expect(m.metrics?.find((x) => x.name === 'container_network_receive_bytes_total')?.value).toEqual({ value: '10' });
    expect(m.containerMetrics?.[0]?.metrics).toEqual([
      { name: 'container_cpu_usage_seconds_total', timestamp: '1', metricType: 'COUNTER', labelValues: [], value: { value: '3' } },
    ]);
  });
});

describe('event bus', () => {
  const event = (n: number) => ({ containerId: `c${n}`, sandboxId: 'p', type: 'CONTAINER_CREATED_EVENT' as const, createdAt: String(n) });

  it('delivers every event to every subscriber in order', async () => {
    const bus = new EventBus();
    const a = bus.subscribe();
    const b = bus.subscribe();
    bus.publish(event(1));
    bus.publish(event(2));
    expect([(await a.next())?.containerId, (await a.next())?.containerId]).toEqual(['c1', 'c2']);
    expect((await b.next())?.containerId).toBe('c1');
  });

  it('drops a subscriber that falls behind without slowing publishers', async () => {
    const bus = new EventBus();
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    // publish() is synchronous: the loop finishing at all shows it never waits for the slow one.
    for (let i = 0; i <= SUBSCRIBER_QUEUE; i++) {
      bus.publish(event(i));
      await fast.next();
    }
    expect(slow.overflowed).toBe(true);
    expect(bus.size).toBe(1);
    fast.close();
    expect(bus.size).toBe(0);
  });
});

describe('the Grafana dashboard', () => {
  it('queries only metrics berth exports', async () => {
    const { readFile } = await import('node:fs/promises');
    const { BerthMetrics } = await import('../src/metrics/prometheus.js');
    const dash = JSON.parse(await readFile(new URL('../conf/grafana/berth-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const metrics = new BerthMetrics();
    metrics.countObjects({ containers: () => new Map([['CONTAINER_RUNNING', 1]]), sandboxes: () => new Map([['SANDBOX_READY', 1]]) });
    metrics.observeCall('Version', 'OK', 0.001);
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const used = dash.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/berth_[a-z_]+/g) ?? [])).map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    for (const name of used) expect(exported, name).toContain(name);
  });
});
