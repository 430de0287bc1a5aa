import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../log.js';

/**
 * berth's own Prometheus metrics, served on `stats.metrics_address` (off by
 * default). Names start with `berth_`; the README lists them.
 */
export class BerthMetrics {
  readonly registry = new Registry();
  private readonly operations = new Counter({
    name: 'berth_cri_operations_total',
    help: 'CRI calls answered, by method and gRPC status code.',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });
  private readonly operationErrors = new Counter({
    name: 'berth_cri_operation_errors_total',
    help: 'CRI calls that failed, by method and gRPC status code.',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });
  private readonly operationSeconds = new Histogram({
    name: 'berth_cri_operation_duration_seconds',
    help: 'Latency of CRI calls, by method.',
    labelNames: ['method'],
    registers: [this.registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  private readonly pulls = new Counter({
    name: 'berth_image_pulls_total',
    help: 'Image pulls, by result (success or failure).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly pullBytes = new Counter({
    name: 'berth_image_pull_bytes_total',
    help: 'Bytes of images pulled (manifest, config and layers).',
    registers: [this.registry],
  });
  private readonly pullSeconds = new Histogram({
    name: 'berth_image_pull_duration_seconds',
    help: 'Duration of image pulls.',
    registers: [this.registry],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  });
  private readonly pullsInFlight = new Gauge({ name: 'berth_image_pulls_in_flight', help: 'Image pulls in progress.', registers: [this.registry] });
  private readonly oomKills = new Counter({
    name: 'berth_container_oom_kills_total',
    help: 'Containers killed by the out-of-memory killer.',
    registers: [this.registry],
  });
  private readonly spawnSeconds = new Histogram({
    name: 'berth_process_spawn_duration_seconds',
    help: 'Time for conmon to report a created container, and for runtime commands, by program and action.',
    labelNames: ['program', 'action'],
    registers: [this.registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });

  /** Counts by state, given once the services exist (they take this object as their observer first). */
  private counts: { containers: () => Map<string, number>; sandboxes: () => Map<string, number> } = {
    containers: () => new Map(),
    sandboxes: () => new Map(),
  };

  countObjects(counts: { containers: () => Map<string, number>; sandboxes: () => Map<string, number> }): void {
    this.counts = counts;
  }

  constructor() {
    const counts = () => this.counts;
    new Gauge({
      name: 'berth_containers',
      help: 'Containers by state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of counts().containers()) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'berth_pod_sandboxes',
      help: 'Pod sandboxes by state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of counts().sandboxes()) this.set({ state }, n);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
  }

  observeCall(method: string, code: string, seconds: number): void {
    this.operations.inc({ method, code });
    if (code !== 'OK') this.operationErrors.inc({ method, code });
    this.operationSeconds.observe({ method }, seconds);
  }

  /** Wraps one pull: in-flight gauge, duration, result and bytes. */
  async observePull<T>(pull: () => Promise<T>, bytesOf: (result: T) => number): Promise<T> {
    this.pullsInFlight.inc();
    const end = this.pullSeconds.startTimer();
    try {
      const result = await pull();
      this.pulls.inc({ result: 'success' });
      this.pullBytes.inc(bytesOf(result));
      return result;
    } catch (err) {
      this.pulls.inc({ result: 'failure' });
      throw err;
    } finally {
      end();
      this.pullsInFlight.dec();
    }
  }

  oomKill(): void {
    this.oomKills.inc();
  }

  spawned(program: string, action: string, seconds: number): void {
    this.spawnSeconds.observe({ program, action }, seconds);
  }
}

/** Serves /metrics on `address` ("host:port"). */
export async function serveMetrics(metrics: BerthMetrics, address: string, log: Logger): Promise<http.Server> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('try /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  log.info({ address: `${addr.address}:${addr.port}` }, 'metrics served on /metrics');
  return server;
}
